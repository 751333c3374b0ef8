from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from missions.formats import qgc_plan, wpl
from missions.formats.items import Cmd, Frame, MissionItem, sortie_items
from missions.patrols import work_path
from missions.scenario import Scenario
from missions.sorties import plan_sorties


@pytest.fixture(scope="module")
def sortie_mission(scenario: Scenario) -> tuple[list[MissionItem], Scenario]:
    ap = scenario.airports["shekou"]
    p = scenario.patrols["parking-sea-world"]
    plan = plan_sorties(p.id, work_path(p, ap.drone), ap, scenario.airspace.router(frozenset()), (0.0, 0.0))
    return sortie_items(plan.sorties[0], scenario.frame, ap.lon, ap.lat, ap.elevation_m), scenario


def test_sortie_mission_follows_arducopter_conventions(sortie_mission: tuple[list[MissionItem], Scenario]) -> None:
    items, scenario = sortie_mission
    ap = scenario.airports["shekou"]
    assert [it.seq for it in items] == list(range(len(items)))
    home, takeoff, last = items[0], items[1], items[-1]
    assert (home.frame, home.command) == (Frame.GLOBAL, Cmd.NAV_WAYPOINT)
    assert home.x == pytest.approx(ap.lat) and home.y == pytest.approx(ap.lon) and home.z == ap.elevation_m
    assert takeoff.command == Cmd.NAV_TAKEOFF and takeoff.z > 0
    assert last.command == Cmd.NAV_RETURN_TO_LAUNCH
    hover = [it for it in items if it.command == Cmd.NAV_WAYPOINT and it.param1 > 0]
    assert hover and hover[0].param1 == scenario.patrols["parking-sea-world"].hover_s
    assert any(it.command == Cmd.DO_SET_ROI_LOCATION for it in items)
    assert all(it.z <= 120 for it in items[1:])


def test_plan_round_trips(sortie_mission: tuple[list[MissionItem], Scenario]) -> None:
    items, _ = sortie_mission
    plan = qgc_plan.Plan(tuple(items), (items[0].x, items[0].y, items[0].z))
    text = qgc_plan.dumps(plan)
    doc = json.loads(text)
    assert doc["fileType"] == "Plan" and doc["version"] == 1 and doc["groundStation"] == "QGroundControl"
    assert doc["mission"]["version"] == 2 and doc["mission"]["firmwareType"] == 3
    assert len(doc["mission"]["items"]) == len(items) - 1, "home is plannedHomePosition, not an item"
    back = qgc_plan.loads(text)
    assert len(back.items) == len(items)
    assert all(a.same_as(b) for a, b in zip(items, back.items, strict=True))


def test_wpl_round_trips(sortie_mission: tuple[list[MissionItem], Scenario]) -> None:
    items, _ = sortie_mission
    text = wpl.dumps(items)
    assert text.startswith("QGC WPL 110\n0\t1\t0\t16\t")
    back = wpl.loads(text)
    assert all(a.same_as(b) for a, b in zip(items, back, strict=True))


def test_qgroundcontrol_ardupilot_plan_imports(shared_data: Path) -> None:
    plan = qgc_plan.loads((shared_data / "missions" / "qgc_test_plans_ArduPilotSITL-ArduCopter.plan").read_text())
    assert plan.firmware == qgc_plan.FIRMWARE_ARDUPILOT
    assert len(plan.items) == 12, "11 items plus home at seq 0"
    assert plan.items[0].frame == Frame.GLOBAL and plan.items[1].command == Cmd.NAV_TAKEOFF
    commands = {it.command for it in plan.items}
    assert {Cmd.DO_CHANGE_SPEED, Cmd.NAV_LOITER_TIME, Cmd.NAV_SPLINE_WAYPOINT, Cmd.NAV_LAND} <= commands
    assert {it.frame for it in plan.items[1:]} >= {0, 2, 3, 10}
    assert any(math.isnan(it.param4) for it in plan.items), "null params are NaN"
    again = qgc_plan.loads(qgc_plan.dumps(plan))
    assert all(a.same_as(b) for a, b in zip(plan.items, again.items, strict=True))


def test_qgroundcontrol_px4_plan_imports(shared_data: Path) -> None:
    plan = qgc_plan.loads((shared_data / "missions" / "qgc_test_SITL_MAVLink_resources_simple_square.plan").read_text())
    assert plan.firmware == qgc_plan.FIRMWARE_PX4 and len(plan.items) == 6
    assert plan.home == (47.397742, 8.545594, 488)


def test_mission_planner_waypoints_import(shared_data: Path) -> None:
    items = wpl.loads((shared_data / "missions" / "qgc_test_MissionManager_MissionPlanner.waypoints.txt").read_text())
    assert len(items) == 15 and items[0].current == 1 and items[0].frame == 0
    assert {Cmd.DO_JUMP, Cmd.NAV_LOITER_TURNS, Cmd.DO_CHANGE_SPEED, Cmd.DO_LAND_START, Cmd.NAV_LAND} <= {
        it.command for it in items
    }
    assert all(a.same_as(b) for a, b in zip(items, wpl.loads(wpl.dumps(items)), strict=True))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "not JSON"),
        ('{"fileType": "Other"}', "not a QGroundControl plan"),
        ('{"fileType": "Plan", "mission": {"items": [], "plannedHomePosition": [1, 2]}}', "plannedHomePosition"),
        (
            '{"fileType": "Plan", "mission": {"plannedHomePosition": [1, 2, 3], "items": [{"type": "ComplexItem",'
            ' "complexItemType": "survey"}]}}',
            "survey items are not supported",
        ),
    ],
)
def test_bad_plans_are_refused_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(qgc_plan.PlanFormatError, match=fragment):
        qgc_plan.loads(text)


def test_bad_wpl_is_refused_with_the_line() -> None:
    with pytest.raises(wpl.WplFormatError, match="line 1"):
        wpl.loads("hello\n")
    with pytest.raises(wpl.WplFormatError, match="line 3: sequence 5"):
        wpl.loads("QGC WPL 110\n0\t1\t0\t16\t0\t0\t0\t0\t1\t2\t3\t1\n5\t0\t3\t16\t0\t0\t0\t0\t1\t2\t3\t1\n")
