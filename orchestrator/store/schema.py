"""The tables, as SQLAlchemy Core sees them. Migrations (alembic, `migrations/`) create
and change them; a change here comes with a new revision there."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Dialect, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.types import TypeDecorator


class UtcTime(TypeDecorator[datetime]):
    """An aware datetime kept as ISO 8601 in UTC: ordered as text, the same on SQLite and
    PostgreSQL, and never silently naive."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} (times are stored with their offset)")
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


metadata = MetaData()

sorties = Table(
    "sorties",
    metadata,
    Column("id", String(160), primary_key=True),
    Column("airport", String(64), nullable=False),
    Column("land_airport", String(64), nullable=False),
    Column("drone", String(64), nullable=True),
    Column("patrol", String(128), nullable=True),
    Column("occurrence", String(200), nullable=True),
    Column("alert_id", String(64), nullable=True),
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("planned_launch", UtcTime, nullable=True),
    Column("planned_land", UtcTime, nullable=True),
    Column("started_at", UtcTime, nullable=True),
    Column("ended_at", UtcTime, nullable=True),
    Column("updated_at", UtcTime, nullable=False),
    Column("order", JSON, nullable=False),
)
Index("ix_sorties_state", sorties.c.state)
Index("ix_sorties_planned_launch", sorties.c.planned_launch)

transitions = Table(
    "transitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(16), nullable=False),
    Column("subject_id", String(160), nullable=False),
    Column("at", UtcTime, nullable=False),
    Column("old", String(16), nullable=True),
    Column("new", String(16), nullable=False),
    Column("reason", Text, nullable=False),
)
Index("ix_transitions_subject", transitions.c.subject, transitions.c.subject_id)

commands = Table(
    "commands",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcTime, nullable=False),
    Column("target", String(64), nullable=False),
    Column("sortie_id", String(160), ForeignKey("sorties.id"), nullable=True),
    Column("command", String(64), nullable=False),
    Column("params", JSON, nullable=False),
    Column("result", String(16), nullable=False),
    Column("detail", Text, nullable=False, default=""),
)

findings = Table(
    "findings",
    metadata,
    Column("id", String(160), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("airport", String(64), nullable=False),
    Column("sortie_id", String(160), nullable=True),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("first_seen", UtcTime, nullable=False),
    Column("last_seen", UtcTime, nullable=False),
    Column("received_at", UtcTime, nullable=False),
    Column("report", JSON, nullable=False),
    Column("evidence_path", Text, nullable=True),
)
Index("ix_findings_first_seen", findings.c.first_seen)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(160), nullable=False),
    Column("params", JSON, nullable=False),
    Column("status", Integer, nullable=False),
    Column("result", Text, nullable=False),
)

patrol_settings = Table(
    "patrol_settings",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("paused", Integer, nullable=False, default=0),
    Column("spec", JSON, nullable=True),
    Column("updated_at", UtcTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)

drone_positions = Table(
    "drone_positions",
    metadata,
    Column("drone", String(64), primary_key=True),
    Column("airport", String(64), nullable=False),
    Column("updated_at", UtcTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("source", String(16), nullable=False),
    Column("external_id", String(200), nullable=True),
    Column("sender", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("polygon", JSON, nullable=True),
    Column("note", Text, nullable=False, default=""),
    Column("received_at", UtcTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("decision", Text, nullable=False),
    Column("airport", String(64), nullable=True),
    Column("sortie_id", String(160), nullable=True),
    Column("merged_into", String(64), nullable=True),
    Column("incident_id", String(64), nullable=True),
    Column("launch_ordered_at", UtcTime, nullable=True),
    Column("airborne_at", UtcTime, nullable=True),
    Column("on_scene_at", UtcTime, nullable=True),
    Column("first_finding_at", UtcTime, nullable=True),
    Column("outcome", Text, nullable=False, default=""),
    Column("evidence_path", Text, nullable=True),
    Column("updated_at", UtcTime, nullable=False),
    Column("acknowledged_by", String(64), nullable=True),
    Column("acknowledged_at", UtcTime, nullable=True),
)
Index("ix_alerts_received_at", alerts.c.received_at)
Index("ux_alerts_external", alerts.c.source, alerts.c.sender, alerts.c.external_id, unique=True)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("radius_m", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("raw_confidence", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("first_seen", UtcTime, nullable=False),
    Column("last_seen", UtcTime, nullable=False),
    Column("sightings", Integer, nullable=False),
    Column("evidence_finding", String(160), nullable=True),
    Column("alert_id", String(64), nullable=True),
    Column("cap_identifier", String(40), nullable=True),
    Column("published", Integer, nullable=False, default=0),
    Column("note", Text, nullable=False, default=""),
    Column("updated_at", UtcTime, nullable=False),
)
Index("ix_incidents_state", incidents.c.state)

incident_findings = Table(
    "incident_findings",
    metadata,
    Column("finding_id", String(160), primary_key=True),
    Column("incident_id", String(64), nullable=False),
)
Index("ix_incident_findings_incident", incident_findings.c.incident_id)

incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), nullable=False),
    Column("at", UtcTime, nullable=False),
    Column("state", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("note", Text, nullable=False),
)
Index("ix_incident_events_incident", incident_events.c.incident_id)

cap_messages = Table(
    "cap_messages",
    metadata,
    Column("identifier", String(40), primary_key=True),
    Column("incident_id", String(64), nullable=False),
    Column("msg_type", String(8), nullable=False),
    Column("sent", UtcTime, nullable=False),
    Column("xml", Text, nullable=False),
)
Index("ix_cap_messages_sent", cap_messages.c.sent)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(120), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", String(500), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("next_at", UtcTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("delivered_at", UtcTime, nullable=True),
    Column("last_error", Text, nullable=False, default=""),
)
Index("ux_outbox_key_target", outbox.c.key, outbox.c.channel, outbox.c.target, unique=True)
Index("ix_outbox_pending", outbox.c.delivered_at, outbox.c.next_at)
