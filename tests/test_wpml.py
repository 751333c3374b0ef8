"""DJI WPML/KMZ: the two real KMZ files DJI software wrote over Nanshan are read; a
planned sortie becomes a wayline a dock accepts, written reproducibly (its MD5 is the
fingerprint the dock checks) and read back the same; what a dock would refuse is named;
a broken or hostile file is refused with the reason."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from missions.formats.items import Cmd, Frame, MissionItem, sortie_items
from missions.formats.wpml import (
    DOCK_DRONES,
    NANSHAN_GEOID_M,
    WpmlError,
    fingerprint,
    from_items,
    problems,
    write_kmz,
)
from missions.formats.wpml_read import read_kmz
from missions.planner import DayPlan, plan_day
from missions.scenario import Scenario
from orchestrator.cli import main


def test_the_real_dji_files_are_read(shared_data: Path) -> None:
    waypoint = read_kmz((shared_data / "dji" / "waypoint.kmz").read_bytes())
    assert waypoint.version == "1.0.6" and waypoint.template_type == "waypoint"
    assert waypoint.waypoint_count == 6 and waypoint.waylines[0].height_mode == "relativeToStartPoint"
    assert waypoint.finish_action == "goHome" and waypoint.takeoff_security_height == 20
    first = waypoint.waylines[0].waypoints[0]
    assert (first.lon, first.lat) == pytest.approx((113.938831009663, 22.578839083348))
    assert first.height == pytest.approx(54.346750023) and first.speed == 10
    shots = [a.func for g in first.groups for a in g.actions]
    assert "orientedShoot" in shots and "takePhoto" in shots
    assert 150 < waypoint.length_m() < 220  # DJI's own wpml:distance says 183.6 m
    assert problems(waypoint, dock=False) == []

    mapping = read_kmz((shared_data / "dji" / "mapping3d.kmz").read_bytes())
    assert mapping.template_type == "mapping3d" and len(mapping.waylines) == 5 and mapping.waypoint_count == 33
    assert {w.height_mode for w in mapping.waylines} == {"WGS84"}
    assert problems(mapping, dock=False) == [], "action group ids repeat only across waylines"
    # Neither is a dock's aircraft (M3E 77 and M30 67): a dock flying an M3D says so.
    assert problems(waypoint, drone="M3D") == ["written for drone 77/1, the dock flies a M3D"]


@pytest.fixture(scope="module")
def day(scenario: Scenario) -> DayPlan:
    return plan_day(scenario, scenario.day_start(), 24)


def _a_sortie(scenario: Scenario, plan: DayPlan) -> tuple[list[MissionItem], float, float]:
    s = next(s for s in plan.sorties if s.patrol_id and any(w.hold_s > 0 for w in s.sortie.waypoints))
    ap = scenario.airports[s.airport_id]
    return (
        sortie_items(s.sortie, scenario.frame, ap.lon, ap.lat, ap.elevation_m),
        ap.elevation_m,
        ap.drone.cruise_speed_ms,
    )


@pytest.mark.parametrize("drone", sorted(DOCK_DRONES))
def test_a_planned_sortie_is_a_wayline_a_dock_accepts_and_reads_back(
    scenario: Scenario, day: DayPlan, drone: str
) -> None:
    items, pad, cruise = _a_sortie(scenario, day)
    mission = from_items(items, pad, drone, rth_height_m=60, transit_speed=cruise)
    assert problems(mission, drone=drone) == []
    data = write_kmz(mission)
    assert fingerprint(data) == fingerprint(write_kmz(mission)), "the same mission, the same bytes"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert sorted(z.namelist()) == ["wpmz/template.kml", "wpmz/waylines.wpml"]
        assert b"http://www.dji.com/wpmz/1.0.6" in z.read("wpmz/waylines.wpml")
    back = read_kmz(data)
    assert back == mission
    assert back.drone == drone
    navs = [i for i in items if i.command == Cmd.NAV_WAYPOINT][1:]  # item 0 is home
    line = back.waylines[0]
    assert len(line.waypoints) == len(navs)
    for item, wp in zip(navs, line.waypoints, strict=True):
        assert (wp.lat, wp.lon) == pytest.approx((item.x, item.y))
        assert wp.height == pytest.approx(item.z + NANSHAN_GEOID_M, abs=0.01), "ellipsoidal = sea level + N"
        assert bool(wp.groups) == (item.param1 > 0), "a hold at a point is a hover there"
    takeoff = next(i for i in items if i.command == Cmd.NAV_TAKEOFF)
    assert back.takeoff_security_height == pytest.approx(max(8.0, takeoff.z - pad), abs=0.1)
    assert back.finish_action == "goHome" and back.rth_height == 60


def test_what_a_dock_refuses_is_named() -> None:
    home = MissionItem(0, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=22.54, y=113.95, z=12)
    takeoff = MissionItem(1, Frame.GLOBAL, Cmd.NAV_TAKEOFF, x=22.54, y=113.95, z=62)
    fast = MissionItem(2, Frame.MISSION, Cmd.DO_CHANGE_SPEED, 1, 20, -1)
    orbit = MissionItem(3, Frame.GLOBAL, Cmd.NAV_LOITER_TURNS, 2, 0, 40, x=22.545, y=113.956, z=72)
    rtl = MissionItem(4, Frame.GLOBAL_RELATIVE_ALT, Cmd.NAV_RETURN_TO_LAUNCH)
    m = from_items([home, takeoff, fast, orbit, rtl], 12, "M4TD", rth_height_m=3000)
    assert m.waylines[0].waypoints[0].speed == 15 and m.rth_height == 1500
    assert any("speed 20 m/s flown at 15 m/s" in n for n in m.notes)
    assert any("orbit of 2 turns at 40 m flown as a" in n for n in m.notes)
    assert problems(m, drone="M4TD") == []
    land = MissionItem(4, Frame.GLOBAL, Cmd.NAV_LAND, x=22.5, y=113.9, z=8)
    with pytest.raises(WpmlError, match="comes home to its own dock"):
        from_items([home, takeoff, orbit, land], 12, "M3D", rth_height_m=60)
    with pytest.raises(WpmlError, match="unknown dock drone"):
        from_items([home, takeoff, orbit, rtl], 12, "Mavic", rth_height_m=60)
    bad = m.__class__(m.waylines, m.drone_enum, m.drone_sub, takeoff_security_height=5, transitional_speed=18)
    said = problems(bad)
    assert "takeOffSecurityHeight 5 outside [8, 1500]" in said and "globalTransitionalSpeed 18 outside [1, 15]" in said


def _kmz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not a zip", "not a zip file"),
        (_kmz({"wpmz/template.kml": b"<kml/>"}), "no wpmz/waylines.wpml"),
        (_kmz({"wpmz/waylines.wpml": b"<kml><Document>"}), "not XML"),
        (_kmz({"wpmz/waylines.wpml": b"<kml><Document/></kml>"}), "no wpml: elements"),
        (
            _kmz({"wpmz/waylines.wpml": b'<!DOCTYPE kml [<!ENTITY a "aaaa">]><kml>&a;</kml>'}),
            "document type declaration",
        ),
        (
            _kmz(
                {
                    "wpmz/waylines.wpml": b'<kml xmlns:wpml="http://www.dji.com/wpmz/1.0.2"><Document>'
                    b"<wpml:missionConfig><wpml:finishAction>goHome</wpml:finishAction></wpml:missionConfig>"
                    b"</Document></kml>"
                }
            ),
            "missing wpml:",
        ),
    ],
)
def test_a_broken_or_hostile_kmz_is_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(WpmlError, match=reason):
        read_kmz(data)


def test_plan_writes_a_kmz_per_sortie_and_kmz_reads_them_and_djis_own(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--kmz", str(tmp_path / "kmz"), "--dock-drone", "M4TD"]) == 0
    files = sorted((tmp_path / "kmz").glob("*.kmz"))
    capsys.readouterr()
    assert len(files) >= 30
    out = tmp_path / "routes.geojson"
    assert main(["kmz", *map(str, files), "--drone", "M4TD", "--json", "--geojson", str(out)]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert len(reports) == len(files) and all(r["drone"] == "M4TD" and r["problems"] == [] for r in reports)
    assert len(json.loads(out.read_text())["features"]) == len(files)
    real = [str(shared_data / "dji" / "waypoint.kmz"), str(shared_data / "dji" / "mapping3d.kmz")]
    assert main(["kmz", *real]) == 0
    assert main(["kmz", real[0], "--drone", "M3D"]) == 2, "an M3E's wayline on an M3D dock"
    text = capsys.readouterr().out
    assert "a dock would refuse it: written for drone 77/1, the dock flies a M3D" in text
    broken = tmp_path / "broken.kmz"
    broken.write_bytes(b"PK not really")
    assert main(["kmz", str(broken), str(tmp_path / "missing.kmz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "not a zip file" in err[0] and "missing.kmz" in err[1] and "Traceback" not in "".join(err)
