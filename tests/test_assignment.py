from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from missions.assignment import Job, Option, Placement, assign, schedule_cost


def _random_jobs(rng: random.Random, n: int, airports: list[str]) -> list[Job]:
    jobs = []
    for k in range(n):
        release = rng.randrange(0, 4 * 3600, 300)
        opts = tuple(
            Option(a, busy_s=(fl := rng.randrange(600, 1800, 60)) + rng.randrange(900, 2400, 60), flight_s=fl)
            for a in rng.sample(airports, rng.randint(1, len(airports)))
        )
        jobs.append(
            Job(f"j{k}", release, release + rng.choice([1800, 3600, 5400]), float(rng.choice([1, 2, 4, 8])), opts)
        )
    return jobs


def _valid(jobs: list[Job], placements: dict[str, Placement]) -> None:
    by_key = {j.key: j for j in jobs}
    per_airport: dict[str, list[tuple[int, int]]] = {}
    for p in placements.values():
        j = by_key[p.job]
        assert p.option in j.options
        assert j.release_s <= p.start_s <= j.deadline_s
        per_airport.setdefault(p.airport, []).append((p.start_s, p.start_s + p.option.busy_s))
    for spans in per_airport.values():
        spans.sort()
        for (_a0, a1), (b0, _) in itertools.pairwise(spans):
            assert b0 >= a1, "a dock runs one job at a time, recharge included"


def _optimum(jobs: list[Job], airports: list[str]) -> float:
    """Exhaustive search over job orders and options (tiny instances only).

    For a fixed sequence per airport, starting every job as early as possible is optimal
    (costs only grow with start times), so enumerating orders and options finds the optimum.
    """
    best = float("inf")
    choices = [[None, *j.options] for j in jobs]
    for pick in itertools.product(*choices):
        for order in itertools.permutations(range(len(jobs))):
            free = dict.fromkeys(airports, 0)
            placements: dict[str, Placement] = {}
            ok = True
            for i in order:
                opt = pick[i]
                if opt is None:
                    continue
                start = max(free[opt.airport], jobs[i].release_s)
                if start > jobs[i].deadline_s:
                    ok = False
                    break
                free[opt.airport] = start + opt.busy_s
                placements[jobs[i].key] = Placement(jobs[i].key, opt.airport, start, opt)
            if ok:
                best = min(best, schedule_cost(jobs, placements))
    return best


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30))
def test_schedules_are_always_valid(seed: int, n: int) -> None:
    airports = ["a", "b", "c"]
    jobs = _random_jobs(random.Random(seed), n, airports)
    _valid(jobs, assign(jobs, airports))


def test_near_optimal_on_small_instances() -> None:
    airports = ["a", "b"]
    gaps = []
    for seed in range(25):
        jobs = _random_jobs(random.Random(seed), 5, airports)
        placements = assign(jobs, airports)
        _valid(jobs, placements)
        ours, best = schedule_cost(jobs, placements), _optimum(jobs, airports)
        assert ours >= best - 1e-6
        gaps.append((ours - best) / best)
    assert sum(gaps) / len(gaps) <= 0.05
    assert max(gaps) <= 0.25


def test_higher_priority_wins_a_contested_dock() -> None:
    opt = Option("a", busy_s=3600, flight_s=1200)
    low = Job("low", 0, 600, 1.0, (opt,))
    high = Job("high", 0, 600, 8.0, (opt,))
    placements = assign([low, high], ["a"])
    assert set(placements) == {"high"}


def test_weather_holds_push_flights_later() -> None:
    opt = Option("a", busy_s=1800, flight_s=900)
    job = Job("j", 0, 7200, 1.0, (opt,))

    def holds(_a: str, start: int, end: int) -> int | None:
        return 3600 if start < 3600 else None  # no flying in the first hour

    placements = assign([job], ["a"], holds)
    assert placements["j"].start_s == 3600


def test_an_exchange_keeps_both_docks_busy() -> None:
    pair = Option("a", busy_s=3600, flight_s=3000, span_s=1500, others=("b",))
    only_b = Option("b", busy_s=1800, flight_s=900)
    jobs = [Job("corridor", 0, 0, 8.0, (pair,)), Job("point", 0, 1200, 1.0, (only_b,))]
    placements = assign(jobs, ["a", "b"])
    assert placements["corridor"].start_s == 0
    assert "point" not in placements, "b is away on the exchange until 3600 s, after the point's window"
