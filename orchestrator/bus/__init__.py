"""MQTT everywhere: the embedded broker, and (later) the orchestrator's bus client."""
