"""Findings become incidents, and incidents reach the alert system.

A finding joins the nearest open incident of its kind within the kind's radius and time
window (`missions.alerting.FINDING_RULES`), else opens one. Its confidence is what vision
said times the false-alarm factor for that place and class (`feedback_factor`); an
incident under `PUBLISH_MIN_CONFIDENCE` is kept and shown, not pushed. Pushed means: a
CAP 1.2 message (Alert when first published, Update when it grows or changes, Cancel
when marked a false alarm, each Update and Cancel referencing the first), a JSON event
to every webhook and to MQTT, all queued in the outbox in the transaction that records
the change.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from missions.alerting import (
    FINDING_RULES,
    OPEN_INCIDENT_STATES,
    PUBLISH_MIN_CONFIDENCE,
    AlertError,
    FalseAlarmMark,
    IncidentState,
    Sighting,
    check_step,
    feedback_factor,
    graver,
    same_event,
)
from missions.cap import CapFinding, Issuer, Reference, cap_alert, cap_identifier
from missions.geo import haversine_m
from missions.vocabulary import CAP_TOPIC, incident_topic
from orchestrator.store.alert_book import AlertBook
from orchestrator.store.records import CapMessage, FindingRecord, IncidentEvent, IncidentRow, OutboxItem
from orchestrator.timestamps import iso

log = logging.getLogger("dronepatrol.incidents")

UPDATE_EVERY_S = 300.0
"""A growing incident is re-announced (CAP Update) at most this often."""
GROWTH = 1.25
"""... when its radius grew by this factor, or its confidence by `CONFIDENCE_STEP`."""
CONFIDENCE_STEP = 0.1


class IncidentDesk:
    def __init__(
        self,
        book: AlertBook,
        clock: Callable[[], datetime],
        *,
        issuer: Issuer,
        webhooks: list[str],
        public_url: str = "",
        data_dir: Path = Path("var"),
        announce: Callable[[str, dict[str, Any]], object] | None = None,
        queued: Callable[[], None] | None = None,
    ) -> None:
        self.book = book
        self.clock = clock
        self.issuer = issuer
        self.webhooks = webhooks
        self.public_url = public_url.rstrip("/")
        self.data_dir = data_dir
        self.announce = announce
        """(event kind, JSON) to the live event stream."""
        self.queued = queued
        """Called after deliveries are queued (wakes the outbox)."""

    # ---- findings -----------------------------------------------------------------------
    def on_finding(self, rec: FindingRecord, alert_id: str | None = None) -> IncidentRow | None:
        rule = FINDING_RULES.get(rec.kind)
        if rule is None:
            return None
        now = self.clock()
        sigma = float(rec.report.get("sigma_m") or 10.0)
        known = self.book.incident_of_finding(rec.id)
        incident = self.book.incident(known) if known else None
        if incident is None:
            family = rule.event_family
            opened = [
                Sighting(i.id, family, i.lat, i.lon, i.last_seen)
                for i in self.book.open_incidents()
                if i.kind in FINDING_RULES and FINDING_RULES[i.kind].event_family == family
            ]
            match = same_event(family, rec.lat, rec.lon, rec.last_seen, opened, rule)
            incident = self.book.incident(match.id) if match else None
        factor = feedback_factor(rec.kind, rec.lat, rec.lon, rec.last_seen, self._marks(rec.kind))
        if incident is None:
            return self._open(rec, sigma, factor, alert_id, now)
        return self._grow(incident, rec, sigma, factor, alert_id, now, first_sighting=known is None)

    def _marks(self, kind: str) -> list[FalseAlarmMark]:
        closed = self.book.incidents(state=[IncidentState.FALSE_ALARM.value], kind=kind)
        return [FalseAlarmMark(i.kind, i.lat, i.lon, i.updated_at) for i in closed]

    def _open(
        self, rec: FindingRecord, sigma: float, factor: float, alert_id: str | None, now: datetime
    ) -> IncidentRow:
        conf = rec.confidence * factor
        inc = IncidentRow(
            id=f"inc.{rec.id}",
            kind=rec.kind,
            lat=rec.lat,
            lon=rec.lon,
            radius_m=max(25.0, 2 * sigma),
            confidence=round(conf, 3),
            raw_confidence=rec.confidence,
            state=IncidentState.NEW.value,
            first_seen=rec.first_seen,
            last_seen=rec.last_seen,
            sightings=1,
            updated_at=now,
            evidence_finding=rec.id,
            alert_id=alert_id,
            note="" if factor >= 1 else f"confidence x{factor:.2f} for earlier false alarms here",
        )
        note = f"{rec.kind} seen by {rec.airport} (confidence {rec.confidence:.2f})"
        event = IncidentEvent(inc.id, now, inc.state, "vision", note)
        if conf < PUBLISH_MIN_CONFIDENCE:
            note += f"; not pushed: {conf:.2f} after earlier false alarms is under {PUBLISH_MIN_CONFIDENCE}"
            self.book.save_incident(inc, finding_id=rec.id, event=replace(event, note=note))
            log.info("incident %s kept, not pushed: %s", inc.id, note)
        else:
            inc = self._publish(inc, "opened", event, finding_id=rec.id)
        self._live(inc)
        return inc

    def _grow(
        self,
        inc: IncidentRow,
        rec: FindingRecord,
        sigma: float,
        factor: float,
        alert_id: str | None,
        now: datetime,
        first_sighting: bool,
    ) -> IncidentRow:
        reach = haversine_m(inc.lon, inc.lat, rec.lon, rec.lat) + 2 * sigma
        raw = max(inc.raw_confidence, rec.confidence)
        grown = replace(
            inc,
            kind=graver(inc.kind, rec.kind),
            radius_m=max(inc.radius_m, reach),
            raw_confidence=raw,
            confidence=round(max(inc.confidence, rec.confidence * factor), 3),
            last_seen=max(inc.last_seen, rec.last_seen),
            sightings=inc.sightings + (1 if first_sighting else 0),
            updated_at=now,
            alert_id=inc.alert_id or alert_id,
        )
        if IncidentState(grown.state) not in OPEN_INCIDENT_STATES:
            return inc
        worth = (
            (not inc.published and grown.confidence >= PUBLISH_MIN_CONFIDENCE)
            or (inc.published and grown.kind != inc.kind)  # the smoke turned out to be a fire: say so now
            or (
                inc.published
                and (grown.radius_m >= inc.radius_m * GROWTH or grown.confidence >= inc.confidence + CONFIDENCE_STEP)
                and now - self._last_cap(inc) >= timedelta(seconds=UPDATE_EVERY_S)
            )
        )
        if worth:
            what = "opened" if not inc.published else "updated"
            note = (
                f"{what}: {grown.sightings} sightings, radius {grown.radius_m:.0f} m, confidence {grown.confidence:.2f}"
                + (f"; {rec.kind} seen where {inc.kind} was" if grown.kind != inc.kind else "")
            )
            grown = self._publish(grown, what, IncidentEvent(inc.id, now, grown.state, "vision", note), rec.id)
        else:
            self.book.save_incident(grown, finding_id=rec.id)
        self._live(grown)
        return grown

    def _last_cap(self, inc: IncidentRow) -> datetime:
        caps = self.book.caps(incident_id=inc.id, limit=1)
        return caps[0].sent if caps else inc.first_seen

    # ---- lifecycle ----------------------------------------------------------------------
    def step(self, incident_id: str, new_state: str, actor: str, note: str = "") -> IncidentRow:
        """An operator's (or the alert system's) step: acknowledged, dispatched, resolved,
        false_alarm. KeyError when unknown; AlertError when the step is not allowed."""
        inc = self.book.incident(incident_id)
        if inc is None:
            raise KeyError(incident_id)
        target = check_step(inc.state, new_state)
        now = self.clock()
        moved = replace(inc, state=target.value, updated_at=now)
        event = IncidentEvent(inc.id, now, target.value, actor, note or target.value.replace("_", " "))
        if target is IncidentState.FALSE_ALARM:
            self._keep_for_training(moved)
        if inc.published:
            moved = self._publish(moved, target.value, event)
        else:
            self.book.save_incident(moved, event=event)
        self._live(moved)
        log.info("incident %s: %s by %s%s", inc.id, target.value, actor, f" ({note})" if note else "")
        return moved

    def _keep_for_training(self, inc: IncidentRow) -> None:
        """A false alarm's evidence is what the next training round needs most: the frame
        a detector got wrong, with what it claimed (the label says: not a `kind`)."""
        if inc.evidence_finding is None:
            return
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in inc.evidence_finding)
        src = self.data_dir / "evidence" / f"{safe}.jpg"
        if not src.is_file():
            return
        folder = self.data_dir / "training" / "false_alarms" / inc.kind
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, folder / f"{inc.id}.jpg")
        label = {
            "incident": inc.id,
            "claimed": inc.kind,
            "lat": inc.lat,
            "lon": inc.lon,
            "marked_at": inc.updated_at.isoformat(),
        }
        (folder / f"{inc.id}.json").write_text(json.dumps(label, indent=1))

    # ---- pushing -------------------------------------------------------------------------
    def _publish(self, inc: IncidentRow, what: str, event: IncidentEvent, finding_id: str | None = None) -> IncidentRow:
        now = self.clock()
        cap = self._cap(inc, what, now)
        if cap is not None and inc.cap_identifier is None:
            inc = replace(inc, cap_identifier=cap.identifier)
        inc = replace(inc, published=True)
        key = f"{inc.id}/{what}/{cap.identifier if cap else now.strftime('%Y%m%dT%H%M%S.%f')}"
        body = json.dumps(
            {
                "v": 1,
                "type": "incident_event",
                "event": what,
                "key": key,
                "at": now.isoformat(),
                "actor": event.actor,
                "note": event.note,
                "incident": incident_json(inc),
                "cap": None
                if cap is None
                else {"identifier": cap.identifier, "msg_type": cap.msg_type, "xml": cap.xml},
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        deliveries = [OutboxItem(key, "webhook", url, "application/json", body, now, now) for url in self.webhooks]
        deliveries.append(OutboxItem(key, "mqtt", incident_topic(inc.id), "application/json", body, now, now))
        if cap is not None:
            deliveries.append(OutboxItem(key, "mqtt", CAP_TOPIC, "application/cap+xml", cap.xml, now, now))
        self.book.save_incident(inc, finding_id=finding_id, event=event, cap=cap, deliveries=deliveries)
        log.info("incident %s %s%s", inc.id, what, f" (CAP {cap.msg_type} {cap.identifier})" if cap else "")
        if self.queued is not None:
            self.queued()
        return inc

    def _cap(self, inc: IncidentRow, what: str, now: datetime) -> CapMessage | None:
        if what in ("acknowledged", "dispatched"):
            return None  # the bureau's own steps: pushed as events, not as new warnings
        msg_type = {"opened": "Alert", "false_alarm": "Cancel"}.get(what, "Update")
        if inc.cap_identifier is None:
            msg_type = "Alert"
        references: tuple[Reference, ...] = ()
        if msg_type != "Alert" and inc.cap_identifier is not None:
            first = self.book.cap(inc.cap_identifier)
            if first is not None:
                references = (Reference(self.issuer.sender, first.identifier, first.sent),)
        identifier = self._identifier(now)
        evidence = (
            f"{self.public_url}/api/v1/findings/{inc.evidence_finding}/evidence" if inc.evidence_finding else None
        )
        description = {
            "opened": f"{inc.kind.replace('_', ' ')} seen from a patrol drone; {inc.sightings} sighting(s)",
            "updated": f"still seen: {inc.sightings} sightings, radius {inc.radius_m:.0f} m",
            "resolved": "handled on the ground: resolved",
            "false_alarm": "checked on the ground: a false alarm",
        }.get(what, what)
        finding = CapFinding(
            inc.kind,
            inc.lat,
            inc.lon,
            max(inc.radius_m, 25.0),
            inc.confidence,
            inc.first_seen,
            f"Nanshan District, around {inc.lat:.5f}, {inc.lon:.5f}",
            description,
            evidence,
            {"incident": inc.id, "sightings": str(inc.sightings), "state": inc.state},
        )
        xml = cap_alert(finding, identifier, now, self.issuer, msg_type, references)
        return CapMessage(identifier, inc.id, msg_type, now, xml)

    def _identifier(self, now: datetime) -> str:
        """GB/T 35965.1: issuer code, entry second, serial 0-9 within that second."""
        for step in range(600):
            at = now + timedelta(seconds=step)
            base = cap_identifier(self.issuer, at, 0)[:-1]
            used = self.book.cap_identifiers_like(base)
            for serial in range(10):
                if f"{base}{serial}" not in used:
                    return f"{base}{serial}"
        raise AlertError("no free CAP identifier in the next ten minutes")

    def _live(self, inc: IncidentRow) -> None:
        if self.announce is not None:
            self.announce("incident", incident_json(inc))


def incident_json(inc: IncidentRow, tz: Any = None) -> dict[str, Any]:
    t = partial(iso, tz=tz)
    return {
        "id": inc.id,
        "kind": inc.kind,
        "state": inc.state,
        "lat": inc.lat,
        "lon": inc.lon,
        "radius_m": round(inc.radius_m, 1),
        "confidence": inc.confidence,
        "raw_confidence": inc.raw_confidence,
        "first_seen": t(inc.first_seen),
        "last_seen": t(inc.last_seen),
        "sightings": inc.sightings,
        "evidence": f"/api/v1/findings/{inc.evidence_finding}/evidence" if inc.evidence_finding else None,
        "evidence_finding": inc.evidence_finding,
        "alert_id": inc.alert_id,
        "cap_identifier": inc.cap_identifier,
        "published": inc.published,
        "note": inc.note,
        "updated_at": t(inc.updated_at),
    }
