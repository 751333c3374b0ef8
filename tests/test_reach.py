from __future__ import annotations

import dataclasses

from missions.reach import reach
from missions.scenario import Scenario


def test_the_district_is_reached_within_five_minutes(scenario: Scenario) -> None:
    rm = reach(scenario, 5.0, 250.0)
    assert rm.share >= 0.95
    assert abs(rm.area_km2 - 196) < 3


def test_more_minutes_reach_more_and_fewer_airports_reach_less(scenario: Scenario) -> None:
    rm = reach(scenario, 5.0, 400.0)
    shares = [rm.share_within(m) for m in (1, 2, 3, 4, 5, 8)]
    assert shares == sorted(shares) and shares[0] < shares[-1]
    fewer = dataclasses.replace(scenario, airports={k: v for k, v in scenario.airports.items() if k != "xili"})
    assert reach(fewer, 5.0, 400.0).share < rm.share - 0.05


def test_no_fly_cells_are_never_reached(scenario: Scenario) -> None:
    import numpy as np
    import shapely

    rm = reach(scenario, 5.0, 100.0)
    core = scenario.airspace.zone("zgnt-core").area
    inside = shapely.contains_xy(core, rm.xy[:, 0], rm.xy[:, 1])
    assert inside.any() and not np.isfinite(rm.eta_s[inside]).any()
