"""`dronepatrol kmz FILE...`: read DJI KMZ files (what Pilot 2 or FlightHub 2 wrote, or
`plan --kmz`), say what each flies and what a dock would refuse; `--geojson` writes their
waylines as lines, the form a patrol route is drawn in."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from missions.formats import geojson, wpml
from missions.formats.wpml_read import read_kmz


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    kp = sub.add_parser("kmz", help="read DJI KMZ wayline files: what they fly, what a dock would refuse")
    kp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    kp.add_argument("--drone", choices=sorted(wpml.DOCK_DRONES), help="check against this dock aircraft")
    kp.add_argument("--json", action="store_true", help="print JSON instead of text")
    kp.add_argument("--geojson", type=Path, metavar="OUT", help="write the waylines as GeoJSON lines here")


def summary(path: Path, m: wpml.WaylineMission, problems: list[str]) -> dict[str, Any]:
    return {
        "file": str(path),
        "fingerprint": wpml.fingerprint(path.read_bytes()),
        "wpml_version": m.version,
        "template": m.template_type,
        "drone": m.drone,
        "waylines": len(m.waylines),
        "waypoints": m.waypoint_count,
        "length_m": round(m.length_m(), 1),
        "height_modes": sorted({w.height_mode for w in m.waylines}),
        "takeoff_security_height_m": m.takeoff_security_height,
        "rth_height_m": m.rth_height,
        "finish": m.finish_action,
        "problems": problems,
    }


def cmd_kmz(args: argparse.Namespace) -> int:
    """Exit 2 when a file cannot be read or a dock would refuse it (each reason on its line)."""
    reports, features, bad = [], [], 0
    for path in args.files:
        try:
            mission = read_kmz(path.read_bytes())
        except OSError as exc:
            print(f"dronepatrol: error: {path}: {exc.strerror or exc}", file=sys.stderr)
            bad += 1
            continue
        except wpml.WpmlError as exc:
            print(f"dronepatrol: error: {path}: {exc}", file=sys.stderr)
            bad += 1
            continue
        found = wpml.problems(mission, dock=args.drone is not None, drone=args.drone)
        bad += bool(found)
        reports.append(summary(path, mission, found))
        for line in mission.waylines:
            coords = [(p.lon, p.lat, p.height) for p in line.waypoints]
            props = {"file": path.name, "wayline": line.wayline_id, "height_mode": line.height_mode}
            features.append(geojson.path_feature(coords, props))
    if args.json:
        print(json.dumps(reports, ensure_ascii=False, indent=2))
    else:
        for r in reports:
            print(
                f"{r['file']}: {r['template']} for {r['drone']}, {r['waylines']} wayline(s), "
                f"{r['waypoints']} waypoints, "
                f"{r['length_m'] / 1000:.2f} km, heights {'/'.join(r['height_modes'])}, take-off "
                f"{r['takeoff_security_height_m']:g} m, return at {r['rth_height_m']:g} m, then {r['finish']} "
                f"(wpml {r['wpml_version']}, md5 {r['fingerprint']})"
            )
            for problem in r["problems"]:
                print(f"  a dock would refuse it: {problem}")
    if args.geojson:
        args.geojson.write_text(json.dumps(geojson.collection(features), ensure_ascii=False), encoding="utf-8")
    return 2 if bad else 0
