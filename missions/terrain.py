"""The ground's height: a DEM grid or an approximate relief, behind one interface.

Everything that flies over Nanshan needs the ground under it: the planner keeps a
clearance above it and the 120 m ceiling measured from it, the simulator crashes into
it, vision projects pixels onto it. Two sources answer the same question, "how high is
the ground here, above mean sea level":

- `DemGrid`: a regular lon/lat grid of heights, imported from GeoTIFF tiles (Copernicus
  GLO-30, SRTM) by `dronepatrol terrain import`, with the vertical datum it came in.
- `Relief`: hills made from published summit heights and positions, shipped with the
  scenario until a real DEM is imported. It is approximate, and says so everywhere it
  shows (`approximate`, `label`).

`Ground` puts either on the planner's local metric grid, so that a leg's profile is a
few array lookups, and its `spacing_m` is the distance at which legs are sampled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from missions.geo import XY, LocalFrame

M_PER_DEG_LAT = 110_574.0
"""Metres per degree of latitude near 22.5 N (WGS84), for grid spacings only."""

VOID_DM = np.iinfo(np.int32).min
"""A void (no height: sea in some DEMs, radar shadow in SRTM) as stored in dem.npz."""

MSL_DATUMS = frozenset({"EGM2008", "EGM96"})
"""Vertical datums taken as mean sea level. Over Shenzhen EGM96 and EGM2008 differ by
well under a metre, below any DEM's error here; MAVLink's GLOBAL frame is above MSL."""


class Terrain(Protocol):
    """Ground height above mean sea level at WGS84 positions."""

    @property
    def label(self) -> str:
        """Where the heights come from, for the operator (says "approximate" where so)."""
        ...

    @property
    def approximate(self) -> bool: ...

    @property
    def spacing_m(self) -> float:
        """The distance between independent heights: legs are checked at this spacing."""
        ...

    def heights(self, lons: npt.ArrayLike, lats: npt.ArrayLike) -> np.ndarray:
        """Metres above mean sea level at each (lon, lat)."""
        ...


@dataclass(frozen=True)
class Hill:
    """One hill of the relief: a smooth bump with an elliptical foot.

    Height falls from the summit as (1 - r^2)^2 of the normalised distance r from it,
    reaching the base at the foot's ellipse (`along_m` along `axis_deg`, `across_m`
    across it) with a level tangent, so ridges meet the plain without a step.
    """

    name: str
    lon: float
    lat: float
    summit_m: float
    along_m: float
    across_m: float
    axis_deg: float = 0.0
    """Compass bearing of the long axis (a ridge's direction)."""
    source: str = ""


@dataclass(frozen=True)
class Relief:
    """Approximate ground built from hills on a level base (the scenario's `relief.yaml`)."""

    hills: tuple[Hill, ...]
    base_m: float = 5.0
    name: str = "relief"
    spacing_m: float = 30.0
    approximate: bool = True

    @property
    def label(self) -> str:
        return (
            f"approximate relief from {len(self.hills)} published summits ({self.name}); import a DEM for real heights"
        )

    def heights(self, lons: npt.ArrayLike, lats: npt.ArrayLike) -> np.ndarray:
        lon = np.asarray(lons, float)
        lat = np.asarray(lats, float)
        out = np.full(np.broadcast(lon, lat).shape, self.base_m, float)
        for h in self.hills:
            east = (lon - h.lon) * M_PER_DEG_LAT * math.cos(math.radians(h.lat))
            north = (lat - h.lat) * M_PER_DEG_LAT
            a = math.radians(h.axis_deg)
            along = east * math.sin(a) + north * math.cos(a)
            across = east * math.cos(a) - north * math.sin(a)
            r2 = (along / h.along_m) ** 2 + (across / h.across_m) ** 2
            bump = self.base_m + (h.summit_m - self.base_m) * np.clip(1.0 - r2, 0.0, None) ** 2
            out = np.maximum(out, bump)
        return out


@dataclass(frozen=True)
class DemGrid:
    """Heights on a regular WGS84 grid, row 0 at the north edge (as GeoTIFFs are).

    Pixel centres are at `west + (j + 0.5) * dlon`, `north - (i + 0.5) * dlat`; heights
    between them are bilinear. Outside the grid there is no answer (NaN): a plan that
    leaves the DEM is refused, not flown over invented ground.
    """

    west: float
    north: float
    dlon: float
    dlat: float
    z: np.ndarray = field(repr=False)
    datum: str = "EGM2008"
    source: str = ""
    approximate: bool = False

    @property
    def label(self) -> str:
        return f"DEM {self.source} ({self.datum}, {self.spacing_m:.0f} m)"

    @property
    def spacing_m(self) -> float:
        lat = self.north - self.dlat * self.z.shape[0] / 2
        return float(min(self.dlat, self.dlon * math.cos(math.radians(lat))) * M_PER_DEG_LAT)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the pixel edges."""
        rows, cols = self.z.shape
        return self.west, self.north - rows * self.dlat, self.west + cols * self.dlon, self.north

    def heights(self, lons: npt.ArrayLike, lats: npt.ArrayLike) -> np.ndarray:
        lon = np.asarray(lons, float)
        lat = np.asarray(lats, float)
        rows, cols = self.z.shape
        fj = (lon - self.west) / self.dlon - 0.5
        fi = (self.north - lat) / self.dlat - 0.5
        inside = (fj >= -0.5) & (fj <= cols - 0.5) & (fi >= -0.5) & (fi <= rows - 0.5)
        fj = np.clip(fj, 0.0, cols - 1.0)
        fi = np.clip(fi, 0.0, rows - 1.0)
        j0 = np.minimum(np.floor(fj).astype(int), max(cols - 2, 0))
        i0 = np.minimum(np.floor(fi).astype(int), max(rows - 2, 0))
        j1 = np.minimum(j0 + 1, cols - 1)
        i1 = np.minimum(i0 + 1, rows - 1)
        tj, ti = fj - j0, fi - i0
        z = self.z
        top = z[i0, j0] * (1 - tj) + z[i0, j1] * tj
        bottom = z[i1, j0] * (1 - tj) + z[i1, j1] * tj
        out = top * (1 - ti) + bottom * ti
        return np.where(inside, out, np.nan)

    def save(self, path: Path) -> None:
        """A compressed .npz: the heights in decimetres and the grid's metadata."""
        meta: dict[str, float | str] = {"west": self.west, "north": self.north, "dlon": self.dlon, "dlat": self.dlat}
        meta |= {"datum": self.datum, "source": self.source}
        dm = np.where(np.isfinite(self.z), np.round(np.nan_to_num(self.z) * 10), VOID_DM).astype(np.int32)
        with path.open("wb") as fh:
            np.savez_compressed(fh, z_dm=dm, meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: Path) -> DemGrid:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            dm = f["z_dm"]
            z = np.where(dm == VOID_DM, np.nan, dm / 10.0)
        return cls(meta["west"], meta["north"], meta["dlon"], meta["dlat"], z, meta["datum"], meta["source"])


class Ground:
    """A terrain resampled on the planner's local metric grid, over a bounding box.

    Sampling once at scenario load turns every later question (the ground under a
    waypoint, the profile along a leg) into bilinear lookups in metres, fast enough for
    the sortie splitter's bisection. `relative_to` gives heights above a pad.
    """

    def __init__(self, terrain: Terrain, frame: LocalFrame, bounds_xy: tuple[float, float, float, float]) -> None:
        self.terrain = terrain
        self.frame = frame
        self.fit_cache: dict[object, tuple[tuple[XY, float], ...]] = {}
        """`missions.clearance.fit_leg`'s answers for this ground."""
        self.spacing_m = float(terrain.spacing_m)
        x0, y0, x1, y1 = bounds_xy
        step = self.spacing_m
        self.x0, self.y0 = x0 - step, y0 - step
        nx = math.ceil((x1 - x0) / step) + 3
        ny = math.ceil((y1 - y0) / step) + 3
        xs = self.x0 + np.arange(nx) * step
        ys = self.y0 + np.arange(ny) * step
        gx, gy = np.meshgrid(xs, ys)
        ll = frame.many_to_lonlat(gx.ravel(), gy.ravel())
        self.z = terrain.heights(ll[:, 0], ll[:, 1]).reshape(ny, nx)
        self.step = step
        self._rows: list[list[float]] = self.z.tolist()
        self._flat_z = self.z.ravel()
        # Lowest and highest ground per block of cells, for a quick look at a leg (only
        # where the model is complete: a leg near a hole is always sampled).
        self._complete = bool(np.isfinite(self.z).all())
        self._bmin: list[list[float]] = []
        self._bmax: list[list[float]] = []
        if self._complete:
            b = self.BLOCK
            zz = np.pad(self.z, ((0, (-ny) % b + 1), (0, (-nx) % b + 1)), mode="edge")
            blocks = np.lib.stride_tricks.sliding_window_view(zz, (b + 1, b + 1))[::b, ::b]
            self._bmin = blocks.min(axis=(2, 3)).tolist()
            self._bmax = blocks.max(axis=(2, 3)).tolist()

    BLOCK = 8
    """Cells per side of the blocks whose lowest and highest ground `span` reads."""

    def span(self, a: XY, b: XY) -> tuple[float, float] | None:
        """The lowest and highest ground in the box around a and b (a little wider), or
        None when that is not known (part of it lies off the model)."""
        if not self._complete:
            return None
        blk = self.step * self.BLOCK
        i0 = int((min(a[1], b[1]) - self.y0) // blk)
        i1 = int((max(a[1], b[1]) - self.y0) // blk)
        j0 = int((min(a[0], b[0]) - self.x0) // blk)
        j1 = int((max(a[0], b[0]) - self.x0) // blk)
        if i0 < 0 or j0 < 0 or i1 >= len(self._bmin) or j1 >= len(self._bmin[0]):
            return None
        lo = min(min(row[j0 : j1 + 1]) for row in self._bmin[i0 : i1 + 1])
        hi = max(max(row[j0 : j1 + 1]) for row in self._bmax[i0 : i1 + 1])
        return lo, hi

    @property
    def label(self) -> str:
        return self.terrain.label

    @property
    def approximate(self) -> bool:
        return self.terrain.approximate

    def at(self, xs: npt.ArrayLike, ys: npt.ArrayLike) -> np.ndarray:
        """Ground height above mean sea level at local points (NaN outside the model)."""
        fx = (np.asarray(xs, float) - self.x0) / self.step
        fy = (np.asarray(ys, float) - self.y0) / self.step
        ny, nx = self.z.shape
        inside = (fx >= 0) & (fx <= nx - 1) & (fy >= 0) & (fy <= ny - 1)
        fx = np.minimum(np.maximum(fx, 0), nx - 1.000001)
        fy = np.minimum(np.maximum(fy, 0), ny - 1.000001)
        j, i = fx.astype(int), fy.astype(int)
        tx, ty = fx - j, fy - i
        z = self.z
        v = (z[i, j] * (1 - tx) + z[i, j + 1] * tx) * (1 - ty) + (z[i + 1, j] * (1 - tx) + z[i + 1, j + 1] * tx) * ty
        return np.where(inside, v, np.nan)

    def height(self, xy: XY) -> float:
        """`at` for one point, without numpy's per-call cost (the planner asks often)."""
        fx = (xy[0] - self.x0) / self.step
        fy = (xy[1] - self.y0) / self.step
        ny, nx = self.z.shape
        if not (0 <= fx <= nx - 1 and 0 <= fy <= ny - 1):
            return math.nan
        j, i = min(int(fx), nx - 2), min(int(fy), ny - 2)
        tx, ty = fx - j, fy - i
        r0, r1 = self._rows[i], self._rows[i + 1]
        return (r0[j] * (1 - tx) + r0[j + 1] * tx) * (1 - ty) + (r1[j] * (1 - tx) + r1[j + 1] * tx) * ty

    def profile(self, a: XY, b: XY, spacing_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(fractions along a->b, ground heights) at the model's spacing, ends included."""
        length = math.dist(a, b)
        n = max(1, math.ceil(length / (spacing_m or self.spacing_m)))
        f = np.arange(n + 1) * (1.0 / n)
        ny, nx = self.z.shape
        ax, ay = (a[0] - self.x0) / self.step, (a[1] - self.y0) / self.step
        bx, by = (b[0] - self.x0) / self.step, (b[1] - self.y0) / self.step
        if not (0 <= min(ax, bx) and max(ax, bx) <= nx - 1 and 0 <= min(ay, by) and max(ay, by) <= ny - 1):
            return f, self.at(a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
        # Both ends on the grid, so the whole leg is (the grid is a rectangle): the
        # bilinear lookup without `at`'s bounds handling, the planner's inner loop.
        fx = ax + (bx - ax) * f
        fy = ay + (by - ay) * f
        j = np.minimum(fx.astype(np.intp), nx - 2)
        i = np.minimum(fy.astype(np.intp), ny - 2)
        tx, ty = fx - j, fy - i
        k = i * nx + j
        z = self._flat_z
        top = z[k] + (z[k + 1] - z[k]) * tx
        bottom = z[k + nx] + (z[k + nx + 1] - z[k + nx]) * tx
        return f, top + (bottom - top) * ty


def contour_lines_xy(ground: Ground, step_m: float = 100.0) -> list[tuple[float, list[np.ndarray]]]:
    """Contour lines of the ground every `step_m` metres, as (height, [polylines in the
    local frame's metres, n x 2])."""
    import contourpy

    ny, nx = ground.z.shape
    xs = ground.x0 + np.arange(nx) * ground.step
    ys = ground.y0 + np.arange(ny) * ground.step
    z = np.ma.masked_invalid(ground.z)
    gen = contourpy.contour_generator(xs, ys, z, line_type=contourpy.LineType.Separate)
    top = float(np.nanmax(ground.z)) if np.isfinite(ground.z).any() else 0.0
    out: list[tuple[float, list[np.ndarray]]] = []
    level = step_m
    while level <= top:
        lines = [np.asarray(seg, float) for seg in gen.lines(level)]
        if lines:
            out.append((level, lines))
        level += step_m
    return out


def contour_lines(ground: Ground, step_m: float = 100.0) -> list[tuple[float, list[list[tuple[float, float]]]]]:
    """Contour lines of the ground every `step_m` metres, as (height, [lon/lat polylines]),
    for maps: the relief an operator sees under the patrols."""
    out: list[tuple[float, list[list[tuple[float, float]]]]] = []
    for level, segs in contour_lines_xy(ground, step_m):
        lines = []
        for pts in segs:
            ll = ground.frame.many_to_lonlat(pts[:, 0], pts[:, 1])
            lines.append([(round(float(a), 5), round(float(b), 5)) for a, b in ll])
        out.append((level, lines))
    return out
