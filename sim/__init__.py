"""Software in the loop: simulated drones, docks, world and cameras over real protocols."""
