"""The terrain model, the planner's fitting to it, and the independent check of both."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from missions.clearance import Band, Heights, flight_limits
from missions.errors import ScenarioError
from missions.flight import Role, Waypoint
from missions.formats.items import Cmd, Frame, MissionItem, renumber, sortie_items
from missions.geo import LocalFrame
from missions.planner import DayPlan, plan_day
from missions.scenario import Scenario, load_scenario
from missions.terrain import DemGrid, Ground, Hill, Relief
from missions.terrain_check import survey_mission
from orchestrator.executor.orders import order_for


@pytest.fixture(scope="module")
def day(scenario: Scenario) -> DayPlan:
    return plan_day(scenario, scenario.day_start())


def _check(scenario: Scenario, items: list[MissionItem], rtl_cm: float) -> list[object]:
    assert scenario.ground is not None
    return list(
        survey_mission(
            items,
            scenario.ground.terrain,
            clearance_m=scenario.clearance_m,
            ceiling_m=scenario.airspace.ceiling_m,
            rtl_alt_m=rtl_cm / 100,
        ).breaches
    )


def test_the_shipped_relief_has_the_published_summits_and_says_it_is_approximate(scenario: Scenario) -> None:
    g = scenario.ground
    assert g is not None and g.approximate and "approximate" in g.label
    relief = g.terrain
    assert isinstance(relief, Relief)
    heights = {h.name: h.summit_m for h in relief.hills}
    assert heights["Yangtai Shan main peak"] == pytest.approx(587.3)
    for h in relief.hills:
        assert float(relief.heights(h.lon, h.lat)) == pytest.approx(h.summit_m)
        assert g.height(scenario.to_xy(h.lon, h.lat)) == pytest.approx(h.summit_m, abs=3.0)
    # Every pad stands on (or above) the ground the relief gives there.
    for a in scenario.airports.values():
        assert g.height(a.xy) <= a.elevation_m + 1.0


def test_a_dem_grid_is_bilinear_between_pixel_centres_and_survives_a_round_trip(tmp_path: Path) -> None:
    z = np.array([[10.0, 20.0], [30.0, 40.0]])
    grid = DemGrid(113.9, 22.6, 0.001, 0.001, z, "EGM2008", "test")
    centres = grid.heights([113.9005, 113.9015, 113.9005], [22.5995, 22.5995, 22.5985])
    assert centres.tolist() == pytest.approx([10.0, 20.0, 30.0])
    assert float(grid.heights(113.901, 22.599)) == pytest.approx(25.0)
    assert math.isnan(float(grid.heights(113.95, 22.599)))
    grid.save(tmp_path / "dem.npz")
    back = DemGrid.load(tmp_path / "dem.npz")
    assert back.datum == "EGM2008" and back.z.tolist() == z.tolist() and back.bounds == grid.bounds


def test_the_local_grid_agrees_with_its_source(scenario: Scenario) -> None:
    g = scenario.ground
    assert g is not None
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(-8000, 8000, 300), rng.uniform(-12000, 12000, 300)
    ll = scenario.frame.many_to_lonlat(xs, ys)
    direct = g.terrain.heights(ll[:, 0], ll[:, 1])
    assert np.nanmax(np.abs(g.at(xs, ys) - direct)) < 2.0
    assert all(g.height((x, y)) == pytest.approx(float(g.at(x, y))) for x, y in zip(xs[:20], ys[:20], strict=True))


def test_every_built_in_sortie_keeps_its_clearance_and_ceiling_in_the_independent_check(
    scenario: Scenario, day: DayPlan
) -> None:
    highest = 0.0
    for s in day.sorties:
        order = order_for(scenario, s)
        assert _check(scenario, order.items, order.flight_params["RTL_ALT"]) == [], s.occurrence
        top = max(it.z for it in order.items if it.frame == Frame.GLOBAL)
        home = scenario.airports[s.airport_id].elevation_m
        assert order.flight_params["FENCE_ALT_MAX"] > top - home, "the altitude fence is above the plan"
        highest = max(highest, top)
    assert highest > 400, "the forest patrols fly over the hills, above sea level"


def test_a_plan_made_flat_fails_the_independent_check_over_the_hills(scenario: Scenario) -> None:
    flat = dataclasses.replace(scenario, ground=None)
    day = plan_day(flat, flat.day_start())
    breached = {s.patrol_id for s in day.sorties if _check(scenario, order_for(flat, s).items, 3000)}
    assert {"tanglang-ridge", "yangtai-south", "danan-xiaonan"} & breached


def test_the_return_height_clears_the_ridge_between_the_flight_and_home(scenario: Scenario) -> None:
    g = scenario.ground
    assert g is not None
    taoyuan = scenario.airports["taoyuan"]
    hts = Heights(g, scenario.band, taoyuan.elevation_m, taoyuan.xy)
    behind = scenario.to_xy(113.99, 22.60)  # north of Tanglang's ridge, the pad south of it
    limits = flight_limits([taoyuan.xy, behind], [0.0, hts.lift(behind, 80)], hts, 120.0)
    _, profile = g.profile(behind, taoyuan.xy)
    assert limits["RTL_ALT"] / 100 >= float(profile.max()) + 30 - taoyuan.elevation_m - 0.5
    assert limits["FENCE_ALT_MAX"] > limits["RTL_ALT"] / 100


def _rugged() -> tuple[Ground, LocalFrame]:
    """A synthetic DEM: 40 random hills up to 450 m on a 12 km square, 30 m cells."""
    rng = np.random.default_rng(11)
    hills = tuple(
        Hill(
            f"h{i}",
            113.90 + rng.uniform(0, 0.11),
            22.50 + rng.uniform(0, 0.11),
            rng.uniform(50, 450),
            rng.uniform(300, 2500),
            rng.uniform(200, 1500),
            rng.uniform(0, 180),
        )
        for i in range(40)
    )
    relief = Relief(hills, 5.0, "rugged", 30.0)
    d = 1 / 3600
    lon = 113.89 + (np.arange(480) + 0.5) * d
    lat = 22.62 - (np.arange(480) + 0.5) * d
    lo, la = np.meshgrid(lon, lat)
    grid = DemGrid(113.89, 22.62, d, d, relief.heights(lo, la), "EGM2008", "synthetic")
    frame = LocalFrame(113.955, 22.555)
    return Ground(grid, frame, (-5500, -5500, 5500, 5500)), frame


RUGGED = _rugged()


@settings(max_examples=40, deadline=None)
@given(
    pts=st.lists(st.tuples(st.floats(-5000, 5000), st.floats(-5000, 5000)), min_size=2, max_size=5),
    agl=st.floats(40, 110),
)
def test_fitted_legs_over_rugged_ground_pass_the_independent_check(pts: list[tuple[float, float]], agl: float) -> None:
    ground, frame = RUGGED
    pad = ground.height(pts[0]) + 2.0
    hts = Heights(ground, Band(30.0, 120.0), pad, pts[0])
    wps = [Waypoint(p, hts.lift(p, agl), 12.0, Role.TRANSIT) for p in pts]
    fitted = hts.chain(wps)
    lon0, lat0 = frame.to_lonlat(*pts[0])
    items = [MissionItem(0, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=lat0, y=lon0, z=pad)]
    items.append(MissionItem(0, Frame.GLOBAL, Cmd.NAV_TAKEOFF, x=lat0, y=lon0, z=fitted[0].alt_m + pad))
    for w in fitted[1:]:
        lon, lat = frame.to_lonlat(*w.xy)
        items.append(MissionItem(0, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=lat, y=lon, z=w.alt_m + pad))
    breaches = survey_mission(renumber(items), ground.terrain, clearance_m=29.0, ceiling_m=121.0, step_m=10.0).breaches
    assert breaches == []
    unfitted = [
        items[0],
        items[1],
        *(
            MissionItem(
                0,
                Frame.GLOBAL,
                Cmd.NAV_WAYPOINT,
                x=frame.to_lonlat(*w.xy)[1],
                y=frame.to_lonlat(*w.xy)[0],
                z=w.alt_m + pad,
            )
            for w in wps[1:]
        ),
    ]
    assert len(fitted) >= len(wps)
    if len(fitted) == len(wps):
        assert survey_mission(renumber(unfitted), ground.terrain, clearance_m=29.0, ceiling_m=121.0).breaches == []


def test_sortie_items_carry_heights_above_sea_level(scenario: Scenario, day: DayPlan) -> None:
    s = next(s for s in day.sorties if s.patrol_id == "tanglang-ridge")
    ap = scenario.airports[s.airport_id]
    items = sortie_items(s.sortie, scenario.frame, ap.lon, ap.lat, ap.elevation_m)
    nav = [it for it in items[1:] if it.command in (Cmd.NAV_WAYPOINT, Cmd.NAV_TAKEOFF)]
    assert {it.frame for it in nav} == {Frame.GLOBAL}
    assert max(it.z for it in nav) > 430, "over Tanglang Shan's 430 m top"


def test_a_pad_below_the_ground_is_refused(scenario_copy: Path) -> None:
    text = (scenario_copy / "scenario.yaml").read_text()
    text = text.replace("lon: 113.9450, lat: 22.6280, elevation_m: 62", "lon: 113.9600, lat: 22.6400, elevation_m: 62")
    (scenario_copy / "scenario.yaml").write_text(text)
    with pytest.raises(ScenarioError, match=r"airport 'xili'.*below the ground"):
        load_scenario(scenario_copy)


def test_a_patrol_off_the_dem_is_not_flown_and_says_why(scenario: Scenario) -> None:
    g = scenario.ground
    assert g is not None
    # A DEM that covers only the south of the district: northern patrols leave it.
    d = 1 / 1200
    lon = 113.70 + (np.arange(480) + 0.5) * d
    lat = 22.58 - (np.arange(290) + 0.5) * d
    lo, la = np.meshgrid(lon, lat)
    south = DemGrid(113.70, 22.58, d, d, g.terrain.heights(lo, la), "EGM2008", "south only")
    ground = Ground(south, scenario.frame, (-15000, -20000, 15000, 20000))
    day = plan_day(dataclasses.replace(scenario, ground=ground), scenario.day_start(), hours=12)
    reasons = [r for u in day.unscheduled if u.patrol_id == "yangtai-south" for r in u.reasons]
    assert any("leaves the terrain model" in r for r in reasons), reasons


def test_an_alert_on_the_ridge_is_reached_over_it_and_its_flight_passes_the_check(scenario: Scenario) -> None:
    from missions.dispatch import dispatch
    from missions.response import response_flight

    at = scenario.day_start().replace(hour=11)
    lon, lat = 113.9953, 22.5837  # the scripted forest smoke sensor on Tanglang Shan
    hills = dispatch(scenario, lon, lat, at)
    flat = dispatch(dataclasses.replace(scenario, ground=None), lon, lat, at)
    assert hills.choice is not None and flat.choice is not None
    by_id = {c.airport_id: c for c in flat.candidates}
    assert scenario.ground is not None
    top = scenario.ground.height(scenario.to_xy(lon, lat))
    for c in hills.candidates:
        if c.eta_s is not None and by_id[c.airport_id].eta_s is not None:
            ap = scenario.airports[c.airport_id]
            climb_s = (top + ap.drone.transit_alt_m - ap.elevation_m) / ap.drone.climb_rate_ms
            assert c.eta_s >= ap.dock.launch_s + climb_s, "no sooner than the climb to the spot allows"
            assert (c.trip_soc or 0) > (by_id[c.airport_id].trip_soc or 0), "the climb costs battery"
    choice = hills.choice
    ap = scenario.airports[choice.airport_id]
    target = scenario.to_xy(lon, lat)
    home = scenario.airspace.router(frozenset()).route(target, ap.xy)
    heights = Heights(scenario.ground, scenario.band, ap.elevation_m, ap.xy)
    flight = response_flight(ap, scenario.frame, choice, home, target, heights=heights)
    assert _check(scenario, flight.items, flight.flight_params["RTL_ALT"]) == []
    orbit = next(it for it in flight.items if it.command == Cmd.NAV_LOITER_TURNS)
    assert orbit.z > 430 + 30, "it circles above the ridge top"


def test_the_reach_map_draws_the_relief_and_says_it_is_approximate(scenario: Scenario) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from orchestrator.reports.coverage_report import draw_relief

    fig, ax = plt.subplots()
    try:
        assert draw_relief(ax, scenario) == "contours every 100 m (approximate)"
        labels = {t.get_text() for t in ax.texts}
        assert {"100", "300", "500"} <= labels and "600" not in labels, "Yangtai Shan tops out at 587 m"
        assert len(ax.lines) >= 8
        flat = dataclasses.replace(scenario, ground=None)
        fig2, ax2 = plt.subplots()
        assert draw_relief(ax2, flat) is None and not ax2.lines
        plt.close(fig2)
    finally:
        plt.close(fig)
