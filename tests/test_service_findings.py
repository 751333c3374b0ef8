"""Vision's findings reach the service over MQTT: stored once (a repeat updates it), the
evidence written beside the database, served by the API; garbage is refused, logged,
and breaks nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np

from missions.scenario import Scenario
from missions.vocabulary import findings_topic
from orchestrator.bus.client import BusClient
from orchestrator.bus.findings import FindingPublisher
from tests.apiserver import ServiceThread, auth
from vision.findings import FindingReport


def _jpeg(value: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), value, np.uint8))
    assert ok
    return buf.tobytes()


def test_a_finding_on_the_bus_is_stored_with_its_evidence_and_served(scenario: Scenario, tmp_path: Path) -> None:
    at = scenario.day_start().replace(hour=10)
    report = FindingReport(
        "shekou-fire-7",
        "fire",
        113.9301,
        22.5002,
        6.5,
        0.71,
        at,
        at + timedelta(seconds=4),
        "shekou",
        "tanglang-ridge.20261202T1000.1",
        None,
        None,
        41,
        _jpeg(40),
        _jpeg(200),
        at + timedelta(seconds=4),
    )
    with ServiceThread(scenario, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, lambda: at) as svc:
        assert svc.service is not None
        url = svc.service.bus.address.url

        async def publish() -> None:
            pub = FindingPublisher(url, identifier="test-vision")
            await pub.start()
            await pub.publish(report)
            await pub.publish(dataclasses.replace(report, last_seen=at + timedelta(seconds=30), confidence=0.8))
            raw = BusClient(url, "test-garbage")
            await raw.start()
            await raw.publish(findings_topic("shekou"), b"{not json", qos=1)
            await raw.publish(findings_topic("shekou"), b'{"type":"finding","id":"x"}', qos=1)
            await raw.stop()
            await pub.stop()

        asyncio.run(publish())
        with httpx.Client(base_url=svc.url + "/api/v1", headers=auth("viewer"), timeout=10) as api:
            deadline = time.monotonic() + 10
            rows: list = []  # type: ignore[type-arg]
            while time.monotonic() < deadline:
                rows = api.get("/findings").json()
                if rows and rows[0]["confidence"] > 0.75:
                    break
                time.sleep(0.1)
            assert [r["id"] for r in rows] == ["shekou-fire-7"], rows
            f = rows[0]
            assert f["kind"] == "fire" and f["sortie"] == "tanglang-ridge.20261202T1000.1"
            assert f["last_seen"].startswith("2026-12-02T10:00:30+08:00") and f["confidence"] == 0.8
            image = api.get(svc.url + f["evidence"])
            assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
            decoded = cv2.imdecode(np.frombuffer(image.content, np.uint8), cv2.IMREAD_COLOR)
            assert decoded.shape == (48, 64, 3) and abs(int(decoded.mean()) - 200) < 5, "the annotated frame"
            crop_jpeg = api.get(svc.url + f["evidence"], params={"crop": True}).content
            crop = cv2.imdecode(np.frombuffer(crop_jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert abs(int(crop.mean()) - 40) < 5
            assert api.get("/findings/nope").status_code == 404
            assert api.get("/health").json()["counts"]["findings"] == 1


def test_finding_ids_that_would_break_a_topic_a_path_or_the_page_are_refused_and_the_bus_lives_on(
    scenario: Scenario, tmp_path: Path
) -> None:
    """A `+` or `#` in a finding id once made the incident's MQTT publish raise and ended the
    service's MQTT task for good; a `/` made the incident unreachable by URL; quotes and
    angle brackets ran script in the dashboard. They are refused at the door."""
    at = scenario.day_start().replace(hour=10)
    good = FindingReport(
        "shekou-fire-8", "fire", 113.9301, 22.5002, 6.5, 0.9, at, at + timedelta(seconds=4), "shekou", None,
        None, None, 8, _jpeg(40), _jpeg(200), at + timedelta(seconds=4),
    )  # fmt: skip
    bad_ids = ["a+b", "fire/#", "x/y", '"><img src=x onerror=alert(1)>', "", "a" * 200]
    with ServiceThread(scenario, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, lambda: at) as svc:
        assert svc.service is not None
        url = svc.service.bus.address.url

        async def publish() -> None:
            pub = FindingPublisher(url, identifier="test-vision-hostile")
            await pub.start()
            for bad in bad_ids:
                await pub.publish(dataclasses.replace(good, id=bad))
            await pub.publish(good)
            await pub.stop()

        asyncio.run(publish())
        with httpx.Client(base_url=svc.url + "/api/v1", headers=auth("viewer"), timeout=10) as api:
            deadline = time.monotonic() + 10
            incidents: list = []  # type: ignore[type-arg]
            while time.monotonic() < deadline and not incidents:
                incidents = api.get("/incidents").json()
                time.sleep(0.1)
            assert [r["id"] for r in api.get("/findings").json()] == ["shekou-fire-8"]
            assert [i["id"] for i in incidents] == ["inc.shekou-fire-8"]
            bus = svc.service.bus.status()
            assert bus["running"] and bus["connected"], bus
            assert bus["refused"] == 0, "nothing unpublishable reached the bus"
            health = api.get("/health").json()
            assert health["status"] == "ok" and health["bus"]["running"] and health["bus"]["connected"], health
