"""`dronepatrol terrain`: import a DEM into a scenario, and show what the planner flies over."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from missions.errors import MissionsError


def add_parser(sub: argparse._SubParsersAction, scenario_arg: Callable[[argparse.ArgumentParser], None]) -> None:  # type: ignore[type-arg]
    tp = sub.add_parser("terrain", help="the ground under the flights: import a DEM, show the terrain model")
    tsub = tp.add_subparsers(dest="terrain_command", required=True)
    ip = tsub.add_parser(
        "import",
        help="GeoTIFF DEM tiles (Copernicus GLO-30, SRTM) into a scenario folder, cropped to the district",
    )
    ip.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ip.add_argument("--scenario", type=Path, required=True, help="the scenario folder to import into (a copy)")
    ip.add_argument(
        "--datum",
        choices=["EGM2008", "EGM96"],
        help="vertical datum when the files do not say: EGM2008 (Copernicus GLO-30), EGM96 (SRTM)",
    )
    sp = tsub.add_parser("show", help="the terrain model: its source, and the ground at each airport and summit")
    scenario_arg(sp)


def cmd_terrain(args: argparse.Namespace, scenario_path: Path | None) -> int:
    from orchestrator.terrain.dem_import import DemImportError, import_dem, spacing_note

    if args.terrain_command == "import":
        try:
            grid, path = import_dem(list(args.files), args.scenario, args.datum)
        except DemImportError as exc:
            print(f"dronepatrol: error: {exc}", file=sys.stderr)
            return 2
        print(f"imported {grid.source} into {path}: {spacing_note(grid)}")
        print(f"{args.scenario / 'scenario.yaml'} now reads its terrain from {path.name}")
        return 0
    return _show(scenario_path)


def _show(scenario_path: Path | None) -> int:
    from missions.scenario import load_scenario

    try:
        sc = load_scenario(scenario_path)
    except MissionsError as exc:
        print(f"dronepatrol: error: {exc}", file=sys.stderr)
        return 2
    g = sc.ground
    if g is None:
        print("no terrain model: the planner takes the ground as level with each pad (add `terrain:` to scenario.yaml)")
        return 0
    print(f"terrain: {g.label}")
    if g.approximate:
        print("APPROXIMATE: heights from published summits, not a survey; import a DEM for real heights")
    print(f"clearance {sc.clearance_m:.0f} m above the ground, ceiling {sc.airspace.ceiling_m:.0f} m above it")
    print("airport      pad m   ground m")
    for a in sc.airports.values():
        print(f"  {a.id:<10} {a.elevation_m:6.0f} {g.height(a.xy):9.0f}")
    top = float(g.z.max())
    i, j = divmod(int(g.z.argmax()), g.z.shape[1])
    lon, lat = sc.frame.to_lonlat(g.x0 + j * g.step, g.y0 + i * g.step)
    print(f"highest ground {top:.0f} m at {lat:.4f}, {lon:.4f} (lat, lon)")
    return 0
