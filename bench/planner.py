"""Planner benchmark: a day of the built-in scenario, a scaled city, dispatch, and
assignment quality against CP-SAT's exact optimum.

Prints readable lines, then one JSON object on the last line:
  plan24h_s       wall time to plan 24 h of the built-in scenario over its relief (load excluded)
  plan24h_flat_s  the same day with the terrain taken away (the baseline, same run)
  min_clearance_m lowest height above the ground on any leg of the day's missions, read
                  back from the mission items by the independent check (missions.terrain_check)
  max_agl_m       highest height above the ground on those legs (the ceiling is 120 m)
  terrain_breaches  places where a mission leaves the band (must be 0)
  city_s          wall time to plan 24 h of a 100-airport, 1000-patrol synthetic city
  dispatch_ms     mean time of one dispatch decision (8 airports)
  gap_vs_optimum  mean relative cost gap to the CP-SAT optimum on small instances
  reach_5min_share  share of the district reached within 5 minutes of an alert

The baseline for assignment quality is the exact optimum computed in the same run.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

from shapely.geometry import Point

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dataclasses

from cityscale import city
from exact_assignment import optimum

from missions.assignment import Job, Option, assign, schedule_cost
from missions.dispatch import dispatch
from missions.planner import DayPlan, plan_day
from missions.reach import reach
from missions.scenario import Scenario, load_scenario
from missions.terrain_check import survey_mission
from orchestrator.executor.orders import order_for


def terrain_survey(sc: Scenario, day: DayPlan) -> dict[str, float]:
    """Every sortie's mission items, flown over the terrain by the independent check."""
    assert sc.ground is not None
    lowest, highest, breaches = float("inf"), 0.0, 0
    for s in day.sorties:
        order = order_for(sc, s)
        survey = survey_mission(
            order.items,
            sc.ground.terrain,
            clearance_m=sc.clearance_m,
            ceiling_m=sc.airspace.ceiling_m,
            rtl_alt_m=order.flight_params["RTL_ALT"] / 100,
        )
        breaches += len(survey.breaches)
        lowest, highest = min(lowest, survey.lowest), max(highest, survey.highest)
    print(
        f"terrain ({sc.ground.label}): every leg of {len(day.sorties)} sorties between {lowest:.1f} and "
        f"{highest:.1f} m above the ground, {breaches} breaches"
    )
    return {"min_clearance_m": round(lowest, 1), "max_agl_m": round(highest, 1), "terrain_breaches": breaches}


def _instance(rng: random.Random, n: int, airports: list[str]) -> list[Job]:
    jobs = []
    for k in range(n):
        release = rng.randrange(0, 6 * 3600, 300)
        opts = []
        for a in rng.sample(airports, rng.randint(1, min(3, len(airports)))):
            flight = rng.randrange(600, 1800, 60)
            opts.append(Option(a, busy_s=flight + rng.randrange(900, 2400, 60), flight_s=flight))
        window = rng.choice([1800, 3600, 5400])
        jobs.append(Job(f"j{k}", release, release + window, float(rng.choice([1, 2, 4, 8, 16])), tuple(opts)))
    return jobs


def bench_gap(instances: int = 20) -> dict[str, float]:
    gaps, proven = [], 0
    for seed in range(instances):
        rng = random.Random(1000 + seed)
        airports = [f"a{i}" for i in range(3)]
        jobs = _instance(rng, 12, airports)
        ours = schedule_cost(jobs, assign(jobs, airports))
        best, is_opt = optimum(jobs, airports)
        proven += is_opt
        gaps.append((ours - best) / best)
    return {"gap_mean": statistics.mean(gaps), "gap_max": max(gaps), "proven": proven, "instances": instances}


def timed_day(sc: Scenario, label: str) -> tuple[DayPlan, float]:
    """Plan 24 h of a scenario; report and return the plan and the seconds it took."""
    t = time.perf_counter()
    plan = plan_day(sc, sc.day_start(), 24)
    seconds = time.perf_counter() - t
    print(
        f"{label}: {seconds:.2f} s, {plan.occurrences} occurrences, {len(plan.sorties)} sorties, "
        f"{len(plan.unscheduled)} unscheduled"
    )
    return plan, seconds


def main() -> None:
    sc = load_scenario()
    day, plan24 = timed_day(sc, "built-in 24 h over the relief")
    _, plan24_flat = timed_day(dataclasses.replace(sc, ground=None), "built-in 24 h, flat (baseline)")
    terrain = terrain_survey(sc, day)

    rng = random.Random(3)
    area = sc.airspace.operating_area
    minx, miny, maxx, maxy = area.bounds
    points = []
    while len(points) < 200:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if area.contains(Point(x, y)):
            points.append(sc.frame.to_lonlat(x, y))
    at = sc.day_start().replace(hour=11)
    dispatch(sc, *points[0], at)  # warm the router cache, as a running service has
    t = time.perf_counter()
    for lon, lat in points:
        dispatch(sc, lon, lat, at)
    dispatch_ms = (time.perf_counter() - t) / len(points) * 1000
    print(f"dispatch: {dispatch_ms:.2f} ms per decision over {len(points)} points")

    t = time.perf_counter()
    rm = reach(sc, 5.0, 200.0)
    reach_s = time.perf_counter() - t
    print(f"reach: {rm.share:.1%} of the district within 5 min ({reach_s:.2f} s on a 200 m grid)")

    big = city(100, 1000)
    plan, city_s = timed_day(big, big.name)

    gap = bench_gap()
    print(
        f"assignment vs CP-SAT optimum on {gap['instances']} instances of 12 jobs / 3 airports: "
        f"mean gap {gap['gap_mean']:.2%}, max {gap['gap_max']:.2%} ({gap['proven']} proven optimal)"
    )
    print(
        json.dumps(
            {
                "plan24h_s": round(plan24, 3),
                "plan24h_flat_s": round(plan24_flat, 3),
                "terrain_cost_ratio": round(plan24 / plan24_flat, 2),
                **terrain,
                "plan24h_sorties": len(day.sorties),
                "plan24h_unscheduled": len(day.unscheduled),
                "city_s": round(city_s, 2),
                "city_occurrences": plan.occurrences,
                "city_sorties": len(plan.sorties),
                "city_unscheduled": len(plan.unscheduled),
                "dispatch_ms": round(dispatch_ms, 3),
                "reach_5min_share": round(rm.share, 4),
                "reach_s": round(reach_s, 2),
                "gap_vs_optimum": round(gap["gap_mean"], 4),
                "gap_max": round(gap["gap_max"], 4),
                "gap_proven_optimal": gap["proven"],
            }
        )
    )


if __name__ == "__main__":
    main()
