"""Splitting a patrol into sorties that a drone flies with its reserve intact.

A sortie leaves its airport, transits (around every zone it may not enter) to where the
work resumes, flies as much of the patrol as the battery allows while keeping enough to
come home with the reserve, and returns. Long patrols become several sorties; a divisible
path (a route, lawnmower lines) may end a sortie part-way along a leg, found by bisection.
Both directions of the path are tried, and the plan with fewer, then shorter, sorties wins.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

from missions.clearance import Band, Heights, OffTerrain, TooSteep
from missions.energy import hover_energy_wh
from missions.fleet import Airport
from missions.flight import SPOOL_S, Profile, Role, Waypoint, leg_cost, profile
from missions.geo import XY
from missions.patrols import WorkPath, WorkPoint
from missions.routing import Router, Unreachable
from missions.terrain import Ground

MAX_SORTIES = 8
"""A patrol needing more sorties than this from one airport is not worth flying from it."""

MIN_PROGRESS_M = 50.0
"""A sortie that cannot advance this far along the work path is not worth launching."""


BISECTIONS = 8
"""Halvings to find where on a leg a sortie must turn home: 1/256 of the leg, under 10 m
on the longest work lines (each halving plans a way home over the terrain)."""


class NotFlyable(Exception):
    """This airport cannot fly this patrol; the message says why."""


@dataclass(frozen=True)
class Sortie:
    """One flight from launch to landing."""

    patrol_id: str
    airport_id: str
    land_airport_id: str
    number: int
    of: int
    waypoints: tuple[Waypoint, ...]
    profile: Profile
    start_soc: float
    land_soc: float
    work_share: tuple[float, float]
    """Share of the patrol's work path flown, as (from, to) fractions of its length."""

    @property
    def duration_s(self) -> float:
        return self.profile.total_s


@dataclass(frozen=True)
class SortiePlan:
    """All the sorties one airport flies for one patrol occurrence."""

    patrol_id: str
    airport_id: str
    sorties: tuple[Sortie, ...]

    @property
    def flight_s(self) -> float:
        return sum(s.duration_s for s in self.sorties)

    @property
    def distance_m(self) -> float:
        return sum(s.profile.distance_m for s in self.sorties)


def _lerp(a: WorkPoint, b: WorkPoint, f: float) -> WorkPoint:
    return WorkPoint(
        (a.xy[0] + (b.xy[0] - a.xy[0]) * f, a.xy[1] + (b.xy[1] - a.xy[1]) * f),
        a.alt_m + (b.alt_m - a.alt_m) * f,
        b.speed_ms,
        0.0,
        b.roi,
    )


class _Planner:
    """Greedy sortie builder for one (patrol, airport, free space, wind).

    Heights: a patrol asks for a height above the ground (`WorkPoint.alt_m`), transit
    flies `transit_alt_m` above the ground, and waypoints carry heights above the
    take-off pad. Over a terrain model every leg is fitted to the ground (`fit_leg`),
    and its time and energy include the climbs; with no model the ground is level
    with the pad, as before.
    """

    def __init__(
        self, airport: Airport, router: Router, wind: XY, ground: Ground | None = None, band: Band | None = None
    ) -> None:
        self.airport = airport
        self.heights = Heights(ground, band or Band(), airport.elevation_m, airport.xy)
        self._legs: dict[tuple[Waypoint, Waypoint], tuple[list[Waypoint], float, float]] = {}
        self.drone = airport.drone
        self.dock = airport.dock
        self.router = router
        self.wind = wind
        self.start_soc = self.dock.launch_soc
        # The spool-up and touchdown on the pads draw from the same battery.
        spool_wh = 2 * hover_energy_wh(self.drone.power, SPOOL_S, (0.0, 0.0))
        usable_wh = (self.start_soc - self.drone.reserve) * self.drone.battery_wh - spool_wh
        self.budget_wh = usable_wh / (1.0 + self.drone.energy_margin)
        pad = airport.xy
        self.pad0 = Waypoint(pad, 0.0, self.drone.climb_rate_ms, Role.PAD)
        self.pad_up = Waypoint(pad, self.over_pad(airport), self.drone.cruise_speed_ms, Role.PAD)
        self._ret_cache: dict[tuple[XY, float, str], tuple[list[Waypoint], float, float]] = {}

    def lift(self, xy: XY, agl: float) -> float:
        try:
            return self.heights.lift(xy, agl)
        except OffTerrain as exc:
            raise NotFlyable(f"{self.airport.id}: {exc}") from exc

    def over_pad(self, ap: Airport) -> float:
        try:
            return self.heights.over_pad(ap.xy, ap.elevation_m, self.drone.transit_alt_m)
        except OffTerrain as exc:
            raise NotFlyable(f"{self.airport.id}: {exc}") from exc

    def _wp(self, p: WorkPoint) -> Waypoint:
        return Waypoint(p.xy, self.lift(p.xy, p.alt_m), p.speed_ms, Role.WORK, p.hold_s, p.roi)

    def leg(self, a: Waypoint, b: Waypoint) -> tuple[list[Waypoint], float, float]:
        """Waypoints to add between a and b to keep inside the band over the ground,
        with the (seconds, Wh) of the whole leg from a to b."""
        hit = self._legs.get((a, b))
        if hit is not None:
            return hit
        try:
            extra = self.heights.between(a, b)
        except (TooSteep, OffTerrain) as exc:
            raise NotFlyable(f"{self.airport.id}: {exc}") from exc
        s = wh = 0.0
        for p, q in itertools.pairwise([a, *extra, b]):
            ds, dwh, _ = leg_cost(self.drone, p, q, self.wind)
            s, wh = s + ds, wh + dwh
        out = (extra, s, wh)
        self._legs[(a, b)] = out
        return out

    def chain(self, wps: list[Waypoint]) -> list[Waypoint]:
        """The waypoints with every leg fitted to the ground."""
        try:
            return self.heights.chain(wps)
        except (TooSteep, OffTerrain) as exc:
            raise NotFlyable(f"{self.airport.id}: {exc}") from exc

    def _transit(self, a: XY, b: XY) -> list[XY]:
        try:
            return list(self.router.route(a, b).points[1:-1])
        except Unreachable as exc:
            raise NotFlyable(f"no transit path from {self.airport.id}: {exc}") from exc

    def outbound(self, p: WorkPoint) -> list[Waypoint]:
        alt, cruise = self.drone.transit_alt_m, self.drone.cruise_speed_ms
        mids = [Waypoint(q, self.lift(q, alt), cruise, Role.TRANSIT) for q in self._transit(self.airport.xy, p.xy)]
        return self.chain([self.pad0, self.pad_up, *mids, self._wp(p)])

    def home(self, p: WorkPoint, dest: Airport | None = None) -> tuple[list[Waypoint], float, float]:
        """Waypoints after p onto a pad (this airport's by default), with their (seconds, Wh)."""
        dest = dest or self.airport
        key = (p.xy, p.alt_m, dest.id)
        hit = self._ret_cache.get(key)
        if hit is not None:
            return hit
        alt, cruise = self.drone.transit_alt_m, self.drone.cruise_speed_ms
        mids = [Waypoint(q, self.lift(q, alt), cruise, Role.TRANSIT) for q in self._transit(p.xy, dest.xy)]
        pad_hi = Waypoint(dest.xy, self.over_pad(dest), cruise, Role.TRANSIT)
        pad_down = Waypoint(dest.xy, dest.elevation_m - self.airport.elevation_m, self.drone.descent_rate_ms, Role.PAD)
        wps = self.chain([self._wp(p), *mids, pad_hi, pad_down])[1:]
        s, wh = self.cost([self._wp(p), *wps])
        self._ret_cache[key] = (wps, s, wh)
        return wps, s, wh

    def one_way(self, work: WorkPath, dest: Airport) -> list[Waypoint]:
        """The whole work path in one flight from this airport to another's pad."""
        pts = list(work.points)
        wps = self.chain(self.outbound(pts[0]) + [self._wp(p) for p in pts[1:]])
        back, _, _ = self.home(pts[-1], dest)
        wps += back
        s, wh = self.cost(wps)
        if not self.fits(s, wh):
            raise NotFlyable(f"{self.airport.id} -> {dest.id} does not fit one sortie")
        return wps

    def cost(self, wps: list[Waypoint]) -> tuple[float, float]:
        s = wh = 0.0
        for a, b in itertools.pairwise(wps):
            _, ds, dwh = self.leg(a, b)
            s += ds
            wh += dwh
        return s, wh

    def fits(self, s: float, wh: float) -> bool:
        return wh <= self.budget_wh and s <= self.drone.max_sortie_s

    def plan(self, patrol_id: str, work: WorkPath) -> list[tuple[list[Waypoint], tuple[float, float]]]:
        pts = list(work.points)
        lengths = [math.dist(a.xy, b.xy) for a, b in itertools.pairwise(pts)]
        total_len = sum(lengths) or 1.0
        done_len = 0.0
        flights: list[tuple[list[Waypoint], tuple[float, float]]] = []
        i, cur = 0, pts[0]
        while True:
            if len(flights) >= MAX_SORTIES:
                raise NotFlyable(f"needs more than {MAX_SORTIES} sorties from {self.airport.id}")
            start_len = done_len
            wps = self.outbound(cur)
            s, wh = self.cost(wps)
            _, rs, rwh = self.home(cur)
            if not self.fits(s + rs, wh + rwh):
                km = math.dist(self.airport.xy, cur.xy) / 1000
                raise NotFlyable(
                    f"{self.airport.id} is too far ({km:.1f} km, wind {math.hypot(*self.wind):.0f} m/s) "
                    "to reach it with the reserve intact"
                )
            finished = False
            while True:
                if i >= len(pts) - 1:
                    finished = True
                    break
                nxt = pts[i + 1]
                extra, ls, lwh = self.leg(wps[-1], self._wp(nxt))
                _, rs, rwh = self.home(nxt)
                if self.fits(s + ls + rs, wh + lwh + rwh):
                    wps += extra
                    wps.append(self._wp(nxt))
                    s, wh = s + ls, wh + lwh
                    done_len += lengths[i] * (1.0 - self._frac_on(cur, pts[i], lengths[i]))
                    i, cur = i + 1, nxt
                    continue
                if not work.divisible:
                    raise NotFlyable(f"the patrol does not fit one sortie from {self.airport.id}")
                base = self._frac_on(cur, pts[i], lengths[i])
                lo, hi = base, 1.0
                for _ in range(BISECTIONS):
                    mid = (lo + hi) / 2
                    q = _lerp(pts[i], nxt, mid)
                    _, ls, lwh = self.leg(wps[-1], self._wp(q))
                    _, rs, rwh = self.home(q)
                    if self.fits(s + ls + rs, wh + lwh + rwh):
                        lo = mid
                    else:
                        hi = mid
                if (lo - base) * lengths[i] >= 1.0:
                    q = _lerp(pts[i], nxt, lo)
                    extra, ls, lwh = self.leg(wps[-1], self._wp(q))
                    wps += extra
                    wps.append(self._wp(q))
                    s, wh = s + ls, wh + lwh
                    done_len += (lo - base) * lengths[i]
                    cur = q
                break
            if done_len - start_len < MIN_PROGRESS_M and not finished:
                km = math.dist(self.airport.xy, cur.xy) / 1000
                raise NotFlyable(f"{self.airport.id} is too far ({km:.1f} km) to make progress on it")
            back, _, _ = self.home(cur)
            wps.extend(back)
            flights.append((wps, (start_len / total_len, min(done_len / total_len, 1.0))))
            if finished:
                return flights

    def check(self, wps: list[Waypoint]) -> None:
        """The planner's last look at a fitted flight, at twice the fitting's resolution."""
        breach = self.heights.breach(wps)
        if breach is not None and self.heights.ground is not None:
            lon, lat = self.heights.ground.frame.to_lonlat(*breach[1])
            band = self.heights.band
            raise NotFlyable(
                f"{self.airport.id}: the ground near {lat:.5f}, {lon:.5f} is too steep to keep both "
                f"{band.clearance_m:.0f} m above it and under the {band.ceiling_m:.0f} m ceiling "
                f"(off by {breach[0]:.0f} m)"
            )

    @staticmethod
    def _frac_on(cur: WorkPoint, a: WorkPoint, length: float) -> float:
        return math.dist(a.xy, cur.xy) / length if length > 0 else 1.0

    def to_sorties(
        self,
        patrol_id: str,
        flights: list[tuple[list[Waypoint], tuple[float, float]]],
        land: Airport | None = None,
    ) -> tuple[Sortie, ...]:
        out: list[Sortie] = []
        for n, (wps, share) in enumerate(flights, start=1):
            self.check(wps)
            prof = profile(self.drone, self.dock, tuple(wps), self.wind)
            land_soc = self.start_soc - prof.total_wh / self.drone.battery_wh
            out.append(
                Sortie(
                    patrol_id,
                    self.airport.id,
                    (land or self.airport).id,
                    n,
                    len(flights),
                    tuple(wps),
                    prof,
                    self.start_soc,
                    land_soc,
                    share,
                )
            )
        return tuple(out)


def plan_sorties(
    patrol_id: str,
    work: WorkPath,
    airport: Airport,
    router: Router,
    wind: XY,
    ground: Ground | None = None,
    band: Band | None = None,
) -> SortiePlan:
    """The best out-and-back sortie plan for a patrol from an airport; NotFlyable if none."""
    planner = _Planner(airport, router, wind, ground, band)
    candidates: list[tuple[tuple[int, float], list[tuple[list[Waypoint], tuple[float, float]]]]] = []
    errors: list[str] = []
    reversed_work = WorkPath(tuple(reversed(work.points)), work.divisible, work.sweep)
    for path in (work, reversed_work):
        try:
            flights = planner.plan(patrol_id, path)
        except NotFlyable as exc:
            errors.append(str(exc))
            continue
        total = sum(planner.cost(w)[0] for w, _ in flights)
        candidates.append(((len(flights), total), flights))
    if not candidates:
        raise NotFlyable(errors[0])
    _, best = min(candidates, key=lambda c: c[0])
    return SortiePlan(patrol_id, airport.id, planner.to_sorties(patrol_id, best))


def plan_exchange(
    patrol_id: str,
    work: WorkPath,
    a: Airport,
    b: Airport,
    router: Router,
    wind: XY,
    ground: Ground | None = None,
    band: Band | None = None,
) -> SortiePlan:
    """Dock-to-dock: a's drone flies the path to b while b's drone flies it back to a.

    Each dock holds one drone, so a drone may land at another airport only when that
    airport's drone leaves at the same time; with identical drones the swap costs nothing.
    A corridor between two airports is then flown twice, once each way, with no empty
    return legs: it covers routes that out-and-back sorties from either end cannot.
    """
    if not work.divisible:
        raise NotFlyable("only a divisible path can be flown dock to dock")
    if a.drone != b.drone or a.dock != b.dock:
        raise NotFlyable(f"{a.id} and {b.id} fly different drones or docks")
    reversed_work = WorkPath(tuple(reversed(work.points)), True, work.sweep)
    pa, pb = _Planner(a, router, wind, ground, band), _Planner(b, router, wind, ground, band)
    there = pa.to_sorties(patrol_id, [(pa.one_way(work, b), (0.0, 1.0))], land=b)
    back = pb.to_sorties(patrol_id, [(pb.one_way(reversed_work, a), (0.0, 1.0))], land=a)
    pair = (dataclasses.replace(there[0], number=1, of=2), dataclasses.replace(back[0], number=2, of=2))
    return SortiePlan(patrol_id, a.id, pair)
