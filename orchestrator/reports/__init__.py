"""What the CLI and API show people: schedules as text and JSON, maps, mission files."""
