"""ArduCopter's numbers, named once: the flight modes the service sets and recognises, and
the heartbeat's armed flag (ArduCopter's `custom_mode` values, its Mode::Number enum;
MAV_MODE_FLAG from the MAVLink common set). Plain numbers, no MAVLink library: the fleet's
pure state machine reads them too."""

from __future__ import annotations

from typing import Any

STABILIZE = 0
AUTO = 3
GUIDED = 4
LOITER = 5
RTL = 6
LAND = 9
SMART_RTL = 21
RTL_MODES = frozenset({RTL, SMART_RTL})
"""Modes in which the drone is coming home by itself."""

ARMED_FLAG = 128
"""MAV_MODE_FLAG_SAFETY_ARMED in a heartbeat's base_mode."""


def armed(heartbeat: Any) -> bool:
    """Whether a HEARTBEAT (or None) says the vehicle is armed."""
    return bool(heartbeat is not None and heartbeat.base_mode & ARMED_FLAG)
