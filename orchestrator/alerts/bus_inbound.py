"""Alerts that come over MQTT (`dronepatrol/v1/alerts/in`): a JSON alert as the API takes
it, or a CAP 1.2 XML alert. Each gets the same desk as a REST call; the decision (taken,
merged, refused and why) is published on `dronepatrol/v1/alerts/decisions` and the
refusal recorded, since there is no HTTP status to carry it."""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError

from missions.cap import CapError, InboundCap, parse_cap
from missions.vocabulary import ALERTS_IN_TOPIC, ALERTS_REPLY_TOPIC
from orchestrator.alerts.desk import AlertDesk, alert_json
from orchestrator.alerts.inbound import AlertIn, AlertRefused
from orchestrator.bus.client import BusClient

log = logging.getLogger("dronepatrol.alerts")

MAX_PAYLOAD = 256 * 1024


def alert_from_cap(cap: InboundCap) -> AlertIn:
    return AlertIn(kind=cap.kind, lat=cap.lat, lon=cap.lon, priority=cap.priority, id=cap.identifier, note=cap.headline)


CHANNEL = "mqtt"
"""The bus does not say who published: every MQTT sender shares one flood limit."""


class BusAlerts:
    def __init__(self, desk: AlertDesk, bus: BusClient) -> None:
        self.desk = desk
        self.bus = bus
        bus.subscribe(ALERTS_IN_TOPIC, self._on)

    async def _on(self, topic: str, payload: bytes) -> None:
        reply: dict[str, Any]
        source, sender = "mqtt", "mqtt"
        try:
            if len(payload) > MAX_PAYLOAD:
                raise ValueError(f"{len(payload)} bytes: more than {MAX_PAYLOAD}")
            if payload.lstrip()[:1] == b"<":
                source = "cap"
                cap = parse_cap(payload)
                sender = cap.sender
                alert = alert_from_cap(cap)
            else:
                alert = AlertIn.model_validate_json(payload)
        except (CapError, ValidationError, ValueError) as exc:
            reason = _reason(exc)
            try:
                self.desk.admit_malformed(CHANNEL)
            except AlertRefused as flood:
                reply = {"ok": False, "status": flood.status, "reason": flood.reason, "alert_id": None}
            else:
                alert_id = self.desk.record_malformed(source, sender, reason)
                reply = {"ok": False, "status": 422, "reason": reason, "alert_id": alert_id}
        else:
            try:
                row = await self.desk.receive(alert, source, sender, channel=CHANNEL)
                reply = {"ok": True, "alert": alert_json(row, self.desk.scenario.tz)}
            except AlertRefused as exc:
                reply = {"ok": False, "status": exc.status, "reason": exc.reason, "alert_id": exc.alert_id}
        self.bus.publish_soon(ALERTS_REPLY_TOPIC, json.dumps(reply, ensure_ascii=False), qos=1)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return f"{loc}: {first.get('msg', 'invalid')}" if loc else str(first.get("msg", "invalid"))
    return str(exc)
