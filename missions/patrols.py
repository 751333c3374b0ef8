"""Patrols: what to look at, how to fly over it, and when.

Three kinds, as dock operators plan them: a route (fly a polyline: a road, a river
corridor), an area (cover a polygon with lawnmower lines sized by the camera footprint),
and a point (orbit it or hover over it with the camera on it). `work_path` turns a
patrol into the flight over the target itself; sorties add the transit to and from an
airport.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from missions.coverage import Sweep, lawnmower
from missions.fleet import DroneModel
from missions.geo import XY
from missions.recurrence import Cron, Season


class PatrolKind(StrEnum):
    ROUTE = "route"
    AREA = "area"
    POINT = "point"


class Target(StrEnum):
    """What a patrol looks for; the detectors and rules downstream use the same names."""

    FIRE = "fire"
    SMOKE = "smoke"
    ILLEGAL_PARKING = "illegal_parking"
    FLOODING = "flooding"


class PointMode(StrEnum):
    ORBIT = "orbit"
    HOVER = "hover"


@dataclass(frozen=True)
class CronRule:
    """Start at every cron time (inside the season, if any), within window_min."""

    cron: Cron
    season: Season | None
    window_min: float

    def describe(self) -> str:
        season = (
            f", season {self.season.first[0]:02d}-{self.season.first[1]:02d}.."
            f"{self.season.last[0]:02d}-{self.season.last[1]:02d}"
            if self.season
            else ""
        )
        return f"cron '{self.cron.expression}'{season}"


@dataclass(frozen=True)
class TriggerRule:
    """Start after each forecast warning of a kind ends (e.g. after a rainstorm warning)."""

    event: str
    delay_min: float
    window_min: float

    def describe(self) -> str:
        return f"after each {self.event}"


PatrolRule = CronRule | TriggerRule


@dataclass(frozen=True)
class Patrol:
    """One patrol of the scenario, in the local frame."""

    id: str
    name: str
    kind: PatrolKind
    geometry: BaseGeometry
    looks_for: tuple[Target, ...]
    rule: PatrolRule
    altitude_m: float = 80.0
    """Altitude above ground over the target."""
    speed_ms: float = 10.0
    """Ground speed over the target."""
    priority: int = 3
    """1 (most urgent) to 5."""
    gsd_cm: float | None = None
    """Area patrols: the coarsest ground sample distance acceptable, cm/px."""
    side_overlap: float = 0.2
    point_mode: PointMode = PointMode.HOVER
    radius_m: float = 150.0
    laps: int = 1
    hover_s: float = 60.0
    airports: tuple[str, ...] = ()
    """Airports allowed to fly it; empty means any."""
    emergency: bool = False
    """Flown under the emergency-management bureau's airspace priority (approval zones
    with emergency access need no approval), e.g. flood checks after a rainstorm."""

    @property
    def weight(self) -> int:
        """How much a delay of this patrol costs relative to others (priority 1 = 16)."""
        return 1 << (5 - self.priority)


@dataclass(frozen=True)
class WorkPoint:
    """A waypoint of the flight over the target."""

    xy: XY
    alt_m: float
    speed_ms: float
    hold_s: float = 0.0
    roi: XY | None = None
    """Where the camera points on the way to and at this waypoint (None: ahead, down)."""


@dataclass(frozen=True)
class WorkPath:
    """The flight over the target, and whether a sortie may stop part-way along it."""

    points: tuple[WorkPoint, ...]
    divisible: bool
    sweep: Sweep | None = None


def area_altitude(patrol: Patrol, drone: DroneModel) -> float:
    alt = patrol.altitude_m
    if patrol.gsd_cm is not None:
        alt = min(alt, drone.camera.altitude_for_gsd(patrol.gsd_cm))
    return alt


def work_path(patrol: Patrol, drone: DroneModel) -> WorkPath:
    """The patrol's own flight (no transit), from its natural start."""
    alt, speed = patrol.altitude_m, patrol.speed_ms
    geom = patrol.geometry
    if patrol.kind is PatrolKind.ROUTE:
        assert isinstance(geom, LineString)
        pts = tuple(WorkPoint((float(x), float(y)), alt, speed) for x, y, *_ in geom.coords)
        return WorkPath(pts, divisible=True)
    if patrol.kind is PatrolKind.AREA:
        assert isinstance(geom, Polygon)
        alt = area_altitude(patrol, drone)
        width, _ = drone.camera.footprint_m(alt)
        sweep = lawnmower(geom, width, patrol.side_overlap)
        pts = tuple(WorkPoint(p, alt, speed) for p in sweep.waypoints)
        return WorkPath(pts, divisible=True, sweep=sweep)
    assert isinstance(geom, Point)
    centre = (float(geom.x), float(geom.y))
    if patrol.point_mode is PointMode.HOVER:
        return WorkPath((WorkPoint(centre, alt, speed, patrol.hover_s, roi=centre),), divisible=False)
    steps = 12
    ring = [
        (
            centre[0] + patrol.radius_m * math.cos(2 * math.pi * k / steps),
            centre[1] + patrol.radius_m * math.sin(2 * math.pi * k / steps),
        )
        for k in range(steps * patrol.laps + 1)
    ]
    # An orbit is flown slower than cruise so the camera holds the target steady.
    orbit_speed = min(speed, 8.0)
    return WorkPath(tuple(WorkPoint(p, alt, orbit_speed, roi=centre) for p in ring), divisible=False)
