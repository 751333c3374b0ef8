"""`dronepatrol vision run` on a live stream, and findings published on MQTT with their evidence."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import aiomqtt
import cv2
import numpy as np
import pytest

from missions.incidents import FirePlan
from missions.optics import Intrinsics, Pose
from missions.scenario import Scenario
from missions.vocabulary import findings_topic
from orchestrator.bus.broker import EmbeddedBroker
from orchestrator.bus.findings import FindingPublisher
from orchestrator.cli import main
from sim.scene.render import Effects, Renderer, Scene
from tests.simvideo import Publisher
from vision.findings import FindingReport

HFOV = 82.0


def _fire_frames(sc: Scenario, n: int) -> tuple[list[bytes], Pose, tuple[float, float]]:
    """Frames of a fire 120 m ahead of a camera 60 m up, looking at it."""
    ap = sc.airports["shekou"]
    hx, hy = sc.to_xy(ap.lon, ap.lat)
    t = sc.day_start().replace(hour=10)
    fire = (hx + 20.0, hy + 160.0)
    renderer = Renderer(sc, Scene(fires=[FirePlan("f", fire, t - timedelta(minutes=8), 0.6, 10)]), 0)
    pose = Pose(hx + 20.0, hy + 40.0, 60.0, 0.0, -27.0)
    out = []
    for k in range(n):
        frame = renderer.render(Intrinsics(640, 360, HFOV), pose, t + timedelta(seconds=k), (1.0, 0.0), Effects(2.0))
        out.append(cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    return out, pose, fire


def _feed(pub: Publisher, sc: Scenario, frames: list[bytes], pose: Pose, with_pose: bool, stop: threading.Event):  # type: ignore[no-untyped-def]
    lon, lat = sc.frame.to_lonlat(pose.x, pose.y)
    t0 = sc.day_start().replace(hour=10)
    k = 0
    while not stop.is_set():
        headers = {"X-Frame-Seq": str(k + 1), "X-Capture-Time": (t0 + timedelta(seconds=0.5 * k)).isoformat()}
        if with_pose:
            headers["X-Pose"] = f"{lon:.7f},{lat:.7f},{pose.alt:.2f},{pose.heading_deg:.2f},{pose.pitch_deg:.2f}"
        pub.publish("shekou", frames[k % len(frames)], headers)
        k += 1
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("with_pose", [True, False])
def test_vision_run_prints_the_fire_it_sees(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path, with_pose: bool
) -> None:
    frames, pose, fire = _fire_frames(scenario, 6)
    pub = Publisher().start("shekou")
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(pub, scenario, frames, pose, with_pose, stop), daemon=True)
    feeder.start()
    lon, lat = scenario.frame.to_lonlat(pose.x, pose.y)
    args = ["vision", "run", pub.url("shekou"), "--name", "shekou", "--duration", "8", "--json"]
    args += ["--evidence", str(tmp_path)]
    if not with_pose:  # a fixed camera: its pose given once
        args += ["--pose-from", f"fixed:{lon},{lat},{pose.alt},{pose.heading_deg},{pose.pitch_deg},{HFOV}"]
    try:
        code = main(args)
    finally:
        stop.set()
        feeder.join(5)
        pub.stop()
    assert code == 0
    out = capsys.readouterr()
    findings = [json.loads(line) for line in out.out.splitlines() if line.startswith("{")]
    fires = [f for f in findings if f["kind"] == "fire"]
    assert fires, out.err[-2000:]
    x, y = scenario.frame.to_xy(fires[0]["lon"], fires[0]["lat"])
    assert np.hypot(x - fire[0], y - fire[1]) <= 30.0
    assert (tmp_path / f"{fires[0]['id']}-crop.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert "frames processed" in out.err


def test_vision_run_refuses_bad_poses_and_models(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/video/x.mjpg"
    assert main(["vision", "run", url, "--pose-from", "fixed:1,2,3"]) == 2
    assert "LON,LAT,ALT,HEADING,PITCH" in capsys.readouterr().err
    assert main(["vision", "run", url, "--pose-from", "fixed:113.9,22.5,-5,0,-45"]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["vision", "run", url, "--pose-from", "gps"]) == 2
    assert main(["vision", "run", url, "--model", str(tmp_path / "none.onnx")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["vision", "run", url, "--imgsz", "300"]) == 2
    assert "multiple of 32" in capsys.readouterr().err


def test_findings_are_published_on_mqtt_with_their_evidence(scenario: Scenario) -> None:
    t = scenario.day_start().replace(hour=10)
    img = np.full((360, 640, 3), 60, np.uint8)
    crop = cv2.imencode(".jpg", img[:64, :64])[1].tobytes()
    full = cv2.imencode(".jpg", img)[1].tobytes()
    report = FindingReport(
        "shekou-fire-3",
        "fire",
        113.913,
        22.4935,
        6.5,
        0.81,
        t,
        t + timedelta(seconds=4),
        "shekou",
        "S-0001",
        None,
        None,
        42,
        crop,
        full,
        t + timedelta(seconds=5),
    )

    async def run() -> dict[str, object]:
        broker = EmbeddedBroker()
        address = await broker.start()
        try:
            async with aiomqtt.Client(address.host, address.port, identifier="test-findings") as sub:
                await sub.subscribe(findings_topic("+"), qos=1)
                pub = FindingPublisher(address.url)
                await pub.start()
                await pub.publish(report)
                await pub.stop()
                async with asyncio.timeout(5):
                    async for m in sub.messages:
                        assert str(m.topic) == findings_topic("shekou")
                        return json.loads(m.payload)  # type: ignore[arg-type]
        finally:
            await broker.stop()
        raise AssertionError("no message")

    msg = asyncio.run(run())
    assert msg["kind"] == "fire" and msg["id"] == "shekou-fire-3" and msg["sortie"] == "S-0001"
    assert msg["first_seen"] == t.isoformat() and msg["sigma_m"] == 6.5
    evidence = msg["evidence"]
    assert isinstance(evidence, dict)
    assert base64.b64decode(evidence["crop_jpeg_b64"]) == crop
    assert base64.b64decode(evidence["frame_jpeg_b64"]) == full


def test_finding_ids_differ_between_flights_and_are_safe_everywhere() -> None:
    """Track numbers restart with each flight: a later flight's track 1 must not take the
    id (and overwrite the evidence) of an earlier flight's track 1."""
    from datetime import UTC, datetime

    from missions.identifiers import check_identifier
    from vision.findings import finding_id

    morning = finding_id("shekou", "fire", datetime(2026, 12, 2, 1, 0, 5, tzinfo=UTC), 1)
    noon = finding_id("shekou", "fire", datetime(2026, 12, 2, 4, 30, 0, tzinfo=UTC), 1)
    assert morning != noon and morning == "shekou-fire-20261202T010005-1"
    odd = finding_id("mast cam/2+", "smoke", datetime(2026, 12, 2, 1, 0, 5, tzinfo=UTC), 3)
    assert check_identifier(odd) == odd
