"""What covers the ground, from the scenario and a seed: water, forest, roads, buildings,
bare ground. Vector features in the local frame, rasterised tile by tile.

Procedural but anchored to the scenario: the patrol roads run where the scenario's route
patrols say, forests lie over the forest patrols' hills, construction sites over theirs;
the rest of the district is an urban grid of streets and blocks seeded per block.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from missions.patrols import PatrolKind, Target
from missions.scenario import Scenario

BLOCK_M = 220.0
"""Urban grid spacing."""
STREET_W = 14.0
ROAD_W = 24.0
"""Width of the scenario's patrol roads."""


class Cover(IntEnum):
    URBAN = 0
    WATER = 1
    FOREST = 2
    ROAD = 3
    BUILDING = 4
    BARE = 5
    GRASS = 6
    ROOF_RED = 7
    TARP = 8


@dataclass
class Landcover:
    """The district's cover as shapes; `raster` turns an area into a class image."""

    scenario: Scenario
    seed: int = 0
    water: BaseGeometry = field(init=False)
    forest: BaseGeometry = field(init=False)
    bare: BaseGeometry = field(init=False)
    roads: list[tuple[np.ndarray, float]] = field(init=False)
    """Polylines (metres) and their widths."""

    def __post_init__(self) -> None:
        sc = self.scenario
        land = sc.airspace.operating_area
        minx, miny, maxx, maxy = land.bounds
        self.bounds = (minx - 3000, miny - 3000, maxx + 3000, maxy + 3000)
        forests, bare, roads = [], [], []
        for p in sc.patrols.values():
            if p.kind is PatrolKind.AREA and Target.FIRE in p.looks_for and Target.ILLEGAL_PARKING not in p.looks_for:
                forests.append(p.geometry.buffer(500))
            elif p.kind is PatrolKind.AREA:
                bare.append(p.geometry)
            elif p.kind is PatrolKind.ROUTE:
                roads.append((np.asarray(p.geometry.coords)[:, :2], ROAD_W))
                if Target.FIRE in p.looks_for:
                    forests.append(p.geometry.buffer(90))  # a green corridor along it
        reservoirs = [sc.frame.to_xy(113.948, 22.606), sc.frame.to_xy(113.978, 22.600)]
        lakes = [Point(xy).buffer(r) for xy, r in zip(reservoirs, (550.0, 350.0), strict=True)]
        self.water = unary_union([shapely.box(*self.bounds).difference(land), *lakes])
        self.forest = unary_union(forests).difference(self.water)
        self.bare = unary_union(bare) if bare else Polygon()
        self.roads = roads
        shapely.prepare(self.water)
        shapely.prepare(self.forest)
        shapely.prepare(self.bare)

    def cover_at(self, x: float, y: float) -> Cover:
        """The cover of one point (for placing objects sensibly)."""
        if shapely.contains_xy(self.water, x, y):
            return Cover.WATER
        if shapely.contains_xy(self.forest, x, y):
            return Cover.FOREST
        for line, width in self.roads:
            if LineString(line).distance(Point(x, y)) <= width / 2:
                return Cover.ROAD
        if shapely.contains_xy(self.bare, x, y):
            return Cover.BARE
        return Cover.URBAN

    def raster(self, x0: float, y0: float, res: float, size: int) -> np.ndarray:
        """Class image (size x size, row 0 at the north edge) of the square whose
        south-west corner is (x0, y0), at res metres per pixel."""
        import cv2

        img = np.full((size, size), int(Cover.URBAN), np.uint8)
        span = size * res
        tile = shapely.box(x0, y0, x0 + span, y0 + span)

        def to_px(coords: np.ndarray) -> np.ndarray:
            px = np.empty_like(coords)
            px[:, 0] = (coords[:, 0] - x0) / res
            px[:, 1] = (y0 + span - coords[:, 1]) / res
            return np.round(px * 4).astype(np.int32)  # 2 fractional bits for cv2's shift

        def fill(geom: BaseGeometry, value: Cover) -> None:
            part = geom.intersection(tile) if not geom.is_empty else geom
            for poly in getattr(part, "geoms", [part]):
                if isinstance(poly, Polygon) and not poly.is_empty:
                    holes = [to_px(np.asarray(r.coords)) for r in poly.interiors]
                    cv2.fillPoly(img, [to_px(np.asarray(poly.exterior.coords))], int(value), cv2.LINE_8, 2)
                    for h in holes:
                        cv2.fillPoly(img, [h], int(Cover.URBAN), cv2.LINE_8, 2)

        urban = tile.difference(self.water).difference(self.forest).difference(self.bare)
        if not urban.is_empty and res <= 4.0:
            self._urban_blocks(img, x0, y0, res, size, to_px)
        fill(self.bare, Cover.BARE)
        fill(self.forest, Cover.FOREST)
        for line, width in self.roads:
            pts = to_px(line)
            cv2.polylines(img, [pts], False, int(Cover.ROAD), max(1, round(width / res)), cv2.LINE_8, 2)
        fill(self.water, Cover.WATER)
        return img

    def _urban_blocks(self, img: np.ndarray, x0: float, y0: float, res: float, size: int, to_px) -> None:  # type: ignore[no-untyped-def]
        import cv2

        span = size * res
        i0, i1 = math.floor(x0 / BLOCK_M), math.floor((x0 + span) / BLOCK_M)
        j0, j1 = math.floor(y0 / BLOCK_M), math.floor((y0 + span) / BLOCK_M)
        street = max(1, round(STREET_W / res))
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                rng = random.Random(hash((self.seed, i, j)) & 0xFFFFFFFF)
                bx, by = i * BLOCK_M + STREET_W / 2, j * BLOCK_M + STREET_W / 2
                inner = BLOCK_M - STREET_W
                kind = rng.random()
                if kind < 0.12:
                    cv2.rectangle(
                        img,
                        tuple(to_px(np.array([[bx, by + inner]]))[0]),
                        tuple(to_px(np.array([[bx + inner, by]]))[0]),
                        int(Cover.GRASS),
                        -1,
                        cv2.LINE_8,
                        2,
                    )
                    continue
                n = rng.randint(2, 5)
                for _ in range(n * n // 2 + 1):
                    w, h = rng.uniform(20, inner / n * 1.6), rng.uniform(20, inner / n * 1.6)
                    cx, cy = bx + rng.uniform(w / 2, inner - w / 2), by + rng.uniform(h / 2, inner - h / 2)
                    roof = (
                        Cover.ROOF_RED
                        if rng.random() < 0.08
                        else (Cover.TARP if rng.random() < 0.02 else Cover.BUILDING)
                    )
                    a = to_px(np.array([[cx - w / 2, cy + h / 2]]))[0]
                    b = to_px(np.array([[cx + w / 2, cy - h / 2]]))[0]
                    cv2.rectangle(img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), int(roof), -1, cv2.LINE_8, 2)
        # streets over the blocks
        for i in range(i0, i1 + 2):
            x = i * BLOCK_M
            p = to_px(np.array([[x, y0 - 1], [x, y0 + span + 1]]))
            cv2.line(img, tuple(p[0]), tuple(p[1]), int(Cover.ROAD), street, cv2.LINE_8, 2)
        for j in range(j0, j1 + 2):
            y = j * BLOCK_M
            p = to_px(np.array([[x0 - 1, y], [x0 + span + 1, y]]))
            cv2.line(img, tuple(p[0]), tuple(p[1]), int(Cover.ROAD), street, cv2.LINE_8, 2)
