"""Inbound alerts that cannot be flown, or must not be: each refused with a clear 4xx and
its reason (or, over MQTT, a recorded refusal and a published decision), none taken
twice, nothing crashing. No drones here: what can be decided is decided and said."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from missions.cap import CapFinding, cap_alert
from missions.scenario import Scenario
from missions.vocabulary import ALERTS_IN_TOPIC, ALERTS_REPLY_TOPIC
from orchestrator.bus.client import BusClient
from orchestrator.settings import AlertSettings
from tests.apiserver import ServiceThread, auth

INSIDE = {"lat": 22.5450, "lon": 113.9560}


@pytest.fixture
def svc(scenario: Scenario, tmp_path: Path) -> Iterator[ServiceThread]:
    at = scenario.day_start().replace(hour=11)
    with ServiceThread(
        scenario, f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, lambda: at, alerts=AlertSettings(flood_per_min=12)
    ) as s:
        yield s


def _no_fly_point(scenario: Scenario) -> dict[str, float]:
    zone = next(z for z in scenario.airspace.zones if z.kind.value == "no_fly" and z.id == "zgnt-core")
    p = zone.area.representative_point()
    lon, lat = scenario.frame.to_lonlat(p.x, p.y)
    return {"lat": lat, "lon": lon}


def _island_point(scenario: Scenario) -> dict[str, float]:
    """Part of the district the drones do not fly to (an outlying island)."""
    p = scenario.outlying[0].representative_point()
    lon, lat = scenario.frame.to_lonlat(p.x, p.y)
    return {"lat": lat, "lon": lon}


def test_bad_alerts_are_refused_with_the_reason_and_repeats_are_not_taken_twice(
    svc: ServiceThread, scenario: Scenario
) -> None:
    with httpx.Client(base_url=svc.url + "/api/v1", timeout=10, headers=auth("integration")) as api:
        cases = [
            ({"kind": "fire", "lat": 22.28, "lon": 114.17}, 422, "outside"),  # Hong Kong island
            ({"kind": "fire", **_island_point(scenario)}, 422, "operating area"),
            ({"kind": "fire", **_no_fly_point(scenario)}, 422, "no-fly zone zgnt-core"),
            ({"kind": "meteor", **INSIDE}, 422, "unknown alert kind 'meteor'"),
            ({"kind": "fire"}, 422, "lat and lon, or a polygon"),
            ({"kind": "fire", "lat": 95, "lon": 113.9}, 422, "lat"),
            ({"kind": "fire", **INSIDE, "priority": 0}, 422, "priority"),
            ({"kind": "fire", **INSIDE, "colour": "red"}, 422, "colour"),
            ({"kind": "fire", "polygon": [[113.95, 22.54], [113.96, 22.54], [113.95, 22.55]]}, 422, "polygon"),
        ]
        for body, status, reason in cases:
            r = api.post("/alerts", json=body)
            assert r.status_code == status and reason in r.json()["detail"], (body, r.status_code, r.text)

        # No drone to send (this service has none): taken, recorded, and said.
        r = api.post("/alerts", json={"kind": "fire", **INSIDE, "id": "SZ-119-0001", "note": "sensor T-17"})
        assert r.status_code == 201, r.text
        first = r.json()
        assert first["state"] == "unserved" and "no drone can go" in first["decision"]
        assert first["source"] == "api" and first["sender"] == "alerts" and first["priority"] == 1
        again = api.post("/alerts", json={"kind": "fire", **INSIDE, "id": "SZ-119-0001"})
        assert again.status_code == 409 and first["id"] in again.json()["detail"]

        # A parking complaint is proposed to an operator; a second one there is merged into it.
        polygon = [
            [113.9472, 22.5405],
            [113.9490, 22.5405],
            [113.9490, 22.5415],
            [113.9472, 22.5415],
            [113.9472, 22.5405],
        ]
        p1 = api.post("/alerts", json={"kind": "illegal_parking", "polygon": polygon}).json()
        assert p1["state"] == "proposed" and p1["priority"] == 3 and 22.5405 < p1["lat"] < 22.5415, p1
        p2 = api.post("/alerts", json={"kind": "illegal_parking", "lat": 22.5411, "lon": 113.9482}).json()
        assert p2["state"] == "merged" and p2["merged_into"] == p1["id"], p2
        assert api.post(f"/alerts/{p1['id']}/dispatch", headers=auth("viewer")).status_code == 403
        sent = api.post(f"/alerts/{p1['id']}/dispatch", headers=auth("operator"))
        assert sent.status_code == 200 and sent.json()["state"] == "unserved", sent.text
        assert api.post(f"/alerts/{p2['id']}/dispatch", headers=auth("operator")).status_code == 409
        assert api.post("/alerts/nope/dispatch", headers=auth("operator")).status_code == 404

        # A caller about a fire the drone is already watching: merged, no second flight.
        assert svc.service is not None
        book = svc.service.store.alerts
        watched = {**first, "lat": 22.5600, "lon": 113.9600}
        seen_id = "al-seen-fire"
        book.add_alert(
            dataclasses.replace(
                book.alert(first["id"]),
                id=seen_id,
                external_id=None,
                state="seen",
                lat=watched["lat"],
                lon=watched["lon"],
            )
        )
        call = api.post("/alerts", json={"kind": "smoke", "lat": 22.5605, "lon": 113.9602}).json()
        assert call["state"] == "merged" and call["merged_into"] == seen_id, call

        # A viewer sends nothing; the audit log has every refusal.
        assert api.post("/alerts", json={"kind": "fire", **INSIDE}, headers=auth("viewer")).status_code == 403
        audit = api.get("/audit", headers=auth("admin")).json()
        assert sum(1 for a in audit if a["action"] == "send_alert" and a["status"] == 422) >= 4

        # A flood: more than 12 a minute from one sender.
        statuses = [
            api.post("/alerts", json={"kind": "smoke", "lat": 22.53, "lon": 113.93}).status_code for _ in range(12)
        ]
        assert 429 in statuses
        r = api.post("/alerts", json={"kind": "smoke", "lat": 22.53, "lon": 113.93})
        assert r.status_code == 429 and r.headers["retry-after"] == "60" and "slow down" in r.json()["detail"]

        rejected = api.get("/alerts", params={"state": "rejected"}).json()
        assert any("no-fly" in a["decision"] for a in rejected)
        listed = {a["id"] for a in api.get("/alerts").json()}
        assert {first["id"], p1["id"], p2["id"]} <= listed
        measures = api.get("/alerts/measures", params={"day": "2026-12-02"}).json()
        assert measures["alerts"] == len(listed) and measures["stages"]["on_scene"]["n"] == 0


def test_cap_alerts_are_taken_by_rest_and_mqtt_and_garbage_gets_a_recorded_refusal(
    svc: ServiceThread, scenario: Scenario
) -> None:
    at = scenario.day_start().replace(hour=11)
    finding = CapFinding("smoke", 22.5450, 113.9560, 50.0, 0.8, at, "Dashahe", "a caller reports smoke")
    xml = cap_alert(finding, "44030512345600_20261202110000_0", at - timedelta(minutes=1))
    with httpx.Client(base_url=svc.url + "/api/v1", timeout=10, headers=auth("integration")) as api:
        r = api.post("/cap", content=xml, headers={"Content-Type": "application/cap+xml"})
        assert r.status_code == 201, r.text
        taken = r.json()
        assert taken["source"] == "cap" and taken["kind"] == "smoke" and taken["external_id"].endswith("_0")
        assert api.post("/cap", content=xml).status_code == 409
        bad = api.post("/cap", content=b"<alert>not cap</alert>")
        assert bad.status_code == 422 and "not a CAP 1.2" in bad.json()["detail"]

        assert svc.service is not None
        url = svc.service.bus.address.url
        replies: list[dict] = []  # type: ignore[type-arg]

        async def over_mqtt() -> None:
            client = BusClient(url, "test-alert-sender")

            async def on(topic: str, payload: bytes) -> None:
                replies.append(json.loads(payload))

            client.subscribe(ALERTS_REPLY_TOPIC, on)
            await client.start()
            await client.publish(ALERTS_IN_TOPIC, b"{not json")
            await client.publish(ALERTS_IN_TOPIC, json.dumps({"kind": "fire", "lat": 22.28, "lon": 114.17}))
            await client.publish(ALERTS_IN_TOPIC, xml.replace("_0<", "_1<").replace("<status>Actual", "<status>Draft"))
            await client.publish(ALERTS_IN_TOPIC, json.dumps({"kind": "flood", "lat": 22.53, "lon": 113.93}))
            for _ in range(100):
                if len(replies) >= 4:
                    break
                await asyncio.sleep(0.05)
            await client.stop()

        asyncio.run(over_mqtt())
        assert [r["ok"] for r in replies] == [False, False, False, True], replies
        assert "JSON" in replies[0]["reason"] or "json" in replies[0]["reason"].lower()
        assert "outside" in replies[1]["reason"] and "Draft" in replies[2]["reason"]
        assert replies[3]["alert"]["kind"] == "flood" and replies[3]["alert"]["source"] == "mqtt"
        rejected = {a["id"]: a for a in api.get("/alerts", params={"state": "rejected"}).json()}
        assert all(r["alert_id"] in rejected for r in replies[:3]), "each refusal is on record"


def test_the_flood_limit_on_mqtt_holds_whatever_sender_the_message_names_and_garbage_has_its_own(
    svc: ServiceThread, scenario: Scenario
) -> None:
    """The bus does not say which user published: a CAP `<sender>` changed on every message
    must not open a new allowance each time. Malformed messages count against an allowance
    of their own, so garbage first does not crowd out the real alerts after it."""
    at = scenario.day_start().replace(hour=11)
    finding = CapFinding("smoke", 22.5450, 113.9560, 50.0, 0.8, at, "Dashahe", "a caller reports smoke")
    assert svc.service is not None
    url = svc.service.bus.address.url
    replies: list[dict] = []  # type: ignore[type-arg]

    async def flood() -> None:
        client = BusClient(url, "test-alert-flood")
        all_in = asyncio.Event()

        async def on(topic: str, payload: bytes) -> None:
            replies.append(json.loads(payload))
            if len(replies) >= 36:
                all_in.set()

        client.subscribe(ALERTS_REPLY_TOPIC, on)
        await client.start()
        for i in range(20):
            await client.publish(ALERTS_IN_TOPIC, b"{garbage %d" % i)
        for i in range(16):
            xml = cap_alert(finding, f"44030512345600_2026120211{i:02d}00_1", at - timedelta(minutes=1))
            await client.publish(ALERTS_IN_TOPIC, xml.replace("dronepatrol@440305", f"forged-{i}@example"))
        try:
            await asyncio.wait_for(all_in.wait(), 10)
        finally:
            await client.stop()

    asyncio.run(flood())
    assert len(replies) == 36, replies
    statuses = [r.get("status") for r in replies]
    assert statuses[:12] == [422] * 12, "garbage is refused, and recorded within its allowance"
    assert statuses[12:20] == [429] * 8, "garbage past its allowance is only counted"
    assert all(r["ok"] for r in replies[20:32]), "the twelve real alerts after it are all taken"
    assert statuses[-4:] == [429] * 4, statuses


@pytest.mark.parametrize("bad", ["../../etc/passwd", "a/b", "<script>", "x y", ".hidden", "a\nb"])
def test_a_senders_id_that_could_become_a_path_or_markup_is_refused(bad: str) -> None:
    from pydantic import ValidationError

    from orchestrator.alerts.inbound import AlertIn

    with pytest.raises(ValidationError, match="id"):
        AlertIn(kind="fire", lat=22.5, lon=113.9, id=bad)
    assert AlertIn(kind="fire", lat=22.5, lon=113.9, id="44030512345600_20261202110000_1").id
    assert AlertIn(kind="fire", lat=22.5, lon=113.9, id="SZ119-0931").id
