"""A frame as vision receives it: pixels (still encoded), when it was taken, and from where.

The sim (and any camera that can) sends the pose with every frame: in MJPEG part headers
(X-Frame-Seq, X-Capture-Time, X-Pose) and in the JPEG's COM segment. Where a stream has
no pose, one comes from the drone's telemetry (`vision.pose.PoseHistory`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np


@dataclass(frozen=True)
class CameraPose:
    """Camera position (WGS84, metres above take-off) and pointing at one instant."""

    lon: float
    lat: float
    alt_m: float
    heading_deg: float
    pitch_deg: float
    hfov_deg: float | None = None

    def valid(self) -> bool:
        return (
            all(math.isfinite(v) for v in (self.lon, self.lat, self.alt_m, self.heading_deg, self.pitch_deg))
            and -180 <= self.lon <= 180
            and -90 <= self.lat <= 90
            and self.alt_m > 0
            and -90 <= self.pitch_deg <= 30
        )


@dataclass
class RawFrame:
    """One frame off a stream, not yet decoded (decoding waits until it is chosen)."""

    stream: str
    seq: int
    jpeg: bytes | None
    image: np.ndarray | None
    """Already decoded (sources that only give pixels)."""
    captured: datetime | None
    pose: CameraPose | None
    received_mono: float
    """time.monotonic() when it arrived."""
    received_at: datetime | None = None
    """Wall-clock arrival, the frame's time when the stream does not say when it was taken."""

    def decode(self) -> np.ndarray | None:
        if self.image is not None:
            return self.image
        if not self.jpeg:
            return None
        img = cv2.imdecode(np.frombuffer(self.jpeg, np.uint8), cv2.IMREAD_COLOR)
        if img is None or img.size == 0:
            return None
        return img


class MetaError(ValueError):
    pass


def parse_pose_header(value: str) -> CameraPose:
    """X-Pose: lon,lat,alt_m,heading_deg,pitch_deg."""
    try:
        lon, lat, alt, heading, pitch = (float(v) for v in value.split(","))
    except ValueError:
        raise MetaError(f"X-Pose {value[:80]!r}: expected lon,lat,alt,heading,pitch") from None
    pose = CameraPose(lon, lat, alt, heading, pitch)
    if not pose.valid():
        raise MetaError(f"X-Pose {value[:80]!r}: out of range")
    return pose


def parse_time(value: str) -> datetime:
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MetaError(f"capture time {value[:40]!r} is not ISO 8601") from None
    if t.tzinfo is None:
        raise MetaError(f"capture time {value[:40]!r} has no UTC offset")
    return t


def jpeg_comment(jpeg: bytes) -> bytes | None:
    """The first COM segment before the image data, if any."""
    i = 2
    n = len(jpeg)
    if n < 4 or jpeg[:2] != b"\xff\xd8":
        return None
    while i + 4 <= n and jpeg[i] == 0xFF:
        marker = jpeg[i + 1]
        length = int.from_bytes(jpeg[i + 2 : i + 4], "big")
        if marker == 0xFE:
            return jpeg[i + 4 : i + 2 + length]
        if marker == 0xDA:  # start of scan: no more headers
            return None
        i += 2 + length
    return None


def meta_from_comment(jpeg: bytes) -> tuple[int | None, datetime | None, CameraPose | None]:
    """Sequence, capture time and pose from the sim's JSON comment; Nones when absent."""
    raw = jpeg_comment(jpeg)
    if raw is None:
        return None, None, None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None, None, None
    if not isinstance(doc, dict) or doc.get("type") != "frame_meta":
        return None, None, None
    try:
        pose = CameraPose(
            float(doc["lon"]),
            float(doc["lat"]),
            float(doc["alt_m"]),
            float(doc["heading_deg"]),
            float(doc["pitch_deg"]),
            float(doc["hfov_deg"]),
        )
        return int(doc["seq"]), parse_time(str(doc["time"])), pose if pose.valid() else None
    except (KeyError, TypeError, ValueError):
        return None, None, None
