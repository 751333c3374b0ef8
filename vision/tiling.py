"""Small objects from altitude: cut the frame into tiles when a car would be too few
pixels at the network's input.

From 100-120 m a car is 8-9 px at a 416 input over a 1280 px, 84-degree frame: below what
the detector finds reliably. The ground sample distance follows from the pose (height,
pitch) and the field of view; when a car of `object_m` would span fewer than `min_px`
input pixels, the frame is cut into k x k overlapping tiles (k chosen to bring it back
over `min_px`, at most `max_k`), each run at the same input size, and the whole frame is
run too (a plume or a fire larger than a tile stays whole). Boxes go back to frame
pixels and overlapping ones of a class are merged (NMS), as in the detector.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vision.detector import Detector
from vision.frames import CameraPose
from vision.nms import greedy_nms
from vision.types import Detection


@dataclass(frozen=True)
class TilePolicy:
    min_px: float = 12.0
    """A car should span at least this many input pixels."""
    object_m: float = 4.5
    """The object sized for: a car's length."""
    max_k: int = 2
    """At most k x k tiles (each costs one more inference): 2 is five passes a frame."""
    overlap: float = 0.15
    """Share of a tile overlapping its neighbour, so an object on a seam is whole in one."""

    def __post_init__(self) -> None:
        if self.min_px <= 0 or self.object_m <= 0 or self.max_k < 1 or not 0 <= self.overlap < 0.5:
            raise ValueError("tile policy: positive sizes, max_k >= 1, overlap in [0, 0.5)")


def ground_sample_m(pose: CameraPose, frame_w: int, default_hfov_deg: float) -> float | None:
    """Metres of ground per frame pixel at the image centre (None when the centre ray does
    not reach the ground: a camera at or above the horizon)."""
    down = -pose.pitch_deg
    if down <= 1.0 or frame_w <= 0:
        return None
    slant = pose.alt_m / math.sin(math.radians(min(down, 90.0)))
    hfov = pose.hfov_deg or default_hfov_deg
    return 2.0 * slant * math.tan(math.radians(hfov) / 2.0) / frame_w


def tiles_per_side(
    pose: CameraPose | None, frame_w: int, frame_h: int, imgsz: int, policy: TilePolicy, default_hfov_deg: float
) -> int:
    """k for a k x k grid (1: the whole frame is enough)."""
    if pose is None:
        return 1
    gsd = ground_sample_m(pose, frame_w, default_hfov_deg)
    if gsd is None:
        return 1
    scale = imgsz / max(frame_w, frame_h)
    px = policy.object_m / gsd * scale
    if px >= policy.min_px:
        return 1
    return max(1, min(policy.max_k, math.ceil(policy.min_px / px)))


def tile_boxes(w: int, h: int, k: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """x1, y1, x2, y2 of k x k tiles covering a w x h frame, neighbours overlapping."""
    if k <= 1:
        return [(0, 0, w, h)]
    tw = math.ceil(w / (k - (k - 1) * overlap))
    th = math.ceil(h / (k - (k - 1) * overlap))
    xs = [round(i * (w - tw) / (k - 1)) for i in range(k)]
    ys = [round(j * (h - th) / (k - 1)) for j in range(k)]
    return [(x, y, x + tw, y + th) for y in ys for x in xs]


def detect_tiled(
    detector: Detector, images: Sequence[np.ndarray], k: int, overlap: float = 0.15, iou: float = 0.5
) -> list[list[Detection]]:
    """Each image whole and in k x k tiles, boxes merged per class in frame pixels."""
    crops: list[np.ndarray] = []
    owners: list[tuple[int, int, int]] = []
    for i, img in enumerate(images):
        h, w = img.shape[:2]
        crops.append(img)
        owners.append((i, 0, 0))
        if k > 1:
            for x1, y1, x2, y2 in tile_boxes(w, h, k, overlap):
                crops.append(np.ascontiguousarray(img[y1:y2, x1:x2]))
                owners.append((i, x1, y1))
    found: list[list[Detection]] = [[] for _ in images]
    for (i, dx, dy), dets in zip(owners, detector.detect(crops), strict=True):
        for d in dets:
            bx1, by1, bx2, by2 = d.box
            found[i].append(Detection(d.cls, d.score, (bx1 + dx, by1 + dy, bx2 + dx, by2 + dy)))
    return [_merge(dets, iou, detector.config.max_det) for dets in found]


def _merge(dets: list[Detection], iou: float, max_det: int) -> list[Detection]:
    out: list[Detection] = []
    for cls in sorted({d.cls for d in dets}):
        mine = [d for d in dets if d.cls == cls]
        boxes = np.array([d.box for d in mine], dtype=np.float32)
        scores = np.array([d.score for d in mine], dtype=np.float32)
        out.extend(mine[int(j)] for j in greedy_nms(boxes, scores, iou, max_det))
    return sorted(out, key=lambda d: -d.score)[:max_det]
