"""Tracking on the ground: detections joined across frames where they are on the map.

The drone moves, so pixels say little about identity; ground positions do. A detection
joins the nearest track of its class within a gate (three sigma, at least a few metres),
else starts one. Tracks are kept for hours, so a second pass of a patrol over the same
place finds the same fire or the same parked truck. Every frame also tells each track in
view whether it was seen, which the rules need for k-of-n confirmation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from missions.geo import XY
from vision.types import GroundDetection

MIN_GATE_M = {"vehicle": 4.0, "fire": 12.0, "smoke": 30.0}
KEEP = timedelta(hours=3)


@dataclass(frozen=True)
class Observation:
    t: datetime
    xy: XY
    sigma_m: float
    score: float


@dataclass
class Track:
    id: int
    cls: str
    obs: list[Observation] = field(default_factory=list)
    views: list[tuple[datetime, bool]] = field(default_factory=list)
    """(capture time, seen?) for every frame whose view covered the track."""

    @property
    def xy(self) -> XY:
        """Inverse-variance weighted mean of the recent observations."""
        recent = self.obs[-30:]
        w = np.array([1 / max(o.sigma_m, 0.1) ** 2 for o in recent])
        pts = np.array([o.xy for o in recent])
        m = (pts * w[:, None]).sum(axis=0) / w.sum()
        return float(m[0]), float(m[1])

    @property
    def sigma_m(self) -> float:
        recent = self.obs[-30:]
        return float(1 / math.sqrt(sum(1 / max(o.sigma_m, 0.1) ** 2 for o in recent)))

    @property
    def first_seen(self) -> datetime:
        return self.obs[0].t

    @property
    def last_seen(self) -> datetime:
        return self.obs[-1].t

    def speed_ms(self, window_s: float = 20.0) -> float:
        """Ground speed over the last window (a robust fit: first and last thirds)."""
        recent = [o for o in self.obs if (self.last_seen - o.t).total_seconds() <= window_s]
        if len(recent) < 2:
            return 0.0
        dt = (recent[-1].t - recent[0].t).total_seconds()
        if dt <= 0:
            return 0.0
        third = max(1, len(recent) // 3)
        a = np.mean([o.xy for o in recent[:third]], axis=0)
        b = np.mean([o.xy for o in recent[-third:]], axis=0)
        ta = np.mean([(o.t - recent[0].t).total_seconds() for o in recent[:third]])
        tb = np.mean([(o.t - recent[0].t).total_seconds() for o in recent[-third:]])
        return float(np.hypot(*(b - a)) / max(tb - ta, 1e-6))

    def score(self) -> float:
        scores = sorted(o.score for o in self.obs[-20:])
        return scores[len(scores) // 2]


class GroundTracker:
    """Tracks of one drone's (or a whole fleet's) detections on the ground."""

    def __init__(self) -> None:
        self.tracks: list[Track] = []
        self._ids = count(1)

    def update(self, t: datetime, detections: list[GroundDetection], view: BaseGeometry | None = None) -> list[Track]:
        """Add one frame's detections; `view` is the ground the frame saw (for misses)."""
        touched: set[int] = set()
        for det in sorted(detections, key=lambda d: -d.score):
            best, best_d = None, math.inf
            for tr in self.tracks:
                if tr.cls != det.cls or tr.id in touched or t - tr.last_seen > KEEP:
                    continue
                d = math.dist(tr.xy, det.xy)
                gate = max(MIN_GATE_M.get(det.cls, 5.0), 3 * math.hypot(det.sigma_m, tr.sigma_m))
                if d <= gate and d < best_d:
                    best, best_d = tr, d
            if best is None:
                best = Track(next(self._ids), det.cls)
                self.tracks.append(best)
            best.obs.append(Observation(t, det.xy, det.sigma_m, det.score))
            touched.add(best.id)
        for tr in self.tracks:
            if tr.id in touched:
                tr.views.append((t, True))
            elif view is not None and shapely.contains_xy(view, *tr.xy):
                tr.views.append((t, False))
        self.tracks = [tr for tr in self.tracks if t - tr.last_seen <= KEEP]
        return [tr for tr in self.tracks if tr.id in touched]
