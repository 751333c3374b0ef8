"""Each drone's camera as a real MJPEG stream that OpenCV opens by URL."""

from __future__ import annotations

import itertools
import socket
import time
from datetime import datetime

import cv2
import pytest

from missions.scenario import Scenario
from sim.video.mjpeg import BOUNDARY
from tests.simvideo import StreamingWorld


@pytest.fixture
def streaming(scenario: Scenario):  # type: ignore[no-untyped-def]
    with StreamingWorld(scenario) as s:
        yield s.take_off()


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


def test_opencv_opens_the_stream_by_url_and_reads_frames(streaming: StreamingWorld) -> None:
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


def test_frames_arrive_in_order_with_monotonic_capture_times_and_pose(streaming: StreamingWorld) -> None:
    parts = _parts(streaming.server.url("shekou"), 6)
    seqs = [int(p["X-Frame-Seq"]) for p in parts]
    times = [datetime.fromisoformat(p["X-Capture-Time"]) for p in parts]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(b > a for a, b in itertools.pairwise(times))
    lon, lat, alt, _heading, pitch = (float(v) for v in parts[-1]["X-Pose"].split(","))
    ap = streaming.world.scenario.airports["shekou"]
    assert abs(lon - ap.lon) < 0.01 and abs(lat - ap.lat) < 0.01 and 0 < alt <= 75 and -90 <= pitch <= 0


def test_a_reader_that_falls_behind_gets_the_freshest_frame(streaming: StreamingWorld) -> None:
    latest = streaming.server.streams["shekou"]
    first = latest.seq
    stall = 2.0
    parts = _parts(streaming.server.url("shekou"), 1, pause=stall, until_seq=first + round(8 * stall))
    produced = int(parts[-1]["X-Frame-Seq"]) - int(parts[0]["X-Frame-Seq"])
    assert len(parts) - 1 < produced / 2, "it caught up by skipping frames, not by reading a queue of them"
    assert latest.skipped > 0


def test_with_a_token_the_cameras_are_watched_only_by_who_has_it() -> None:
    import urllib.error
    import urllib.request

    import cv2
    import numpy as np

    from tests.simvideo import Publisher

    pub = Publisher(token="s3cret-camera-token").start("yuehai")
    try:
        jpeg = cv2.imencode(".jpg", np.full((36, 64, 3), 90, np.uint8))[1].tobytes()
        pub.publish("yuehai", jpeg)
        url = pub.url("yuehai")
        assert url.endswith("?token=s3cret-camera-token")
        still = url.replace(".mjpg", ".jpg")
        with urllib.request.urlopen(still, timeout=5) as r:
            assert r.status == 200 and r.read() == jpeg
        for bad in (still.split("?")[0], still.replace("s3cret", "guess")):
            try:
                urllib.request.urlopen(bad, timeout=5)
                raise AssertionError(f"{bad} was served")
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
        assert pub.server.refused == 2
    finally:
        pub.stop()
