"""`dronepatrol terrain import`: real GeoTIFFs written here with rasterio, good and bad."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from missions.scenario import Scenario, load_scenario
from missions.terrain import DemGrid
from orchestrator.cli import main

ARCSEC = 1 / 3600


def _tif(
    path: Path,
    scenario: Scenario,
    *,
    west: float = 113.70,
    north: float = 22.72,
    east: float = 114.10,
    south: float = 22.35,
    crs: str | CRS = "EPSG:4326",
    step: float = 3 * ARCSEC,
    bump: float = 0.0,
) -> Path:
    """A DEM of the shipped relief (plus `bump` metres), as GeoTIFF tiles are laid out."""
    assert scenario.ground is not None
    cols, rows = round((east - west) / step), round((north - south) / step)
    lon = west + (np.arange(cols) + 0.5) * step
    lat = north - (np.arange(rows) + 0.5) * step
    lo, la = np.meshgrid(lon, lat)
    z = (scenario.ground.terrain.heights(lo, la) + bump).astype("float32")
    profile = {
        "driver": "GTiff",
        "height": rows,
        "width": cols,
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "transform": from_origin(west, north, step, step),
        "nodata": -32767.0,
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(z, 1)
    return path


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def test_two_tiles_are_mosaicked_cropped_and_used_by_the_planner(
    tmp_path: Path, scenario: Scenario, scenario_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    west = _tif(tmp_path / "w.tif", scenario, east=113.95, bump=7.0)
    east = _tif(tmp_path / "e.tif", scenario, west=113.95, bump=7.0)
    assert (
        main(["terrain", "import", str(west), str(east), "--scenario", str(scenario_copy), "--datum", "EGM2008"]) == 0
    )
    assert "dem.npz" in capsys.readouterr().out
    sc = load_scenario(scenario_copy)
    assert sc.ground is not None and not sc.ground.approximate and "EGM2008" in sc.ground.label
    grid = DemGrid.load(scenario_copy / "dem.npz")
    w, s, e, n = grid.bounds
    dw, ds_, de, dn = sc.district_lonlat.bounds
    assert w < dw and e > de and s < ds_ and n > dn and e - w < 0.5, "cropped to the district with a margin"
    summit = sc.to_xy(113.97, 22.65)
    assert sc.ground.height(summit) == pytest.approx(587.3 + 7.0, abs=3.0)
    assert main(["plan", "--scenario", str(scenario_copy), "--hours", "12"]) == 0
    assert "Heights: 30-120 m above the ground, over terrain: DEM" in capsys.readouterr().out


def test_a_projected_dem_is_warped_to_wgs84(tmp_path: Path, scenario: Scenario, scenario_copy: Path) -> None:
    from pyproj import Transformer

    utm = Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    x0, y0 = utm.transform(113.70, 22.72)
    x1, y1 = utm.transform(114.10, 22.35)
    assert scenario.ground is not None
    step = 90.0
    cols, rows = round((x1 - x0) / step), round((y0 - y1) / step)
    xs = x0 + (np.arange(cols) + 0.5) * step
    ys = y0 - (np.arange(rows) + 0.5) * step
    gx, gy = np.meshgrid(xs, ys)
    back = Transformer.from_crs("EPSG:32649", "EPSG:4326", always_xy=True)
    lon, lat = back.transform(gx, gy)
    z = scenario.ground.terrain.heights(lon, lat).astype("float32")
    path = tmp_path / "utm.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=rows,
        width=cols,
        count=1,
        dtype="float32",
        crs="EPSG:32649",
        transform=from_origin(x0, y0, step, step),
    ) as ds:
        ds.write(z, 1)
    assert main(["terrain", "import", str(path), "--scenario", str(scenario_copy), "--datum", "EGM96"]) == 0
    sc = load_scenario(scenario_copy)
    assert sc.ground is not None
    assert sc.ground.height(sc.to_xy(113.99, 22.585)) == pytest.approx(430, abs=6.0)


@pytest.mark.parametrize(
    ("make", "args", "reason"),
    [
        (lambda p, sc: _tif(p, sc), [], "does not say its vertical datum"),
        (lambda p, sc: _tif(p, sc, east=113.90), ["--datum", "EGM2008"], "does not cover the operating area"),
        (lambda p, sc: _tif(p, sc, crs=CRS.from_epsg(4979)), ["--datum", "EGM2008"], "not above mean sea level"),
        (lambda p, sc: _tif(p, sc, bump=20000.0), ["--datum", "EGM2008"], "not terrain heights"),
        (lambda p, sc: (p.write_bytes(b"II*\x00garbage" * 50), p)[1], ["--datum", "EGM2008"], "not a raster"),
        (lambda p, sc: p.with_name("missing.tif"), ["--datum", "EGM2008"], "no such file"),
    ],
    ids=["no-datum", "not-covering", "ellipsoidal", "implausible", "corrupt", "missing"],
)
def test_a_bad_dem_is_refused_in_one_line_and_the_scenario_is_untouched(
    tmp_path: Path,
    scenario: Scenario,
    scenario_copy: Path,
    capsys: pytest.CaptureFixture[str],
    make: object,
    args: list[str],
    reason: str,
) -> None:
    path = make(tmp_path / "dem.tif", scenario)  # type: ignore[operator]
    before = _digest(scenario_copy)
    assert main(["terrain", "import", str(path), "--scenario", str(scenario_copy), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and reason in err and path.name in err, err
    assert _digest(scenario_copy) == before
