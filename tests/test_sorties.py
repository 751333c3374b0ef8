from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString

from missions.flight import profile
from missions.patrols import work_path
from missions.scenario import Scenario
from missions.sorties import NotFlyable, plan_exchange, plan_sorties


def _nearest(scenario: Scenario, patrol_id: str) -> str:
    p = scenario.patrols[patrol_id]
    return min(scenario.airports, key=lambda a: p.geometry.distance(LineString([scenario.airports[a].xy] * 2)))


def _plan(scenario: Scenario, patrol_id: str, wind: tuple[float, float] = (0.0, 0.0), airport: str | None = None):
    ap = scenario.airports[airport or _nearest(scenario, patrol_id)]
    router = scenario.airspace.router(frozenset())
    return plan_sorties(patrol_id, work_path(scenario.patrols[patrol_id], ap.drone), ap, router, wind)


@pytest.mark.parametrize(
    "patrol_id", ["tanglang-ridge", "yangtai-south", "dasha-river", "yueliangwan-avenue", "parking-sea-world"]
)
def test_every_sortie_lands_with_the_reserve_under_the_energy_model(scenario: Scenario, patrol_id: str) -> None:
    plan = _plan(scenario, patrol_id, wind=(4.0, -2.0))
    for s in plan.sorties:
        ap = scenario.airports[s.airport_id]
        # Recompute from the waypoints: the plan's own figures must match the model.
        again = profile(ap.drone, ap.dock, s.waypoints, (4.0, -2.0))
        land = s.start_soc - again.total_wh / ap.drone.battery_wh
        assert land >= ap.drone.reserve - 1e-9
        assert again.airborne_s <= ap.drone.max_sortie_s + 1e-6
        assert s.waypoints[0].xy == ap.xy and s.waypoints[-1].xy == ap.xy
        assert s.waypoints[0].alt_m == 0 and s.waypoints[-1].alt_m == 0


def test_a_long_patrol_is_split_into_contiguous_sorties_covering_all_of_it(scenario: Scenario) -> None:
    plan = _plan(scenario, "tanglang-ridge")
    assert len(plan.sorties) >= 2
    shares = [s.work_share for s in plan.sorties]
    assert shares[0][0] == 0.0 and shares[-1][1] == pytest.approx(1.0)
    for (a0, a1), (b0, _b1) in itertools.pairwise(shares):
        assert b0 == pytest.approx(a1) and a0 < a1
    # All sorties but the last use the battery down to (about) the reserve: splitting is tight.
    assert all(s.land_soc < 0.30 for s in plan.sorties[:-1])


def test_every_work_point_is_flown_in_some_sortie(scenario: Scenario) -> None:
    p = scenario.patrols["yangtai-south"]
    ap = scenario.airports[_nearest(scenario, p.id)]
    wp = work_path(p, ap.drone)
    plan = _plan(scenario, p.id)
    flown = [w.xy for s in plan.sorties for w in s.waypoints]
    for point in wp.points:
        assert min(math.dist(point.xy, f) for f in flown) < 1e-6


def test_a_far_airport_says_why_it_cannot_fly(scenario: Scenario) -> None:
    with pytest.raises(NotFlyable, match="too far"):
        _plan(scenario, "yangtai-south", wind=(0.0, 0.0), airport="shekou")


@settings(max_examples=15, deadline=None)
@given(st.floats(0, 11), st.floats(0, 360))
def test_reserve_holds_in_any_flyable_wind(scenario: Scenario, speed: float, from_deg: float) -> None:
    from missions.geo import wind_vector

    wind = wind_vector(speed, from_deg)
    try:
        plan = _plan(scenario, "danan-xiaonan", wind=wind)
    except NotFlyable:
        return
    for s in plan.sorties:
        assert s.land_soc >= scenario.airports[s.airport_id].drone.reserve - 1e-9


def test_dock_to_dock_exchange_flies_the_corridor_both_ways(scenario: Scenario) -> None:
    p = scenario.patrols["dasha-river"]
    a, b = scenario.airports["taoyuan"], scenario.airports["shahe"]
    plan = plan_exchange(p.id, work_path(p, a.drone), a, b, scenario.airspace.router(frozenset()), (0.0, 0.0))
    there, back = plan.sorties
    assert (there.airport_id, there.land_airport_id) == ("taoyuan", "shahe")
    assert (back.airport_id, back.land_airport_id) == ("shahe", "taoyuan")
    for s in plan.sorties:
        assert s.waypoints[-1].xy == scenario.airports[s.land_airport_id].xy
        assert s.land_soc >= a.drone.reserve
        assert s.work_share == (0.0, 1.0)
    # Out and back from either end cannot fly the whole corridor in one sortie.
    for ap in (a, b):
        assert len(_plan(scenario, p.id, airport=ap.id).sorties) >= 2


def test_exchange_is_refused_when_it_cannot_be_flown(scenario: Scenario) -> None:
    router = scenario.airspace.router(frozenset())
    p = scenario.patrols["dasha-river"]
    xili, shekou = scenario.airports["xili"], scenario.airports["shekou"]
    with pytest.raises(NotFlyable, match="does not fit"):
        plan_exchange(p.id, work_path(p, xili.drone), xili, shekou, router, (0.0, 0.0))
    point = scenario.patrols["parking-sea-world"]
    with pytest.raises(NotFlyable, match="divisible"):
        plan_exchange(point.id, work_path(point, xili.drone), xili, shekou, router, (0.0, 0.0))
