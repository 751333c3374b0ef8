"""Alerts both ways: inbound alerts, incidents (with their findings and lifecycle), the
CAP messages issued, and the outbox of deliveries to the alert system.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.schema import UtcTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(200)),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("polygon", sa.JSON),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("received_at", UtcTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("airport", sa.String(64)),
        sa.Column("sortie_id", sa.String(160)),
        sa.Column("merged_into", sa.String(64)),
        sa.Column("incident_id", sa.String(64)),
        sa.Column("launch_ordered_at", UtcTime),
        sa.Column("airborne_at", UtcTime),
        sa.Column("on_scene_at", UtcTime),
        sa.Column("first_finding_at", UtcTime),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("evidence_path", sa.Text),
        sa.Column("updated_at", UtcTime, nullable=False),
    )
    op.create_index("ix_alerts_received_at", "alerts", ["received_at"])
    op.create_index("ux_alerts_external", "alerts", ["source", "sender", "external_id"], unique=True)
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("radius_m", sa.Float, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("raw_confidence", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("first_seen", UtcTime, nullable=False),
        sa.Column("last_seen", UtcTime, nullable=False),
        sa.Column("sightings", sa.Integer, nullable=False),
        sa.Column("evidence_finding", sa.String(160)),
        sa.Column("alert_id", sa.String(64)),
        sa.Column("cap_identifier", sa.String(40)),
        sa.Column("published", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("updated_at", UtcTime, nullable=False),
    )
    op.create_index("ix_incidents_state", "incidents", ["state"])
    op.create_table(
        "incident_findings",
        sa.Column("finding_id", sa.String(160), primary_key=True),
        sa.Column("incident_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_incident_findings_incident", "incident_findings", ["incident_id"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("at", UtcTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_incident_events_incident", "incident_events", ["incident_id"])
    op.create_table(
        "cap_messages",
        sa.Column("identifier", sa.String(40), primary_key=True),
        sa.Column("incident_id", sa.String(64), nullable=False),
        sa.Column("msg_type", sa.String(8), nullable=False),
        sa.Column("sent", UtcTime, nullable=False),
        sa.Column("xml", sa.Text, nullable=False),
    )
    op.create_index("ix_cap_messages_sent", "cap_messages", ["sent"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UtcTime, nullable=False),
        sa.Column("next_at", UtcTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("delivered_at", UtcTime),
        sa.Column("last_error", sa.Text, nullable=False),
    )
    op.create_index("ux_outbox_key_target", "outbox", ["key", "channel", "target"], unique=True)
    op.create_index("ix_outbox_pending", "outbox", ["delivered_at", "next_at"])


def downgrade() -> None:
    for table in ("outbox", "cap_messages", "incident_events", "incident_findings", "incidents", "alerts"):
        op.drop_table(table)
