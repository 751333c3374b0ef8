"""The drone's camera: its pose from the simulated vehicle and gimbal, and its frames."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np

from missions.optics import Intrinsics, Pose
from missions.scenario import Scenario
from sim.scene.render import Effects, Frame, Renderer
from sim.vehicle.copter import Copter


@dataclass(frozen=True)
class FrameMeta:
    """What travels with a frame so vision can geo-project it exactly."""

    airport: str
    seq: int
    time: str
    """Capture time, simulated clock, ISO 8601 with offset."""
    lon: float
    lat: float
    alt_m: float
    heading_deg: float
    pitch_deg: float
    hfov_deg: float
    width: int
    height: int

    def to_json(self) -> str:
        return json.dumps({"v": 1, "type": "frame_meta", **self.__dict__}, separators=(",", ":"))


def camera_pose(scenario: Scenario, copter: Copter) -> Pose:
    lon, lat = copter.lonlat()
    x, y = scenario.to_xy(lon, lat)
    heading = (copter.body.yaw_deg + copter.gimbal_yaw) % 360
    return Pose(x, y, max(copter.body.alt, 0.5), heading, max(-90.0, min(copter.gimbal_pitch, 30.0)))


class DroneCamera:
    """Renders what one drone sees and encodes it as JPEG with its metadata."""

    def __init__(
        self,
        airport: str,
        scenario: Scenario,
        renderer: Renderer,
        copter: Copter,
        width: int = 640,
        height: int = 360,
        quality: int = 80,
    ) -> None:
        self.airport = airport
        self.scenario = scenario
        self.renderer = renderer
        self.copter = copter
        self.intr = Intrinsics(width, height, copter.model.camera.hfov_deg)
        self.quality = quality
        self.seq = 0

    def capture(
        self, t: datetime, wind: tuple[float, float], effects: Effects | None = None, pose: Pose | None = None
    ) -> tuple[Frame, FrameMeta]:
        """Render a frame at time t; `pose` read beforehand lets rendering run off the loop
        while the vehicle moves on."""
        pose = pose or camera_pose(self.scenario, self.copter)
        frame = self.renderer.render(self.intr, pose, t, wind, effects)
        self.seq += 1
        lon, lat = self.scenario.frame.to_lonlat(pose.x, pose.y)
        meta = FrameMeta(
            self.airport,
            self.seq,
            t.isoformat(),
            lon,
            lat,
            pose.alt,
            pose.heading_deg,
            pose.pitch_deg,
            self.intr.hfov_deg,
            self.intr.width,
            self.intr.height,
        )
        return frame, meta

    def encode(self, image: np.ndarray, meta: FrameMeta) -> bytes:
        """JPEG with the metadata in a COM segment (readers that keep comments get it too)."""
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        data = buf.tobytes()
        comment = meta.to_json().encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        return data[:2] + segment + data[2:]
