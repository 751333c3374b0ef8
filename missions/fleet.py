"""Airports (docks), their drones, cameras and charge curves.

The defaults describe a current dock system: a ~1.4 kg quadcopter flying 50-54 min to
empty with no wind, refusing launch above 12 m/s wind or in heavy rain, a dock that
launches in about 40 s and charges 20 -> 90 % in about 32 min.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from missions.energy import PowerModel
from missions.geo import XY


@dataclass(frozen=True)
class Camera:
    """A pinhole camera on a gimbal."""

    hfov_deg: float = 82.0
    """Horizontal field of view, degrees."""
    width_px: int = 4000
    height_px: int = 3000
    thermal: bool = False
    """Carries a thermal camera (M3TD, M4TD): patrols need no daylight."""

    @property
    def vfov_deg(self) -> float:
        half = math.atan(math.tan(math.radians(self.hfov_deg) / 2) * self.height_px / self.width_px)
        return math.degrees(2 * half)

    def footprint_m(self, altitude_m: float) -> tuple[float, float]:
        """Ground width and height seen looking straight down from an altitude."""
        w = 2 * altitude_m * math.tan(math.radians(self.hfov_deg) / 2)
        return w, w * self.height_px / self.width_px

    def gsd_cm(self, altitude_m: float) -> float:
        """Ground sample distance at nadir, centimetres per pixel."""
        return 100 * self.footprint_m(altitude_m)[0] / self.width_px

    def altitude_for_gsd(self, gsd_cm: float) -> float:
        return gsd_cm / 100 * self.width_px / (2 * math.tan(math.radians(self.hfov_deg) / 2))


@dataclass(frozen=True)
class DroneModel:
    """Performance limits and the energy budget of one drone type."""

    name: str = "dock-quad"
    battery_wh: float = 70.0
    """Usable battery energy, Wh."""
    cruise_speed_ms: float = 12.0
    dash_speed_ms: float = 20.0
    """Speed flown to an alert."""
    climb_rate_ms: float = 5.0
    descent_rate_ms: float = 3.0
    max_wind_ms: float = 12.0
    """Launch refused above this sustained wind."""
    max_rain_mm_h: float = 10.0
    """Launch refused in rain heavier than this (heavy rain)."""
    min_temp_c: float = -10.0
    reserve: float = 0.25
    """Share of the battery that must remain at landing."""
    energy_margin: float = 0.08
    """The energy model's error, planned for: a real flight (gusts, an ageing cell) draws
    up to about a tenth more than modelled, so sorties are planned to land above the
    reserve by that much, and the reserve stays a reserve."""
    max_sortie_s: float = 30 * 60
    """Longest planned sortie: dock drones plan 25-30 min with the reserve intact."""
    transit_alt_m: float = 80.0
    camera: Camera = field(default_factory=Camera)
    power: PowerModel = field(default_factory=PowerModel)

    def endurance_s(self, airspeed_ms: float = 0.0) -> float:
        """Time to empty at a constant airspeed (hover by default), no wind."""
        return self.battery_wh * 3600 / self.power.level_power_w(airspeed_ms)


@dataclass(frozen=True)
class ChargeCurve:
    """Minutes from empty to each state of charge; piecewise linear (CC then CV)."""

    points: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.8, 32.0), (0.9, 40.0), (1.0, 52.0))

    def __post_init__(self) -> None:
        socs = [p[0] for p in self.points]
        mins = [p[1] for p in self.points]
        if socs[0] != 0.0 or socs[-1] != 1.0 or socs != sorted(socs) or mins != sorted(mins):
            raise ValueError("charge curve must rise from state of charge 0 to 1")

    def minutes_at(self, soc: float) -> float:
        soc = min(max(soc, 0.0), 1.0)
        socs = [p[0] for p in self.points]
        i = max(1, bisect.bisect_left(socs, soc))
        (s0, m0), (s1, m1) = self.points[i - 1], self.points[i]
        return m0 + (m1 - m0) * (soc - s0) / (s1 - s0) if s1 > s0 else m1

    def soc_after(self, soc: float, minutes: float) -> float:
        target = self.minutes_at(soc) + minutes
        for (s0, m0), (s1, m1) in zip(self.points, self.points[1:], strict=False):
            if target <= m1:
                return s0 + (s1 - s0) * (target - m0) / (m1 - m0) if m1 > m0 else s1
        return 1.0

    def seconds_to(self, start_soc: float, target_soc: float) -> float:
        if target_soc <= start_soc:
            return 0.0
        return 60.0 * (self.minutes_at(target_soc) - self.minutes_at(start_soc))


@dataclass(frozen=True)
class DockModel:
    """The airport's box: launch and recovery times, charger, launch threshold."""

    name: str = "dock"
    launch_s: float = 40.0
    """From the launch order to the drone leaving the pad (lid, self-check, take-off)."""
    land_s: float = 60.0
    """From arrival over the pad to the drone landed and the lid closed."""
    charge: ChargeCurve = field(default_factory=ChargeCurve)
    launch_soc: float = 0.9
    """Routine sorties start at this charge; the charger tops the drone up to it."""
    max_wind_ms: float = 12.0


@dataclass(frozen=True)
class Airport:
    """One automated drone airport: a dock with one drone, at a site."""

    id: str
    name: str
    subdistrict: str
    lon: float
    lat: float
    xy: XY
    elevation_m: float
    """Ground elevation of the pad above mean sea level."""
    drone: DroneModel
    dock: DockModel
