"""ArduCopter's numbers as the service uses them: the flight modes it sets and recognises
(`missions.autopilot.CopterMode`, shared with the simulator) and the heartbeat's armed flag
(MAV_MODE_FLAG_SAFETY_ARMED). No MAVLink library: the fleet's pure state machine reads
them too."""

from __future__ import annotations

from typing import Any

from missions.autopilot import CopterMode

STABILIZE = CopterMode.STABILIZE
AUTO = CopterMode.AUTO
GUIDED = CopterMode.GUIDED
LOITER = CopterMode.LOITER
RTL = CopterMode.RTL
LAND = CopterMode.LAND
SMART_RTL = CopterMode.SMART_RTL
RTL_MODES = frozenset({RTL, SMART_RTL})
"""Modes in which the drone is coming home by itself."""

ARMED_FLAG = 128
"""MAV_MODE_FLAG_SAFETY_ARMED in a heartbeat's base_mode."""


def armed(heartbeat: Any) -> bool:
    """Whether a HEARTBEAT (or None) says the vehicle is armed."""
    return bool(heartbeat is not None and heartbeat.base_mode & ARMED_FLAG)
