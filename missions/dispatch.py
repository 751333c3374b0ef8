"""Dispatch: which drone gets to an alert first, and why.

For an alert at a point, every airport's drone is a candidate: docked and ready (launch
overhead, climb, then a dash along the shortest path through the airspace open to
emergency flights), charging (the same, after charging to what the trip needs), or
airborne (divert from where it is, if its patrol is less urgent than the alert). A
candidate that cannot go says why: weather, battery, a more urgent patrol, a fault.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shapely.geometry import Point

from missions.clearance import Heights, OffTerrain, TooSteep
from missions.daylight import is_daylight
from missions.errors import PlanningError
from missions.fleet import Airport
from missions.flight import Role, Waypoint, leg_cost
from missions.geo import XY
from missions.routing import Route, Router, Unreachable
from missions.scenario.model import Scenario
from missions.weather import Forecast

ON_SCENE_S = 300.0
"""How long a dispatched drone is planned to stay over the alert (orbit and look)."""


class DroneStatus(StrEnum):
    READY = "ready"
    CHARGING = "charging"
    AIRBORNE = "airborne"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class DroneState:
    """What dispatch needs to know about one airport's drone right now."""

    airport_id: str
    status: DroneStatus = DroneStatus.READY
    soc: float = 0.9
    xy: XY | None = None
    """Airborne drones: where it is now (local frame)."""
    alt_m: float = 0.0
    patrol_priority: int | None = None
    """Airborne drones: priority of the patrol it is flying (1 most urgent)."""
    note: str = ""
    """Unavailable drones: why (fault, maintenance, offline)."""


@dataclass(frozen=True)
class Candidate:
    airport_id: str
    status: DroneStatus
    eta_s: float | None
    """Seconds from the decision to arrival over the point; None when it cannot go."""
    distance_m: float | None
    note: str
    route: Route | None = None
    soc_at_home: float | None = None
    trip_soc: float | None = None
    """Share of the battery the whole trip takes (out, on scene, home), reserve excluded."""


@dataclass(frozen=True)
class Decision:
    lon: float
    lat: float
    at: datetime
    choice: Candidate | None
    candidates: tuple[Candidate, ...]
    reason: str


def _dash_energy(
    ap: Airport, out: Route, home: Route, start_alt: float, wind: XY, on_scene_s: float, heights: Heights
) -> tuple[float, float, float]:
    """(seconds to arrive, Wh to arrive, Wh for the rest: on scene and home) for a dash,
    at the transit height above the ground, climbing over what lies between."""
    d = ap.drone
    agl = d.transit_alt_m
    lift = heights.lift
    up = max(start_alt, heights.over_pad(ap.xy, ap.elevation_m, agl)) if start_alt <= 0 else start_alt
    wps = [Waypoint(out.points[0], start_alt, d.climb_rate_ms, Role.PAD)]
    if start_alt < up:
        wps.append(Waypoint(out.points[0], up, d.climb_rate_ms, Role.PAD))
    wps += [Waypoint(p, lift(p, agl), d.dash_speed_ms, Role.TRANSIT) for p in out.points[1:]]
    wps = heights.chain(wps)
    arrive_s = arrive_wh = 0.0
    for a, b in itertools.pairwise(wps):
        s, wh, _ = leg_cost(d, a, b, wind)
        arrive_s += s
        arrive_wh += wh
    scene = Waypoint(out.points[-1], wps[-1].alt_m, 1.0, Role.WORK, hold_s=on_scene_s)
    back = [scene, *(Waypoint(p, lift(p, agl), d.cruise_speed_ms, Role.TRANSIT) for p in home.points[1:])]
    back.append(Waypoint(ap.xy, 0.0, d.descent_rate_ms, Role.PAD))
    back = heights.chain(back)
    rest_wh = leg_cost(d, wps[-1], scene, wind)[1]
    for a, b in itertools.pairwise(back):
        rest_wh += leg_cost(d, a, b, wind)[1]
    return arrive_s, arrive_wh, rest_wh


def dispatch(
    scenario: Scenario,
    lon: float,
    lat: float,
    at: datetime,
    states: Mapping[str, DroneState] | None = None,
    *,
    priority: int = 1,
    forecast: Forecast | None = None,
    on_scene_s: float = ON_SCENE_S,
) -> Decision:
    """Rank every drone by its time to reach (lon, lat) and pick the earliest."""
    at = scenario.localize(at)
    target = scenario.to_xy(lon, lat)
    if not scenario.airspace.operating_area.covers(Point(target)):
        raise PlanningError(f"{lat:.5f}, {lon:.5f} (lat, lon) is outside the operating area of {scenario.name}")
    forecast = forecast or scenario.weather.forecast(at, at)
    weather = forecast.at(at)
    blocked = scenario.airspace.blocked_zone_ids(at, at, scenario.approvals, emergency=True)
    router = scenario.airspace.router(blocked)
    states = states or {}
    cands: list[Candidate] = []
    for ap in scenario.airports.values():
        st = states.get(ap.id, DroneState(ap.id, soc=ap.dock.launch_soc))
        heights = Heights(scenario.ground, scenario.band, ap.elevation_m, ap.xy)
        cands.append(_candidate(ap, st, target, router, weather.wind, forecast, at, priority, on_scene_s, heights))
    ok = sorted((c for c in cands if c.eta_s is not None), key=lambda c: (c.eta_s or 0.0, c.airport_id))
    rest = sorted((c for c in cands if c.eta_s is None), key=lambda c: c.airport_id)
    if not router.contains(target):
        zones = [z.id for z in scenario.airspace.zones if z.id in blocked and z.area.covers(Point(target))]
        why = f"in no-fly zone {', '.join(zones)}" if zones else "not reachable through open airspace"
        return Decision(lon, lat, at, None, tuple(ok + rest), f"no drone may fly there: the point is {why}")
    if not ok:
        return Decision(
            lon, lat, at, None, tuple(rest), "no drone can go: " + "; ".join(f"{c.airport_id}: {c.note}" for c in rest)
        )
    best = ok[0]
    eta = best.eta_s or 0.0
    runner = f"; next {ok[1].airport_id} at {_mmss(ok[1].eta_s or 0.0)}" if len(ok) > 1 else ""
    reason = f"{best.airport_id} arrives first: {best.note}, ETA {_mmss(eta)}{runner}"
    if (
        not is_daylight(lon, lat, at + timedelta(seconds=eta))
        and not scenario.airports[best.airport_id].drone.camera.thermal
    ):
        reason += "; night: visual detection limited (colour camera after civil dusk)"
    return Decision(lon, lat, at, best, tuple(ok + rest), reason)


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)} min {round(seconds % 60):02d} s"


def _candidate(
    ap: Airport,
    st: DroneState,
    target: XY,
    router: Router,
    wind: XY,
    forecast: Forecast,
    at: datetime,
    priority: int,
    on_scene_s: float,
    heights: Heights,
) -> Candidate:
    d = ap.drone
    if st.status is DroneStatus.UNAVAILABLE:
        return Candidate(ap.id, st.status, None, None, st.note or "unavailable")
    airborne = st.status is DroneStatus.AIRBORNE
    if airborne and st.patrol_priority is not None and st.patrol_priority < priority:
        return Candidate(ap.id, st.status, None, None, f"flying a more urgent patrol (priority {st.patrol_priority})")
    start = st.xy if airborne and st.xy is not None else ap.xy
    if not airborne:
        blockers = forecast.blockers(d, at, at)
        if blockers:
            return Candidate(ap.id, st.status, None, None, "weather: " + "; ".join(blockers))
    try:
        route = router.route(start, target)
        home = router.route(target, ap.xy)
    except Unreachable as exc:
        return Candidate(ap.id, st.status, None, None, f"no open path ({exc})")
    try:
        arrive_s, arrive_wh, rest_wh = _dash_energy(
            ap, route, home, st.alt_m if airborne else 0.0, wind, on_scene_s, heights
        )
    except (OffTerrain, TooSteep) as exc:
        return Candidate(ap.id, st.status, None, None, f"no flyable path over the terrain ({exc})")
    need = (arrive_wh + rest_wh) / d.battery_wh + d.reserve
    wait_s = 0.0
    if st.soc < need:
        if airborne or need > 1.0:
            return Candidate(
                ap.id, st.status, None, route.length_m, f"battery {st.soc:.0%} short of the {need:.0%} the trip needs"
            )
        wait_s = ap.dock.charge.seconds_to(st.soc, need)
    overhead = 0.0 if airborne else ap.dock.launch_s
    eta = wait_s + overhead + arrive_s
    km = route.length_m / 1000
    if airborne:
        note = f"airborne, diverts {km:.1f} km"
    elif wait_s > 0:
        note = f"charging, launches after {_mmss(wait_s)}, {km:.1f} km"
    else:
        note = f"docked and ready, {km:.1f} km"
    if len(route.points) > 2:
        note += " (around closed airspace)"
    soc_home = (
        st.soc - (arrive_wh + rest_wh) / d.battery_wh if wait_s == 0 else need - (arrive_wh + rest_wh) / d.battery_wh
    )
    return Candidate(ap.id, st.status, eta, route.length_m, note, route, soc_home, (arrive_wh + rest_wh) / d.battery_wh)
