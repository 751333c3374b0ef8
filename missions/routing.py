"""Shortest transit paths through free airspace (a visibility graph).

Free space is the operating area minus every zone a flight may not enter at that time.
The shortest obstacle-avoiding path between two points in a polygonal domain bends only
at reflex vertices of the free space, so the graph keeps just those: for the Nanshan
scenario that is a few dozen nodes, and a query costs one vectorised visibility test
from each end plus Dijkstra over the small precomputed graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from missions.geo import XY

NODE_INSET_M = 2.0
"""Graph nodes sit this far inside free space, so a leg between two of them never
grazes a zone boundary through rounding."""


@dataclass(frozen=True)
class Route:
    """A transit path: its vertices (start and goal included) and its length in metres."""

    points: tuple[XY, ...]
    length_m: float


class Unreachable(Exception):
    """No path through free space joins the two points."""


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom] if not geom.is_empty else []
    if isinstance(geom, MultiPolygon):
        return [g for g in geom.geoms if not g.is_empty]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]


def _ring(coords: Iterable[Sequence[float]]) -> list[XY]:
    return [(float(c[0]), float(c[1])) for c in coords]


def _reflex_vertices(ring: Sequence[XY], hole: bool) -> list[XY]:
    """Vertices where free space turns 'inwards' (the only places a shortest path bends)."""
    pts = list(ring)[:-1]
    n = len(pts)
    if n < 3:
        return []
    area2 = sum(pts[i][0] * pts[(i + 1) % n][1] - pts[(i + 1) % n][0] * pts[i][1] for i in range(n))
    ccw = area2 > 0
    out: list[XY] = []
    for i in range(n):
        ax, ay = pts[i - 1]
        bx, by = pts[i]
        cx, cy = pts[(i + 1) % n]
        cross = (bx - ax) * (cy - by) - (by - ay) * (cx - bx)
        # Exterior ring of free space: reflex where it turns against its orientation.
        # Holes (obstacles) are seen from outside, so their convex corners count.
        convex = (cross > 0) == ccw
        if convex == hole:
            out.append((float(bx), float(by)))
    return out


class Router:
    """Shortest paths inside one free-space geometry; build once, query many times."""

    def __init__(self, free_space: BaseGeometry) -> None:
        self.free = free_space
        shapely.prepare(free_space)
        inset = free_space.buffer(-NODE_INSET_M, join_style="mitre")
        nodes: list[XY] = []
        for poly in _polygons(inset):
            nodes.extend(_reflex_vertices(_ring(poly.exterior.coords), hole=False))
            for interior in poly.interiors:
                nodes.extend(_reflex_vertices(_ring(interior.coords), hole=True))
        self.nodes: list[XY] = nodes
        self._node_arr = np.asarray(nodes, dtype=float).reshape(-1, 2)
        n = len(nodes)
        dist = np.full((n, n), math.inf)
        np.fill_diagonal(dist, 0.0)
        for i in range(n - 1):
            visible = self._visible_from(nodes[i], self._node_arr[i + 1 :])
            js = i + 1 + np.nonzero(visible)[0]
            d = np.hypot(*(self._node_arr[js] - self._node_arr[i]).T)
            dist[i, js] = d
            dist[js, i] = d
        # All pairs by Floyd-Warshall over the small graph: a query is then two
        # visibility tests and one vectorised minimum, with no search at all.
        nxt = np.where(np.isfinite(dist), np.arange(n)[None, :], -1)
        for k in range(n):
            via = dist[:, k, None] + dist[None, k, :]
            better = via < dist
            dist = np.where(better, via, dist)
            nxt = np.where(better, nxt[:, k, None], nxt)
        self._dist = dist
        self._next = nxt
        self._vis_cache: dict[XY, np.ndarray] = {}

    def contains(self, p: XY) -> bool:
        return bool(shapely.intersects_xy(self.free, p[0], p[1]))

    def clear(self, a: XY, b: XY) -> bool:
        """True when the straight leg a-b stays in free space."""
        if a == b:
            return self.contains(a)
        return bool(self.free.covers(LineString([a, b])))

    def _visible_from(self, p: XY, targets: np.ndarray) -> np.ndarray:
        if len(targets) == 0:
            return np.zeros(0, dtype=bool)
        coords = np.empty((len(targets), 2, 2))
        coords[:, 0, :] = p
        coords[:, 1, :] = targets
        lines = shapely.linestrings(coords)
        return np.asarray(shapely.covers(self.free, lines), dtype=bool)

    def _visible_nodes(self, p: XY) -> np.ndarray:
        """Indices of graph nodes in sight of p; cached, as airports are asked about often."""
        hit = self._vis_cache.get(p)
        if hit is None:
            hit = np.nonzero(self._visible_from(p, self._node_arr))[0]
            if len(self._vis_cache) > 4096:
                self._vis_cache.clear()
            self._vis_cache[p] = hit
        return hit

    def _chain(self, i: int, j: int) -> list[XY]:
        chain = [self.nodes[i]]
        while i != j:
            i = int(self._next[i, j])
            chain.append(self.nodes[i])
        return chain

    def route(self, a: XY, b: XY) -> Route:
        """The shortest path from a to b; raises Unreachable when there is none."""
        if not self.contains(a) or not self.contains(b):
            raise Unreachable(f"{'start' if not self.contains(a) else 'goal'} is not in free airspace")
        if self.clear(a, b):
            return Route((a, b), math.dist(a, b))
        ia, ib = self._visible_nodes(a), self._visible_nodes(b)
        if len(ia) == 0 or len(ib) == 0:
            raise Unreachable("no path through free airspace")
        da = np.hypot(*(self._node_arr[ia] - np.asarray(a)).T)
        db = np.hypot(*(self._node_arr[ib] - np.asarray(b)).T)
        total = da[:, None] + self._dist[np.ix_(ia, ib)] + db[None, :]
        k = int(np.argmin(total))
        best = float(total.flat[k])
        if not math.isfinite(best):
            raise Unreachable("no path through free airspace")
        i, j = int(ia[k // len(ib)]), int(ib[k % len(ib)])
        return Route((a, *self._chain(i, j), b), best)

    def distance_field(self, source: XY, targets: np.ndarray) -> np.ndarray:
        """Shortest-path length from one source to many targets ((n, 2) array); inf if none.

        Used by coverage analysis: straight lines in one vectorised test, then one
        visibility test per blocked target.
        """
        targets = np.asarray(targets, dtype=float).reshape(-1, 2)
        out = np.full(len(targets), math.inf)
        if not self.contains(source):
            return out
        straight = self._visible_from(source, targets)
        inside = np.asarray(shapely.covers(self.free, shapely.points(targets)), dtype=bool)
        out[straight] = np.hypot(*(targets[straight] - np.asarray(source)).T)
        ia = self._visible_nodes(source)
        if len(ia) == 0:
            return out
        da = np.hypot(*(self._node_arr[ia] - np.asarray(source)).T)
        node_dist = np.min(da[:, None] + self._dist[ia, :], axis=0)
        blocked = np.nonzero(~straight & inside)[0]
        n = len(self._node_arr)
        for chunk in np.array_split(blocked, max(1, len(blocked) * n // 50_000 + 1)):
            if len(chunk) == 0:
                continue
            coords = np.empty((len(chunk), n, 2, 2))
            coords[:, :, 0, :] = targets[chunk][:, None, :]
            coords[:, :, 1, :] = self._node_arr[None, :, :]
            vis = np.asarray(shapely.covers(self.free, shapely.linestrings(coords.reshape(-1, 2, 2))), dtype=bool)
            vis = vis.reshape(len(chunk), n)
            legs = np.hypot(
                targets[chunk][:, None, 0] - self._node_arr[None, :, 0],
                targets[chunk][:, None, 1] - self._node_arr[None, :, 1],
            )
            total = np.where(vis, legs + node_dist[None, :], np.inf)
            out[chunk] = np.min(total, axis=1)
        return out
