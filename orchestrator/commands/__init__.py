"""Long-running CLI commands (simulator, service), each composing its parts."""
