"""Which telemetry messages a vehicle sends, how often, and when each is due.

A real ArduCopter sends almost nothing until a ground station asks: HEARTBEAT always;
streams start on REQUEST_DATA_STREAM (MAVProxy asks this way, by group) or on
MAV_CMD_SET_MESSAGE_INTERVAL (MAVSDK asks per message). EXTENDED_SYS_STATE is only
available through SET_MESSAGE_INTERVAL. Rates are in simulated time.
"""

from __future__ import annotations

MESSAGE_IDS: dict[int, str] = {
    1: "SYS_STATUS",
    2: "SYSTEM_TIME",
    24: "GPS_RAW_INT",
    30: "ATTITUDE",
    32: "LOCAL_POSITION_NED",
    33: "GLOBAL_POSITION_INT",
    42: "MISSION_CURRENT",
    49: "GPS_GLOBAL_ORIGIN",
    74: "VFR_HUD",
    147: "BATTERY_STATUS",
    148: "AUTOPILOT_VERSION",
    242: "HOME_POSITION",
    245: "EXTENDED_SYS_STATE",
    285: "GIMBAL_DEVICE_ATTITUDE_STATUS",
}
IDS_BY_NAME = {v: k for k, v in MESSAGE_IDS.items()}

REQUEST_ONLY = frozenset({"AUTOPILOT_VERSION"})
"""Sent on request, never streamed."""

DEFAULT_INTERVAL_S: dict[str, float] = {
    "SYS_STATUS": 1.0,
    "SYSTEM_TIME": 1.0,
    "GPS_RAW_INT": 1.0,
    "ATTITUDE": 0.25,
    "LOCAL_POSITION_NED": 0.25,
    "GLOBAL_POSITION_INT": 0.25,
    "MISSION_CURRENT": 1.0,
    "GPS_GLOBAL_ORIGIN": 10.0,
    "VFR_HUD": 0.5,
    "BATTERY_STATUS": 1.0,
    "HOME_POSITION": 5.0,
    "EXTENDED_SYS_STATE": 1.0,
    "GIMBAL_DEVICE_ATTITUDE_STATUS": 0.5,
}

# REQUEST_DATA_STREAM groups, as ArduPilot maps them.
GROUPS: dict[int, tuple[str, ...]] = {
    1: (),  # RAW_SENSORS
    2: ("SYS_STATUS", "GPS_RAW_INT", "MISSION_CURRENT"),  # EXTENDED_STATUS
    3: (),  # RC_CHANNELS
    4: (),  # RAW_CONTROLLER
    6: ("GLOBAL_POSITION_INT", "LOCAL_POSITION_NED"),  # POSITION
    10: ("ATTITUDE",),  # EXTRA1
    11: ("VFR_HUD",),  # EXTRA2
    12: ("SYSTEM_TIME", "BATTERY_STATUS", "GIMBAL_DEVICE_ATTITUDE_STATUS"),  # EXTRA3
}
GROUPS[0] = tuple(n for g in (2, 6, 10, 11, 12) for n in GROUPS[g])  # ALL


class Streams:
    """Per-message intervals (simulated seconds) and their next due times."""

    def __init__(self) -> None:
        self.interval: dict[str, float] = {}
        self.next_due: dict[str, float] = {}
        self._earliest = float("inf")

    def set_interval(self, name: str, seconds: float | None, now: float) -> None:
        if seconds is None or seconds <= 0:
            self.interval.pop(name, None)
            self.next_due.pop(name, None)
            return
        self.interval[name] = seconds
        self.next_due[name] = now
        self._earliest = min(self._earliest, now)

    def request_group(self, group: int, rate_hz: int, start: bool, now: float) -> bool:
        names = GROUPS.get(group)
        if names is None:
            return False
        for n in names:
            self.set_interval(n, 1.0 / rate_hz if start and rate_hz > 0 else None, now)
        return True

    def due(self, now: float) -> list[str]:
        if now + 1e-9 < self._earliest:
            return []  # the common case: nothing due this step
        out = []
        for name, t in self.next_due.items():
            if now + 1e-9 >= t:
                out.append(name)
                step = self.interval[name]
                # Keep the cadence; after a long step, skip the backlog rather than burst.
                nxt = t + step
                self.next_due[name] = nxt if nxt > now else now + step
        self._earliest = min(self.next_due.values(), default=float("inf"))
        return out
