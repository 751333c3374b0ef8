from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from missions.dispatch import DroneState, DroneStatus, dispatch
from missions.errors import PlanningError
from missions.scenario import Scenario

# Tanglang Shan, near the Taoyuan airport; and a point near Shekou.
TANGLANG = (113.995, 22.584)
SHEKOU = (113.905, 22.495)


def _noon(scenario: Scenario) -> datetime:
    return scenario.day_start().replace(hour=11)


def test_choice_is_the_smallest_eta_and_every_airport_is_a_candidate(scenario: Scenario) -> None:
    d = dispatch(scenario, *TANGLANG, _noon(scenario))
    assert d.choice is not None and d.choice.airport_id == "taoyuan"
    etas = [c.eta_s for c in d.candidates if c.eta_s is not None]
    assert d.choice.eta_s == min(etas)
    assert {c.airport_id for c in d.candidates} == set(scenario.airports)
    assert d.choice.eta_s < 5 * 60 and "taoyuan" in d.reason


def test_eta_counts_launch_climb_and_the_dash(scenario: Scenario) -> None:
    d = dispatch(scenario, *TANGLANG, _noon(scenario))
    c = d.choice
    assert c is not None and c.distance_m is not None and c.eta_s is not None
    ap = scenario.airports[c.airport_id]
    lower = ap.dock.launch_s + ap.drone.transit_alt_m / ap.drone.climb_rate_ms + c.distance_m / ap.drone.dash_speed_ms
    assert lower * 0.95 <= c.eta_s <= lower * 1.25


def test_a_charging_drone_waits_for_what_the_trip_needs(scenario: Scenario) -> None:
    at = _noon(scenario)
    ready = dispatch(scenario, *TANGLANG, at).choice
    low = {"taoyuan": DroneState("taoyuan", DroneStatus.CHARGING, soc=0.35)}
    d = dispatch(scenario, *TANGLANG, at, low)
    taoyuan = next(c for c in d.candidates if c.airport_id == "taoyuan")
    assert ready is not None and taoyuan.eta_s is not None and ready.eta_s is not None
    assert taoyuan.eta_s > ready.eta_s and "charging" in taoyuan.note


def test_an_airborne_drone_on_a_routine_patrol_diverts_when_it_is_closest(scenario: Scenario) -> None:
    at = _noon(scenario)
    over = scenario.to_xy(113.99, 22.58)
    states = {
        "yuehai": DroneState("yuehai", DroneStatus.AIRBORNE, soc=0.7, xy=over, alt_m=100, patrol_priority=3),
    }
    d = dispatch(scenario, *TANGLANG, at, states, priority=1)
    assert d.choice is not None and d.choice.airport_id == "yuehai" and "airborne" in d.choice.note
    more_urgent = {"yuehai": DroneState("yuehai", DroneStatus.AIRBORNE, soc=0.7, xy=over, patrol_priority=1)}
    d2 = dispatch(scenario, *TANGLANG, at, more_urgent, priority=2)
    yuehai = next(c for c in d2.candidates if c.airport_id == "yuehai")
    assert yuehai.eta_s is None and "more urgent" in yuehai.note


def test_unavailable_and_empty_drones_say_why(scenario: Scenario) -> None:
    states = {
        "taoyuan": DroneState("taoyuan", DroneStatus.UNAVAILABLE, note="dock lid jammed"),
        "xili": DroneState("xili", DroneStatus.AIRBORNE, soc=0.27, xy=scenario.airports["xili"].xy, alt_m=80),
    }
    d = dispatch(scenario, *TANGLANG, _noon(scenario), states)
    notes = {c.airport_id: c.note for c in d.candidates}
    assert notes["taoyuan"] == "dock lid jammed" and "battery" in notes["xili"]
    assert d.choice is not None and d.choice.airport_id not in {"taoyuan", "xili"}


def test_the_gale_grounds_docked_drones(scenario: Scenario) -> None:
    gale = next(e for e in scenario.weather.events if (e.wind_ms or 0) > 12)
    d = dispatch(scenario, *TANGLANG, gale.window.start + timedelta(minutes=10))
    assert d.choice is None and "wind" in d.reason


def test_no_fly_target_and_outside_point(scenario: Scenario) -> None:
    heliport = (113.9254, 22.5588)
    d = dispatch(scenario, *heliport, _noon(scenario))
    assert d.choice is None and "zgnt-core" in d.reason
    with pytest.raises(PlanningError, match="outside"):
        dispatch(scenario, 114.2, 22.3, _noon(scenario))


def test_routes_go_round_no_fly_zones(scenario: Scenario) -> None:
    from shapely.geometry import LineString

    d = dispatch(scenario, 113.934, 22.556, _noon(scenario))  # just east of the heliport core
    core = scenario.airspace.zone("zgnt-core").area
    for c in d.candidates:
        if c.route is not None:
            assert not LineString(c.route.points).intersects(core)
