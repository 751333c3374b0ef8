"""The alerts' part of the store: inbound alerts, incidents with their findings and
lifecycle, the CAP messages issued, and the outbox.

An incident's change, its CAP message and the deliveries that announce it are written
in one transaction (`save_incident`): what the alert system will be told is on disk
before anyone is told, and nothing is half-recorded after a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from orchestrator.store import schema
from orchestrator.store.records import AlertRow, CapMessage, IncidentEvent, IncidentRow, OutboxItem

OPEN_INCIDENTS = ("new", "acknowledged", "dispatched")


class AlertBook:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ---- alerts -------------------------------------------------------------------------
    def add_alert(self, row: AlertRow) -> bool:
        """False when the same sender already sent this external id (nothing is taken twice)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(schema.alerts).values(**asdict(row)))
        except IntegrityError:
            return False
        return True

    def update_alert(self, alert_id: str, **columns: Any) -> AlertRow:
        t = schema.alerts
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == alert_id).values(**columns))
            return _alert(conn.execute(select(t).where(t.c.id == alert_id)).one()._mapping)

    def alert(self, alert_id: str) -> AlertRow | None:
        t = schema.alerts
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == alert_id)).first()
        return _alert(row._mapping) if row else None

    def alert_by_external(self, source: str, sender: str, external_id: str) -> AlertRow | None:
        t = schema.alerts
        q = select(t).where(t.c.source == source, t.c.sender == sender, t.c.external_id == external_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return _alert(row._mapping) if row else None

    def alerts(
        self,
        *,
        state: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[AlertRow]:
        t = schema.alerts
        q = select(t).order_by(t.c.received_at.desc(), t.c.id)
        if state:
            q = q.where(t.c.state.in_(list(state)))
        if since:
            q = q.where(t.c.received_at >= since)
        if until:
            q = q.where(t.c.received_at < until)
        with self.engine.connect() as conn:
            return [_alert(r._mapping) for r in conn.execute(q.limit(limit).offset(offset))]

    # ---- incidents ------------------------------------------------------------------------
    def save_incident(
        self,
        row: IncidentRow,
        *,
        finding_id: str | None = None,
        event: IncidentEvent | None = None,
        cap: CapMessage | None = None,
        deliveries: Sequence[OutboxItem] = (),
    ) -> None:
        """Insert or replace the incident, link the finding, and record its event, CAP
        message and deliveries: all in one transaction."""
        t = schema.incidents
        values = asdict(row)
        values["published"] = int(row.published)
        with self.engine.begin() as conn:
            if conn.execute(update(t).where(t.c.id == row.id).values(**values)).rowcount == 0:
                conn.execute(insert(t).values(**values))
            if finding_id is not None:
                link = schema.incident_findings
                if conn.execute(select(link.c.finding_id).where(link.c.finding_id == finding_id)).first() is None:
                    conn.execute(insert(link).values(finding_id=finding_id, incident_id=row.id))
            if event is not None:
                conn.execute(insert(schema.incident_events).values(**asdict(event)))
            if cap is not None:
                conn.execute(insert(schema.cap_messages).values(**asdict(cap)))
            self._enqueue(conn, deliveries)

    def incident(self, incident_id: str) -> IncidentRow | None:
        t = schema.incidents
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == incident_id)).first()
        return _incident(row._mapping) if row else None

    def incident_of_finding(self, finding_id: str) -> str | None:
        link = schema.incident_findings
        with self.engine.connect() as conn:
            return conn.execute(select(link.c.incident_id).where(link.c.finding_id == finding_id)).scalar()

    def incidents(
        self,
        *,
        state: Sequence[str] | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[IncidentRow]:
        t = schema.incidents
        q = select(t).order_by(t.c.last_seen.desc(), t.c.id)
        if state:
            q = q.where(t.c.state.in_(list(state)))
        if kind:
            q = q.where(t.c.kind == kind)
        if since:
            q = q.where(t.c.last_seen >= since)
        with self.engine.connect() as conn:
            return [_incident(r._mapping) for r in conn.execute(q.limit(limit).offset(offset))]

    def open_incidents(self) -> list[IncidentRow]:
        return self.incidents(state=OPEN_INCIDENTS)

    def incident_findings(self, incident_id: str) -> list[str]:
        link = schema.incident_findings
        with self.engine.connect() as conn:
            q = select(link.c.finding_id).where(link.c.incident_id == incident_id).order_by(link.c.finding_id)
            return [r[0] for r in conn.execute(q)]

    def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        t = schema.incident_events
        with self.engine.connect() as conn:
            q = select(t).where(t.c.incident_id == incident_id).order_by(t.c.id)
            return [IncidentEvent(r.incident_id, r.at, r.state, r.actor, r.note) for r in conn.execute(q)]

    # ---- CAP ------------------------------------------------------------------------------
    def cap(self, identifier: str) -> CapMessage | None:
        t = schema.cap_messages
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.identifier == identifier)).first()
        return CapMessage(row.identifier, row.incident_id, row.msg_type, row.sent, row.xml) if row else None

    def caps(self, *, incident_id: str | None = None, limit: int = 100) -> list[CapMessage]:
        t = schema.cap_messages
        q = select(t).order_by(t.c.sent.desc(), t.c.identifier.desc())
        if incident_id:
            q = q.where(t.c.incident_id == incident_id)
        with self.engine.connect() as conn:
            return [
                CapMessage(r.identifier, r.incident_id, r.msg_type, r.sent, r.xml) for r in conn.execute(q.limit(limit))
            ]

    def cap_identifiers_like(self, prefix: str) -> set[str]:
        t = schema.cap_messages
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(select(t.c.identifier).where(t.c.identifier.startswith(prefix)))}

    # ---- outbox ---------------------------------------------------------------------------
    def _enqueue(self, conn: Connection, items: Sequence[OutboxItem]) -> None:
        for item in items:
            values = asdict(item)
            del values["id"]
            try:
                with conn.begin_nested():
                    conn.execute(insert(schema.outbox).values(**values))
            except IntegrityError:
                pass  # the same event for the same target: already queued

    def due(self, now: datetime, limit: int = 50) -> list[OutboxItem]:
        t = schema.outbox
        q = select(t).where(t.c.delivered_at.is_(None), t.c.next_at <= now).order_by(t.c.next_at, t.c.id)
        with self.engine.connect() as conn:
            return [_outbox(r._mapping) for r in conn.execute(q.limit(limit))]

    def delivered(self, item_id: int, at: datetime) -> None:
        t = schema.outbox
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == item_id).values(delivered_at=at, attempts=t.c.attempts + 1))

    def retry(self, item_id: int, next_at: datetime, error: str) -> None:
        t = schema.outbox
        with self.engine.begin() as conn:
            conn.execute(
                update(t).where(t.c.id == item_id).values(next_at=next_at, last_error=error, attempts=t.c.attempts + 1)
            )

    def outbox(self, *, pending: bool | None = None, limit: int = 1000) -> list[OutboxItem]:
        t = schema.outbox
        q = select(t).order_by(t.c.id)
        if pending is True:
            q = q.where(t.c.delivered_at.is_(None))
        elif pending is False:
            q = q.where(t.c.delivered_at.is_not(None))
        with self.engine.connect() as conn:
            return [_outbox(r._mapping) for r in conn.execute(q.limit(limit))]

    def outbox_counts(self) -> dict[str, int]:
        t = schema.outbox
        with self.engine.connect() as conn:
            pending = conn.execute(select(func.count()).select_from(t).where(t.c.delivered_at.is_(None))).scalar()
            done = conn.execute(select(func.count()).select_from(t).where(t.c.delivered_at.is_not(None))).scalar()
        return {"pending": int(pending or 0), "delivered": int(done or 0)}


def _alert(m: Any) -> AlertRow:
    return AlertRow(**{f.name: m[f.name] for f in fields(AlertRow)})


def _incident(m: Any) -> IncidentRow:
    data = {f.name: m[f.name] for f in fields(IncidentRow)}
    data["published"] = bool(data["published"])
    return IncidentRow(**data)


def _outbox(m: Any) -> OutboxItem:
    return OutboxItem(**{f.name: m[f.name] for f in fields(OutboxItem)})
