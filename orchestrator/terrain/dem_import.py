"""GeoTIFF DEM tiles (Copernicus GLO-30, SRTM, a survey's) into a scenario's `dem.npz`.

rasterio (GDAL) reads the tiles, whatever their compression, tiling and coordinate
system: geographic WGS84 or CGCS2000 tiles are used as they are, projected ones are
warped to WGS84. The heights must be above mean sea level (EGM2008 for GLO-30, EGM96 for
SRTM): the file's own vertical CRS says which where it has one, `--datum` where it does
not; heights above the ellipsoid are refused (in Shenzhen they differ from sea level by
a few metres, which the planner must not guess). The mosaic is cropped to the district
with a margin, checked to cover it (the scenario loader's own check), and only then
written and named in scenario.yaml: a bad file leaves the scenario as it was.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from missions.errors import MissionsError
from missions.terrain import MSL_DATUMS, DemGrid

DEM_FILE = "dem.npz"
MARGIN_DEG = 0.03
"""Kept round the district's outline (about 3 km): the planner's grid reaches 2 km out."""
PLAUSIBLE_M = (-450.0, 9000.0)
GEOGRAPHIC_OK = frozenset({4326, 4490})
"""WGS84 and CGCS2000: the same to a few centimetres, used without warping."""


class DemImportError(MissionsError):
    """A DEM file that cannot be used; the message names the file and why."""


def _vertical_datum(crs: object) -> str | None:
    """The vertical datum a compound CRS declares (EGM2008, EGM96, ELLIPSOID), or None."""
    from pyproj import CRS

    try:
        parsed = CRS.from_wkt(crs.to_wkt())  # type: ignore[attr-defined]
    except Exception:
        return None
    for sub in parsed.sub_crs_list or [parsed]:
        if sub.is_vertical:
            name = (sub.datum.name if sub.datum else sub.name).upper()
            if "2008" in name:
                return "EGM2008"
            if "96" in name:
                return "EGM96"
            return "OTHER:" + name
    if parsed.is_geographic and len(parsed.axis_info) == 3:
        return "ELLIPSOID"
    return None


def read_dem(files: list[Path], bounds: tuple[float, float, float, float], datum: str | None) -> DemGrid:
    """The tiles mosaicked on a WGS84 grid over `bounds` (west, south, east, north)."""
    import rasterio
    from rasterio.crs import CRS as RioCRS
    from rasterio.errors import RasterioError
    from rasterio.merge import merge
    from rasterio.vrt import WarpedVRT

    if datum is not None and datum.upper() not in MSL_DATUMS:
        raise DemImportError(f"--datum {datum}: heights must be above mean sea level ({', '.join(sorted(MSL_DATUMS))})")
    found: set[str] = set()
    opened = []
    with contextlib.ExitStack() as stack:
        for f in files:
            try:
                ds = stack.enter_context(rasterio.open(f))
            except (RasterioError, OSError) as exc:
                raise DemImportError(f"{f}: not a raster GDAL can read ({exc})") from None
            if ds.crs is None:
                raise DemImportError(f"{f}: has no coordinate reference system (a GeoTIFF without georeferencing)")
            if ds.count < 1:
                raise DemImportError(f"{f}: has no band of heights")
            vd = _vertical_datum(ds.crs)
            if vd == "ELLIPSOID" or (vd or "").startswith("OTHER:"):
                raise DemImportError(
                    f"{f}: heights are {vd.split(':', 1)[-1].lower() if vd else ''} heights, not above mean sea "
                    "level: convert them to EGM2008 first"
                )
            if vd is not None:
                if datum is not None and vd != datum.upper():
                    raise DemImportError(f"{f}: the file says its heights are {vd}, not {datum.upper()}")
                found.add(vd)
            epsg = ds.crs.to_epsg() if ds.crs.is_geographic else None
            if epsg in GEOGRAPHIC_OK or (ds.crs.is_geographic and epsg is None and "WGS" in ds.crs.to_wkt().upper()):
                opened.append(ds)
            else:
                vrt = stack.enter_context(WarpedVRT(ds, crs=RioCRS.from_epsg(4326), resampling=1))
                opened.append(vrt)
        if len(found) > 1:
            raise DemImportError(f"the tiles mix vertical datums: {', '.join(sorted(found))}")
        final = next(iter(found), None) or (datum.upper() if datum else None)
        if final is None:
            raise DemImportError(
                f"{files[0]}: the file does not say its vertical datum: give --datum EGM2008 "
                "(Copernicus GLO-30) or --datum EGM96 (SRTM)"
            )
        w, s, e, n = bounds
        res = min(abs(ds.res[0]) for ds in opened), min(abs(ds.res[1]) for ds in opened)
        try:
            mosaic, transform = merge(opened, bounds=(w, s, e, n), res=res, nodata=np.nan, dtype="float32")
        except (RasterioError, ValueError) as exc:
            raise DemImportError(f"{files[0]}: cannot mosaic the tiles ({exc})") from None
        nodatas = {ds.nodata for ds in opened if ds.nodata is not None}
    z = mosaic[0].astype(float)
    for v in nodatas:
        z[z == v] = np.nan
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        raise DemImportError(f"{files[0]}: has no heights inside the district")
    if finite.min() < PLAUSIBLE_M[0] or finite.max() > PLAUSIBLE_M[1]:
        raise DemImportError(
            f"{files[0]}: heights {finite.min():.0f}..{finite.max():.0f} m are not terrain heights in metres"
        )
    # Sea and voids: GLO-30 writes the sea as 0 and SRTM leaves voids; a void on land
    # would be invented ground, so voids stay NaN (the loader refuses one under a flight).
    source = ", ".join(f.name for f in files)
    return DemGrid(transform.c, transform.f, transform.a, -transform.e, z, final, source)


def district_bounds(scenario_dir: Path) -> tuple[float, float, float, float]:
    from missions.scenario import load_scenario

    sc = load_scenario(scenario_dir)
    w, s, e, n = sc.district_lonlat.bounds
    return w - MARGIN_DEG, s - MARGIN_DEG, e + MARGIN_DEG, n + MARGIN_DEG


_TERRAIN_LINE = re.compile(r"^terrain:.*$", re.MULTILINE)


def import_dem(files: list[Path], scenario_dir: Path, datum: str | None) -> tuple[DemGrid, Path]:
    """Read, check against the scenario and install; returns the grid and where it went."""
    from missions.scenario import load_scenario

    main = scenario_dir / "scenario.yaml"
    if not main.is_file():
        raise DemImportError(f"{scenario_dir}: not a scenario folder (no scenario.yaml)")
    if not os.access(scenario_dir, os.W_OK):
        raise DemImportError(f"{scenario_dir}: cannot write here (copy the scenario folder and import into the copy)")
    for f in files:
        if not f.is_file():
            raise DemImportError(f"{f}: no such file")
    grid = read_dem(files, district_bounds(scenario_dir), datum)
    text = main.read_text(encoding="utf-8")
    line = f"terrain: {DEM_FILE}            # DEM imported by `dronepatrol terrain import` ({grid.datum})"
    new_text = _TERRAIN_LINE.sub(line, text) if _TERRAIN_LINE.search(text) else text.rstrip("\n") + "\n" + line + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / "scenario"
        shutil.copytree(scenario_dir, trial)
        grid.save(trial / DEM_FILE)
        (trial / "scenario.yaml").write_text(new_text, encoding="utf-8")
        try:
            load_scenario(trial)
        except MissionsError as exc:
            reason = getattr(exc, "reason", str(exc))
            raise DemImportError(f"{files[0]}: {reason}") from None
        staged = scenario_dir / (DEM_FILE + ".new")
        shutil.copyfile(trial / DEM_FILE, staged)
    os.replace(staged, scenario_dir / DEM_FILE)
    tmp_yaml = main.with_suffix(".yaml.new")
    tmp_yaml.write_text(new_text, encoding="utf-8")
    os.replace(tmp_yaml, main)
    return grid, scenario_dir / DEM_FILE


def spacing_note(grid: DemGrid) -> str:
    rows, cols = grid.z.shape
    voids = int(np.isnan(grid.z).sum())
    lat = grid.north - grid.dlat * rows / 2
    return (
        f'{cols} x {rows} heights, {grid.dlon * 3600:.2f}" x {grid.dlat * 3600:.2f}" '
        f"(about {grid.dlon * 111_320 * math.cos(math.radians(lat)):.0f} x {grid.dlat * 110_574:.0f} m), "
        f"{np.nanmin(grid.z):.0f}..{np.nanmax(grid.z):.0f} m {grid.datum}, {voids} voids"
    )
