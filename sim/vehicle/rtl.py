"""Return to launch, as ArduCopter flies it: climb to RTL_ALT if lower, fly home, loiter
RTL_LOIT_TIME over it, then land and disarm. RTL returns to home only, so home must be
the dock pad.

The return height is ArduCopter's `ModeRTL::compute_return_target`: at least the current
height (plus RTL_CLIMB_MIN) and RTL_ALT, but no more than RTL_CONE_SLOPE times the
distance home, so a drone already close to home does not climb to RTL_ALT first."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.vehicle.copter import Copter


RTL_ALT_MIN_M = 0.3
RTL_MIN_CONE_SLOPE = 0.5


def return_alt(alt: float, dist: float, rtl_alt: float, climb_min: float, cone_slope: float) -> float:
    """The height (above home) an RTL flies home at, from the height and distance it starts at."""
    lowest = max(RTL_ALT_MIN_M, alt + max(0.0, climb_min))
    target = max(rtl_alt, lowest)
    if cone_slope >= RTL_MIN_CONE_SLOPE:
        target = min(target, max(dist * cone_slope, lowest))
    return target


@dataclass
class Rtl:
    phase: str = "idle"
    """climb, return, loiter, land, done."""
    alt: float = 0.0
    loiter_since: float | None = None

    def begin(self, copter: Copter) -> None:
        self.alt = return_alt(
            copter.body.alt,
            math.hypot(copter.body.x, copter.body.y),
            copter.params["RTL_ALT"] / 100.0,
            copter.params["RTL_CLIMB_MIN"] / 100.0,
            copter.params["RTL_CONE_SLOPE"],
        )
        self.phase = "climb"
        self.loiter_since = None

    def step(self, copter: Copter, now: float) -> tuple[tuple[float, float, float] | None, bool]:
        """(setpoint, landed): landed once on the pad and disarmed."""
        b = copter.body
        if self.phase == "climb":
            if b.alt >= self.alt - 1.0:
                self.phase = "return"
            else:
                return (b.x, b.y, self.alt), False
        if self.phase == "return":
            if math.hypot(b.x, b.y) <= 2.0:
                self.phase, self.loiter_since = "loiter", now
            else:
                return (0.0, 0.0, self.alt), False
        if self.phase == "loiter":
            if now - (self.loiter_since or now) >= copter.params["RTL_LOIT_TIME"] / 1000.0:
                self.phase = "land"
            else:
                return (0.0, 0.0, self.alt), False
        if self.phase == "land":
            if b.on_ground and copter.landed_flag:
                self.phase = "done"
                return None, True
            return (0.0, 0.0, 0.0), False
        return None, self.phase == "done"
