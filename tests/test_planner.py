from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from missions.planner import DayPlan, check_sortie, plan_day
from missions.scenario import Scenario


@pytest.fixture(scope="module")
def day(scenario: Scenario) -> DayPlan:
    return plan_day(scenario, scenario.day_start(), 24)


def test_every_occurrence_is_scheduled_or_explained(day: DayPlan) -> None:
    scheduled = {s.occurrence for s in day.sorties}
    unscheduled = {u.occurrence for u in day.unscheduled}
    assert not scheduled & unscheduled
    assert len(scheduled) + len(unscheduled) == day.occurrences
    assert all(u.reasons and all(r.strip() for r in u.reasons) for u in day.unscheduled)
    # Colour cameras do not patrol after civil dusk: of the rest, most are flown.
    night = [u for u in day.unscheduled if any(r.startswith("night:") for r in u.reasons)]
    assert len(scheduled) >= 0.8 * (day.occurrences - len(night))


def test_no_drone_is_double_booked_and_charging_is_never_skipped(scenario: Scenario, day: DayPlan) -> None:
    for airport, rows in day.by_airport().items():
        rows = sorted(rows, key=lambda s: s.launch_at)
        for a, b in itertools.pairwise(rows):
            assert b.launch_at >= a.ready_at, f"{airport}: {b.occurrence} launches before {a.occurrence} is recharged"
    for s in day.sorties:
        dock = scenario.airports[s.sortie.land_airport_id].dock
        needed = dock.charge.seconds_to(s.sortie.land_soc, s.sortie.start_soc)
        assert (s.ready_at - s.landed_at).total_seconds() == pytest.approx(needed, abs=1)
        assert s.sortie.start_soc <= dock.launch_soc + 1e-9


def test_each_dock_holds_one_drone_at_a_time(scenario: Scenario, day: DayPlan) -> None:
    """Walk each dock's events: a drone leaves, a drone lands, it recharges, it leaves...
    A landing on an occupied pad, or a launch from an empty or charging pad, is a bug."""
    for airport in scenario.airports:
        events = []
        for s in day.sorties:
            if s.airport_id == airport:
                events.append((s.launch_at, 1, "launch", s))
            if s.sortie.land_airport_id == airport:
                events.append((s.landed_at, 0, "land", s))
        occupied, ready_at = True, day.start
        for t, _, kind, s in sorted(events, key=lambda e: (e[0], e[1])):
            if kind == "land":
                assert not occupied, f"{airport}: {s.occurrence} lands on an occupied pad at {t:%H:%M}"
                occupied, ready_at = True, s.ready_at
            else:
                assert occupied and t >= ready_at, f"{airport}: {s.occurrence} launches at {t:%H:%M} unready"
                occupied = False


def test_no_sortie_breaks_airspace_rules_or_lands_below_reserve(scenario: Scenario, day: DayPlan) -> None:
    for s in day.sorties:
        assert check_sortie(scenario, s) == []
        pad = scenario.airports[s.airport_id].elevation_m
        assert max(p.alt_m for p in s.path(scenario.ground, pad)) <= scenario.airspace.ceiling_m
        assert s.sortie.land_soc >= scenario.airports[s.airport_id].drone.reserve - 1e-9


def test_launches_respect_release_and_window(scenario: Scenario, day: DayPlan) -> None:
    firsts = [s for s in day.sorties if s.sortie.number == 1]
    for s in firsts:
        patrol_id, _, release_txt = s.occurrence.partition("@")
        release = scenario.localize(__import__("datetime").datetime.fromisoformat(release_txt))
        rule = scenario.patrols[patrol_id].rule
        assert release <= s.launch_at <= release + timedelta(minutes=rule.window_min)


def test_nothing_flies_in_the_gale_and_the_hold_is_reported(scenario: Scenario, day: DayPlan) -> None:
    gale = next(e for e in scenario.weather.events if (e.wind_ms or 0) > 12)
    for s in day.sorties:
        assert s.landed_at <= gale.window.start or s.launch_at >= gale.window.end, s.occurrence
    held = [u for u in day.unscheduled if any("wind" in r for r in u.reasons)]
    assert held, "a patrol due in the gale is reported as a weather hold"


def test_night_patrol_without_approval_is_reported(day: DayPlan) -> None:
    night = [u for u in day.unscheduled if u.patrol_id == "chiwan-terminal-night"]
    assert night and "approval" in night[0].reasons[0]


def test_flood_patrol_follows_the_rain_warning_under_emergency_priority(scenario: Scenario, day: DayPlan) -> None:
    warning = scenario.weather.warnings[0]
    flood = [s for s in day.sorties if s.patrol_id == "flood-guimiao-underpass"]
    assert flood and flood[0].launch_at >= warning.window.end
    assert flood[0].emergency


def test_plan_is_deterministic(scenario: Scenario, day: DayPlan) -> None:
    again = plan_day(scenario, scenario.day_start(), 24)
    assert [(s.occurrence, s.airport_id, s.launch_at) for s in again.sorties] == [
        (s.occurrence, s.airport_id, s.launch_at) for s in day.sorties
    ]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 47), st.floats(3, 14))
def test_any_horizon_keeps_every_sortie_inside_the_rules(scenario: Scenario, half_hours: int, hours: float) -> None:
    """Random horizons cross approval windows, the gale and the temporary zone's evening."""
    start = scenario.day_start() + timedelta(minutes=30 * half_hours)
    plan = plan_day(scenario, start, hours)
    for s in plan.sorties:
        assert check_sortie(scenario, s) == [], s.occurrence
        assert s.sortie.land_soc >= scenario.airports[s.airport_id].drone.reserve - 1e-9
    assert len({s.occurrence for s in plan.sorties}) + len(plan.unscheduled) == plan.occurrences


def test_area_patrols_are_covered_by_the_flown_sorties(scenario: Scenario, day: DayPlan) -> None:
    from missions.coverage import footprint_union
    from missions.flight import Role
    from missions.patrols import PatrolKind, area_altitude

    for occurrence in {s.occurrence for s in day.sorties}:
        rows = [s for s in day.sorties if s.occurrence == occurrence]
        patrol = scenario.patrols[rows[0].patrol_id]
        if patrol.kind is not PatrolKind.AREA:
            continue
        drone = scenario.airports[rows[0].airport_id].drone
        w, h = drone.camera.footprint_m(area_altitude(patrol, drone))
        legs = []
        for s in rows:
            wps = s.sortie.waypoints
            legs += [(a.xy, b.xy) for a, b in itertools.pairwise(wps) if a.role is Role.WORK and b.role is Role.WORK]
        seen = footprint_union(tuple(legs), w, h)
        share = seen.intersection(patrol.geometry).area / patrol.geometry.area
        assert share > 0.999, f"{occurrence}: {share:.2%} of the area seen"
