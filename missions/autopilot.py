"""The speeds an ArduCopter will actually fly, from its own parameters.

A plan that assumes a speed the autopilot will not fly is wrong in time and battery.
Two limits matter to the patrols and the alert flights:

- Legs: the speed a DO_CHANGE_SPEED asks for (ArduCopter's AC_WPNav takes any speed
  above its minimum), else WPNAV_SPEED (cm/s). What the airframe can reach is not a
  parameter: the executor measures it and reports the difference.
- Orbits (NAV_LOITER_TURNS, flown by AC_Circle): AC_Circle::calc_velocities limits the
  speed round the circle to `min(WPNAV_SPEED, sqrt(0.5 * WPNAV_ACCEL * radius))` (never
  more than half its acceleration toward the centre) and the angular rate to CIRCLE_RATE
  (deg/s). A DO_CHANGE_SPEED does not reach the circle. With ArduPilot's defaults
  (WPNAV_ACCEL 250 cm/s/s) a 40 m orbit is flown at 7.1 m/s, not at cruise speed.

Pure: parameter values in, speeds and times out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from missions.formats.items import Cmd, MissionItem
from missions.geo import haversine_m


class CopterMode(IntEnum):
    """ArduCopter's flight modes as its heartbeat's custom_mode carries them (Mode::Number)."""

    STABILIZE = 0
    AUTO = 3
    GUIDED = 4
    LOITER = 5
    RTL = 6
    LAND = 9
    BRAKE = 17
    SMART_RTL = 21


PARAMS = ("WPNAV_SPEED", "WPNAV_ACCEL", "CIRCLE_RATE")
"""What the service reads from each drone at connection."""


@dataclass(frozen=True)
class CopterLimits:
    wpnav_speed_ms: float = 10.0
    """WPNAV_SPEED / 100 (ArduCopter's default 1000 cm/s)."""
    wpnav_accel_mss: float = 2.5
    """WPNAV_ACCEL / 100 (default 250 cm/s/s)."""
    circle_rate_degs: float = 20.0
    """CIRCLE_RATE (default 20 deg/s)."""

    @staticmethod
    def from_params(values: Mapping[str, float]) -> CopterLimits:
        """From a drone's parameters (cm/s, cm/s/s, deg/s); missing ones take ArduCopter's defaults."""
        d = CopterLimits()
        return CopterLimits(
            wpnav_speed_ms=values.get("WPNAV_SPEED", d.wpnav_speed_ms * 100) / 100,
            wpnav_accel_mss=values.get("WPNAV_ACCEL", d.wpnav_accel_mss * 100) / 100,
            circle_rate_degs=values.get("CIRCLE_RATE", d.circle_rate_degs),
        )

    def orbit_speed_ms(self, radius_m: float) -> float:
        """Speed round a circle of `radius_m` (AC_Circle's limit)."""
        if radius_m <= 0:
            return 0.0
        v = min(self.wpnav_speed_ms, math.sqrt(0.5 * self.wpnav_accel_mss * radius_m))
        if self.circle_rate_degs > 0:
            v = min(v, math.radians(self.circle_rate_degs) * radius_m)
        return v

    def orbit_s(self, radius_m: float, turns: float) -> float:
        """Time for `turns` turns (the speed-up into the circle is not counted)."""
        v = self.orbit_speed_ms(radius_m)
        return math.inf if v <= 0 else turns * 2 * math.pi * radius_m / v

    def turns_for(self, radius_m: float, seconds: float) -> int:
        """Whole turns (ArduPilot keeps whole turns) closest to `seconds` round the circle, at least one."""
        v = self.orbit_speed_ms(radius_m)
        return max(1, round(seconds * v / (2 * math.pi * radius_m))) if v > 0 else 1


ARDUCOPTER_DEFAULTS = CopterLimits()


@dataclass(frozen=True)
class SpeedCheck:
    """One stretch of a flown mission: what the plan (and the autopilot's limits) said, and what was flown."""

    seq: int
    """The item that ends the stretch (a waypoint, or the orbit)."""
    kind: str
    """'leg': waypoint to waypoint."""
    planned_ms: float
    flown_ms: float

    @property
    def error(self) -> float:
        """Flown over planned, minus one (-0.5: half as fast as planned)."""
        return self.flown_ms / self.planned_ms - 1 if self.planned_ms > 0 else 0.0


MIN_LEG_M = 300.0
"""Shorter legs are mostly acceleration and braking: not a measure of cruise speed."""


def speed_checks(
    items: list[MissionItem], reached: Mapping[int, float], limits: CopterLimits = ARDUCOPTER_DEFAULTS
) -> list[SpeedCheck]:
    """Planned against flown speed for every leg of at least `MIN_LEG_M` between two
    waypoints both reached (`reached`: item seq -> the vehicle's time, seconds, of its
    MISSION_ITEM_REACHED, which ArduPilot sends when the item is done, after its hold:
    the hold is taken out). A leg's planned speed is the last DO_CHANGE_SPEED's, else
    WPNAV_SPEED."""
    out: list[SpeedCheck] = []
    speed = limits.wpnav_speed_ms
    prev: MissionItem | None = None
    for it in items[1:]:
        if it.command == Cmd.DO_CHANGE_SPEED and it.param2 > 0:
            speed = it.param2
            continue
        if it.command not in (Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_TURNS, Cmd.NAV_TAKEOFF):
            if it.command in (Cmd.NAV_RETURN_TO_LAUNCH, Cmd.NAV_LAND):
                prev = None
            continue
        if prev is not None and prev.seq in reached and it.seq in reached:
            # MISSION_ITEM_REACHED comes when an item is done: after its hold.
            dt = reached[it.seq] - reached[prev.seq] - max(0.0, it.param1)
            dist = haversine_m(prev.y, prev.x, it.y, it.x)
            if it.command == Cmd.NAV_WAYPOINT and prev.command == Cmd.NAV_WAYPOINT and dist >= MIN_LEG_M and dt > 0:
                out.append(SpeedCheck(it.seq, "leg", speed, dist / dt))
        prev = it
    return out
