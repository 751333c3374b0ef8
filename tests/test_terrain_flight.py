"""The simulated copter over the shipped relief: the plan made for the hills flies home,
the plan made for a flat world flies into Da Nanshan."""

from __future__ import annotations

import dataclasses
import math

import pytest

from missions.clearance import Heights, flight_limits
from missions.formats.items import MissionItem, sortie_items
from missions.patrols import work_path
from missions.scenario import Scenario
from missions.sorties import Sortie, plan_sorties
from sim.mavlink.messages import Out
from sim.vehicle.copter import Copter
from sim.vehicle.modes import Mode

GCS = (255, 190)


def _sortie(
    scenario: Scenario, with_terrain: bool, airport: str = "shekou", patrol_id: str = "danan-xiaonan"
) -> tuple[Sortie, list[MissionItem]]:
    sc = scenario if with_terrain else dataclasses.replace(scenario, ground=None)
    ap = sc.airports[airport]
    patrol = sc.patrols[patrol_id]
    plan = plan_sorties(
        patrol.id, work_path(patrol, ap.drone), ap, sc.airspace.router(frozenset()), (0.0, 0.0), sc.ground, sc.band
    )
    s = plan.sorties[0]
    return s, sortie_items(s, sc.frame, ap.lon, ap.lat, ap.elevation_m)


def _fly(
    scenario: Scenario, sortie: Sortie, items: list[MissionItem], params: dict[str, float], airport: str = "shekou"
) -> tuple[Copter, list[Out]]:
    ap = scenario.airports[airport]
    c = Copter(1, ap.lon, ap.lat, ap.elevation_m, ap.drone, seed=3, soc=sortie.start_soc, frame=scenario.frame)
    c.ground = scenario.ground
    for _ in range(30):
        c.step(0.1, c.t, (0.0, 0.0))
    for name, value in params.items():
        c.handle("PARAM_SET", {"param_id": name.encode(), "param_value": value, "param_type": 9}, GCS, c.t)
    out = c.handle("MISSION_COUNT", {"count": len(items), "mission_type": 0}, GCS, c.t)
    for it in items:
        fields = {
            "seq": it.seq,
            "frame": it.frame,
            "command": it.command,
            "current": 0,
            "autocontinue": 1,
            "param1": it.param1,
            "param2": it.param2,
            "param3": it.param3,
            "param4": it.param4,
            "x": round(it.x * 1e7),
            "y": round(it.y * 1e7),
            "z": it.z,
            "mission_type": 0,
        }
        out = c.handle("MISSION_ITEM_INT", fields, GCS, c.t)
    assert out[-1].fields["type"] == 0, "mission accepted"
    c.set_mode(Mode.AUTO, c.t)
    c.handle("COMMAND_LONG", {"command": 400, "param1": 1.0, **{f"param{i}": 0.0 for i in range(2, 8)}}, GCS, c.t)
    out = []
    c.lowest = math.inf  # type: ignore[attr-defined]
    for k in range(round((sortie.duration_s + 300) / 0.1)):
        if k % 10 == 0:
            c.handle("HEARTBEAT", {"type": 6}, GCS, c.t)
        out += c.step(0.1, c.t, (0.0, 0.0))
        clearance = c.terrain_clearance()
        if c.armed and clearance is not None and math.hypot(c.body.x, c.body.y) > 30:
            c.lowest = min(c.lowest, clearance)  # type: ignore[attr-defined]
        if not c.armed and c.flew_since_arm:
            break
    return c, out


def test_the_plan_for_the_hills_flies_over_da_nanshan_and_home(scenario: Scenario) -> None:
    sortie, items = _sortie(scenario, with_terrain=True)
    ap = scenario.airports["shekou"]
    hts = Heights(scenario.ground, scenario.band, ap.elevation_m, ap.xy)
    wps = sortie.waypoints
    params = flight_limits([w.xy for w in wps], [w.alt_m for w in wps], hts, 120.0)
    c, out = _fly(scenario, sortie, items, params)
    texts = [o.fields["text"].decode() for o in out if o.name == "STATUSTEXT"]
    assert c.crashed_at is None, texts
    assert not any("Fence" in t for t in texts), "the fence is set above the plan"
    assert math.hypot(c.body.x, c.body.y) < 1.0 and not c.armed
    assert max(it.z for it in items) > 336, "it flew over the 336 m top"
    assert c.body.soc == pytest.approx(sortie.land_soc, abs=0.06)


def test_the_plan_for_a_flat_world_flies_into_the_hill(scenario: Scenario) -> None:
    sortie, items = _sortie(scenario, with_terrain=False)
    c, out = _fly(scenario, sortie, items, {})
    texts = [o.fields["text"].decode() for o in out if o.name == "STATUSTEXT"]
    assert c.crashed_at is not None and "Crash: Disarming" in texts
    lon, lat = c.crashed_at
    assert math.dist((lon, lat), (113.915, 22.505)) < 0.02, "on Da Nanshan"
    assert c.prearm_failures() and "Crashed" in c.prearm_failures()[-1]


def test_steep_climbs_and_descents_over_tanglang_follow_the_planned_line(scenario: Scenario) -> None:
    """Legs up and down Tanglang Shan's ridge are steeper than the drone climbs at full
    speed; flown as AC_WPNav flies them (slower across), the drone keeps its clearance."""
    sortie, items = _sortie(scenario, True, "taoyuan", "tanglang-ridge")
    ap = scenario.airports["taoyuan"]
    hts = Heights(scenario.ground, scenario.band, ap.elevation_m, ap.xy)
    wps = sortie.waypoints
    c, _ = _fly(
        scenario, sortie, items, flight_limits([w.xy for w in wps], [w.alt_m for w in wps], hts, 120.0), "taoyuan"
    )
    assert c.crashed_at is None
    assert c.lowest >= scenario.clearance_m - 1.0, c.lowest  # type: ignore[attr-defined]
    assert not c.armed and math.hypot(c.body.x, c.body.y) < 1.0
