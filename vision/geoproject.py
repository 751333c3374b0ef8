"""From a box in the image to a point on the ground, with an uncertainty.

The reference pixel is where the object touches the ground as seen from the drone: the
centre of the lower part of a vehicle's box, the base of a smoke plume, the middle of a
fire. Its ray meets flat ground at the take-off elevation (a terrain model can replace
`ground_z`). The error grows with range and with how grazing the ray is: position error
plus attitude error times slant range over the sine of the depression angle, plus the
altitude error over its tangent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from missions.optics import Intrinsics, Pose, pixel_rays, pixel_to_ground
from vision.types import Detection, GroundDetection

REFERENCE_Y = {"vehicle": 0.75, "smoke": 1.0, "fire": 0.6}
"""Where in the box (0 top, 1 bottom) the object meets the ground."""


@dataclass(frozen=True)
class PoseError:
    """How well the camera pose is known (one sigma)."""

    position_m: float = 1.5
    altitude_m: float = 1.0
    attitude_deg: float = 1.0
    """Gimbal and vehicle attitude together."""


def reference_pixel(det: Detection) -> tuple[float, float]:
    x1, y1, x2, y2 = det.box
    return (x1 + x2) / 2, y1 + (y2 - y1) * REFERENCE_Y.get(det.cls, 0.5)


def to_ground(
    intr: Intrinsics, pose: Pose, det: Detection, t: datetime, err: PoseError = PoseError(), ground_z: float = 0.0
) -> GroundDetection | None:
    """The detection on the ground, or None when its ray does not meet the ground."""
    px = np.array([reference_pixel(det)])
    xy, ok = pixel_to_ground(intr, pose, px, ground_z)
    if not ok[0]:
        return None
    ray = pixel_rays(intr, pose, px)[0]
    depression = max(math.asin(min(1.0, -ray[2])), math.radians(1.0))
    slant = (pose.alt - ground_z) / math.sin(depression)
    att = math.radians(err.attitude_deg) * slant / math.sin(depression)
    alt = err.altitude_m / math.tan(depression)
    sigma = math.sqrt(err.position_m**2 + att**2 + alt**2)
    return GroundDetection(det.cls, det.score, (float(xy[0, 0]), float(xy[0, 1])), sigma, t, det.box)
