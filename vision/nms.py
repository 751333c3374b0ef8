"""Non-maximum suppression on the raw YOLO head, in NumPy.

Same decisions as ultralytics' default (class-aware, greedy by score, IoU without the
+1 pixel convention, at most `max_det` boxes), so the ONNX backend returns the boxes the
PyTorch one does.
"""

from __future__ import annotations

import numpy as np

MAX_WH = 7680.0
"""Offset per class so boxes of different classes never overlap."""


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out: np.ndarray = inter / np.maximum(area + areas - inter, 1e-9)
    return out


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou: float, max_det: int) -> np.ndarray:
    """Indices kept, highest score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[i], boxes[rest]) <= iou]
    return np.array(keep, dtype=np.int64)


def decode(
    raw: np.ndarray, conf: float, iou: float, max_det: int = 300, min_conf: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's head output (4 + nc, anchors) -> boxes xyxy, scores, class ids.

    `min_conf` (per class) is applied after NMS, so a class with a stricter threshold
    does not change which boxes of other classes survive.
    """
    cls_scores = raw[4:]
    cls_ids = cls_scores.argmax(0)
    scores = cls_scores[cls_ids, np.arange(cls_scores.shape[1])]
    mask = scores > conf
    if not mask.any():
        empty = np.zeros((0, 4), np.float32)
        return empty, np.zeros(0, np.float32), np.zeros(0, np.int64)
    xywh = raw[:4, mask].T
    scores, cls_ids = scores[mask], cls_ids[mask]
    boxes = np.empty_like(xywh)
    boxes[:, 0] = xywh[:, 0] - xywh[:, 2] / 2
    boxes[:, 1] = xywh[:, 1] - xywh[:, 3] / 2
    boxes[:, 2] = xywh[:, 0] + xywh[:, 2] / 2
    boxes[:, 3] = xywh[:, 1] + xywh[:, 3] / 2
    keep = greedy_nms(boxes + (cls_ids * MAX_WH)[:, None], scores, iou, max_det)
    boxes, scores, cls_ids = boxes[keep], scores[keep], cls_ids[keep]
    if min_conf is not None:
        ok = scores >= min_conf[cls_ids]
        boxes, scores, cls_ids = boxes[ok], scores[ok], cls_ids[ok]
    return boxes, scores, cls_ids
