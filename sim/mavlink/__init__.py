"""The simulator's MAVLink side: mission protocol, telemetry streams, UDP endpoint."""
