"""Small objects from altitude: tiles when the pose says a car is too small at the input,
measured on real aerial photographs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vision.detector import DetectorConfig, OnnxDetector
from vision.evaluate import evaluate
from vision.frames import CameraPose
from vision.tiling import TilePolicy, detect_tiled, ground_sample_m, tile_boxes, tiles_per_side
from vision.train import DEFAULT_IMGSZ, DEFAULT_MODEL
from vision.types import Detection


def _pose(alt: float, pitch: float = -90.0) -> CameraPose:
    return CameraPose(113.9, 22.5, alt, 0.0, pitch, 84.0)


def test_the_grid_follows_the_ground_sample_distance() -> None:
    # 120 m straight down, 84 degrees over 1280 px: 0.169 m a pixel, a 4.5 m car 8.7 px at 416.
    assert ground_sample_m(_pose(120), 1280, 84.0) == pytest.approx(0.1688, abs=1e-3)
    policy = TilePolicy()
    assert tiles_per_side(_pose(120), 1280, 720, 416, policy, 84.0) == 2
    assert tiles_per_side(_pose(60), 1280, 720, 416, policy, 84.0) == 1, "17 px at 60 m: whole frame"
    assert tiles_per_side(_pose(120), 1280, 720, 640, policy, 84.0) == 1, "a larger input instead"
    assert tiles_per_side(_pose(300), 1280, 720, 416, policy, 84.0) == 2, "never more than max_k"
    assert tiles_per_side(_pose(120, pitch=0.0), 1280, 720, 416, policy, 84.0) == 1, "horizon: no ground"
    assert tiles_per_side(None, 1280, 720, 416, policy, 84.0) == 1
    with pytest.raises(ValueError):
        TilePolicy(max_k=0)


def test_tiles_cover_the_frame_and_overlap() -> None:
    tiles = tile_boxes(1280, 720, 2, 0.15)
    assert len(tiles) == 4 and tiles[0][:2] == (0, 0) and tiles[-1][2:] == (1280, 720)
    assert tiles[0][2] > tiles[1][0], "neighbours overlap"
    assert tile_boxes(1280, 720, 1, 0.15) == [(0, 0, 1280, 720)]


class _Fake:
    """Finds one box in every image it is given, at the crop's (10, 10)-(20, 20)."""

    def __init__(self) -> None:
        self.classes = {0: "vehicle"}
        self.config = DetectorConfig()
        self.calls: list[int] = []

    def detect(self, images):  # type: ignore[no-untyped-def]
        self.calls.append(len(images))
        return [[Detection("vehicle", 0.5 + 0.01 * i, (10.0, 10.0, 20.0, 20.0))] for i in range(len(images))]


def test_boxes_come_back_in_frame_pixels_and_duplicates_merge() -> None:
    fake = _Fake()
    out = detect_tiled(fake, [np.zeros((720, 1280, 3), np.uint8)], 2)
    assert fake.calls == [5], "the whole frame and four tiles, in one batch"
    corners = sorted(d.box[:2] for d in out[0])
    assert corners[0] == (10.0, 10.0), "the whole frame's box and the first tile's are one"
    last = tile_boxes(1280, 720, 2, 0.15)[-1]
    assert len(out[0]) == 4 and (10.0 + last[0], 10.0 + last[1]) in corners


def test_tiles_find_at_least_the_real_vehicles_of_the_whole_frame(shared_data: Path) -> None:
    """eval/vehicles, the shipped model at its input. With the epoch-13 model 2 x 2 tiles
    raised mAP50 from 0.59 to 0.62 on all 25 photographs; the epoch-27 model finds the
    small cars in the whole frame (0.653) and tiles now add recall (0.754 -> 0.769) at a
    little precision (mAP50 0.636): they must still find at least as many vehicles and
    cost at most 0.03 mAP50, or tiling is doing harm."""

    class Tiled:
        def __init__(self, k: int) -> None:
            self.inner = OnnxDetector(DEFAULT_MODEL, DetectorConfig(imgsz=DEFAULT_IMGSZ, conf=0.001))
            self.classes, self.config, self.k = self.inner.classes, self.inner.config, k

        def detect(self, images):  # type: ignore[no-untyped-def]
            return detect_tiled(self.inner, images, self.k)

    folder = shared_data / "eval" / "vehicles"
    whole, tiled = (evaluate(Tiled(k), folder, {0: "vehicle"}, 0.25).classes["vehicle"] for k in (1, 2))
    assert tiled.recall >= whole.recall and tiled.map50 >= whole.map50 - 0.03, (whole, tiled)
