"""ArduCopter parameters the simulator honours, readable and settable over MAVLink.

Names, units and meanings follow ArduCopter 4.6; defaults are ArduCopter's except where a
dock drone is configured differently (noted). PARAM_SET of an unknown name is ignored,
as ArduPilot does (no PARAM_VALUE comes back); a value outside the range is refused the
same way, so a ground station that verifies by reading back sees the old value.
"""

from __future__ import annotations

from dataclasses import dataclass

MAV_PARAM_TYPE_INT32 = 6
MAV_PARAM_TYPE_REAL32 = 9


@dataclass(frozen=True)
class ParamSpec:
    default: float
    lo: float
    hi: float
    integer: bool = True
    doc: str = ""


SPECS: dict[str, ParamSpec] = {
    # Identity
    "SYSID_THISMAV": ParamSpec(1, 1, 255, doc="MAVLink system id"),
    "SYSID_MYGCS": ParamSpec(255, 1, 255, doc="ground station system id"),
    # Battery and its failsafes
    "BATT_CAPACITY": ParamSpec(4545, 0, 100_000, doc="mAh; 70 Wh at 15.4 V"),
    "BATT_LOW_MAH": ParamSpec(900, 0, 100_000, doc="mAh remaining that triggers the low failsafe"),
    "BATT_CRT_MAH": ParamSpec(450, 0, 100_000, doc="mAh remaining that triggers the critical failsafe"),
    "BATT_FS_LOW_ACT": ParamSpec(
        2, 0, 6, doc="0 none, 1 land, 2 RTL, 3 SmartRTL or RTL, 4 SmartRTL or land, 5 terminate"
    ),
    "BATT_FS_CRT_ACT": ParamSpec(1, 0, 6, doc="as BATT_FS_LOW_ACT"),
    "BATT_ARM_MAH": ParamSpec(1800, 0, 100_000, doc="mAh needed to arm (dock drones: ~40 %)"),
    # Ground-station failsafe
    "FS_GCS_ENABLE": ParamSpec(1, 0, 7, doc="0 off, 1 RTL, 2 continue mission in AUTO else RTL, 5 land"),
    "FS_GCS_TIMEOUT": ParamSpec(5, 2, 120, integer=False, doc="seconds without a GCS heartbeat"),
    "FS_EKF_ACTION": ParamSpec(1, 0, 3, doc="1 land, 2 AltHold, 3 land even in stabilize"),
    # Geofence
    "FENCE_ENABLE": ParamSpec(1, 0, 1),
    "FENCE_TYPE": ParamSpec(3, 0, 15, doc="bitmask: 1 max altitude, 2 circle, 4 polygon, 8 min altitude"),
    "FENCE_ACTION": ParamSpec(
        1, 0, 5, doc="0 report, 1 RTL or land, 2 land, 3 SmartRTL or RTL or land, 4 brake or land"
    ),
    "FENCE_ALT_MAX": ParamSpec(120, 10, 1000, integer=False, doc="m above home (the 120 m ceiling)"),
    "FENCE_RADIUS": ParamSpec(8000, 30, 10_000, integer=False, doc="m from home"),
    "FENCE_MARGIN": ParamSpec(2, 1, 10, integer=False),
    # Navigation
    "WPNAV_SPEED": ParamSpec(1200, 20, 2000, integer=False, doc="cm/s"),
    "WPNAV_SPEED_UP": ParamSpec(600, 10, 1000, integer=False, doc="cm/s"),
    "WPNAV_SPEED_DN": ParamSpec(300, 10, 500, integer=False, doc="cm/s"),
    "WPNAV_RADIUS": ParamSpec(200, 5, 1000, integer=False, doc="cm"),
    "WPNAV_ACCEL": ParamSpec(
        250, 50, 500, integer=False, doc="cm/s/s; AC_Circle keeps to half of it toward the centre"
    ),
    "CIRCLE_RATE": ParamSpec(20, -90, 90, integer=False, doc="deg/s, the most a circle turns"),
    "RTL_ALT": ParamSpec(8000, 30, 300_000, doc="cm; dock drones come home above the rooftops (ArduCopter 1500)"),
    "RTL_CLIMB_MIN": ParamSpec(0, 0, 3000, doc="cm climbed at least before returning"),
    "RTL_CONE_SLOPE": ParamSpec(3, 0, 10, integer=False, doc="return height at most this times the distance home"),
    "RTL_SPEED": ParamSpec(0, 0, 2000, integer=False, doc="cm/s, 0 = WPNAV_SPEED"),
    "RTL_LOIT_TIME": ParamSpec(2000, 0, 60_000, doc="ms over home before descending"),
    "LAND_SPEED": ParamSpec(50, 30, 200, doc="cm/s for the last 10 m"),
    "LAND_SPEED_HIGH": ParamSpec(0, 0, 500, doc="cm/s above 10 m, 0 = WPNAV_SPEED_DN"),
    "PILOT_TKOFF_ALT": ParamSpec(0, 0, 1000, integer=False),
    "DISARM_DELAY": ParamSpec(10, 0, 127, doc="s armed on the ground before disarming"),
    "MIS_TOTAL": ParamSpec(0, 0, 32766, doc="read-only: mission items stored"),
}


class Params:
    """The parameter table of one vehicle."""

    def __init__(self, overrides: dict[str, float] | None = None) -> None:
        self.names = sorted(SPECS)
        self.values = {n: float(SPECS[n].default) for n in self.names}
        for name, value in (overrides or {}).items():
            self.values[name] = float(value)

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    __slots__ = ("names", "values")

    def set(self, name: str, value: float) -> bool:
        """Set a known parameter within its range; False (nothing changes) otherwise."""
        spec = SPECS.get(name)
        if spec is None or name == "MIS_TOTAL" or not spec.lo <= value <= spec.hi or value != value:
            return False
        self.values[name] = float(round(value)) if spec.integer else float(value)
        return True

    def index(self, name: str) -> int:
        return self.names.index(name)

    def value_fields(self, name: str) -> dict[str, object]:
        spec = SPECS[name]
        return {
            "param_id": name.encode(),
            "param_value": self.values[name],
            "param_type": MAV_PARAM_TYPE_INT32 if spec.integer else MAV_PARAM_TYPE_REAL32,
            "param_count": len(self.names),
            "param_index": self.index(name),
        }
