"""Assigning jobs to airports over time: one drone per dock, charging respected.

The problem, stripped of geometry: each job (a patrol occurrence) has a release time, a
latest start, a weight from its priority, and options, one per airport that can fly it
(or per pair, for a dock-to-dock exchange), each a sequence of flights with the recharge
after each. A dock runs one job at a time. Cost of a schedule = sum over jobs of weight x
minutes from release until the patrol is flown (start delay plus the patrol's own span,
recharges between its sorties included) + drone flight minutes, plus a large penalty per
weight for each job left out: priorities decide who flies when docks are short, patrols
finish soon after they are due, and the nearest capable airport flies otherwise.

The solver is list scheduling (from a few job orders), placing each job in the earliest
gap that fits on the airport that adds the least cost; then local search (re-insert each
job, eject the few jobs in an unplaced job's way) and a seeded ruin-and-recreate search.
It is deterministic, and compared against CP-SAT's exact optimum in bench/planner.py.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

LNS_ITERATIONS = 600

MAX_RETRIED = 12
"""Unplaced jobs offered a place again in each ruin-and-recreate round (heaviest first)."""
"""Ruin-and-recreate rounds per greedy start (fewer for small instances)."""

UNSCHEDULED_PENALTY = 1000.0
"""Cost per unit of weight of leaving a job out: more than any delay within a day."""


@dataclass(frozen=True)
class Segment:
    """Part of a job's time on a dock: a flight (needs flyable weather) or a recharge."""

    offset_s: int
    length_s: int
    flying: bool


@dataclass(frozen=True)
class Option:
    """One airport's way of doing a job (or a pair's, for a dock-to-dock exchange)."""

    airport: str
    busy_s: int
    """From the first launch order to the drone charged for routine launch again."""
    flight_s: int
    """Time in the air plus the pad time of launch and landing."""
    segments: tuple[Segment, ...] = ()
    span_s: int = 0
    """From the first launch order to the last landing (the patrol's own duration);
    0 means the same as flight_s (a single sortie)."""
    others: tuple[str, ...] = ()
    """Further docks kept busy over the same span (the partner of a dock-to-dock exchange)."""
    latest_s: int | None = None
    """This option's own latest start, where it is earlier than the job's deadline (a
    colour-camera patrol must land by civil dusk, and a longer option must start earlier)."""

    @cached_property
    def docks(self) -> tuple[str, ...]:
        return (self.airport, *self.others)

    @cached_property
    def span(self) -> int:
        return self.span_s or self.flight_s


@dataclass(frozen=True)
class Job:
    key: str
    release_s: int
    deadline_s: int
    """Latest start, seconds from the horizon start."""
    weight: float
    options: tuple[Option, ...]


@dataclass(frozen=True)
class Placement:
    job: str
    airport: str
    start_s: int
    option: Option


HoldCheck = Callable[[str, int, int], int | None]
"""(airport, start_s, end_s) -> None if flights may happen in the span, else the earliest
second after which it is worth trying again."""


def _no_holds(_airport: str, _a: int, _b: int) -> int | None:
    return None


@dataclass
class Timeline:
    """Busy intervals of one dock, sorted and disjoint."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    def free(self, a: int, b: int) -> bool:
        i = bisect.bisect_right(self.starts, a) - 1
        if i >= 0 and self.ends[i] > a:
            return False
        j = bisect.bisect_left(self.starts, a)
        return j >= len(self.starts) or self.starts[j] >= b

    def add(self, a: int, b: int) -> None:
        i = bisect.bisect_left(self.starts, a)
        self.starts.insert(i, a)
        self.ends.insert(i, b)

    def remove(self, a: int, b: int) -> None:
        i = bisect.bisect_left(self.starts, a)
        del self.starts[i]
        del self.ends[i]

    def candidate_starts(self, release: int) -> list[int]:
        i = bisect.bisect_left(self.ends, release)
        return [release, *self.ends[i:]]


def job_cost(job: Job, option: Option, start_s: int) -> float:
    """Weight x minutes from release until the patrol is flown, plus the drone minutes."""
    return job.weight * (start_s - job.release_s + option.span) / 60.0 + option.flight_s / 60.0


def schedule_cost(jobs: Sequence[Job], placements: dict[str, Placement]) -> float:
    total = 0.0
    for j in jobs:
        p = placements.get(j.key)
        total += job_cost(j, p.option, p.start_s) if p else UNSCHEDULED_PENALTY * j.weight
    return total


class Assigner:
    """List scheduling plus re-insertion local search."""

    def __init__(self, jobs: Sequence[Job], airports: Sequence[str], holds: HoldCheck = _no_holds) -> None:
        self.jobs = list(jobs)
        self.by_key = {j.key: j for j in self.jobs}
        self.lines = {a: Timeline() for a in airports}
        self.holds = holds
        self.placements: dict[str, Placement] = {}
        self.on_dock: dict[str, dict[str, Placement]] = {a: {} for a in airports}
        self._total_weight = sum(j.weight for j in self.jobs)
        self._placed_weight = 0.0
        self._placed_cost = 0.0

    def _earliest(self, job: Job, opt: Option) -> int | None:
        lines = [self.lines[d] for d in opt.docks]
        tries = sorted({s for line in lines for s in line.candidate_starts(job.release_s)})
        seen: set[int] = set()
        limit = job.deadline_s if opt.latest_s is None else min(job.deadline_s, opt.latest_s)
        k = 0
        while k < len(tries):
            s = tries[k]
            k += 1
            if s in seen or s > limit:
                continue
            seen.add(s)
            if not all(line.free(s, s + opt.busy_s) for line in lines):
                continue
            retry = self._hold_retry(opt, s)
            if retry is None:
                return s
            if retry > s:
                tries.insert(k, retry)
        return None

    def _hold_retry(self, opt: Option, start: int) -> int | None:
        segments = opt.segments or (Segment(0, opt.flight_s, True),)
        for seg in segments:
            if not seg.flying:
                continue
            for dock in opt.docks:
                retry = self.holds(dock, start + seg.offset_s, start + seg.offset_s + seg.length_s)
                if retry is not None:
                    return max(retry - seg.offset_s, start + 1)
        return None

    def _best(self, job: Job) -> tuple[float, Option, int] | None:
        best: tuple[float, Option, int] | None = None
        for opt in job.options:
            s = self._earliest(job, opt)
            if s is None:
                continue
            c = job_cost(job, opt, s)
            if best is None or c < best[0]:
                best = (c, opt, s)
        return best

    def _place(self, job: Job, opt: Option, s: int) -> None:
        p = Placement(job.key, opt.airport, s, opt)
        for dock in opt.docks:
            self.lines[dock].add(s, s + opt.busy_s)
            self.on_dock[dock][job.key] = p
        self.placements[job.key] = p
        self._placed_weight += job.weight
        self._placed_cost += job_cost(job, opt, s)

    def _unplace(self, key: str) -> Placement:
        p = self.placements.pop(key)
        for dock in p.option.docks:
            self.lines[dock].remove(p.start_s, p.start_s + p.option.busy_s)
            del self.on_dock[dock][key]
        job = self.by_key[key]
        self._placed_weight -= job.weight
        self._placed_cost -= job_cost(job, p.option, p.start_s)
        return p

    def run(self, order: Sequence[Job], rounds: int = 4) -> dict[str, Placement]:
        for job in order:
            best = self._best(job)
            if best is not None:
                self._place(job, best[1], best[2])
        for _ in range(rounds):
            if not self._improve():
                break
        return self.placements

    def cost(self) -> float:
        """The schedule's cost, kept up to date as jobs are placed and removed."""
        return self._placed_cost + UNSCHEDULED_PENALTY * (self._total_weight - self._placed_weight)

    def _regret_insert(self, todo: list[Job]) -> list[str]:
        """Insert jobs most-constrained first: the one that loses most if it does not get
        its best place (regret = second-best cost minus best cost) goes in first."""
        added: list[str] = []
        pending = list(todo)
        while pending:
            pick: tuple[float, float, Job, Option, int] | None = None
            for job in pending:
                costs: list[tuple[float, Option, int]] = []
                for opt in job.options:
                    s = self._earliest(job, opt)
                    if s is not None:
                        costs.append((job_cost(job, opt, s), opt, s))
                if not costs:
                    continue
                costs.sort(key=lambda c: c[0])
                second = costs[1][0] if len(costs) > 1 else UNSCHEDULED_PENALTY * job.weight
                regret = second - costs[0][0]
                if pick is None or (regret, job.weight) > (pick[0], pick[1]):
                    pick = (regret, job.weight, job, costs[0][1], costs[0][2])
            if pick is None:
                break
            _, _, job, opt, s = pick
            self._place(job, opt, s)
            added.append(job.key)
            pending.remove(job)
        return added

    def ruin_and_recreate(self, iterations: int, seed: int = 0) -> None:
        """Large-neighbourhood search: unplace a few jobs that share a dock and time,
        re-insert them (and every unplaced job) greedily, keep the result if cheaper."""
        rng = random.Random(seed)
        current = self.cost()
        for _ in range(iterations):
            placed = sorted(self.placements)
            if not placed:
                break
            pivot = self.placements[rng.choice(placed)]
            lo, hi = pivot.start_s - 7200, pivot.start_s + pivot.option.busy_s + 7200
            near = [k for k, p in self.placements.items() if p.start_s < hi and p.start_s + p.option.busy_s > lo]
            rng.shuffle(near)
            removed = [self.placements[k] for k in near[: rng.randint(2, 5)]]
            for p in removed:
                self._unplace(p.job)
            unplaced = [j for j in self.jobs if j.key not in self.placements and j.key not in {p.job for p in removed}]
            unplaced.sort(key=lambda j: (-j.weight, rng.random()))
            added = self._regret_insert([self.by_key[p.job] for p in removed] + unplaced[:MAX_RETRIED])
            cost = self.cost()
            if cost < current - 1e-9:
                current = cost
                continue
            for k in added:
                self._unplace(k)
            for p in removed:
                self._place(self.by_key[p.job], p.option, p.start_s)

    def _improve(self) -> bool:
        """One pass of remove-and-reinsert, then of ejections for unplaced jobs."""
        improved = False
        for job in sorted(self.jobs, key=lambda j: (-j.weight, j.release_s)):
            old = self.placements.get(job.key)
            if old is None:
                continue
            old_cost = job_cost(job, old.option, old.start_s)
            self._unplace(job.key)
            best = self._best(job)
            if best is not None and best[0] < old_cost - 1e-9:
                self._place(job, best[1], best[2])
                improved = True
            else:
                self._place(job, old.option, old.start_s)
        for job in sorted(self.jobs, key=lambda j: (-j.weight, j.release_s)):
            if job.key not in self.placements and self._eject_for(job):
                improved = True
        return improved

    def _eject_for(self, job: Job, max_ejected: int = 3) -> bool:
        """Try to fit an unplaced job by moving the few jobs in its way elsewhere."""
        best = self._best(job)
        if best is not None:
            self._place(job, best[1], best[2])
            return True
        for opt in job.options:
            line_end = job.deadline_s + opt.busy_s
            near = {k: p for dock in opt.docks for k, p in self.on_dock[dock].items()}
            in_way = [p for p in near.values() if p.start_s < line_end and p.start_s + p.option.busy_s > job.release_s]
            if not in_way or len(in_way) > max_ejected:
                continue
            before = self.cost()
            for p in in_way:
                self._unplace(p.job)
            s = self._earliest(job, opt)
            if s is not None:
                self._place(job, opt, s)
                for p in sorted(in_way, key=lambda p: -self.by_key[p.job].weight):
                    moved = self._best(self.by_key[p.job])
                    if moved is not None:
                        self._place(self.by_key[p.job], moved[1], moved[2])
                if self.cost() < before - 1e-9:
                    return True
                self._unplace(job.key)
                for p in in_way:
                    if p.job in self.placements:
                        self._unplace(p.job)
            for p in in_way:
                self._place(self.by_key[p.job], p.option, p.start_s)
        return False


ORDERS: tuple[Callable[[Job], tuple[float, ...]], ...] = (
    lambda j: (-j.weight, j.release_s),
    lambda j: (j.deadline_s, -j.weight),
    lambda j: (j.release_s, -j.weight),
    lambda j: (-j.weight, j.deadline_s - j.release_s + min((o.busy_s for o in j.options), default=0)),
)
"""Greedy orders tried: priority first, earliest deadline, release order, least slack."""


def assign(jobs: Sequence[Job], airports: Sequence[str], holds: HoldCheck = _no_holds) -> dict[str, Placement]:
    """Place jobs on airports' timelines; jobs missing from the result could not be placed.

    Runs the greedy and local search from each of a few orders, then the
    ruin-and-recreate search from the cheapest of them.
    """
    starts: list[tuple[float, int, Assigner]] = []
    for key in ORDERS:
        a = Assigner(jobs, airports, holds)
        a.run(sorted(jobs, key=lambda j: (*key(j), j.key)))
        starts.append((a.cost(), len(starts), a))
    _, _, best = min(starts, key=lambda s: (s[0], s[1]))
    best.ruin_and_recreate(min(LNS_ITERATIONS, 10 * len(jobs)))
    return best.placements
