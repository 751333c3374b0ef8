"""The dock's core: lid, charger, weather limits and faults."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from missions.fleet import DockModel, DroneModel
from missions.vocabulary import DockFault, LidState
from missions.weather import WeatherSample
from sim.dock.model import LID_TRAVEL_S, Dock

T0 = datetime(2026, 12, 2, 9, tzinfo=timezone(timedelta(hours=8)))
CALM = WeatherSample(T0, 3.0, 110.0, 5.0, 0.0, 18.0)
GALE = WeatherSample(T0, 13.5, 20.0, 19.0, 0.0, 15.0)
STORM = WeatherSample(T0, 8.0, 90.0, 13.0, 18.0, 16.0)


def _dock() -> Dock:
    d = Dock("shekou", DockModel(), DroneModel())
    d.step(0.1, T0, CALM, 0.9)
    return d


def _run(d: Dock, seconds: float, weather: WeatherSample = CALM, soc: float = 0.9) -> float:
    added = 0.0
    for _ in range(round(seconds / 0.5)):
        added += d.step(0.5, T0, weather, soc + added / d.drone.battery_wh)
    return added


def test_lid_opens_and_closes_in_its_travel_time() -> None:
    d = _dock()
    assert d.service("open_lid", T0) == (True, "")
    assert d.lid is LidState.OPENING
    _run(d, LID_TRAVEL_S - 1)
    assert d.lid is LidState.OPENING
    _run(d, 2)
    assert d.lid is LidState.OPEN
    assert [e.event for e in d.take_events()][-1] == "lid_opened"
    d.service("close_lid", T0)
    _run(d, LID_TRAVEL_S + 1)
    assert d.lid is LidState.CLOSED


@pytest.mark.parametrize(("weather", "why"), [(GALE, "wind 13.5 m/s above"), (STORM, "rain 18 mm/h above")])
def test_the_lid_stays_shut_in_wind_or_rain_above_the_limits(weather: WeatherSample, why: str) -> None:
    d = _dock()
    d.step(0.1, T0, weather, 0.9)
    ok, reason = d.service("open_lid", T0)
    assert not ok and why in reason and d.lid is LidState.CLOSED


def test_faults_refuse_with_a_reason_and_clear() -> None:
    d = _dock()
    d.set_fault(DockFault.LID_JAM, True, T0)
    assert d.service("open_lid", T0) == (False, "lid jammed")
    d.set_fault(DockFault.LID_JAM, False, T0)
    d.set_fault(DockFault.POWER_LOSS, True, T0)
    assert d.service("open_lid", T0) == (False, "dock has no power")
    assert d.service("teleport", T0)[1] == "unknown service 'teleport'"


def test_a_lid_jamming_while_it_moves_stops_jammed() -> None:
    d = _dock()
    d.service("open_lid", T0)
    _run(d, 3)
    d.set_fault(DockFault.LID_JAM, True, T0)
    _run(d, 1)
    assert d.lid is LidState.JAMMED and any(e.event == "lid_jammed" for e in d.take_events())


def test_charging_follows_the_charge_curve_with_the_lid_closed() -> None:
    d = _dock()
    soc = 0.2
    added = _run(d, 32 * 60, soc=soc)
    assert soc + added / d.drone.battery_wh == pytest.approx(0.9, abs=0.01), "20 -> 90 % in 32 min"
    d.set_fault(DockFault.CHARGER, True, T0)
    assert _run(d, 60, soc=0.5) == 0 and not d.charging
    osd = d.osd(T0, 0.5)
    assert osd.faults == ["charger_fault"] and osd.lid == "closed" and osd.weather["wind_ms"] == 3.0


def test_no_charging_while_the_lid_is_open_or_the_pad_empty() -> None:
    d = _dock()
    d.service("open_lid", T0)
    assert _run(d, 60, soc=0.5) == 0
    d.service("close_lid", T0)
    d.drone_on_pad = False
    assert _run(d, 60, soc=0.5) == 0
