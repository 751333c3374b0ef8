"""Ground texture tiles: the landcover coloured and textured, cached by level and index.

Level l has 0.25 * 2**l metres per pixel; a tile is 256 pixels square. Textures are
world-aligned (a pixel's noise depends on where it is, not on which tile it is in), so
neighbouring tiles join without seams and a tile looks the same every time it is made.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from sim.scene.landcover import Cover, Landcover

TILE = 256
BASE_RES = 0.25
LEVELS = 8
CACHE_TILES = 1500
"""About 300 MB of BGR tiles at most."""

# BGR colours of each cover, with how much texture each gets.
PALETTE: dict[Cover, tuple[tuple[int, int, int], float]] = {
    Cover.URBAN: ((120, 124, 128), 14.0),
    Cover.WATER: ((110, 82, 40), 5.0),
    Cover.FOREST: ((48, 92, 46), 22.0),
    Cover.ROAD: ((72, 72, 74), 6.0),
    Cover.BUILDING: ((168, 170, 172), 10.0),
    Cover.BARE: ((102, 140, 170), 16.0),
    Cover.GRASS: ((64, 140, 96), 14.0),
    Cover.ROOF_RED: ((52, 64, 170), 10.0),
    Cover.TARP: ((30, 120, 235), 8.0),
}


def resolution(level: int) -> float:
    return BASE_RES * 2**level


class TileCache:
    """Makes and keeps ground tiles."""

    def __init__(self, landcover: Landcover, seed: int = 0) -> None:
        self.landcover = landcover
        rng = np.random.default_rng(seed)
        # One noise field per octave, sampled at world coordinates.
        self._noise = [rng.normal(0.0, 1.0, (512, 512)).astype(np.float32) for _ in range(3)]
        self._lut = np.zeros((256, 3), np.float32)
        self._amp = np.zeros(256, np.float32)
        for cover, (bgr, amp) in PALETTE.items():
            self._lut[int(cover)] = bgr
            self._amp[int(cover)] = amp
        self._cache: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self.made = 0

    def tile(self, level: int, i: int, j: int) -> np.ndarray:
        """BGR tile (TILE x TILE); (i, j) counts tiles east and north from the origin."""
        key = (level, i, j)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        res = resolution(level)
        x0, y0 = i * TILE * res, j * TILE * res
        classes = self.landcover.raster(x0, y0, res, TILE)
        img = self._lut[classes].copy()
        texture = self._texture(x0, y0, res)
        img += (texture * self._amp[classes])[..., None]
        out = np.clip(img, 0, 255).astype(np.uint8)
        self._cache[key] = out
        self.made += 1
        if len(self._cache) > CACHE_TILES:
            self._cache.popitem(last=False)
        return out

    def _texture(self, x0: float, y0: float, res: float) -> np.ndarray:
        import cv2

        cols = (x0 + (np.arange(TILE) + 0.5) * res).astype(np.float64)
        rows = (y0 + (TILE - np.arange(TILE) - 0.5) * res).astype(np.float64)
        total = np.zeros((TILE, TILE), np.float32)
        for k, (noise, cell) in enumerate(zip(self._noise, (1.0, 6.0, 40.0), strict=True)):
            # Octave k: one noise sample per `cell` metres, bilinearly interpolated.
            if cell < res / 2:
                continue
            mx = np.broadcast_to(((cols / cell) % 512).astype(np.float32)[None, :], (TILE, TILE))
            my = np.broadcast_to(((rows / cell) % 512).astype(np.float32)[:, None], (TILE, TILE))
            sample = cv2.remap(
                noise, np.ascontiguousarray(mx), np.ascontiguousarray(my), cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP
            )
            total += sample * (0.5 ** (2 - k) if k < 2 else 0.6)
        return total / 1.2

    def mosaic(self, level: int, xmin: float, ymin: float, xmax: float, ymax: float) -> tuple[np.ndarray, float, float]:
        """An image covering the box, and the world (x, y) of its top-left pixel corner."""
        res = resolution(level)
        span = TILE * res
        i0, i1 = math.floor(xmin / span), math.floor(xmax / span)
        j0, j1 = math.floor(ymin / span), math.floor(ymax / span)
        out = np.empty(((j1 - j0 + 1) * TILE, (i1 - i0 + 1) * TILE, 3), np.uint8)
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                r = (j1 - j) * TILE
                c = (i - i0) * TILE
                out[r : r + TILE, c : c + TILE] = self.tile(level, i, j)
        return out, i0 * span, (j1 + 1) * span
