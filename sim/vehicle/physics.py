"""Multicopter kinematics, wind and battery: the body the autopilot flies.

The autopilot asks for a velocity (or a position to reach); the body follows within its
acceleration, speed, climb and yaw-rate limits. Wind is steady plus gusts (a seeded
Ornstein-Uhlenbeck process). The battery drains by the planner's power model at the
airspeed actually flown, times a per-flight error factor drawn from the seed, so a
flight never matches its plan exactly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from missions.energy import PowerModel
from missions.fleet import DroneModel
from missions.geo import XY

H_ACCEL = 4.0
"""Horizontal acceleration limit, m/s^2."""
V_ACCEL = 2.5
YAW_RATE_DEG = 90.0
GUST_TAU_S = 4.0
"""Correlation time of gusts."""


@dataclass
class Wind:
    """Steady wind plus seeded gusts; velocity of the air (east, north), m/s."""

    steady: XY = (0.0, 0.0)
    gust_sigma: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    gust: list[float] = field(default_factory=lambda: [0.0, 0.0])
    extra: XY = (0.0, 0.0)
    """A gust injected as a fault."""

    def step(self, dt: float) -> None:
        a = math.exp(-dt / GUST_TAU_S)
        b = self.gust_sigma * math.sqrt(max(0.0, 1 - a * a))
        self.gust[0] = a * self.gust[0] + b * self.rng.gauss(0, 1)
        self.gust[1] = a * self.gust[1] + b * self.rng.gauss(0, 1)

    @property
    def vector(self) -> XY:
        return (self.steady[0] + self.gust[0] + self.extra[0], self.steady[1] + self.gust[1] + self.extra[1])


@dataclass
class Body:
    """Position (local metres, altitude above home), velocity, heading, battery."""

    model: DroneModel
    x: float = 0.0
    y: float = 0.0
    alt: float = 0.0
    vx: float = 0.0
    vy: float = 0.0
    vz: float = 0.0
    yaw_deg: float = 0.0
    energy_wh: float = 0.0
    efficiency_error: float = 1.0
    """Multiplier on consumption for this flight (seeded, ~N(1, 0.04))."""
    extra_draw_w: float = 0.0
    """Additional power (a failing motor, a heater) injected as a fault."""
    airspeed: float = 0.0
    last_power_w: float = 0.0

    @property
    def soc(self) -> float:
        return max(0.0, self.energy_wh / self.model.battery_wh)

    @property
    def on_ground(self) -> bool:
        return self.alt <= 0.05 and self.vz <= 0.0

    @property
    def speed(self) -> float:
        return math.hypot(self.vx, self.vy)

    def step(
        self,
        dt: float,
        want_v: tuple[float, float, float],
        want_yaw: float | None,
        wind: XY,
        motors: bool,
        power: PowerModel,
    ) -> None:
        """Move for dt seconds toward the wanted velocity (east, north, up)."""
        if not motors:
            self.vx = self.vy = 0.0
            self.vz = min(self.vz, 0.0)
            if self.alt <= 0.05:
                self.alt = 0.0  # on the pad
            if self.alt > 0:  # motors stopped in the air: it falls
                self.vz = max(self.vz - 9.8 * dt, -20.0)
                self.alt = max(0.0, self.alt + self.vz * dt)
            if self.alt <= 0:
                self.vz = 0.0
            self.last_power_w = 0.0
            return
        ax = _clamp(want_v[0] - self.vx, H_ACCEL * dt)
        ay = _clamp(want_v[1] - self.vy, H_ACCEL * dt)
        # Keep the horizontal acceleration within the limit as a vector, not per axis.
        mag = math.hypot(ax, ay)
        if mag > H_ACCEL * dt:
            ax, ay = ax * H_ACCEL * dt / mag, ay * H_ACCEL * dt / mag
        self.vx += ax
        self.vy += ay
        self.vz += _clamp(want_v[2] - self.vz, V_ACCEL * dt)
        if self.alt <= 0 and self.vz < 0:
            self.vz = 0.0
        self.x += self.vx * dt
        self.y += self.vy * dt
        self.alt = max(0.0, self.alt + self.vz * dt)
        if want_yaw is not None:
            diff = (want_yaw - self.yaw_deg + 180) % 360 - 180
            self.yaw_deg = (self.yaw_deg + _clamp(diff, YAW_RATE_DEG * dt)) % 360
        self.airspeed = math.hypot(self.vx - wind[0], self.vy - wind[1])
        p = power.power_w(self.airspeed, max(self.vz, 0.0)) * self.efficiency_error + self.extra_draw_w
        self.last_power_w = p
        self.energy_wh = max(0.0, self.energy_wh - p * dt / 3600.0)


def _clamp(v: float, limit: float) -> float:
    return max(-limit, min(limit, v))
