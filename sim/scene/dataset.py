"""Training data from the simulated world: varied views with YOLO labels.

Each sample puts the camera somewhere over the district (forest, road or town), places
fires (with their smoke), vehicles and look-alikes around where it looks, and varies
altitude, gimbal angles, heading, time of day (exposure), haze and sensor effects. The
labels are the renderer's ground truth, so they are exactly what was drawn.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import shapely

from missions.incidents import Confuser, FirePlan, VehiclePlan
from missions.optics import Intrinsics, Pose, pixel_to_ground
from missions.scenario import Scenario
from sim.scene.landcover import Cover
from sim.scene.render import Effects, Frame, Renderer, Scene

CLASSES = ("fire", "smoke", "vehicle")
CONFUSER_SIZE_M = {
    "red_roof": (4, 10),
    "tarp": (2, 5),
    "steam": (4, 15),
    "fog": (20, 60),
    "shadow": (4, 12),
    "glare": (3, 8),
}
"""Radius range of each look-alike, metres."""


@dataclass(frozen=True)
class Sample:
    frame: Frame
    labels: list[tuple[int, float, float, float, float]]
    """YOLO rows: class, x centre, y centre, width, height (all 0-1)."""


def _random_view(rng: random.Random, sc: Scenario, renderer: Renderer) -> tuple[Pose, Cover]:
    area = sc.airspace.operating_area
    minx, miny, maxx, maxy = area.bounds
    want = rng.choice([Cover.FOREST, Cover.FOREST, Cover.ROAD, Cover.URBAN, Cover.BARE])
    best: tuple[float, float, Cover] | None = None
    for _ in range(60):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if not shapely.contains_xy(area, x, y):
            continue
        cover = renderer.landcover.cover_at(x, y)
        best = (x, y, cover)
        if cover is want:
            break
    assert best is not None
    x, y, cover = best
    alt = rng.uniform(35, 120)
    pitch = rng.uniform(-90, -25)
    heading = rng.uniform(0, 360)
    # Put the point of interest near the image centre.
    back = alt / math.tan(math.radians(-pitch)) if pitch > -89 else 0.0
    h = math.radians(heading)
    return Pose(x - math.sin(h) * back, y - math.cos(h) * back, alt, heading, pitch), cover


def _populate(rng: random.Random, renderer: Renderer, intr: Intrinsics, pose: Pose, cover: Cover, t) -> Scene:  # type: ignore[no-untyped-def]
    scene = Scene()
    w, h = intr.width, intr.height
    px = np.array([[rng.uniform(0.1, 0.9) * w, rng.uniform(0.25, 0.95) * h] for _ in range(40)])
    ground, ok = pixel_to_ground(intr, pose, px)
    spots = [tuple(g) for g, good in zip(ground, ok, strict=True) if good]
    if not spots:
        return scene
    n_fire = rng.choice([0, 1, 1, 2]) if cover in (Cover.FOREST, Cover.BARE, Cover.URBAN) else rng.choice([0, 0, 1])
    for k in range(n_fire):
        xy = spots.pop(rng.randrange(len(spots))) if spots else spots[0]
        age = rng.uniform(1, 40)
        scene.fires.append(
            FirePlan(
                f"f{k}",
                (float(xy[0]), float(xy[1])),
                t - timedelta(minutes=age),
                rng.uniform(0.2, 1.0),
                rng.uniform(6, 30),
            )
        )
    n_car = rng.choice([0, 2, 5, 9]) if cover is not Cover.FOREST else rng.choice([0, 0, 1])
    for k in range(n_car):
        if not spots:
            break
        xy = spots.pop(rng.randrange(len(spots)))
        kind = rng.choices(["car", "van", "truck"], [0.7, 0.2, 0.1])[0]
        colour = tuple(
            int(c)
            for c in rng.choice(
                [
                    (30, 30, 30),
                    (235, 235, 235),
                    (60, 60, 180),
                    (180, 120, 40),
                    (175, 175, 185),
                    (40, 130, 210),
                    (90, 90, 95),
                ]
            )
        )
        scene.vehicles.append(
            VehiclePlan(f"v{k}", kind, ((float(xy[0]), float(xy[1])),), rng.uniform(0, 360), colour=colour)
        )  # type: ignore[arg-type]
    for k in range(rng.choice([0, 1, 2])):
        if not spots:
            break
        xy = spots.pop(rng.randrange(len(spots)))
        kind = rng.choice(["red_roof", "tarp", "steam", "fog", "shadow", "glare"])
        lo, hi = CONFUSER_SIZE_M[kind]
        scene.confusers.append(Confuser(f"c{k}", kind, (float(xy[0]), float(xy[1])), rng.uniform(lo, hi)))
    return scene


def samples(sc: Scenario, n: int, seed: int = 0, width: int = 640, height: int = 384) -> Iterator[Sample]:
    rng = random.Random(seed)
    renderer = Renderer(sc, Scene(), seed)
    t0 = sc.day_start().replace(hour=12)
    for _ in range(n):
        intr = Intrinsics(width, height, rng.uniform(60, 84))
        pose, cover = _random_view(rng, sc, renderer)
        t = t0 + timedelta(seconds=rng.uniform(0, 3600))
        renderer.scene = _populate(rng, renderer, intr, pose, cover, t)
        wind = (rng.uniform(-6, 6), rng.uniform(-6, 6))
        effects = Effects(
            noise_sigma=rng.uniform(0, 6),
            motion_blur_px=rng.choice([0, 0, 3, 5]),
            exposure=rng.uniform(0.65, 1.3),
            jpeg_quality=rng.choice([None, 90, 60, 35]),
        )
        frame = renderer.render(intr, pose, t, wind, effects)
        labels = []
        for tr in frame.truths:
            x1, y1, x2, y2 = tr.box
            labels.append(
                (
                    CLASSES.index(tr.cls),
                    (x1 + x2) / 2 / width,
                    (y1 + y2) / 2 / height,
                    (x2 - x1) / width,
                    (y2 - y1) / height,
                )
            )
        yield Sample(frame, labels)


def write_dataset(
    sc: Scenario, n: int, out: Path, seed: int = 0, val_share: float = 0.1, progress: bool = True
) -> dict[str, int]:
    """Write images/{train,val}, labels/{train,val} and data.yaml; returns counts per class."""
    counts = dict.fromkeys(CLASSES, 0)
    for split in ("train", "val"):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    n_val = max(1, round(n * val_share)) if n > 1 else 0
    for i, s in enumerate(samples(sc, n, seed)):
        split = "val" if i < n_val else "train"
        name = f"sim_{seed}_{i:06d}"
        cv2.imwrite(str(out / "images" / split / f"{name}.jpg"), s.frame.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        rows = [f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" for c, x, y, w, h in s.labels]
        (out / "labels" / split / f"{name}.txt").write_text("\n".join(rows) + ("\n" if rows else ""))
        for c, *_ in s.labels:
            counts[CLASSES[c]] += 1
        if progress:
            done = i + 1
            bar = "#" * (30 * done // n)
            sys.stderr.write(f"\rdataset [{bar:<30}] {done}/{n}")
            sys.stderr.flush()
    if progress:
        sys.stderr.write("\n")
    names = "\n".join(f"  {i}: {c}" for i, c in enumerate(CLASSES))
    (out / "data.yaml").write_text(f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return counts
