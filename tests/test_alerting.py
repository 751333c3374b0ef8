"""Alerts as rules (missions/alerting.py) and the flight an alert gets (missions/response.py)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from missions.alerting import (
    ALERT_RULES,
    FEEDBACK_FACTOR,
    FINDING_RULES,
    AlertError,
    FalseAlarmMark,
    Sighting,
    check_step,
    feedback_factor,
    percentiles,
    same_event,
)
from missions.autopilot import ARDUCOPTER_DEFAULTS
from missions.dispatch import DroneState, DroneStatus, dispatch
from missions.formats.items import Cmd
from missions.response import FIRST_LEG, ORBIT_RADIUS_M, response_flight
from missions.scenario import Scenario


def test_the_same_kind_close_in_place_and_time_is_one_event(scenario: Scenario) -> None:
    t = scenario.day_start().replace(hour=10)
    rule = FINDING_RULES["fire"]
    near = Sighting("a", "fire", 22.5840, 113.9950, t)
    far = Sighting("b", "fire", 22.5900, 113.9950, t)  # ~670 m north
    smoke = Sighting("c", "smoke", 22.58401, 113.99501, t)
    assert same_event("fire", 22.5845, 113.9950, t + timedelta(minutes=5), [far, smoke, near], rule) == near
    assert same_event("fire", 22.5845, 113.9950, t + timedelta(hours=2), [near], rule) is None, "window passed"
    assert same_event("fire", 22.5870, 113.9950, t, [near], rule) is None, "330 m is beyond the fire family's 200 m"


def test_false_alarms_nearby_lower_confidence_and_fade_with_time(scenario: Scenario) -> None:
    t = scenario.day_start().replace(hour=10)
    mark = FalseAlarmMark("smoke", 22.499, 113.868, t - timedelta(days=1))
    assert feedback_factor("smoke", 22.499, 113.868, t, []) == 1.0
    one = feedback_factor("smoke", 22.4991, 113.8681, t, [mark])
    assert FEEDBACK_FACTOR < one < 1.0, "a day-old mark weighs a little under one"
    three = feedback_factor("smoke", 22.499, 113.868, t, [mark, mark, mark])
    assert three == pytest.approx(one**3)
    assert feedback_factor("fire", 22.499, 113.868, t, [mark]) == 1.0, "another class is not affected"
    assert feedback_factor("smoke", 22.510, 113.868, t, [mark]) == 1.0, "1.2 km away is not affected"
    old = FalseAlarmMark("smoke", 22.499, 113.868, t - timedelta(days=60))
    assert feedback_factor("smoke", 22.499, 113.868, t, [old]) == pytest.approx(FEEDBACK_FACTOR**0.25)


def test_incident_steps_follow_the_lifecycle() -> None:
    assert check_step("new", "acknowledged").value == "acknowledged"
    assert check_step("acknowledged", "false_alarm").value == "false_alarm"
    with pytest.raises(AlertError, match="closed"):
        check_step("resolved", "acknowledged")
    with pytest.raises(AlertError, match="cannot become"):
        check_step("dispatched", "acknowledged")
    with pytest.raises(AlertError, match="unknown"):
        check_step("new", "burning")


def test_percentiles_are_values_that_happened() -> None:
    p = percentiles([10.0, 30.0, 20.0, 40.0])
    assert p == {"n": 4, "p50": 20.0, "p90": 40.0, "p95": 40.0, "max": 40.0}
    assert percentiles([]) == {"n": 0, "p50": None, "p90": None, "p95": None, "max": None}


def test_every_alert_kind_has_a_rule_and_fires_launch_at_once() -> None:
    assert ALERT_RULES["fire"].action == "launch" and ALERT_RULES["fire"].default_priority == 1
    assert ALERT_RULES["illegal_parking"].action == "propose"


@pytest.mark.parametrize("airborne", [False, True])
def test_the_response_flight_dashes_out_orbits_the_spot_looking_at_it_and_comes_home(
    scenario: Scenario, airborne: bool
) -> None:
    at = scenario.day_start().replace(hour=11)
    lon, lat = 113.9560, 22.5450
    ap = scenario.airports["yuehai"]
    states = {}
    if airborne:
        states["yuehai"] = DroneState("yuehai", DroneStatus.AIRBORNE, 0.8, scenario.to_xy(113.960, 22.550), 80, 3)
    decision = dispatch(scenario, lon, lat, at, states)
    assert decision.choice is not None and decision.choice.airport_id == "yuehai", decision.reason
    target = scenario.to_xy(lon, lat)
    home = scenario.airspace.router(frozenset()).route(target, ap.xy)
    flight = response_flight(ap, scenario.frame, decision.choice, home, target)
    cmds = [i.command for i in flight.items]
    assert cmds[0] == Cmd.NAV_WAYPOINT and cmds[1] == Cmd.NAV_TAKEOFF and cmds[-1] == Cmd.NAV_RETURN_TO_LAUNCH
    assert cmds[FIRST_LEG] == Cmd.DO_CHANGE_SPEED and flight.items[FIRST_LEG].param2 == ap.drone.dash_speed_ms
    orbit = next(i for i in flight.items if i.command == Cmd.NAV_LOITER_TURNS)
    roi = next(i for i in flight.items if i.command == Cmd.DO_SET_ROI_LOCATION)
    assert roi.seq < orbit.seq < next(i.seq for i in flight.items if i.command == Cmd.DO_SET_ROI_NONE)
    assert (orbit.x, orbit.y) == pytest.approx((lat, lon)) and (roi.x, roi.y) == pytest.approx((lat, lon))
    assert orbit.param3 == ORBIT_RADIUS_M and orbit.param1 >= 1
    orbit_s = orbit.param1 * 2 * math.pi * ORBIT_RADIUS_M / ARDUCOPTER_DEFAULTS.orbit_speed_ms(ORBIT_RADIUS_M)
    assert orbit_s == pytest.approx(flight.orbit_s)
    assert 240 <= orbit_s <= 360, "about the five minutes dispatch planned on scene, at AC_Circle's speed"
    assert all(i.z <= 120 for i in flight.items[1:]), "under the ceiling"
    assert 0 < flight.needed_pct < 60
    # ArduCopter flies each leg at the speed in force when its waypoint becomes current:
    # every leg out, the last one onto the spot included, at the dash speed.
    speed, out_speeds = None, []
    for item in flight.items[FIRST_LEG:]:
        if item.command == Cmd.DO_CHANGE_SPEED:
            speed = item.param2
        elif item.command == Cmd.NAV_WAYPOINT:
            out_speeds.append(speed)
            if (item.x, item.y) == pytest.approx((lat, lon)):
                break
    else:
        pytest.fail("no waypoint over the spot before the orbit")
    assert out_speeds and set(out_speeds) == {ap.drone.dash_speed_ms}, out_speeds
