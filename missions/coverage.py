"""Lawnmower (boustrophedon) coverage of a polygon from a camera footprint.

Lines run parallel to a sweep direction, spaced so that neighbouring footprints overlap
by the requested share; the outermost lines sit half a footprint inside the polygon's
extent so its edges are seen too. The sweep direction is chosen among the directions of
the polygon's convex-hull edges (an optimal sweep for a convex region is parallel to one
of them): fewest lines first, which minimises turns, then the shortest path.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from missions.geo import XY


@dataclass(frozen=True)
class Sweep:
    """A lawnmower pattern: ordered line segments and how they were chosen."""

    segments: tuple[tuple[XY, XY], ...]
    angle_deg: float
    """Direction of the lines, degrees counter-clockwise from east."""
    spacing_m: float
    footprint_w_m: float

    @property
    def waypoints(self) -> list[XY]:
        pts: list[XY] = []
        for a, b in self.segments:
            pts.extend((a, b))
        return pts

    @property
    def line_count(self) -> int:
        return len(self.segments)


def _candidate_angles(poly: Polygon) -> list[float]:
    hull = poly.convex_hull
    coords = list(hull.exterior.coords) if isinstance(hull, Polygon) else list(poly.exterior.coords)
    angles: set[float] = set()
    for (x0, y0), (x1, y1) in itertools.pairwise(coords):
        if math.hypot(x1 - x0, y1 - y0) > 1e-6:
            angles.add(round(math.degrees(math.atan2(y1 - y0, x1 - x0)) % 180.0, 6))
    return sorted(angles) or [0.0]


def _segments_at(poly: Polygon, angle_deg: float, spacing: float, footprint_w: float) -> list[tuple[XY, XY]]:
    origin = poly.centroid
    rot = affinity.rotate(poly, -angle_deg, origin=origin)
    minx, miny, maxx, maxy = rot.bounds
    height = maxy - miny
    inner = max(height - footprint_w, 0.0)
    n = max(1, math.ceil(inner / spacing - 1e-9) + 1)
    # Centre the lines in the extent: the first and last sit about half a footprint in.
    span = (n - 1) * spacing
    y0 = miny + (height - span) / 2
    segments: list[tuple[XY, XY]] = []
    half = footprint_w / 2
    for k in range(n):
        y = y0 + k * spacing
        # Fly across everything of the polygon inside this line's footprint band, so
        # slanted edges and sharp corners are seen as well as the line itself.
        band = rot.intersection(shapely.box(minx - 1, y - half, maxx + 1, y + half))
        parts = sorted(
            (g.bounds[0], g.bounds[2]) for g in getattr(band, "geoms", [band]) if not g.is_empty and g.area > 0
        )
        spans: list[list[float]] = []
        for x0, x1 in parts:
            if spans and x0 <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], x1)
            else:
                spans.append([x0, x1])
        row = [((x0, y), (x1, y)) for x0, x1 in spans]
        if k % 2:
            row = [(b, a) for a, b in reversed(row)]
        segments.extend(row)
    back: list[tuple[XY, XY]] = []
    for a, b in segments:
        la = affinity.rotate(LineString([a, b]), angle_deg, origin=origin)
        (ax, ay), (bx, by) = la.coords
        back.append(((ax, ay), (bx, by)))
    return back


def lawnmower(area: BaseGeometry, footprint_w_m: float, side_overlap: float) -> Sweep:
    """Cover a polygon with parallel lines for a camera footprint and side overlap."""
    if not 0.0 <= side_overlap < 0.95:
        raise ValueError("side overlap must be in [0, 0.95)")
    poly = area if isinstance(area, Polygon) else max(getattr(area, "geoms", [area]), key=lambda g: g.area)
    spacing = footprint_w_m * (1.0 - side_overlap)
    best: tuple[int, float, float, list[tuple[XY, XY]]] | None = None
    for angle in _candidate_angles(poly):
        segs = _segments_at(poly, angle, spacing, footprint_w_m)
        pts = [p for s in segs for p in s]
        length = float(np.sum(np.hypot(*np.diff(np.asarray(pts), axis=0).T))) if len(pts) > 1 else 0.0
        key = (len(segs), length)
        if best is None or key < (best[0], best[1]):
            best = (len(segs), length, angle, segs)
    assert best is not None
    return Sweep(tuple(best[3]), best[2], spacing, footprint_w_m)


def swath(a: XY, b: XY, footprint_w_m: float, footprint_h_m: float) -> BaseGeometry:
    """The ground a nadir camera sees flying a to b: the frame swept along the line."""
    length = math.dist(a, b)
    if length < 1e-9:
        return shapely.box(
            a[0] - footprint_w_m / 2, a[1] - footprint_h_m / 2, a[0] + footprint_w_m / 2, a[1] + footprint_h_m / 2
        )
    ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    ext = footprint_h_m / 2
    line = LineString([(a[0] - ux * ext, a[1] - uy * ext), (b[0] + ux * ext, b[1] + uy * ext)])
    return line.buffer(footprint_w_m / 2, cap_style="flat")


def footprint_union(
    segments: tuple[tuple[XY, XY], ...], footprint_w_m: float, footprint_h_m: float = 0.0
) -> BaseGeometry:
    """The ground seen along the lines."""
    # A 1 mm grid keeps GEOS robust where neighbouring swaths touch edge to edge.
    return shapely.union_all([swath(a, b, footprint_w_m, footprint_h_m) for a, b in segments], grid_size=0.001)
