"""The drones' video inside the service: the live view the dashboard plays, and the
detector the settings ask for (shared by the live view and the watch on alert flights)."""
