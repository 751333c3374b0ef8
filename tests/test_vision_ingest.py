"""Video in: MJPEG with per-frame metadata, the freshest frame, reconnects, bad frames and poses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from missions.scenario import Scenario
from orchestrator.bus.broker import free_tcp_port
from tests.simvideo import Publisher, wait_until
from vision.detector import DetectorConfig, OnnxDetector
from vision.frames import CameraPose, jpeg_comment, meta_from_comment
from vision.ingest import StreamIngest
from vision.pipeline import VisionPipeline
from vision.pose import PoseHistory
from vision.train import DEFAULT_IMGSZ, DEFAULT_MODEL

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    p = Publisher().start("a", "b")
    yield p
    p.stop()


def _jpeg(value: int = 90, comment: bytes | None = None) -> bytes:
    img = np.full((72, 128, 3), value, np.uint8)
    data = cv2.imencode(".jpg", img)[1].tobytes()
    if comment is not None:
        data = data[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + data[2:]
    return data


def _headers(seq: int, t: datetime, pose: str = "113.91,22.50,60.0,10.0,-45.0") -> dict[str, str]:
    return {"X-Frame-Seq": str(seq), "X-Capture-Time": t.isoformat(), "X-Pose": pose}


def test_each_frame_comes_with_its_capture_time_and_pose(publisher: Publisher) -> None:
    ing = StreamIngest("a", publisher.url("a")).start()
    try:
        assert wait_until(lambda: ing.connected)
        time.sleep(0.1)
        publisher.publish("a", _jpeg(), _headers(7, T0))
        frame = ing.take(timeout=5)
    finally:
        ing.stop()
    assert frame is not None and frame.seq == 7 and frame.captured == T0
    assert frame.pose == CameraPose(113.91, 22.50, 60.0, 10.0, -45.0)
    img = frame.decode()
    assert img is not None and img.shape == (72, 128, 3)


def test_the_jpeg_comment_carries_the_field_of_view_too() -> None:
    doc = (
        b'{"v":1,"type":"frame_meta","airport":"a","seq":3,"time":"2026-12-02T10:00:00+08:00","lon":113.9,'
        b'"lat":22.5,"alt_m":50,"heading_deg":90,"pitch_deg":-60,"hfov_deg":82,"width":128,"height":72}'
    )
    data = _jpeg(comment=doc)
    assert jpeg_comment(data) == doc
    seq, t, pose = meta_from_comment(data)
    assert seq == 3 and t is not None and t.utcoffset() == timedelta(hours=8)
    assert pose is not None and pose.hfov_deg == 82 and pose.pitch_deg == -60
    assert meta_from_comment(_jpeg()) == (None, None, None)
    assert meta_from_comment(_jpeg(comment=b"not json")) == (None, None, None)


def test_a_slow_consumer_gets_the_freshest_frame_and_the_rest_are_counted_as_dropped(publisher: Publisher) -> None:
    ing = StreamIngest("a", publisher.url("a")).start()
    try:
        assert wait_until(lambda: ing.connected)
        time.sleep(0.1)
        for k in range(1, 21):
            publisher.publish("a", _jpeg(k), _headers(k, T0 + timedelta(seconds=k)))
            time.sleep(0.01)
        assert wait_until(lambda: ing.stats.received >= 5)
        time.sleep(0.3)
        frame = ing.take()
    finally:
        ing.stop()
    assert frame is not None and frame.seq == 20, "the newest frame wins"
    assert ing.stats.dropped_stale == ing.stats.received - 1
    assert ing.take() is None, "a frame is handed out once"


def test_corrupt_frames_and_bad_metadata_are_counted_not_fatal(publisher: Publisher) -> None:
    ing = StreamIngest("a", publisher.url("a")).start()
    try:
        assert wait_until(lambda: ing.connected)
        time.sleep(0.1)
        publisher.publish("a", b"garbage, not a jpeg", _headers(1, T0))
        publisher.publish("a", _jpeg(), _headers(2, T0, pose="nan,1,2"))
        assert wait_until(lambda: ing.stats.received >= 1)
        bad_meta = ing.take()
        publisher.publish("a", _jpeg(), _headers(3, T0))
        good = ing.take(timeout=5)
    finally:
        ing.stop()
    assert ing.stats.corrupt == 1 and ing.stats.bad_meta == 1
    assert bad_meta is not None and bad_meta.pose is None
    assert good is not None and good.seq == 3 and good.pose is not None


def test_a_stream_that_is_not_up_yet_is_retried_with_backoff_until_it_is() -> None:
    port = free_tcp_port()
    ing = StreamIngest("a", f"http://127.0.0.1:{port}/video/a.mjpg", backoff_s=(0.05, 0.4)).start()
    pub = None
    try:
        assert wait_until(lambda: ing.stats.failures >= 3)
        pub = Publisher(port).start("a")
        assert wait_until(lambda: ing.connected, 5)
        time.sleep(0.1)
        pub.publish("a", _jpeg(), _headers(1, T0))
        assert ing.take(timeout=5) is not None
        pub.stop()  # drops mid-way ...
        failures = ing.stats.failures
        assert wait_until(lambda: ing.stats.failures > failures)
        pub = Publisher(port).start("a")  # ... and comes back
        assert wait_until(lambda: ing.connected, 5)
        time.sleep(0.2)
        pub.publish("a", _jpeg(), _headers(2, T0))
        assert ing.take(timeout=5) is not None
    finally:
        ing.stop()
        if pub is not None:
            pub.stop()
    assert ing.stats.connects >= 4


def test_a_url_that_is_not_a_stream_says_why(publisher: Publisher) -> None:
    ing = StreamIngest("x", publisher.url("a").replace("/video/a.mjpg", "/"), backoff_s=(0.05, 0.1)).start()
    try:
        assert wait_until(lambda: ing.stats.failures >= 1)
    finally:
        ing.stop()
    assert "not an MJPEG stream" in ing.stats.last_error


def test_poses_from_telemetry_are_interpolated_and_gaps_give_none() -> None:
    h = PoseHistory(max_gap_s=1.0)
    h.add(T0, CameraPose(113.90, 22.50, 50.0, 350.0, -40.0))
    h.add(T0 + timedelta(seconds=0.5), CameraPose(113.91, 22.51, 60.0, 10.0, -60.0))
    mid = h.at(T0 + timedelta(seconds=0.25))
    assert mid is not None
    assert mid.lon == pytest.approx(113.905) and mid.alt_m == pytest.approx(55.0)
    assert mid.heading_deg == pytest.approx(0.0, abs=1e-9) or mid.heading_deg == pytest.approx(360.0)
    assert mid.pitch_deg == pytest.approx(-50.0)
    h.add(T0 + timedelta(seconds=5), CameraPose(113.92, 22.52, 60.0, 10.0, -60.0))
    assert h.at(T0 + timedelta(seconds=2)) is None, "inside a 4.5 s gap: unknown"
    assert h.at(T0 + timedelta(seconds=30)) is None, "after the newest sample: stale"
    assert h.at(T0 - timedelta(seconds=0.2)) is not None and h.at(T0 - timedelta(seconds=3)) is None


def test_a_stream_without_pose_is_skipped_and_counted_while_the_other_goes_on(
    publisher: Publisher, scenario: Scenario
) -> None:
    det = OnnxDetector(DEFAULT_MODEL, DetectorConfig(imgsz=DEFAULT_IMGSZ))
    pipe = VisionPipeline(det, scenario.frame)
    a = StreamIngest("a", publisher.url("a"))
    b = StreamIngest("b", publisher.url("b"))
    pipe.add_stream(a)
    pipe.add_stream(b, poses=PoseHistory())  # telemetry never came
    pipe.start()
    try:
        assert wait_until(lambda: a.connected and b.connected)
        time.sleep(0.2)
        for k in range(1, 6):
            publisher.publish("a", _jpeg(k), _headers(k, T0 + timedelta(seconds=k)))
            publisher.publish("b", _jpeg(k), {"X-Frame-Seq": str(k)})
            time.sleep(0.1)
        assert wait_until(lambda: pipe.stats.per_stream.get("a", 0) >= 3 and pipe.stats.no_pose >= 3)
    finally:
        pipe.stop()
    assert pipe.stats.per_stream.get("b", 0) == 0 and pipe.stats.errors == 0


def test_poses_from_the_drones_mavlink_telemetry_match_where_its_camera_is(scenario: Scenario) -> None:
    import math

    from tests.simvideo import StreamingWorld
    from vision.telemetry import MavlinkPoseFeed

    with StreamingWorld(scenario, speedup=1, fps=1) as world:
        world.take_off(to=(0.0, 80.0, 50.0), roi=(60.0, 200.0))
        history = PoseHistory()
        feed = MavlinkPoseFeed(world.world.mavlink_url(world.airport), history).start()
        try:
            assert wait_until(lambda: feed.samples >= 10, 15), "no telemetry"
            c = world.copter
            truth_lon, truth_lat = c.lonlat()
            truth_heading = (c.body.yaw_deg + c.gimbal_yaw) % 360
            truth = (truth_lon, truth_lat, c.body.alt, truth_heading, c.gimbal_pitch)
            pose = history.at(datetime.now(UTC))
        finally:
            feed.stop()
    assert pose is not None
    x0, y0 = scenario.frame.to_xy(truth[0], truth[1])
    x1, y1 = scenario.frame.to_xy(pose.lon, pose.lat)
    assert math.hypot(x1 - x0, y1 - y0) < 5.0 and abs(pose.alt_m - truth[2]) < 2.0
    assert abs((pose.heading_deg - truth[3] + 180) % 360 - 180) < 5.0
    assert abs(pose.pitch_deg - truth[4]) < 3.0


def test_a_video_file_opens_through_opencv_and_its_end_is_retried(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (128, 72))
    for k in range(20):
        writer.write(np.full((72, 128, 3), 10 * k, np.uint8))
    writer.release()
    ing = StreamIngest("file", str(path), backoff_s=(2.0, 2.0)).start()
    taken = []
    try:
        deadline = time.time() + 2.5  # 20 frames at 10 fps, then the end and a 2 s backoff
        while time.time() < deadline:
            f = ing.take(timeout=0.2)
            if f is not None:
                taken.append(f)
        assert wait_until(lambda: ing.stats.connects >= 2, 5), "the end of the file counts as the stream ending"
    finally:
        ing.stop()
    assert len(taken) >= 15, "played at its frame rate, not dumped at once"
    frame = taken[0]
    assert frame.image is not None and frame.image.shape == (72, 128, 3)
    assert frame.received_at is not None and frame.pose is None
    assert ing.stats.last_error == "stream ended"
