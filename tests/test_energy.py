from __future__ import annotations

import pytest

from missions.energy import PowerModel, leg_energy_wh
from missions.fleet import ChargeCurve, DroneModel


def test_power_curve_has_the_rotorcraft_bucket() -> None:
    m = PowerModel()
    powers = {v: m.level_power_w(v) for v in range(0, 23)}
    best = min(powers, key=lambda v: powers[v])
    assert 5 <= best <= 12, "a multicopter flies most efficiently at moderate speed"
    assert powers[0] > powers[best] and powers[22] > powers[best]


def test_endurance_matches_dock_drones_published_figures() -> None:
    d = DroneModel()
    best = max(d.endurance_s(v) for v in range(0, 20))
    assert 45 * 60 <= best <= 56 * 60, "dock drones fly 50-54 min to empty without wind"
    assert d.endurance_s(0) < best


def test_headwind_costs_more_than_tailwind_and_calm() -> None:
    m = PowerModel()
    east = (1.0, 0.0)
    _, calm = leg_energy_wh(m, 5000, 16, east, (0.0, 0.0))
    _, head = leg_energy_wh(m, 5000, 16, east, (-4.0, 0.0))
    _, tail = leg_energy_wh(m, 5000, 16, east, (4.0, 0.0))
    assert head > calm > tail


def test_climbing_costs_energy_and_time() -> None:
    m = PowerModel()
    s0, _ = leg_energy_wh(m, 0, 10, (0, 0), (0, 0), 0)
    s1, e1 = leg_energy_wh(m, 0, 10, (0, 0), (0, 0), 100, climb_rate_ms=5)
    assert s0 == 0 and s1 == pytest.approx(20)
    assert e1 > m.hover_power_w() * 20 / 3600


def test_charge_curve_is_consistent() -> None:
    c = ChargeCurve()
    assert c.minutes_at(0.2) < c.minutes_at(0.9)
    assert c.seconds_to(0.2, 0.9) == pytest.approx(32 * 60, rel=0.01)
    assert c.soc_after(0.2, 32) == pytest.approx(0.9, abs=1e-6)
    assert c.seconds_to(0.9, 0.5) == 0
    with pytest.raises(ValueError):
        ChargeCurve(((0.0, 0.0), (0.5, 40.0), (0.8, 30.0), (1.0, 50.0)))
