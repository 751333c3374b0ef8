"""Inbound alerts: taken or refused with the reason, merged with one already answered,
proposed to an operator, or sent to the drone with the earliest arrival; then followed
until the drone is over the spot and vision has spoken.

The same desk takes alerts from the API, from MQTT and as CAP, so each gets the same
checks (`inbound.py`: kind, place, pace), and is not a repeat of an alert already taken
from the same sender (409). An alert within its kind's radius and
window of an open one is merged into it: one drone answers both. Everything taken or
refused is recorded before the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from missions.alerting import (
    ALERT_RULES,
    ALERT_STAGES,
    ANSWER_RADIUS_M,
    AlertAction,
    Sighting,
    percentiles,
    same_event,
)
from missions.dispatch import Decision, DroneState
from missions.errors import PlanningError
from missions.geo import haversine_m
from missions.response import ORBIT_RADIUS_M
from orchestrator.alerts.dispatcher import AlertDispatcher, Sent
from orchestrator.alerts.inbound import AlertIn, AlertRefused, FloodGate, check_place
from orchestrator.store import SortieRow, Store
from orchestrator.store.db import TERMINAL_STATES
from orchestrator.store.records import AlertRow, FindingRecord
from orchestrator.timestamps import iso

log = logging.getLogger("dronepatrol.alerts")

OPEN_ALERTS = ("proposed", "dispatched", "on_scene")
MERGES_INTO = (*OPEN_ALERTS, "seen")
"""A new alert joins one of these at its place: one whose drone is on the way, there, or
has already seen the thing (a second caller about a fire the drone is watching). After
"nothing seen", a new report at the place is new evidence: it gets its own look."""
ON_SCENE_M = ORBIT_RADIUS_M + 30.0
"""Within this of the spot, at height: on scene (the orbit itself, plus a margin for its
entry and for position lag)."""


@dataclass(frozen=True)
class _Sending:
    """A drone taken for an alert under the desk's lock, its sending to be completed."""

    sent: Sent
    reason: str
    started: datetime


@dataclass
class _Follow:
    """What the desk watches of a dispatched alert until vision has spoken."""

    left_scene_at: datetime | None = None
    resent: bool = False
    """Sent again once already, after its first sortie ended before reaching the spot."""


class AlertDesk:
    def __init__(
        self,
        store: Store,
        dispatcher: AlertDispatcher,
        clock: Callable[[], datetime],
        *,
        policy: dict[str, str] | None = None,
        flood_per_min: int = 30,
        announce: Callable[[str, dict[str, Any]], object] | None = None,
        snapshot: Callable[[str], Awaitable[bytes | None]] | None = None,
        evidence_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.book = store.alerts
        self.dispatcher = dispatcher
        self.scenario = dispatcher.scenario
        self.clock = clock
        self.policy = {k: AlertAction(v) for k, v in (policy or {}).items()}
        self.gate = FloodGate(flood_per_min)
        self.junk_gate = FloodGate(flood_per_min)
        """Malformed messages have an allowance of their own: a sender spewing junk (broken,
        or a stolen login) cannot crowd out the real alerts that follow it."""
        self.announce = announce
        self._lock = asyncio.Lock()
        self.snapshot = snapshot
        """Drone -> one annotated frame of its video (the evidence of the look), if it has video."""
        self.evidence_dir = evidence_dir
        self.has_video: Callable[[str], bool] = lambda drone: True
        """Whether the service gets a drone's video: one that sends none (a DJI dock's,
        until its live stream is connected) cannot have "seen nothing"."""
        self._grabs: set[asyncio.Task[None]] = set()

    # ---- taking an alert ----------------------------------------------------------------
    async def receive(self, alert: AlertIn, source: str, sender: str, channel: str | None = None) -> AlertRow:
        """Take (and act on) an alert, or AlertRefused with the HTTP status and reason.
        `channel` is who the transport vouches for (the API token's name; "mqtt" for the
        bus, whose senders are not authenticated): the flood limit counts per channel, so
        a sender named in the message (a CAP `<sender>`) cannot change its way past it."""
        async with self._lock:  # one decision at a time: two alerts never take one drone
            try:
                row, sending = self._take(alert, source, sender, channel or sender)
            except AlertRefused as exc:
                if exc.status != 429:  # a flood is counted in the log, not written row by row
                    self._record_refusal(alert, source, sender, exc)
                raise
        return await self._complete(row, sending)

    def _take(self, alert: AlertIn, source: str, sender: str, channel: str) -> tuple[AlertRow, _Sending | None]:
        self.gate.admit(channel)
        rule = ALERT_RULES.get(alert.kind)
        if rule is None:
            raise AlertRefused(422, f"unknown alert kind {alert.kind!r} (known: {', '.join(sorted(ALERT_RULES))})")
        assert alert.lat is not None and alert.lon is not None
        lat, lon = alert.lat, alert.lon
        now = self.clock()
        check_place(self.scenario, lat, lon, now)
        if alert.id is not None:
            known = self.book.alert_by_external(source, sender, alert.id)
            if known is not None:
                raise AlertRefused(409, f"already received as alert {known.id} ({known.state})", known.id)
        priority = alert.priority or rule.default_priority
        row = AlertRow(
            id=f"al-{now.astimezone(self.scenario.tz):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}",
            source=source,
            sender=sender,
            kind=alert.kind,
            priority=priority,
            lat=lat,
            lon=lon,
            received_at=now,
            state="received",
            decision="",
            updated_at=now,
            external_id=alert.id,
            polygon=alert.polygon,
            note=alert.note,
        )
        cutoff = now - timedelta(seconds=rule.merge_window_s)
        family = rule.event_family
        open_alerts = [
            a
            for a in self.book.alerts(state=(*MERGES_INTO, "received"), since=cutoff)
            if a.kind in ALERT_RULES and ALERT_RULES[a.kind].event_family == family
        ]
        sightings = [Sighting(a.id, family, a.lat, a.lon, a.received_at) for a in open_alerts]
        twin = same_event(family, lat, lon, now, sightings, rule)
        if twin is not None:
            d = haversine_m(lon, lat, twin.lon, twin.lat)
            why = f"merged into alert {twin.id} ({d:.0f} m away, the same {family}): its drone answers both"
            return self._add(row, "merged", why, merged_into=twin.id), None
        try:
            decision, states = self.dispatcher.decide(lat, lon, priority)
        except PlanningError as exc:
            raise AlertRefused(422, str(exc)) from None
        action = self.policy.get(alert.kind, rule.action)
        if action is AlertAction.PROPOSE:
            return self._add(row, "proposed", f"proposed to an operator: {decision.reason}"), None
        if decision.choice is None:
            return self._add(row, "unserved", decision.reason), None
        row = self._add(row, "received", decision.reason)
        return self._send(row, decision, states)

    def _send(
        self, row: AlertRow, decision: Decision, states: dict[str, DroneState]
    ) -> tuple[AlertRow, _Sending | None]:
        """Take the chosen drone, under the desk's lock: a launch is ordered, an airborne
        drone claimed. What is left (a diversion's mission upload, seconds with its
        read-back) is returned for `_complete`, outside the lock, so that it holds up no
        other alert."""
        started = self.clock()
        try:
            sent = self.dispatcher.send(row, decision, states)
        except Exception as exc:  # a dock gone, a sortie ended meanwhile: say so, keep the alert
            log.warning("alert %s: could not send a drone: %s", row.id, exc)
            return self._update(row.id, state="unserved", decision=f"{decision.reason}; but: {exc}"), None
        return row, _Sending(sent, decision.reason, started)

    async def _complete(self, row: AlertRow, sending: _Sending | None) -> AlertRow:
        if sending is None:
            return row
        sent = sending.sent
        if sent.upload is not None:
            try:
                await sent.upload
            except Exception as exc:  # the drone refused its new mission: say so, keep the alert
                log.warning("alert %s: could not divert %s: %s", row.id, sent.sortie_id, exc)
                return self._update(row.id, state="unserved", decision=f"{sending.reason}; but: {exc}")
        extra: dict[str, Any] = {}
        if sent.how == "diverted":
            extra = {"launch_ordered_at": sending.started, "airborne_at": sending.started}
        return self._update(
            row.id,
            state="dispatched",
            decision=f"{sent.airport} {sent.how}: {sending.reason}",
            airport=sent.airport,
            sortie_id=sent.sortie_id,
            **extra,
        )

    def _add(self, row: AlertRow, state: str, decision: str, **columns: Any) -> AlertRow:
        row = replace(row, state=state, decision=decision, **columns)
        self.book.add_alert(row)
        if state != "received":
            log.info("alert %s (%s from %s): %s — %s", row.id, row.kind, row.sender, state, decision)
        self._live(row)
        return row

    def _update(self, alert_id: str, **columns: Any) -> AlertRow:
        row = self.book.update_alert(alert_id, updated_at=self.clock(), **columns)
        if "state" in columns:
            log.info("alert %s: %s — %s", alert_id, row.state, row.decision if "decision" in columns else row.outcome)
        self._live(row)
        return row

    def _record_refusal(self, alert: AlertIn, source: str, sender: str, exc: AlertRefused) -> None:
        if exc.status == 409:
            return  # the original is the record
        exc.alert_id = self.record_malformed(source, sender, exc.reason, alert)

    def admit_malformed(self, channel: str) -> None:
        """A message that is not an alert counts against its channel's allowance for such
        messages (AlertRefused 429 past it: then it is only counted in the log, not
        recorded); well-formed alerts have their own."""
        self.junk_gate.admit(channel)

    def record_malformed(self, source: str, sender: str, reason: str, alert: AlertIn | None = None) -> str:
        """Keep a refused alert (with what could be read of it) so the refusal can be shown."""
        now = self.clock()
        row = AlertRow(
            id=f"al-{now.astimezone(self.scenario.tz):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}",
            source=source,
            sender=sender[:64],
            kind=alert.kind[:32] if alert else "unreadable",
            priority=(alert.priority or 5) if alert else 5,
            lat=alert.lat if alert and alert.lat is not None else 0.0,
            lon=alert.lon if alert and alert.lon is not None else 0.0,
            received_at=now,
            state="rejected",
            decision=reason[:2000],
            updated_at=now,
            note=alert.note if alert else "",
        )
        self.book.add_alert(row)
        log.info("alert from %s (%s) refused: %s", sender, source, reason)
        return row.id

    # ---- an operator's word -------------------------------------------------------------
    async def approve(self, alert_id: str) -> AlertRow:
        """Send a drone for a proposed (or unserved) alert. KeyError, or ValueError why not."""
        async with self._lock:
            row = self.book.alert(alert_id)
            if row is None:
                raise KeyError(alert_id)
            if row.state not in ("proposed", "unserved"):
                raise ValueError(f"alert {alert_id} is {row.state}: only a proposed or unserved alert is sent")
            row, sending = self._again(row)
        return await self._complete(row, sending)

    def _again(self, row: AlertRow) -> tuple[AlertRow, _Sending | None]:
        """Decide and send once more; an airport whose sortie for this alert already ended
        short of the spot (held, failed) is not chosen again: the next drone is another."""
        tried = {}
        if row.airport is not None and row.sortie_id is not None:
            tried[row.airport] = row.outcome or "its sortie ended before the spot"
        decision, states = self.dispatcher.decide(row.lat, row.lon, row.priority, tried)
        if decision.choice is None:
            return self._update(row.id, state="unserved", decision=decision.reason), None
        return self._send(row, decision, states)

    async def recover(self, max_age_s: float = 1800.0) -> None:
        """After a restart: an alert recorded but not yet sent (the service stopped between
        the two) is decided and sent now, unless it is too old to be worth a flight."""
        pending: list[tuple[AlertRow, _Sending | None]] = []
        async with self._lock:
            for row in self.book.alerts(state=["received"]):
                age = (self.clock() - row.received_at).total_seconds()
                if age > max_age_s:
                    self._update(
                        row.id, state="unserved", decision=f"the service restarted {age / 60:.0f} min after it came"
                    )
                    continue
                log.info("alert %s: taken before a restart, sending a drone now", row.id)
                pending.append(self._again(row))
        for row, sending in pending:
            await self._complete(row, sending)

    # ---- following it -------------------------------------------------------------------
    def on_sortie(self, row: SortieRow) -> None:
        """The service's hook on every sortie change: the alert's launch and take-off times."""
        if row.alert_id is None:
            return
        alert = self.book.alert(row.alert_id)
        if alert is None or alert.sortie_id not in (None, row.id):
            return
        if row.state == "preflight" and alert.launch_ordered_at is None:
            self._update(alert.id, launch_ordered_at=row.updated_at)
        elif row.state == "airborne" and alert.airborne_at is None:
            self._update(alert.id, airborne_at=row.updated_at)

    def on_finding(self, rec: FindingRecord) -> str | None:
        """A finding near an alert's spot after it came in answers it; returns its id."""
        best: tuple[float, AlertRow] | None = None
        for a in self.book.alerts(
            state=(*OPEN_ALERTS, "seen", "nothing_seen"), since=rec.last_seen - timedelta(hours=2)
        ):
            d = haversine_m(rec.lon, rec.lat, a.lon, a.lat)
            if d <= ANSWER_RADIUS_M and rec.last_seen >= a.received_at and (best is None or d < best[0]):
                best = (d, a)
        if best is None:
            return None
        alert = best[1]
        if alert.first_finding_at is None:
            self._update(
                alert.id,
                state="seen",
                first_finding_at=self.clock(),
                outcome=f"{rec.kind} seen {best[0]:.0f} m from the spot (confidence {rec.confidence:.2f}): {rec.id}",
            )
        return alert.id

    def link_incident(self, alert_id: str, incident_id: str) -> None:
        alert = self.book.alert(alert_id)
        if alert is not None and alert.incident_id is None:
            self._update(alert_id, incident_id=incident_id)

    async def follow(self, stop: asyncio.Event, every_s: float = 0.2) -> None:
        """Watch dispatched alerts: over the spot (on scene), and back without a finding
        (nothing seen). Wall-clock polling: positions come at 4 Hz anyway."""
        follows: dict[str, _Follow] = {}
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)  # the scheduler re-attaches its sorties first
        await self.recover()
        try:
            while not stop.is_set():
                for alert in self.book.alerts(state=("dispatched", "on_scene", "seen")):
                    self._look(alert, follows.setdefault(alert.id, _Follow()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every_s)
        finally:
            for task in list(self._grabs):
                task.cancel()
            await asyncio.gather(*self._grabs, return_exceptions=True)

    def _look(self, alert: AlertRow, follow: _Follow) -> None:
        if alert.sortie_id is None:
            return
        sortie = self.store.sortie(alert.sortie_id)
        run = self.dispatcher.scheduler.running.get(alert.sortie_id)
        drone = run.drone if run else (sortie.drone if sortie else None)
        near = False
        if drone is not None and drone in self.dispatcher.fleet.machines:
            snap = self.dispatcher.fleet.snapshot(drone)
            if snap.lat is not None and snap.lon is not None and snap.alt_m > 5:
                near = haversine_m(snap.lon, snap.lat, alert.lon, alert.lat) <= ON_SCENE_M
        now = self.clock()
        if near and alert.on_scene_at is None:
            changes: dict[str, Any] = {"on_scene_at": now}
            if alert.state == "dispatched":
                changes["state"] = "on_scene"
            self._update(alert.id, **changes)
            if drone is not None and self.snapshot is not None and self.evidence_dir is not None:
                task = asyncio.create_task(self._grab(alert.id, drone), name=f"evidence of {alert.id}")
                self._grabs.add(task)
                task.add_done_callback(self._grabs.discard)
            return
        if alert.on_scene_at is not None and not near and follow.left_scene_at is None:
            follow.left_scene_at = now
        ended = sortie is not None and sortie.state in (*TERMINAL_STATES, "held")
        if alert.state == "on_scene" and (ended or follow.left_scene_at is not None):
            stay = ((follow.left_scene_at or now) - alert.on_scene_at).total_seconds() if alert.on_scene_at else 0.0
            if drone is not None and not self.has_video(drone):
                outcome = (
                    f"not looked at: {alert.airport} was over the spot for {stay / 60:.1f} min but sends the service "
                    "no video, so vision could not look; someone must check"
                )
            else:
                outcome = (
                    f"nothing seen: {alert.airport} orbited the spot for {stay / 60:.1f} min with its camera on it "
                    f"and vision reported nothing within {ANSWER_RADIUS_M:.0f} m"
                    + ("; a frame from over the spot is its evidence" if alert.evidence_path else "")
                )
            self._update(alert.id, state="nothing_seen", outcome=outcome)
        elif alert.state == "dispatched" and ended and alert.on_scene_at is None and sortie is not None:
            why = f"sortie {sortie.id} {sortie.state}: {sortie.reason}"
            row = self._update(alert.id, state="unserved", outcome=why)
            if not follow.resent:
                # A dock that could not launch is out of service now: the next drone goes.
                follow.resent = True
                task = asyncio.create_task(self._resend(row), name=f"resend {alert.id}")
                self._grabs.add(task)
                task.add_done_callback(self._grabs.discard)

    async def _resend(self, row: AlertRow) -> None:
        async with self._lock:
            log.info("alert %s: its drone did not get there (%s); sending the next", row.id, row.outcome)
            row, sending = self._again(row)
        await self._complete(row, sending)

    async def _grab(self, alert_id: str, drone: str) -> None:
        """A frame from over the spot, kept with the alert: what the look saw, found or not."""
        assert self.snapshot is not None and self.evidence_dir is not None
        try:
            data = await self.snapshot(drone)
        except Exception as exc:  # no frame is no reason to fail the alert
            log.warning("alert %s: no frame from %s: %s", alert_id, drone, exc)
            return
        if not data:
            return
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        path = self.evidence_dir / f"alert-{alert_id}.jpg"
        path.write_bytes(data)
        self._update(alert_id, evidence_path=str(path))

    # ---- figures ------------------------------------------------------------------------
    def measures(self, since: datetime, until: datetime) -> dict[str, Any]:
        """Seconds from receipt to each stage, as percentiles over the alerts received in
        [since, until) that reached it."""
        rows = self.book.alerts(since=since, until=until, limit=100_000)
        out: dict[str, Any] = {"alerts": len(rows), "by_state": {}, "stages": {}}
        for r in rows:
            out["by_state"][r.state] = out["by_state"].get(r.state, 0) + 1
        for stage in ALERT_STAGES:
            values = [(t - r.received_at).total_seconds() for r in rows if (t := getattr(r, f"{stage}_at")) is not None]
            out["stages"][stage] = percentiles([round(v, 1) for v in values])
        return out

    def _live(self, row: AlertRow) -> None:
        if self.announce is not None:
            self.announce("alert", alert_json(row))


ATTENTION = ("unserved", "proposed")
"""Alert states an operator must see: no drone could go, or one waits for approval. The
dashboard's banner holds each until someone acknowledges it."""


def alert_json(row: AlertRow, tz: Any = None) -> dict[str, Any]:
    t = partial(iso, tz=tz)

    def since(v: datetime | None) -> float | None:
        return None if v is None else round((v - row.received_at).total_seconds(), 1)

    return {
        "id": row.id,
        "external_id": row.external_id,
        "source": row.source,
        "sender": row.sender,
        "kind": row.kind,
        "priority": row.priority,
        "lat": row.lat,
        "lon": row.lon,
        "polygon": row.polygon,
        "note": row.note,
        "state": row.state,
        "decision": row.decision,
        "airport": row.airport,
        "sortie_id": row.sortie_id,
        "merged_into": row.merged_into,
        "incident_id": row.incident_id,
        "outcome": row.outcome,
        "evidence": f"/api/v1/alerts/{row.id}/evidence" if row.evidence_path else None,
        "received_at": t(row.received_at),
        "launch_ordered_at": t(row.launch_ordered_at),
        "airborne_at": t(row.airborne_at),
        "on_scene_at": t(row.on_scene_at),
        "first_finding_at": t(row.first_finding_at),
        "seconds": {stage: since(getattr(row, f"{stage}_at")) for stage in ALERT_STAGES},
        "updated_at": t(row.updated_at),
        "needs_attention": row.state in ATTENTION and row.acknowledged_at is None,
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": t(row.acknowledged_at),
    }
