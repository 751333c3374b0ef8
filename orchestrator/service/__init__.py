"""The running service: store, bus, links, fleet, scheduler and API put together."""
