"""At least once, nothing lost: the alert system's receiver is down for ten simulated
minutes and the orchestrator restarts meanwhile; when the receiver is back it gets
every event, and a repeat only ever with the same idempotency key."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from missions.scenario import Scenario
from orchestrator.alerts.outbox import SIGNATURE_HEADER, in_order, verify
from orchestrator.settings import AlertSettings, WebhookTarget
from tests.apiserver import ServiceThread, auth
from tests.test_incidents import SECRET, _publish, _report, _wait
from tests.webhook import RunningClock, WebhookReceiver

pytestmark = pytest.mark.slow
SPEED = 120.0
"""Simulated seconds per wall second: ten minutes pass in five seconds."""


def test_every_event_reaches_a_receiver_that_was_down_across_a_restart(scenario: Scenario, tmp_path: Path) -> None:
    at = scenario.day_start().replace(hour=12)
    clock = RunningClock(at, SPEED)
    hook = WebhookReceiver()  # its port, not yet listening
    settings = AlertSettings(webhooks=[WebhookTarget(url=hook.url, secret=SECRET)], retry_max_s=60)
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    places = [(22.5840, 113.9950), (22.6400, 113.9440), (22.4980, 113.9060)]

    with ServiceThread(scenario, db, tmp_path, clock, alerts=settings, run=True) as first:
        assert first.service is not None
        book = first.service.store.alerts
        _publish(
            first.service.bus.address.url,
            *(_report(f"drone-fire-{i}", lat, lon, 0.8, clock()) for i, (lat, lon) in enumerate(places)),
        )
        down_since = clock()
        _wait(lambda: len([o for o in book.outbox(pending=True) if o.channel == "webhook"]) == 3)
        incident = book.incidents()[0].id
        with httpx.Client(base_url=first.url + "/api/v1", timeout=10) as api:
            r = api.post(f"/incidents/{incident}/state", json={"state": "dispatched"}, headers=auth("operator"))
            assert r.status_code == 200, r.text
        # Each incident's first event is retried; a later one waits behind it (order kept).
        _wait(lambda: all(o.attempts >= 2 for o in in_order(*[book.outbox(pending=True)] * 2)), timeout=15)
    # The service is down; the receiver still is.
    with ServiceThread(scenario, db, tmp_path, clock, alerts=settings, run=True) as second:
        assert second.service is not None
        book = second.service.store.alerts
        pending = [o for o in book.outbox(pending=True) if o.channel == "webhook"]
        assert len(pending) == 4, [(o.key, o.attempts) for o in pending]
        health = httpx.get(second.url + "/api/v1/health", timeout=10).json()
        assert health["counts"]["outbox_pending"] >= 4, "a receiver that does not take them shows in /health"
        while clock() - down_since < timedelta(minutes=10):
            time.sleep(0.1)
        with hook:
            _wait(lambda: not book.outbox(pending=True), timeout=20)
            received = list(hook.received)
    keys = {o.key for o in pending}
    assert {r.headers["idempotency-key"] for r in received} == keys, "every event, none lost"
    for r in received:
        assert r.headers["idempotency-key"] == r.json["key"], "a repeat carries the key of its event"
        assert verify(SECRET, r.body, r.headers[SIGNATURE_HEADER.lower()])
    events = sorted(r.json["event"] for r in received)
    assert events == ["dispatched", "opened", "opened", "opened"], events
    of_incident = [r.json["event"] for r in received if r.json["incident"]["id"] == incident]
    assert of_incident == ["opened", "dispatched"], "one incident's events arrive in the order they happened"
    delivered = [o for o in book.outbox(pending=False) if o.channel == "webhook"]
    assert all(o.attempts >= 3 for o in delivered if o.key.split("/")[1] == "opened"), "retried across the restart"
