"""Precision, recall and mAP50 of a detector on a YOLO-format folder.

The folder holds images/ and labels/ (flat or split into train/val/...); each label file
has rows ``class cx cy w h`` normalised to the image. A class map folds label ids onto
names (``"0:vehicle,1:vehicle"``); ids it leaves out are ignored, and boxes of zero size
(some public sets carry them) are skipped and counted. AP50 is the area under the
all-point interpolated precision-recall curve at IoU 0.5, one class at a time;
precision and recall are read at the detector's operating threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vision.detector import Detector
from vision.nms import iou_one_to_many

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class DatasetError(ValueError):
    pass


@dataclass
class ClassResult:
    precision: float
    recall: float
    map50: float
    n: int
    """Ground-truth boxes of this class."""


@dataclass
class EvalResult:
    classes: dict[str, ClassResult]
    map50: float
    images: int
    skipped_boxes: int
    unreadable: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "classes": {
                name: {"precision": r.precision, "recall": r.recall, "map50": r.map50, "n": r.n}
                for name, r in self.classes.items()
            },
            "map50": self.map50,
            "images": self.images,
            "skipped_boxes": self.skipped_boxes,
        }

    def text(self) -> str:
        lines = [f"{'class':<10} {'n':>5} {'precision':>10} {'recall':>8} {'mAP50':>8}"]
        for name, r in self.classes.items():
            lines.append(f"{name:<10} {r.n:>5} {r.precision:>10.3f} {r.recall:>8.3f} {r.map50:>8.3f}")
        lines.append(f"{'all':<10} {sum(r.n for r in self.classes.values()):>5} {'':>10} {'':>8} {self.map50:>8.3f}")
        lines.append(f"{self.images} images; {self.skipped_boxes} zero-size boxes skipped")
        if self.unreadable:
            lines.append(f"unreadable images skipped: {', '.join(self.unreadable[:5])}")
        return "\n".join(lines)


def find_pairs(root: Path) -> list[tuple[Path, Path | None]]:
    """(image, label file or None) for every image under root/images."""
    images_dir = root / "images"
    if not images_dir.is_dir():
        raise DatasetError(f"{root}: no images/ folder (expected a YOLO dataset: images/ and labels/)")
    pairs = []
    for img in sorted(p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rel = img.relative_to(images_dir).with_suffix(".txt")
        label = root / "labels" / rel
        pairs.append((img, label if label.is_file() else None))
    if not pairs:
        raise DatasetError(f"{images_dir}: no images")
    return pairs


def read_labels(
    path: Path | None, w: int, h: int, class_map: Mapping[int, str]
) -> tuple[list[tuple[str, np.ndarray]], int]:
    if path is None:
        return [], 0
    out, skipped = [], 0
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 5:
            raise DatasetError(f"{path}:{n}: expected 'class cx cy w h'")
        try:
            cid = int(float(parts[0]))
            cx, cy, bw, bh = (float(v) for v in parts[1:5])
        except ValueError:
            raise DatasetError(f"{path}:{n}: not numbers") from None
        if cid not in class_map:
            continue
        if bw <= 0 or bh <= 0:
            skipped += 1
            continue
        box = np.array([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
        out.append((class_map[cid], box))
    return out, skipped


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolation (the area under the monotone precision envelope)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    idx = np.where(r[1:] != r[:-1])[0]
    return float(np.sum((r[idx + 1] - r[idx]) * p[idx + 1]))


def evaluate(
    detector: Detector, root: Path, class_map: Mapping[int, str], operating_conf: float = 0.25, iou: float = 0.5
) -> EvalResult:
    """Run the detector (at a low threshold, for the curve) over the folder and score it."""
    names = list(dict.fromkeys(class_map.values()))
    pairs = find_pairs(root)
    scored: dict[str, list[tuple[float, bool]]] = {c: [] for c in names}
    n_gt = dict.fromkeys(names, 0)
    skipped = 0
    unreadable: list[str] = []
    images = 0
    for img_path, label_path in pairs:
        img = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
        if img is None:
            unreadable.append(img_path.name)
            continue
        images += 1
        h, w = img.shape[:2]
        truths, sk = read_labels(label_path, w, h, class_map)
        skipped += sk
        dets = detector.detect([img])[0]
        for cls in names:
            gts = np.array([b for c, b in truths if c == cls]).reshape(-1, 4)
            n_gt[cls] += len(gts)
            used = np.zeros(len(gts), bool)
            for d in sorted((d for d in dets if d.cls == cls), key=lambda d: -d.score):
                hit = False
                if len(gts):
                    ious = iou_one_to_many(np.array(d.box), gts)
                    ious[used] = -1
                    j = int(np.argmax(ious))
                    if ious[j] >= iou:
                        used[j] = True
                        hit = True
                scored[cls].append((d.score, hit))
    results: dict[str, ClassResult] = {}
    for cls in names:
        rows = sorted(scored[cls], key=lambda r: -r[0])
        tp = np.cumsum([hit for _, hit in rows]) if rows else np.zeros(0)
        fp = np.cumsum([not hit for _, hit in rows]) if rows else np.zeros(0)
        n = n_gt[cls]
        recall = tp / n if n else np.zeros_like(tp, dtype=float)
        precision = tp / np.maximum(tp + fp, 1e-9)
        ap = average_precision(recall, precision) if n and rows else 0.0
        op = [hit for s, hit in rows if s >= operating_conf]
        p = sum(op) / len(op) if op else 0.0
        r = sum(op) / n if n else 0.0
        results[cls] = ClassResult(round(p, 4), round(r, 4), round(ap, 4), n)
    with_gt = [r.map50 for r in results.values() if r.n]
    return EvalResult(results, round(float(np.mean(with_gt)) if with_gt else 0.0, 4), images, skipped, unreadable)
