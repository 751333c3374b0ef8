"""Writing a day's plan to files: one QGroundControl .plan per sortie and paths.geojson,
or one DJI KMZ (WPML wayline) per sortie for airports that are DJI docks."""

from __future__ import annotations

import json
from pathlib import Path

from missions.clearance import Heights, flight_limits
from missions.formats import geojson, qgc_plan, wpml
from missions.formats.items import sortie_items
from missions.planner import DayPlan, ScheduledSortie
from missions.scenario import Scenario


def _file_name(s: ScheduledSortie) -> str:
    return f"{s.launch_at:%Y%m%dT%H%M}_{s.airport_id}_{s.patrol_id}_{s.sortie.number}of{s.sortie.of}"


def write_kmz_files(scenario: Scenario, plan: DayPlan, out: Path, drone: str) -> list[tuple[Path, str, list[str]]]:
    """One KMZ per sortie as a DJI dock flying a `drone` (M3D, M3TD, M4D, M4TD) takes it:
    (path, MD5 fingerprint, what the conversion changed) for each. Its return height is
    the sortie's RTL height over the terrain."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for s in plan.sorties:
        ap = scenario.airports[s.airport_id]
        items = sortie_items(s.sortie, scenario.frame, ap.lon, ap.lat, ap.elevation_m)
        wps = s.sortie.waypoints
        heights = Heights(scenario.ground, scenario.band, ap.elevation_m, ap.xy)
        limits = flight_limits([w.xy for w in wps], [w.alt_m for w in wps], heights, scenario.airspace.ceiling_m)
        mission = wpml.from_items(
            items, ap.elevation_m, drone, rth_height_m=limits["RTL_ALT"] / 100, transit_speed=ap.drone.cruise_speed_ms
        )
        data = wpml.write_kmz(mission)
        path = out / f"{_file_name(s)}.kmz"
        path.write_bytes(data)
        written.append((path, wpml.fingerprint(data), list(mission.notes)))
    return written


def write_plan_files(scenario: Scenario, plan: DayPlan, out: Path) -> list[Path]:
    """Write the files; returns their paths (the GeoJSON last)."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    features = geojson.patrol_features(scenario.patrols.values(), scenario.frame)
    for s in plan.sorties:
        ap = scenario.airports[s.airport_id]
        items = sortie_items(s.sortie, scenario.frame, ap.lon, ap.lat, ap.elevation_m)
        doc = qgc_plan.Plan(tuple(items), (ap.lat, ap.lon, ap.elevation_m), cruise_speed=ap.drone.cruise_speed_ms)
        name = f"{_file_name(s)}.plan"
        path = out / name
        path.write_text(qgc_plan.dumps(doc), encoding="utf-8")
        written.append(path)
        coords = []
        for wp in s.sortie.waypoints:
            lon, lat = scenario.frame.to_lonlat(*wp.xy)
            coords.append((lon, lat, wp.alt_m))
        features.append(
            geojson.path_feature(
                coords,
                {
                    "airport": s.airport_id,
                    "patrol": s.patrol_id,
                    "sortie": f"{s.sortie.number}/{s.sortie.of}",
                    "launch": s.launch_at.isoformat(),
                    "landed": s.landed_at.isoformat(),
                    "battery_at_landing": round(s.sortie.land_soc, 3),
                    "file": name,
                },
            )
        )
    gj = out / "paths.geojson"
    gj.write_text(json.dumps(geojson.collection(features), ensure_ascii=False), encoding="utf-8")
    written.append(gj)
    return written
