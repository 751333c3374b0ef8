"""A simulated ArduCopter: physics, autopilot behaviour, parameters and failsafes."""
