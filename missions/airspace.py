"""Airspace: the operating area, its zones, approvals, and the check of a 4-D path.

Three kinds of airspace, as the 2024 interim UAV flight rules draw them for a district:
free airspace below the ceiling (120 m above ground); approval-required zones (airport
clearance areas, heliports, ports, water-source areas, borders), which a flight may
enter only while it holds an approval whose window covers it; and no-fly zones, which
nothing enters. Zones have an altitude band and may be active only in time windows
(temporary restrictions).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from missions.routing import Router
from missions.timewindow import TimeWindow

DEFAULT_CEILING_M = 120.0
"""Above-ground ceiling for light UAVs (2024 interim rules, article 19)."""

ZONE_MARGIN_M = 30.0
"""Transit legs keep this far from a zone they may not enter: GPS error plus overshoot."""

INTRUSION_TOLERANCE_M = 1.0
"""A leg that only touches a zone edge for less than this is not an entry."""


class ZoneKind(StrEnum):
    """What a zone means for a flight."""

    NO_FLY = "no_fly"
    APPROVAL = "approval_required"


@dataclass(frozen=True)
class Zone:
    """One airspace zone in the local frame."""

    id: str
    name: str
    kind: ZoneKind
    area: Polygon | BaseGeometry
    floor_m: float = 0.0
    """Lowest altitude above ground the zone applies to, metres."""
    top_m: float = 10_000.0
    """Highest altitude above ground the zone applies to, metres."""
    active: tuple[TimeWindow, ...] = ()
    """When the zone is in force; empty means always (a permanent zone)."""
    emergency_access: bool = True
    """Emergency-management flights hold a standing approval here (airspace priority)."""

    def active_during(self, start: datetime, end: datetime) -> bool:
        return not self.active or any(w.overlaps(start, end) for w in self.active)

    def band_overlaps(self, low: float, high: float) -> bool:
        return low <= self.top_m and high >= self.floor_m


@dataclass(frozen=True)
class Approval:
    """Permission to enter approval-required zones during a window, below an altitude."""

    reference: str
    zone_ids: frozenset[str]
    window: TimeWindow
    max_alt_m: float = DEFAULT_CEILING_M

    def permits(self, zone_id: str, start: datetime, end: datetime, alt_m: float) -> bool:
        return zone_id in self.zone_ids and self.window.covers(start, end) and alt_m <= self.max_alt_m


@dataclass(frozen=True)
class PathPoint:
    """A point of a planned flight: local x/y (m), altitude above ground (m), time."""

    x: float
    y: float
    alt_m: float
    t: datetime


@dataclass(frozen=True)
class Violation:
    """Why a leg of a path is not allowed."""

    leg: int
    zone_id: str | None
    reason: str


@dataclass
class Airspace:
    """The operating area with its zones; answers 'may this path be flown, and when?'."""

    operating_area: BaseGeometry
    zones: tuple[Zone, ...]
    ceiling_m: float = DEFAULT_CEILING_M
    _routers: dict[frozenset[str], Router] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        shapely.prepare(self.operating_area)
        for z in self.zones:
            shapely.prepare(z.area)

    def zone(self, zone_id: str) -> Zone:
        for z in self.zones:
            if z.id == zone_id:
                return z
        raise KeyError(zone_id)

    # ---- checking -------------------------------------------------------------------

    def check_path(
        self,
        path: Sequence[PathPoint],
        approvals: Iterable[Approval] = (),
        *,
        emergency: bool = False,
    ) -> list[Violation]:
        """Every reason the path may not be flown as planned (empty when it may)."""
        approvals = tuple(approvals)
        out: list[Violation] = []
        area = self.operating_area.buffer(INTRUSION_TOLERANCE_M)
        for i, (a, b) in enumerate(itertools.pairwise(path)):
            leg = LineString([(a.x, a.y), (b.x, b.y)]) if (a.x, a.y) != (b.x, b.y) else Point(a.x, a.y)
            low, high = min(a.alt_m, b.alt_m), max(a.alt_m, b.alt_m)
            t0, t1 = min(a.t, b.t), max(a.t, b.t)
            if high > self.ceiling_m + 1e-6:
                out.append(Violation(i, None, f"altitude {high:.0f} m above the {self.ceiling_m:.0f} m ceiling"))
            if not area.covers(leg):
                out.append(Violation(i, None, "leaves the operating area"))
            for z in self.zones:
                if not z.band_overlaps(low, high) or not z.active_during(t0, t1):
                    continue
                inside = z.area.intersection(leg)
                if inside.is_empty or (inside.length < INTRUSION_TOLERANCE_M and not isinstance(leg, Point)):
                    continue
                if z.kind is ZoneKind.NO_FLY:
                    out.append(Violation(i, z.id, f"enters no-fly zone {z.id} ({z.name})"))
                elif not (emergency and z.emergency_access) and not any(
                    ap.permits(z.id, t0, t1, high) for ap in approvals
                ):
                    when = f"{t0:%Y-%m-%d %H:%M}-{t1:%H:%M}"
                    out.append(
                        Violation(i, z.id, f"enters {z.id} ({z.name}) at {when} without an approval covering it")
                    )
        return out

    # ---- routing --------------------------------------------------------------------

    def blocked_zone_ids(
        self,
        start: datetime,
        end: datetime,
        approvals: Iterable[Approval] = (),
        *,
        alt_m: float = DEFAULT_CEILING_M,
        emergency: bool = False,
    ) -> frozenset[str]:
        """Zones a flight at alt_m between start and end must stay out of."""
        approvals = tuple(approvals)
        blocked: set[str] = set()
        for z in self.zones:
            if not z.band_overlaps(0.0, alt_m) or not z.active_during(start, end):
                continue
            if z.kind is ZoneKind.NO_FLY:
                blocked.add(z.id)
            elif not (emergency and z.emergency_access) and not any(
                ap.permits(z.id, start, end, alt_m) for ap in approvals
            ):
                blocked.add(z.id)
        return frozenset(blocked)

    def router(self, blocked: frozenset[str]) -> Router:
        """A router whose free space avoids the given zones (cached per zone set)."""
        router = self._routers.get(blocked)
        if router is None:
            obstacles = [
                self.zone(zid).area.buffer(ZONE_MARGIN_M, join_style="mitre", mitre_limit=2.0)
                for zid in sorted(blocked)
            ]
            free = self.operating_area
            if obstacles:
                free = free.difference(unary_union(obstacles))
            router = Router(free)
            self._routers[blocked] = router
        return router

    def free_space(self, blocked: frozenset[str]) -> BaseGeometry:
        return self.router(blocked).free
