"""Links to drones: MAVLink over UDP or TCP, addressed by URL."""
