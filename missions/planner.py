"""The day's plan: patrol occurrences -> sorties -> airports and times.

This is where the pieces meet: recurrence rules give occurrences, airspace and weather
say where and when a drone may fly, the sortie splitter says what each airport would have
to fly, and the assignment puts it on the docks' timelines. Every occurrence ends either
scheduled or in `unscheduled` with its reasons; nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from shapely.geometry import LineString

from missions.airspace import PathPoint, Violation
from missions.assignment import HoldCheck, Job, Option, Segment, assign, schedule_cost
from missions.daylight import civil_daylight
from missions.fleet import Airport, DroneModel
from missions.geo import XY
from missions.occurrences import Occurrence, expand
from missions.patrols import Patrol, PatrolKind, WorkPath, work_path
from missions.scenario.model import Scenario
from missions.sorties import NotFlyable, Sortie, SortiePlan, plan_exchange, plan_sorties
from missions.terrain import Ground
from missions.weather import Forecast

CANDIDATE_AIRPORTS = 4
"""Airports considered per patrol, nearest first: farther ones only add transit."""

PLANNING_SLACK = timedelta(hours=1)
"""Airspace is checked from release to this long after the latest start."""


@dataclass(frozen=True)
class ScheduledSortie:
    """A sortie with its place in time."""

    occurrence: str
    patrol_id: str
    airport_id: str
    sortie: Sortie
    launch_at: datetime
    """When the launch order is given."""
    landed_at: datetime
    ready_at: datetime
    """When the drone is charged for the next routine launch."""
    cause: str
    emergency: bool = False

    def path(self, ground: Ground | None = None, pad_amsl: float = 0.0) -> list[PathPoint]:
        """The flight as timed 4-D points (each hold gives an arrival and a departure
        point), heights above the ground (above the pad where there is no terrain)."""
        out: list[PathPoint] = []
        prof = self.sortie.profile
        for wp, arr, dep in zip(self.sortie.waypoints, prof.arrive_s, prof.depart_s, strict=True):
            alt = wp.alt_m if ground is None else wp.alt_m + pad_amsl - ground.height(wp.xy)
            out.append(PathPoint(wp.xy[0], wp.xy[1], alt, self.launch_at + timedelta(seconds=arr)))
            if dep > arr:
                out.append(PathPoint(wp.xy[0], wp.xy[1], alt, self.launch_at + timedelta(seconds=dep)))
        return out


@dataclass(frozen=True)
class Unscheduled:
    """An occurrence that will not be flown, and why."""

    occurrence: str
    patrol_id: str
    release: datetime
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class DayPlan:
    start: datetime
    end: datetime
    sorties: tuple[ScheduledSortie, ...]
    unscheduled: tuple[Unscheduled, ...]
    occurrences: int
    cost: float

    def by_airport(self) -> dict[str, list[ScheduledSortie]]:
        out: dict[str, list[ScheduledSortie]] = {}
        for s in self.sorties:
            out.setdefault(s.airport_id, []).append(s)
        return out


class _JobBuilder:
    """Turns occurrences into assignment jobs, caching work paths and sortie plans."""

    def __init__(self, scenario: Scenario, forecast: Forecast, t0: datetime) -> None:
        self.sc = scenario
        self.forecast = forecast
        self.t0 = t0
        self._work: dict[tuple[str, str], WorkPath] = {}
        self._plans: dict[tuple[object, ...], SortiePlan | str] = {}
        self.reasons: dict[str, list[str]] = {}
        self.plans: dict[tuple[str, tuple[str, ...]], SortiePlan] = {}

    def secs(self, t: datetime) -> int:
        return round((t - self.t0).total_seconds())

    def work(self, patrol: Patrol, drone: DroneModel) -> WorkPath:
        key = (patrol.id, drone.name)
        if key not in self._work:
            self._work[key] = work_path(patrol, drone)
        return self._work[key]

    def candidates(self, patrol: Patrol) -> list[Airport]:
        pool = [self.sc.airports[a] for a in patrol.airports] if patrol.airports else list(self.sc.airports.values())
        centre = patrol.geometry.centroid
        pool.sort(key=lambda a: (centre.distance(LineString([a.xy, a.xy]).centroid), a.id))
        return pool[:CANDIDATE_AIRPORTS]

    def job(self, occ: Occurrence) -> Job:
        p = occ.patrol
        reasons = self.reasons.setdefault(occ.key, [])
        drone_alt = max(p.altitude_m, max(a.drone.transit_alt_m for a in self.sc.airports.values()))
        blocked = self.sc.airspace.blocked_zone_ids(
            occ.release, occ.deadline + PLANNING_SLACK, self.sc.approvals, alt_m=drone_alt, emergency=p.emergency
        )
        crossing = sorted(zid for zid in blocked if self.sc.airspace.zone(zid).area.intersects(p.geometry.buffer(1.0)))
        if crossing:
            names = ", ".join(f"{z} ({self.sc.airspace.zone(z).name})" for z in crossing)
            when = f"{occ.release:%H:%M}-{(occ.deadline + PLANNING_SLACK):%H:%M}"
            reasons.append(f"patrol lies in {names}, closed to it at {when}: no approval covers that time")
            return Job(occ.key, self.secs(occ.release), self.secs(occ.deadline), p.weight, ())
        # Plan for the strongest wind the drone may still launch in during the window:
        # stronger spells are weather holds, handled when placing the job in time.
        max_wind = min(a.drone.max_wind_ms for a in self.sc.airports.values())
        samples = self.forecast.during(occ.release, occ.deadline + PLANNING_SLACK)
        flyable = [s for s in samples if s.wind_ms <= max_wind] or samples
        worst = max(flyable, key=lambda s: s.wind_ms)
        wind: XY = (round(worst.wind[0], 0), round(worst.wind[1], 0))
        router = self.sc.airspace.router(blocked)
        candidates = self.candidates(p)
        options: list[Option] = []
        for ap in candidates:
            work = self.work(p, ap.drone)
            hit = self._cached(
                (p.id, ap.id, blocked, wind),
                partial(plan_sorties, p.id, work, ap, router, wind, self.sc.ground, self.sc.band),
            )
            if isinstance(hit, str):
                reasons.append(hit)
                continue
            option = _option(hit, self.sc)
            self.plans[(occ.key, option.docks)] = hit
            options.append(option)
        if p.kind is PatrolKind.ROUTE:
            for a, b in itertools.combinations(candidates, 2):
                work = self.work(p, a.drone)
                hit = self._cached(
                    (p.id, a.id, b.id, blocked, wind),
                    partial(plan_exchange, p.id, work, a, b, router, wind, self.sc.ground, self.sc.band),
                )
                if isinstance(hit, SortiePlan):
                    option = _option(hit, self.sc)
                    self.plans[(occ.key, option.docks)] = hit
                    options.append(option)
        return self._daylight(
            occ, Job(occ.key, self.secs(occ.release), self.secs(occ.deadline), p.weight, tuple(options))
        )

    def _daylight(self, occ: Occurrence, job: Job) -> Job:
        """A patrol that looks with colour cameras launches after civil dawn and lands
        before civil dusk. Emergency patrols fly at any hour (as alerts do), and so does a
        patrol whose every candidate drone carries a thermal camera."""
        p = occ.patrol
        if not job.options or p.emergency:
            return job
        drones = {self.sc.airports[a].drone for o in job.options for a in o.docks}
        if all(d.camera.thermal for d in drones):
            return job
        centre = self.sc.frame.to_lonlat(p.geometry.centroid.x, p.geometry.centroid.y)
        dawn, dusk = civil_daylight(*centre, occ.release.date(), self.sc.tz)
        release = max(job.release_s, self.secs(dawn))
        dusk_s = self.secs(dusk)
        # Each option must land by dusk: its own latest start (a far airport's long option
        # does not shorten a near one's window); those that cannot are dropped.
        kept = tuple(
            dataclasses.replace(o, latest_s=dusk_s - o.span) for o in job.options if dusk_s - o.span >= release
        )
        deadline = min(job.deadline_s, max((o.latest_s or 0 for o in kept), default=0))
        if not kept or release > deadline:
            self.reasons.setdefault(occ.key, []).append(
                f"night: a colour camera sees too little between civil dusk ({dusk:%H:%M}) and dawn "
                f"({dawn:%H:%M}); a drone with a thermal camera (camera.thermal) could fly it"
            )
            return dataclasses.replace(job, options=())
        return dataclasses.replace(job, release_s=release, deadline_s=deadline, options=kept)

    def _cached(self, key: tuple[object, ...], make: Callable[[], SortiePlan]) -> SortiePlan | str:
        hit = self._plans.get(key)
        if hit is None:
            try:
                hit = make()
            except NotFlyable as exc:
                hit = str(exc)
            self._plans[key] = hit
        return hit


def _option(plan: SortiePlan, scenario: Scenario) -> Option:
    """The assignment's view of a sortie plan: how long each dock is busy, and when it flies.

    Out-and-back sorties follow one another, each with its recharge; the two sorties of
    a dock-to-dock exchange fly at once, each drone recharging where it lands.
    """
    docks = tuple(dict.fromkeys(s.airport_id for s in plan.sorties))
    if len(docks) > 1:
        spans = [
            (
                math.ceil(s.duration_s),
                math.ceil(scenario.airports[s.land_airport_id].dock.charge.seconds_to(s.land_soc, s.start_soc)),
            )
            for s in plan.sorties
        ]
        fly = max(f for f, _ in spans)
        busy = max(f + c for f, c in spans)
        flight = sum(f for f, _ in spans)
        together = (Segment(0, fly, True), Segment(fly, busy - fly, False))
        return Option(docks[0], busy, flight, together, span_s=fly, others=docks[1:])
    ap = scenario.airports[docks[0]]
    segments: list[Segment] = []
    t = 0
    for s in plan.sorties:
        fly = math.ceil(s.duration_s)
        charge = math.ceil(ap.dock.charge.seconds_to(s.land_soc, s.start_soc))
        segments.append(Segment(t, fly, True))
        segments.append(Segment(t + fly, charge, False))
        t += fly + charge
    flight = sum(seg.length_s for seg in segments if seg.flying)
    span = segments[-2].offset_s + segments[-2].length_s
    return Option(ap.id, t, flight, tuple(segments), span_s=span)


def _holds(scenario: Scenario, forecast: Forecast, t0: datetime) -> HoldCheck:
    """The assignment's weather check: may an airport's drone fly in [a, b] (seconds)?"""
    memo: dict[tuple[str, int, int], int | None] = {}

    def check(airport_id: str, a: int, b: int) -> int | None:
        drone = scenario.airports[airport_id].drone
        key = (drone.name, a, b)
        if key in memo:
            return memo[key]
        start, end = t0 + timedelta(seconds=a), t0 + timedelta(seconds=b)
        result: int | None = None
        for s in forecast.during(start, end):
            moment = max(s.at, start)
            if forecast.blockers(drone, moment, moment):
                nxt = forecast.next_change(s.at) or end + timedelta(hours=1)
                result = int((nxt - t0).total_seconds())
                break
        memo[key] = result
        return result

    return check


def check_sortie(scenario: Scenario, s: ScheduledSortie) -> list[Violation]:
    path = s.path(scenario.ground, scenario.airports[s.airport_id].elevation_m)
    return scenario.airspace.check_path(path, scenario.approvals, emergency=s.emergency)


def plan_day(scenario: Scenario, start: datetime, hours: float = 24.0, forecast: Forecast | None = None) -> DayPlan:
    """Plan every patrol released in [start, start + hours)."""
    start, end = scenario.horizon(start, hours)
    forecast = forecast or scenario.weather.forecast(start - timedelta(hours=1), end + timedelta(hours=6))
    occs = expand(scenario.patrols.values(), forecast, start, end)
    builder = _JobBuilder(scenario, forecast, start)
    jobs = [builder.job(o) for o in occs]
    placements = assign(jobs, list(scenario.airports), _holds(scenario, forecast, start))

    sorties: list[ScheduledSortie] = []
    unscheduled: list[Unscheduled] = []
    for occ, job in zip(occs, jobs, strict=True):
        pl = placements.get(occ.key)
        if pl is None:
            reasons = list(dict.fromkeys(builder.reasons.get(occ.key, [])))
            if job.options:
                blockers = []
                for ap in {o.airport for o in job.options}:
                    blockers += forecast.blockers(scenario.airports[ap].drone, occ.release, occ.deadline)
                blockers = list(dict.fromkeys(blockers))
                if blockers:
                    reasons.append("weather: " + "; ".join(blockers))
                reasons.append(
                    f"no dock among {', '.join('+'.join(o.docks) for o in job.options)} is free and flyable "
                    f"for a launch between {occ.release:%H:%M} and {occ.deadline:%H:%M}"
                )
            unscheduled.append(Unscheduled(occ.key, occ.patrol.id, occ.release, tuple(reasons)))
            continue
        plan = builder.plans[(occ.key, pl.option.docks)]
        launch = start + timedelta(seconds=pl.start_s)
        exchange = len(pl.option.docks) > 1
        t = launch
        placed: list[ScheduledSortie] = []
        for s in plan.sorties:
            if exchange:
                t = launch  # both drones of an exchange leave together
            landed = t + timedelta(seconds=s.duration_s)
            charger = scenario.airports[s.land_airport_id].dock.charge
            ready = landed + timedelta(seconds=charger.seconds_to(s.land_soc, s.start_soc))
            placed.append(
                ScheduledSortie(
                    occ.key, occ.patrol.id, s.airport_id, s, t, landed, ready, occ.cause, occ.patrol.emergency
                )
            )
            t = start + timedelta(seconds=math.ceil((ready - start).total_seconds()))
        violations = [v for s in placed for v in check_sortie(scenario, s)]
        if violations:
            why = dict.fromkeys(f"planned path rejected: {v.reason.split(' at ')[0]}" for v in violations)
            unscheduled.append(Unscheduled(occ.key, occ.patrol.id, occ.release, tuple(why)))
            continue
        sorties.extend(placed)
    sorties.sort(key=lambda s: (s.launch_at, s.airport_id))

    return DayPlan(start, end, tuple(sorties), tuple(unscheduled), len(occs), schedule_cost(jobs, placements))


def reassign(
    scenario: Scenario,
    patrol_id: str,
    at: datetime,
    exclude: frozenset[str] | set[str],
    occurrence: str | None = None,
    forecast: Forecast | None = None,
) -> list[ScheduledSortie]:
    """The patrol flown from another airport, launching at `at`: the cheapest option whose
    docks avoid `exclude` (a dock with a fault, a drone out of service). Empty when none
    can fly it. Keeps the occurrence's key, so the record shows what replaced what."""
    patrol = scenario.patrols[patrol_id]
    forecast = forecast or scenario.weather.forecast(at - timedelta(hours=1), at + timedelta(hours=8))
    builder = _JobBuilder(scenario, forecast, at)
    occ = Occurrence(patrol, at, at + timedelta(minutes=30), "reassigned")
    job = builder.job(occ)
    options = [o for o in job.options if not set(o.docks) & set(exclude)]
    if not options:
        return []
    best = min(options, key=lambda o: (o.flight_s, o.docks))
    plan = builder.plans[(occ.key, best.docks)]
    key = occurrence or occ.key
    out: list[ScheduledSortie] = []
    t = at
    for s in plan.sorties:
        if len(best.docks) > 1:
            t = at
        landed = t + timedelta(seconds=s.duration_s)
        charger = scenario.airports[s.land_airport_id].dock.charge
        ready = landed + timedelta(seconds=charger.seconds_to(s.land_soc, s.start_soc))
        out.append(ScheduledSortie(key, patrol.id, s.airport_id, s, t, landed, ready, "reassigned", patrol.emergency))
        t = ready
    if any(check_sortie(scenario, s) for s in out):
        return []
    return out
