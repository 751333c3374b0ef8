"""Power and energy of a multicopter in flight.

The level-flight power curve is the rotary-wing model of Zeng, Xu and Zhang (2019,
"Energy minimization for wireless communication with rotary-wing UAV"): blade-profile
power rising with advance ratio, induced power falling as the rotor meets fresh air,
and parasite drag rising with the cube of airspeed. It gives the familiar bucket: a
quadcopter flies longest at a moderate speed, not in a hover. Climbing adds the
potential-energy rate over a propulsive efficiency; descending is charged as level
flight (no regeneration). Wind enters through airspeed, which is what the rotors see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from missions.geo import XY

G = 9.80665


@dataclass(frozen=True)
class PowerModel:
    """Parameters of the power curve; defaults fit a 1.4 kg dock quadcopter."""

    blade_profile_w: float = 45.0
    """P0: blade-profile power in a hover, W."""
    induced_w: float = 55.0
    """Pi: induced power in a hover, W."""
    tip_speed_ms: float = 120.0
    """U_tip: rotor blade tip speed, m/s."""
    hover_induced_velocity_ms: float = 4.0
    """v0: mean rotor induced velocity in a hover, m/s."""
    parasite_coeff: float = 0.012
    """0.5 d0 rho s A: parasite drag power per (m/s)^3, W s^3/m^3."""
    mass_kg: float = 1.41
    climb_efficiency: float = 0.7
    """Share of electrical power that becomes potential energy when climbing."""
    avionics_w: float = 6.0
    """Flight controller, radios, camera and gimbal."""

    def level_power_w(self, airspeed_ms: float) -> float:
        v = max(0.0, airspeed_ms)
        v0 = self.hover_induced_velocity_ms
        profile = self.blade_profile_w * (1.0 + 3.0 * v * v / self.tip_speed_ms**2)
        inner = math.sqrt(1.0 + v**4 / (4.0 * v0**4)) - v * v / (2.0 * v0 * v0)
        induced = self.induced_w * math.sqrt(max(inner, 0.0))
        parasite = self.parasite_coeff * v**3
        return profile + induced + parasite + self.avionics_w

    def hover_power_w(self) -> float:
        return self.level_power_w(0.0)

    def power_w(self, airspeed_ms: float, climb_rate_ms: float = 0.0) -> float:
        climb = max(0.0, climb_rate_ms) * self.mass_kg * G / self.climb_efficiency
        return self.level_power_w(airspeed_ms) + climb


def airspeed_for(ground_velocity: XY, wind: XY) -> float:
    """Airspeed needed to hold a ground velocity in a wind (vectors east, north)."""
    return math.hypot(ground_velocity[0] - wind[0], ground_velocity[1] - wind[1])


def leg_energy_wh(
    model: PowerModel,
    length_m: float,
    ground_speed_ms: float,
    heading_unit: XY,
    wind: XY,
    climb_m: float = 0.0,
    climb_rate_ms: float = 5.0,
    descent_rate_ms: float = 3.0,
) -> tuple[float, float]:
    """(seconds, watt-hours) to fly a straight leg at a ground speed, climbing climb_m.

    Vertical motion is flown at the leg's pace: the leg lasts the longer of its
    horizontal and vertical parts, each at its own limit.
    """
    horizontal_s = length_m / ground_speed_ms if length_m > 0 else 0.0
    vertical_s = climb_m / climb_rate_ms if climb_m > 0 else -climb_m / descent_rate_ms
    seconds = max(horizontal_s, vertical_s)
    if seconds <= 0:
        return 0.0, 0.0
    v = length_m / seconds
    airspeed = airspeed_for((heading_unit[0] * v, heading_unit[1] * v), wind)
    power = model.power_w(airspeed, climb_m / seconds)
    return seconds, power * seconds / 3600.0


def hover_energy_wh(model: PowerModel, seconds: float, wind: XY) -> float:
    """Energy to hold position for a time: in wind the rotors see the wind as airspeed."""
    return model.level_power_w(math.hypot(*wind)) * seconds / 3600.0
