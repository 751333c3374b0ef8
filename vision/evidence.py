"""Evidence a person can check: a crop around the finding and the whole frame, boxes drawn."""

from __future__ import annotations

import cv2
import numpy as np

from vision.types import Detection

COLOURS = {"fire": (0, 80, 255), "smoke": (200, 200, 200), "vehicle": (255, 160, 0)}


def draw_boxes(image: np.ndarray, detections: list[Detection], highlight: Detection | None = None) -> np.ndarray:
    out = image.copy()
    for d in detections:
        x1, y1, x2, y2 = (round(v) for v in d.box)
        colour = (0, 0, 255) if d is highlight else COLOURS.get(d.cls, (0, 255, 0))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 3 if d is highlight else 1)
        label = f"{d.cls} {d.score:.2f}"
        cv2.putText(out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out


def crop(
    image: np.ndarray, box: tuple[float, float, float, float], margin: float = 0.5, min_px: int = 64
) -> np.ndarray:
    """The box with a margin of context around it, at least `min_px` on a side."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w = max((x2 - x1) * (1 + 2 * margin), min_px) / 2
    half_h = max((y2 - y1) * (1 + 2 * margin), min_px) / 2
    a, b = max(0, int(cx - half_w)), min(w, int(cx + half_w) + 1)
    c, d = max(0, int(cy - half_h)), min(h, int(cy + half_h) + 1)
    return image[c:d, a:b].copy()


def jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
