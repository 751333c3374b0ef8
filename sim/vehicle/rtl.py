"""Return to launch, as ArduCopter flies it: climb to RTL_ALT if lower, fly home, loiter
RTL_LOIT_TIME over it, then land and disarm. RTL returns to home only, so home must be
the dock pad."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.vehicle.copter import Copter


@dataclass
class Rtl:
    phase: str = "idle"
    """climb, return, loiter, land, done."""
    alt: float = 0.0
    loiter_since: float | None = None

    def begin(self, copter: Copter) -> None:
        self.alt = max(copter.params["RTL_ALT"] / 100.0, copter.body.alt)
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
