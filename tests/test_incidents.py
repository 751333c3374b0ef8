"""Findings on the bus become incidents pushed to the alert system: CAP 1.2 valid against
the OASIS schema, a signed webhook with an idempotency key, MQTT; the lifecycle by API;
a false alarm cancels the CAP alert and weighs on the next report there."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from missions.alerting import FEEDBACK_FACTOR
from missions.cap import IDENTIFIER_RE
from missions.scenario import Scenario
from missions.vocabulary import CAP_TOPIC
from orchestrator.alerts.outbox import SIGNATURE_HEADER, verify
from orchestrator.bus.client import BusClient
from orchestrator.bus.findings import FindingPublisher
from orchestrator.settings import AlertSettings, WebhookTarget
from tests.apiserver import ServiceThread, auth
from tests.test_service_findings import _jpeg
from tests.webhook import Received, RunningClock, WebhookReceiver
from vision.findings import FindingReport

SECRET = "district-alert-secret-0042"
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2", "atom": "http://www.w3.org/2005/Atom"}


def _report(fid: str, lat: float, lon: float, conf: float, at: Any, kind: str = "fire") -> FindingReport:
    return FindingReport(
        fid, kind, lon, lat, 6.0, conf, at, at + timedelta(seconds=5), "taoyuan", "tanglang-ridge.x.1",
        None, None, 12, _jpeg(60), _jpeg(180), at + timedelta(seconds=5),
    )  # fmt: skip


async def _send(url: str, *reports: FindingReport) -> None:
    pub = FindingPublisher(url, identifier="test-vision-incidents")
    await pub.start()
    for r in reports:
        await pub.publish(r)
    await pub.stop()


def _publish(url: str, *reports: FindingReport) -> None:
    asyncio.run(_send(url, *reports))


def _wait(pred: Callable[[], Any], timeout: float = 10.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("not within the time")


def _events(hook: WebhookReceiver, event: str) -> list[Received]:
    return [r for r in hook.received if r.json["event"] == event]


def test_a_fire_becomes_one_incident_pushed_as_cap_and_signed_webhook_then_cancelled_as_a_false_alarm(
    scenario: Scenario, tmp_path: Path, cap_schema: etree.XMLSchema
) -> None:
    at = scenario.day_start().replace(hour=9, minute=41)
    clock = RunningClock(at)
    with WebhookReceiver() as hook:
        settings = AlertSettings(
            webhooks=[WebhookTarget(url=hook.url, secret=SECRET)], public_url="https://patrol.example"
        )
        db = f"sqlite:///{tmp_path / 'db.sqlite'}"
        with ServiceThread(scenario, db, tmp_path, clock, alerts=settings, run=True) as svc:
            assert svc.service is not None
            bus_url = svc.service.bus.address.url
            cap_seen: list[bytes] = []

            async def listen() -> None:
                sub = BusClient(bus_url, "test-cap-listener")

                async def on(topic: str, payload: bytes) -> None:
                    cap_seen.append(payload)

                sub.subscribe(CAP_TOPIC, on)
                await sub.start()
                await _send(bus_url, _report("taoyuan-fire-1", 22.5840, 113.9950, 0.62, at))
                await asyncio.sleep(0.3)
                # The same fire, 40 m on and seen surer: the same incident, not a second one.
                await _send(bus_url, _report("taoyuan-fire-2", 22.5843, 113.9952, 0.71, at + timedelta(seconds=50)))
                for _ in range(100):
                    if cap_seen:
                        break
                    await asyncio.sleep(0.1)
                await sub.stop()

            asyncio.run(listen())
            opened = _wait(lambda: _events(hook, "opened"))
            with httpx.Client(base_url=svc.url + "/api/v1", timeout=10) as api:
                incidents = _wait(
                    lambda: [i for i in api.get("/incidents", headers=auth("viewer")).json() if i["sightings"] == 2]
                )
                assert len(api.get("/incidents", headers=auth("viewer")).json()) == 1
                inc = incidents[0]
                assert inc["kind"] == "fire" and inc["state"] == "new" and inc["published"]
                assert inc["radius_m"] >= 25 and inc["confidence"] == pytest.approx(0.71)

                # The webhook: signed, keyed, carrying valid CAP.
                hit = opened[0]
                assert verify(SECRET, hit.body, hit.headers[SIGNATURE_HEADER.lower()])
                assert not verify("another-secret-000000", hit.body, hit.headers[SIGNATURE_HEADER.lower()])
                assert hit.headers["idempotency-key"] == hit.json["key"]
                cap = hit.json["cap"]
                assert cap["msg_type"] == "Alert" and IDENTIFIER_RE.match(cap["identifier"])
                assert cap["identifier"].startswith("440305") and cap["identifier"][15:27] == "202612020941"
                doc = etree.fromstring(cap["xml"].encode())
                cap_schema.assertValid(doc)
                assert doc.findtext("cap:sent", namespaces=NS).endswith("+08:00")
                info = doc.find("cap:info", NS)
                assert [info.findtext(f"cap:{t}", namespaces=NS) for t in ("category", "urgency", "severity")] == [
                    "Fire", "Immediate", "Severe",
                ]  # fmt: skip
                assert info.findtext("cap:area/cap:circle", namespaces=NS).startswith("22.584000,113.995000 ")
                assert info.findtext("cap:resource/cap:uri", namespaces=NS) == (
                    "https://patrol.example/api/v1/findings/taoyuan-fire-1/evidence"
                )
                assert cap_seen and cap_seen[0].decode() == cap["xml"], "the same CAP message on MQTT"

                # Served: each message, and the Atom feed of them.
                one = api.get(f"/cap/{cap['identifier']}", headers=auth("viewer"))
                assert one.status_code == 200 and one.headers["content-type"].startswith("application/cap+xml")
                assert one.text == cap["xml"]
                feed = ET.fromstring(api.get("/cap/feed", headers=auth("viewer")).content)
                entries = feed.findall("atom:entry", NS)
                assert entries and entries[-1].findtext("atom:id", namespaces=NS) == f"urn:cap:{cap['identifier']}"
                cap_schema.assertValid(etree.fromstring(ET.tostring(entries[-1].find("atom:content/cap:alert", NS))))

                # The lifecycle: a viewer may not; the alert system acknowledges; a crew finds nothing.
                path = f"/incidents/{inc['id']}/state"
                assert api.post(path, json={"state": "acknowledged"}, headers=auth("viewer")).status_code == 403
                r = api.post(path, json={"state": "acknowledged"}, headers=auth("integration"))
                assert r.status_code == 200, r.text
                r = api.post(
                    path, json={"state": "false_alarm", "note": "crew 12: a barbecue"}, headers=auth("operator")
                )
                assert r.status_code == 200, r.text
                detail = r.json()
                assert [e["state"] for e in detail["events"]][-2:] == ["acknowledged", "false_alarm"]
                assert detail["events"][-1]["actor"] == "otto" and "barbecue" in detail["events"][-1]["note"]
                assert [c["msg_type"] for c in detail["cap"]] == ["Alert", "Cancel"]
                again = api.post(path, json={"state": "resolved"}, headers=auth("operator"))
                assert again.status_code == 409 and "closed" in again.json()["detail"]
                assert api.post(path, json={"state": "burning"}, headers=auth("operator")).status_code == 422
                assert (
                    api.post("/incidents/nope/state", json={"state": "resolved"}, headers=auth("operator")).status_code
                    == 404
                )

                cancel = _wait(lambda: _events(hook, "false_alarm"))[0].json["cap"]
                assert cancel["msg_type"] == "Cancel"
                cdoc = etree.fromstring(cancel["xml"].encode())
                cap_schema.assertValid(cdoc)
                assert cdoc.findtext("cap:msgType", namespaces=NS) == "Cancel"
                refs = cdoc.findtext("cap:references", namespaces=NS)
                assert refs.split(",")[1] == cap["identifier"] and refs.startswith("dronepatrol@440305,")
                kept = tmp_path / "training" / "false_alarms" / "fire" / f"{inc['id']}.jpg"
                assert kept.is_file() and json.loads(kept.with_suffix(".json").read_text())["claimed"] == "fire"

                # The next report there counts the false alarm against it.
                _publish(bus_url, _report("taoyuan-fire-9", 22.5841, 113.9950, 0.60, at + timedelta(minutes=20)))
                fresh = _wait(
                    lambda: [i for i in api.get("/incidents", headers=auth("viewer")).json() if i["state"] == "new"]
                )[0]
                assert fresh["id"] != inc["id"] and fresh["raw_confidence"] == pytest.approx(0.60)
                assert fresh["confidence"] == pytest.approx(0.60 * FEEDBACK_FACTOR, abs=0.01)
                keys = [r.headers["idempotency-key"] for r in hook.received]
                assert len(keys) == len(set(keys)), "each event delivered once while the receiver was up"


def test_smoke_and_then_flames_at_one_place_are_one_incident_called_fire(tmp_path: Path) -> None:
    """One fire seen first as its plume, then as flames 80 m away: one incident and one
    public alert (its CAP Update says fire), not a smoke alert and a fire alert."""
    from datetime import UTC, datetime

    from missions.cap import Issuer
    from orchestrator.alerts.incidents import IncidentDesk
    from orchestrator.store import FindingRecord, Store

    t = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        desk = IncidentDesk(store.alerts, lambda: t, issuer=Issuer(), webhooks=[], data_dir=tmp_path)

        def finding(fid: str, kind: str, lat: float, conf: float) -> FindingRecord:
            return FindingRecord(fid, kind, "taoyuan", "s1", lat, 113.9950, conf, t, t, t, {"id": fid, "sigma_m": 8})

        smoke = desk.on_finding(finding("taoyuan-smoke-1", "smoke", 22.5840, 0.7))
        fire = desk.on_finding(finding("taoyuan-fire-2", "fire", 22.5847, 0.8))
        other = desk.on_finding(finding("taoyuan-smoke-3", "smoke", 22.6000, 0.7))  # 1.8 km north: another
        assert smoke is not None and fire is not None and other is not None
        assert fire.id == smoke.id and fire.kind == "fire" and fire.sightings == 2
        assert other.id != smoke.id
        caps = store.alerts.caps(incident_id=smoke.id, limit=10)
        assert sorted(c.msg_type for c in caps) == ["Alert", "Update"]
        update = next(c for c in caps if c.msg_type == "Update")
        assert "<event>" in update.xml and "ire" in update.xml.split("<event>")[1].split("</event>")[0]
    finally:
        store.close()
