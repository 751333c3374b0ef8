"""ArduCopter flight modes (custom_mode numbers) and mission command names."""

from __future__ import annotations

from missions.autopilot import CopterMode as Mode

__all__ = ["COMMAND_NAMES", "SUPPORTED", "Mode"]


SUPPORTED = frozenset({Mode.STABILIZE, Mode.AUTO, Mode.GUIDED, Mode.LOITER, Mode.RTL, Mode.LAND, Mode.BRAKE})

COMMAND_NAMES = {
    16: "WP",
    17: "LoitUnlim",
    18: "LoitTurns",
    19: "LoitTime",
    20: "RTL",
    21: "Land",
    22: "Takeoff",
    82: "SplineWP",
    177: "Jump",
    178: "ChangeSpeed",
    179: "SetHome",
    189: "LandStart",
    195: "SetROI",
    197: "ROINone",
    201: "SetROI",
    205: "MountControl",
    1000: "GimbalPitchYaw",
}

NAV_COMMANDS = frozenset({16, 17, 18, 19, 20, 21, 22, 82})

# MAV_STATE
BOOT, STANDBY, ACTIVE, CRITICAL, EMERGENCY = 1, 3, 4, 5, 6
# MAV_LANDED_STATE
LANDED_UNDEFINED, ON_GROUND, IN_AIR, TAKEOFF, LANDING = 0, 1, 2, 3, 4
