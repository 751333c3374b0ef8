"""Each drone's camera as a real MJPEG stream that OpenCV opens by URL."""

from __future__ import annotations

import itertools
import socket
import time
import urllib.request
from datetime import datetime

import cv2
import pytest

from missions.scenario import Scenario
from sim.video.mjpeg import BOUNDARY, MjpegServer
from sim.video.service import VideoService
from sim.world import SimWorld
from tests.conftest import RunningWorld, free_udp_base


class _Streaming(RunningWorld):
    """A one-airport world with its camera streaming over MJPEG."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(
            SimWorld(
                scenario,
                scenario.day_start().replace(hour=10),
                speedup=10,
                airports=["shekou"],
                open_docks=True,
                base_port=free_udp_base(1),
            )
        )
        self.server = MjpegServer()

    async def start_services(self) -> list:  # type: ignore[type-arg]
        await self.server.start()
        self.service = VideoService(self.world, self.server, fps=8)
        return [self.service.run]

    async def stop_services(self) -> None:
        await self.server.stop()

    def __enter__(self) -> _Streaming:
        self.start()
        c = self.world.vehicles["shekou"].copter
        deadline = time.time() + 10
        while c.t < 3 and time.time() < deadline:  # the autopilot refuses to arm while booting
            time.sleep(0.05)
        self.loop.call_soon_threadsafe(self._take_off, c)
        while not c.airborne and time.time() < deadline:
            time.sleep(0.05)
        assert c.airborne
        url = self.server.url("shekou")
        deadline = time.time() + 20
        while time.time() < deadline:  # wait for the first frame
            try:
                with urllib.request.urlopen(url.replace(".mjpg", ".jpg"), timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        return self

    @staticmethod
    def _take_off(c) -> None:  # type: ignore[no-untyped-def]
        c.set_mode(4, c.t)
        c.arm(c.t)
        c.guided = (300.0, 300.0, 70.0)


@pytest.fixture
def streaming(scenario: Scenario):  # type: ignore[no-untyped-def]
    with _Streaming(scenario) as s:
        yield s


def _parts(url: str, count: int, pause: float = 0.0, until_seq: int | None = None) -> list[dict[str, str]]:
    """Read multipart headers of frames straight off the socket: `count` of them, pausing
    after the first; or, with until_seq, as many as it takes to reach that frame."""
    host, rest = url.removeprefix("http://").split("/", 1)
    h, p = host.split(":")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # a reader with little buffer
        s.settimeout(10)
        s.connect((h, int(p)))
        s.sendall(f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        f = s.makefile("rb")
        assert b"multipart/x-mixed-replace" in b"".join(iter(lambda: f.readline(), b"\r\n"))
        out = []
        while len(out) < count or until_seq is not None:
            line = f.readline()
            if line.strip() != b"--" + BOUNDARY:
                continue
            headers = {}
            while (hl := f.readline()) not in (b"\r\n", b""):
                k, _, v = hl.decode().partition(":")
                headers[k.strip()] = v.strip()
            f.read(int(headers["Content-Length"]))
            out.append(headers)
            if pause and len(out) == 1:
                time.sleep(pause)
            if until_seq is not None and int(headers["X-Frame-Seq"]) >= until_seq:
                break
        return out


def test_opencv_opens_the_stream_by_url_and_reads_frames(streaming: _Streaming) -> None:
    cap = cv2.VideoCapture(streaming.server.url("shekou"), cv2.CAP_FFMPEG)
    try:
        assert cap.isOpened()
        shapes = []
        for _ in range(5):
            ok, img = cap.read()
            assert ok
            shapes.append(img.shape)
        assert set(shapes) == {(360, 640, 3)}
    finally:
        cap.release()


def test_frames_arrive_in_order_with_monotonic_capture_times_and_pose(streaming: _Streaming) -> None:
    parts = _parts(streaming.server.url("shekou"), 6)
    seqs = [int(p["X-Frame-Seq"]) for p in parts]
    times = [datetime.fromisoformat(p["X-Capture-Time"]) for p in parts]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(b > a for a, b in itertools.pairwise(times))
    lon, lat, alt, _heading, pitch = (float(v) for v in parts[-1]["X-Pose"].split(","))
    ap = streaming.world.scenario.airports["shekou"]
    assert abs(lon - ap.lon) < 0.01 and abs(lat - ap.lat) < 0.01 and 0 < alt <= 75 and -90 <= pitch <= 0


def test_a_reader_that_falls_behind_gets_the_freshest_frame(streaming: _Streaming) -> None:
    latest = streaming.server.streams["shekou"]
    first = latest.seq
    stall = 2.0
    parts = _parts(streaming.server.url("shekou"), 1, pause=stall, until_seq=first + round(8 * stall))
    produced = int(parts[-1]["X-Frame-Seq"]) - int(parts[0]["X-Frame-Seq"])
    assert len(parts) - 1 < produced / 2, "it caught up by skipping frames, not by reading a queue of them"
    assert latest.skipped > 0
