"""Camera poses from telemetry, looked up at a frame's capture time.

A stream without per-frame metadata is paired with the drone's telemetry: position,
altitude, heading and gimbal angles arrive a few times a second, and the pose at the
frame's capture time is interpolated between the two samples around it. A frame whose
time falls in a gap longer than `max_gap_s`, or after the newest sample by more than
that, gets no pose: it is counted and skipped rather than placed wrongly.
"""

from __future__ import annotations

import bisect
import threading
from datetime import datetime
from typing import Protocol

from vision.frames import CameraPose


def _lerp_angle(a: float, b: float, f: float) -> float:
    d = (b - a + 180) % 360 - 180
    return (a + f * d) % 360


class PoseHistory:
    """Timestamped poses of one camera, thread-safe, bounded."""

    def __init__(self, max_gap_s: float = 1.0, keep: int = 2000) -> None:
        self.max_gap_s = max_gap_s
        self.keep = keep
        self._t: list[float] = []
        self._p: list[CameraPose] = []
        self._lock = threading.Lock()

    def add(self, t: datetime, pose: CameraPose) -> None:
        ts = t.timestamp()
        with self._lock:
            if self._t and ts <= self._t[-1]:
                i = bisect.bisect_left(self._t, ts)
                if i < len(self._t) and self._t[i] == ts:
                    self._p[i] = pose
                    return
                self._t.insert(i, ts)
                self._p.insert(i, pose)
            else:
                self._t.append(ts)
                self._p.append(pose)
            if len(self._t) > self.keep:
                del self._t[: -self.keep]
                del self._p[: -self.keep]

    def at(self, t: datetime) -> CameraPose | None:
        ts = t.timestamp()
        with self._lock:
            i = bisect.bisect_left(self._t, ts)
            if i < len(self._t) and self._t[i] == ts:
                return self._p[i]
            if i == 0 or i == len(self._t):
                j = 0 if i == 0 else i - 1
                if self._t and abs(self._t[j] - ts) <= self.max_gap_s / 2:
                    return self._p[j]
                return None
            t0, t1 = self._t[i - 1], self._t[i]
            if t1 - t0 > self.max_gap_s:
                return None
            a, b = self._p[i - 1], self._p[i]
        f = (ts - t0) / (t1 - t0)
        return CameraPose(
            a.lon + f * (b.lon - a.lon),
            a.lat + f * (b.lat - a.lat),
            a.alt_m + f * (b.alt_m - a.alt_m),
            _lerp_angle(a.heading_deg, b.heading_deg, f),
            a.pitch_deg + f * (b.pitch_deg - a.pitch_deg),
            a.hfov_deg if a.hfov_deg is not None else b.hfov_deg,
        )


class PoseSource(Protocol):
    def at(self, t: datetime) -> CameraPose | None: ...


class FixedPose:
    """A camera on a mast: the same pose at every instant."""

    def __init__(self, pose: CameraPose) -> None:
        self.pose = pose

    def at(self, t: datetime) -> CameraPose | None:
        return self.pose
