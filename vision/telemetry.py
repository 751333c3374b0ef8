"""Camera poses from a drone's MAVLink telemetry, for streams that carry none.

Listens (it never commands) to GLOBAL_POSITION_INT for position, height above home and
heading, and to GIMBAL_DEVICE_ATTITUDE_STATUS for the camera's pitch and yaw, and writes
a pose into a `PoseHistory` at every position report, stamped with the time it arrived
(the frames of such a stream are stamped the same way). It announces itself as an
onboard component, not a ground station, so it never masks a lost GCS link, and asks
for the position and gimbal streams it needs.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from vision.frames import CameraPose
from vision.pose import PoseHistory

log = logging.getLogger("dronepatrol.vision.telemetry")

GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME = 2048
MAV_DATA_STREAM_POSITION = 6
MAV_DATA_STREAM_EXTRA3 = 12


def gimbal_angles(q: list[float], flags: int, vehicle_heading_deg: float) -> tuple[float, float]:
    """(pitch, heading) in degrees from the gimbal's quaternion (w, x, y, z)."""
    w, x, y, z = q
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x)))))
    yaw = math.degrees(math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))
    heading = yaw if flags & GIMBAL_DEVICE_FLAGS_YAW_IN_EARTH_FRAME else vehicle_heading_deg + yaw
    return pitch, heading % 360


class MavlinkPoseFeed:
    def __init__(
        self,
        url: str,
        history: PoseHistory,
        hfov_deg: float | None = None,
        rate_hz: int = 10,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.url = url
        self.history = history
        self.hfov_deg = hfov_deg
        self.rate_hz = rate_hz
        self.clock = clock
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._gimbal: tuple[list[float], int] | None = None

    def start(self) -> MavlinkPoseFeed:
        self._thread = threading.Thread(target=self._run, name="pose-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        from pymavlink import mavutil

        conn = mavutil.mavlink_connection(self.url, source_system=254, source_component=197)
        mav = conn.mav
        try:
            last_hello = 0.0
            while not self._stop.is_set():
                now = self.clock().timestamp()
                if now - last_hello > 1.0:
                    mav.heartbeat_send(
                        mavutil.mavlink.MAV_TYPE_ONBOARD_CONTROLLER, mavutil.mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0
                    )
                    for stream in (MAV_DATA_STREAM_POSITION, MAV_DATA_STREAM_EXTRA3):
                        mav.request_data_stream_send(
                            conn.target_system or 1, conn.target_component or 1, stream, self.rate_hz, 1
                        )
                    last_hello = now
                msg = conn.recv_match(
                    type=["GLOBAL_POSITION_INT", "GIMBAL_DEVICE_ATTITUDE_STATUS"], blocking=True, timeout=0.2
                )
                if msg is None:
                    continue
                if msg.get_type() == "GIMBAL_DEVICE_ATTITUDE_STATUS":
                    self._gimbal = (list(msg.q), int(msg.flags))
                    continue
                self._position(msg)
        finally:
            conn.close()

    def _position(self, msg) -> None:  # type: ignore[no-untyped-def]
        if msg.hdg == 65535 or self._gimbal is None:
            return  # heading or gimbal unknown: no pose rather than a wrong one
        heading = msg.hdg / 100.0
        pitch, cam_heading = gimbal_angles(self._gimbal[0], self._gimbal[1], heading)
        pose = CameraPose(msg.lon / 1e7, msg.lat / 1e7, msg.relative_alt / 1000.0, cam_heading, pitch, self.hfov_deg)
        if pose.valid():
            self.history.add(self.clock(), pose)
            self.samples += 1
