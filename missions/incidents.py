"""What happens on the ground in a scenario: fires, parked and moving vehicles,
no-parking zones, and look-alikes that fool naive detectors.

Plain data in the local frame. The simulator draws them; vision's rules read the
no-parking zones (with their dwell times) to decide what counts as illegal parking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from shapely.geometry.base import BaseGeometry

from missions.geo import XY


@dataclass(frozen=True)
class FirePlan:
    id: str
    xy: XY
    ignite: datetime
    growth_m_per_min: float = 0.6
    """Radius growth of the burning area."""
    max_radius_m: float = 30.0
    out: datetime | None = None
    """When it is put out (None: burns on)."""

    def radius(self, t: datetime) -> float:
        if t < self.ignite or (self.out is not None and t >= self.out):
            return 0.0
        minutes = (t - self.ignite).total_seconds() / 60
        return min(self.max_radius_m, 1.5 + self.growth_m_per_min * minutes)


@dataclass(frozen=True)
class VehiclePlan:
    id: str
    kind: str
    """car, van or truck."""
    path: tuple[XY, ...]
    """One point: parked there; several: driven along them (and back) at speed_ms."""
    heading_deg: float = 0.0
    start: datetime | None = None
    end: datetime | None = None
    speed_ms: float = 8.0
    colour: tuple[int, int, int] | None = None
    """BGR; None picks one from the id."""

    def present(self, t: datetime) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)


@dataclass(frozen=True)
class NoParkingZone:
    id: str
    name: str
    area: BaseGeometry
    dwell_s: float
    """A vehicle still there after this long is parked illegally."""


@dataclass(frozen=True)
class Confuser:
    """Something that looks like fire, smoke or a vehicle and is not."""

    id: str
    kind: str
    """red_roof, tarp, steam, fog, shadow, glare."""
    xy: XY
    size_m: float = 10.0


@dataclass(frozen=True)
class DetectionZone:
    """A place where vision needs its own thresholds: steam vents that look like smoke,
    a car park where vehicles are expected."""

    id: str
    name: str
    area: BaseGeometry
    class_conf: Mapping[str, float]
    """Minimum detector score per class inside the zone."""
    confirm: tuple[int, int, float] | None = None
    """Fire/smoke confirmed in k of n frames over t seconds, instead of the default."""


@dataclass(frozen=True)
class AlertCall:
    """An alert the district's alert system raises on the scenario day (a smoke sensor, a
    caller): what the simulated alert system sends, for the demo and the benchmarks."""

    id: str
    at: datetime
    kind: str
    lon: float
    lat: float
    priority: int | None = None
    note: str = ""


@dataclass(frozen=True)
class Incidents:
    """Everything a scenario puts on the ground, and where vision is told to look harder."""

    fires: tuple[FirePlan, ...] = ()
    vehicles: tuple[VehiclePlan, ...] = ()
    no_parking: tuple[NoParkingZone, ...] = ()
    confusers: tuple[Confuser, ...] = ()
    detection_zones: tuple[DetectionZone, ...] = ()
    alerts: tuple[AlertCall, ...] = ()
