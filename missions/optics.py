"""Pinhole camera geometry over flat ground: where a ground point appears in the image,
and where a pixel looks on the ground.

Shared by the simulator (to render and label what a drone sees) and by vision (to put a
detection on the map), so both use exactly the same model. Frames: the local ENU plane
(x east, y north, z up, metres above the take-off ground); heading is a compass bearing
(0 north, 90 east), pitch 0 is the horizon and -90 straight down; image u to the right,
v down, with the top of the image towards the heading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera without distortion."""

    width: int
    height: int
    hfov_deg: float

    @property
    def fx(self) -> float:
        return self.width / 2 / math.tan(math.radians(self.hfov_deg) / 2)

    @property
    def matrix(self) -> np.ndarray:
        f = self.fx
        return np.array([[f, 0.0, self.width / 2], [0.0, f, self.height / 2], [0.0, 0.0, 1.0]])

    def scaled(self, width: int, height: int) -> Intrinsics:
        return Intrinsics(width, height, self.hfov_deg)


@dataclass(frozen=True)
class Pose:
    """Where the camera is and where it looks."""

    x: float
    y: float
    alt: float
    """Metres above the ground plane."""
    heading_deg: float
    """Compass bearing of the optical axis (vehicle yaw plus gimbal yaw)."""
    pitch_deg: float
    """Gimbal pitch: 0 horizon, -90 straight down."""

    def rotation(self) -> np.ndarray:
        """Rows: the camera's right, down and forward axes in ENU."""
        h, p = math.radians(self.heading_deg), math.radians(self.pitch_deg)
        forward = np.array([math.sin(h) * math.cos(p), math.cos(h) * math.cos(p), math.sin(p)])
        right = np.array([math.cos(h), -math.sin(h), 0.0])
        down = np.cross(forward, right)
        return np.vstack([right, down, forward])

    @property
    def centre(self) -> np.ndarray:
        return np.array([self.x, self.y, self.alt])


def project(intr: Intrinsics, pose: Pose, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (n, 2) of world points (n, 3), and whether each is in front of the camera."""
    pts = np.asarray(points, dtype=float).reshape(-1, 3)
    cam = (pts - pose.centre) @ pose.rotation().T
    z = cam[:, 2]
    front = z > 1e-6
    safe = np.where(front, z, 1.0)
    f = intr.fx
    u = f * cam[:, 0] / safe + intr.width / 2
    v = f * cam[:, 1] / safe + intr.height / 2
    return np.column_stack([u, v]), front


def ground_homography(intr: Intrinsics, pose: Pose) -> np.ndarray:
    """3x3 H with image ~ H @ (x, y, 1) for points on the ground plane."""
    r = pose.rotation()
    t = -r @ pose.centre
    return np.asarray(intr.matrix @ np.column_stack([r[:, 0], r[:, 1], t]))


def pixel_rays(intr: Intrinsics, pose: Pose, pixels: np.ndarray) -> np.ndarray:
    """Unit ray directions (n, 3) in ENU through the given pixels (n, 2)."""
    px = np.asarray(pixels, dtype=float).reshape(-1, 2)
    f = intr.fx
    cam = np.column_stack([(px[:, 0] - intr.width / 2) / f, (px[:, 1] - intr.height / 2) / f, np.ones(len(px))])
    world = cam @ pose.rotation()
    return np.asarray(world / np.linalg.norm(world, axis=1, keepdims=True))


def pixel_to_ground(
    intr: Intrinsics, pose: Pose, pixels: np.ndarray, ground_z: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Ground points (n, 2) where the pixels' rays meet the plane z = ground_z, and
    whether they do (a ray at or above the horizon never does)."""
    rays = pixel_rays(intr, pose, pixels)
    down = rays[:, 2] < -1e-9
    t = np.where(down, (ground_z - pose.alt) / np.where(down, rays[:, 2], -1.0), np.nan)
    xy = pose.centre[:2] + rays[:, :2] * t[:, None]
    return xy, down


def visible_ground(intr: Intrinsics, pose: Pose, max_range_m: float) -> np.ndarray:
    """The ground quadrilateral-ish polygon the image sees, cut at a range (n, 2)."""
    w, h = intr.width, intr.height
    border = np.array(
        [[u, 0.0] for u in np.linspace(0, w, 9)]
        + [[w, v] for v in np.linspace(0, h, 5)]
        + [[u, h] for u in np.linspace(w, 0, 9)]
        + [[0.0, v] for v in np.linspace(h, 0, 5)]
    )
    rays = pixel_rays(intr, pose, border)
    out = []
    for ray in rays:
        horiz = math.hypot(ray[0], ray[1])
        if ray[2] < -1e-9:
            t = -pose.alt / ray[2]
            dist = t * horiz
            if dist <= max_range_m:
                out.append(pose.centre[:2] + ray[:2] * t)
                continue
        if horiz < 1e-9:
            continue
        out.append(pose.centre[:2] + ray[:2] / horiz * max_range_m)
    return np.asarray(out)
