"""The simulated district's ground and what stands on it, and the drone's camera view."""
