"""Civil daylight: against an independent sun calculator, and in the day's plan."""

from __future__ import annotations

from datetime import date, timedelta, timezone

import pytest
from astral import Observer
from astral.sun import dawn, dusk

from missions.daylight import civil_daylight, is_daylight, sun_elevation_deg
from missions.dispatch import dispatch
from missions.planner import plan_day
from missions.scenario import Scenario

CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize("day", [date(2026, 12, 2), date(2026, 3, 20), date(2026, 6, 21), date(2026, 9, 23)])
def test_civil_dawn_and_dusk_agree_with_astral_to_two_minutes(day: date) -> None:
    lon, lat = 113.93, 22.53
    ours = civil_daylight(lon, lat, day, CST)
    obs = Observer(latitude=lat, longitude=lon)
    theirs = (dawn(obs, day, tzinfo=CST), dusk(obs, day, tzinfo=CST))
    for a, b in zip(ours, theirs, strict=True):
        assert abs((a - b).total_seconds()) < 120, (a, b)
    assert (
        sun_elevation_deg(lon, lat, ours[0] + timedelta(minutes=10))
        > -6
        > sun_elevation_deg(lon, lat, ours[0] - timedelta(minutes=10))
    )


def test_colour_patrols_keep_to_daylight_and_say_why_at_night(scenario: Scenario) -> None:
    day = plan_day(scenario, scenario.day_start())
    centre = (113.93, 22.53)
    dawn_, dusk_ = civil_daylight(*centre, scenario.day, scenario.tz)
    for s in day.sorties:
        if not s.emergency:
            assert s.launch_at >= dawn_ - timedelta(minutes=5) and s.landed_at <= dusk_ + timedelta(minutes=5), (
                s.occurrence
            )
    night = [u for u in day.unscheduled if any(r.startswith("night:") for r in u.reasons)]
    assert night, "the 18:00 patrols of a December day start after civil dusk"


def test_a_thermal_camera_flies_the_evening_patrols(scenario: Scenario) -> None:
    import dataclasses

    airports = {
        k: dataclasses.replace(
            a, drone=dataclasses.replace(a.drone, camera=dataclasses.replace(a.drone.camera, thermal=True))
        )
        for k, a in scenario.airports.items()
    }
    day = plan_day(dataclasses.replace(scenario, airports=airports), scenario.day_start())
    assert not [u for u in day.unscheduled if any(r.startswith("night:") for r in u.reasons)]


def test_an_alert_at_night_is_flown_and_the_operator_is_told(scenario: Scenario) -> None:
    at = scenario.day_start().replace(hour=21)
    assert not is_daylight(113.9953, 22.5837, at)
    d = dispatch(scenario, 113.9953, 22.5837, at)
    assert d.choice is not None and "night: visual detection limited" in d.reason
    noon = dispatch(scenario, 113.9953, 22.5837, scenario.day_start().replace(hour=12))
    assert "night" not in noon.reason
