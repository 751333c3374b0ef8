"""A simulated dock (drone airport): lid, pad, charger, weather station, faults; MQTT."""
