from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from shapely.geometry import shape

from missions.airspace import ZoneKind
from missions.errors import ScenarioError
from missions.patrols import PatrolKind, Target
from missions.scenario import Scenario, load_scenario
from orchestrator.cli import main

SUBDISTRICTS = {"Nantou", "Nanshan", "Shahe", "Shekou", "Zhaoshang", "Yuehai", "Taoyuan", "Xili"}


def test_builtin_scenario_has_the_district_as_asked(scenario: Scenario) -> None:
    assert {a.subdistrict for a in scenario.airports.values()} == SUBDISTRICTS
    assert len(scenario.airports) == 8
    kinds = {z.kind for z in scenario.airspace.zones}
    assert kinds == {ZoneKind.NO_FLY, ZoneKind.APPROVAL}
    assert scenario.airspace.ceiling_m == 120
    assert any(z.active for z in scenario.airspace.zones), "a temporary restriction with a time window"
    assert {p.kind for p in scenario.patrols.values()} == set(PatrolKind)
    looks = {t for p in scenario.patrols.values() for t in p.looks_for}
    assert {Target.FIRE, Target.SMOKE, Target.ILLEGAL_PARKING} <= looks


def test_builtin_outline_matches_the_reference_boundary(scenario: Scenario, shared_data: Path) -> None:
    ref = shape(
        json.loads((shared_data / "nanshan" / "nanshan_440305_wgs84.geojson").read_text())["features"][0]["geometry"]
    )
    mainland = max(ref.geoms, key=lambda g: g.area)
    ours = scenario.frame.geometry_to_lonlat(scenario.airspace.operating_area)
    assert ours.symmetric_difference(mainland).area / mainland.area < 0.01


def test_airports_are_near_their_subdistricts(scenario: Scenario, shared_data: Path) -> None:
    targets = json.loads((shared_data / "nanshan" / "nanshan_patrol_targets_wgs84.geojson").read_text())
    centres = {
        f["properties"]["name_en"].split()[0]: f["geometry"]["coordinates"]
        for f in targets["features"]
        if f["properties"]["category"] == "subdistrict"
    }
    for ap in scenario.airports.values():
        lon, lat = centres[ap.subdistrict]
        x, y = scenario.to_xy(lon, lat)
        assert ((ap.xy[0] - x) ** 2 + (ap.xy[1] - y) ** 2) ** 0.5 < 4500, ap.id


def _edit_yaml(folder: Path, fn) -> None:  # type: ignore[no-untyped-def]
    path = folder / "scenario.yaml"
    doc = yaml.safe_load(path.read_text())
    fn(doc)
    path.write_text(yaml.safe_dump(doc))


def _edit_patrol(folder: Path, patrol_id: str, fn) -> None:  # type: ignore[no-untyped-def]
    path = folder / "patrols.geojson"
    doc = json.loads(path.read_text())
    for f in doc["features"]:
        if f["properties"]["id"] == patrol_id:
            fn(f)
    path.write_text(json.dumps(doc))


BOWTIE = [[113.893, 22.528], [113.904, 22.538], [113.904, 22.528], [113.893, 22.538], [113.893, 22.528]]
FEB_30 = "0 10 30 2 *"

BROKEN = {
    "malformed yaml": (
        lambda d: (d / "scenario.yaml").write_text("version: 1\nname: [unclosed\n"),
        "scenario.yaml",
        "not valid YAML",
    ),
    "unknown key": (lambda d: _edit_yaml(d, lambda y: y.update(colour="red")), "colour", "Extra inputs"),
    "self-intersecting polygon": (
        lambda d: _edit_patrol(
            d,
            "qianhai-construction",
            lambda f: f["geometry"].update(
                coordinates=[
                    [[113.893, 22.528], [113.904, 22.538], [113.904, 22.528], [113.893, 22.538], [113.893, 22.528]]
                ]
            ),
        ),
        "qianhai-construction",
        "Self-intersection",
    ),
    "point outside the district": (
        lambda d: _edit_patrol(d, "parking-sea-world", lambda f: f["geometry"].update(coordinates=[114.2, 22.3])),
        "parking-sea-world",
        "outside the operating area",
    ),
    "patrol inside a no-fly zone": (
        lambda d: _edit_patrol(d, "parking-sea-world", lambda f: f["geometry"].update(coordinates=[113.9254, 22.5588])),
        "parking-sea-world",
        "no-fly zone 'zgnt-core'",
    ),
    "impossible recurrence": (
        lambda d: _edit_patrol(
            d, "qianhai-construction", lambda f: f["properties"]["schedule"].update(cron="0 10 30 2 *")
        ),
        "qianhai-construction",
        "none of its months",
    ),
    "unknown airport": (
        lambda d: _edit_patrol(d, "qianhai-construction", lambda f: f["properties"].update(airports=["mars"])),
        "qianhai-construction",
        "unknown airport(s) mars",
    ),
    "missing file": (lambda d: (d / "airspace.geojson").unlink(), "airspace.geojson", "file not found"),
    "airport outside": (
        lambda d: _edit_yaml(d, lambda y: y["airports"][0].update(lon=114.3)),
        "airport 'xili'",
        "outside",
    ),
    "bad altitude": (
        lambda d: _edit_patrol(d, "qianhai-construction", lambda f: f["properties"].update(altitude_m=150)),
        "qianhai-construction",
        "above the 120 m ceiling",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_bad_scenarios_name_the_file_the_item_and_the_reason(scenario_copy: Path, case: str) -> None:
    breaker, item, reason = BROKEN[case]
    breaker(scenario_copy)
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario_copy)
    message = str(info.value)
    assert item in message and reason in message
    assert str(scenario_copy) in message


@pytest.mark.parametrize("case", ["malformed yaml", "point outside the district", "impossible recurrence"])
def test_the_cli_reports_bad_scenarios_in_one_line_with_exit_code_2(
    scenario_copy: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    BROKEN[case][0](scenario_copy)
    assert main(["plan", "--scenario", str(scenario_copy)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and BROKEN[case][2] in err


def test_detection_zones_are_checked(scenario_copy: Path) -> None:
    path = scenario_copy / "incidents.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["detection_zones"][0]["class_conf"] = {"smoke": 1.5}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ScenarioError, match="between 0 and 1"):
        load_scenario(scenario_copy)
    doc["detection_zones"][0]["class_conf"] = {"smoke": 0.6}
    doc["detection_zones"][0]["confirm"] = {"k": 9, "n": 3}
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ScenarioError, match="cannot exceed"):
        load_scenario(scenario_copy)
