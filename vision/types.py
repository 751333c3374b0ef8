"""What flows through vision: detections in pixels, then on the ground."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from missions.geo import XY


@dataclass(frozen=True)
class Detection:
    """One box from a detector."""

    cls: str
    """fire, smoke or vehicle."""
    score: float
    box: tuple[float, float, float, float]
    """x1, y1, x2, y2 in pixels."""


@dataclass(frozen=True)
class GroundDetection:
    """A detection placed on the ground, with how far off it may be."""

    cls: str
    score: float
    xy: XY
    sigma_m: float
    """One-sigma horizontal error, metres."""
    t: datetime
    """Capture time of the frame."""
    box: tuple[float, float, float, float]
