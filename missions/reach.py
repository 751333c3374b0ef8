"""Coverage analysis: how much of the district a drone reaches within N minutes.

Each cell of a grid over the operating area gets the earliest arrival of any airport's
ready drone (launch overhead, climb to transit altitude, dash along the shortest path
through airspace open to emergency flights). The share of cells within the limit is the
figure the district asks for ("5-minute response circle").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import shapely

from missions.scenario.model import Scenario


@dataclass(frozen=True)
class ReachMap:
    """Earliest-arrival times over a grid of cell centres inside the operating area."""

    minutes: float
    cell_m: float
    xy: np.ndarray
    """(n, 2) cell centres, local frame."""
    eta_s: np.ndarray
    """(n,) earliest arrival, seconds; inf where nothing can reach."""
    nearest: np.ndarray
    """(n,) index into airport_ids of the first to arrive; -1 where none."""
    airport_ids: tuple[str, ...]

    @property
    def share(self) -> float:
        return float(np.mean(self.eta_s <= self.minutes * 60.0)) if len(self.eta_s) else 0.0

    @property
    def area_km2(self) -> float:
        return len(self.eta_s) * self.cell_m**2 / 1e6

    def share_within(self, minutes: float) -> float:
        return float(np.mean(self.eta_s <= minutes * 60.0)) if len(self.eta_s) else 0.0

    def per_airport(self) -> dict[str, float]:
        """Share of the area each airport reaches first within the limit."""
        within = self.eta_s <= self.minutes * 60.0
        return {a: float(np.mean(within & (self.nearest == i))) for i, a in enumerate(self.airport_ids)}


def reach(scenario: Scenario, minutes: float = 5.0, cell_m: float = 200.0, at: datetime | None = None) -> ReachMap:
    """The reach map of the scenario's airports, every drone ready, at a time (for zones)."""
    at = scenario.localize(at) if at is not None else scenario.day_start().replace(hour=12)
    area = scenario.airspace.operating_area
    minx, miny, maxx, maxy = area.bounds
    xs = np.arange(minx + cell_m / 2, maxx, cell_m)
    ys = np.arange(miny + cell_m / 2, maxy, cell_m)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    pts = pts[shapely.contains_xy(area, pts[:, 0], pts[:, 1])]
    blocked = scenario.airspace.blocked_zone_ids(at, at, scenario.approvals, emergency=True)
    router = scenario.airspace.router(blocked)
    ids = tuple(scenario.airports)
    etas = np.full((len(ids), len(pts)), np.inf)
    for i, aid in enumerate(ids):
        ap = scenario.airports[aid]
        d = ap.drone
        overhead = ap.dock.launch_s + d.transit_alt_m / d.climb_rate_ms
        dash = router.distance_field(ap.xy, pts) / d.dash_speed_ms
        if scenario.ground is not None:
            # Over the hills the climb to the spot's height may take longer than the dash.
            climb = np.maximum(0.0, scenario.ground.at(pts[:, 0], pts[:, 1]) - ap.elevation_m) / d.climb_rate_ms
            dash = np.maximum(dash, np.nan_to_num(climb))
        etas[i] = overhead + dash
    best = np.min(etas, axis=0)
    nearest = np.where(np.isfinite(best), np.argmin(etas, axis=0), -1)
    return ReachMap(minutes, cell_m, pts, best, nearest, ids)
