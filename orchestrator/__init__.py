"""The running service and the composition root: links, fleet state, executor, API, CLI."""
