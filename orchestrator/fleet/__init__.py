"""Fleet state: what every airport's drone and dock are doing, from telemetry and dock messages."""
