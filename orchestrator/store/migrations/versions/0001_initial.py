"""The first schema: sorties, transitions, commands, findings, audit, patrol settings,
drone positions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.schema import UtcTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sorties",
        sa.Column("id", sa.String(160), primary_key=True),
        sa.Column("airport", sa.String(64), nullable=False),
        sa.Column("land_airport", sa.String(64), nullable=False),
        sa.Column("drone", sa.String(64)),
        sa.Column("patrol", sa.String(128)),
        sa.Column("occurrence", sa.String(200)),
        sa.Column("alert_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("planned_launch", UtcTime),
        sa.Column("planned_land", UtcTime),
        sa.Column("started_at", UtcTime),
        sa.Column("ended_at", UtcTime),
        sa.Column("updated_at", UtcTime, nullable=False),
        sa.Column("order", sa.JSON, nullable=False),
    )
    op.create_index("ix_sorties_state", "sorties", ["state"])
    op.create_index("ix_sorties_planned_launch", "sorties", ["planned_launch"])
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(160), nullable=False),
        sa.Column("at", UtcTime, nullable=False),
        sa.Column("old", sa.String(16)),
        sa.Column("new", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_transitions_subject", "transitions", ["subject", "subject_id"])
    op.create_table(
        "commands",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UtcTime, nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("sortie_id", sa.String(160), sa.ForeignKey("sorties.id")),
        sa.Column("command", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "findings",
        sa.Column("id", sa.String(160), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("airport", sa.String(64), nullable=False),
        sa.Column("sortie_id", sa.String(160)),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("first_seen", UtcTime, nullable=False),
        sa.Column("last_seen", UtcTime, nullable=False),
        sa.Column("received_at", UtcTime, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("evidence_path", sa.Text),
    )
    op.create_index("ix_findings_first_seen", "findings", ["first_seen"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UtcTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(160), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
    )
    op.create_table(
        "patrol_settings",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("paused", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON),
        sa.Column("updated_at", UtcTime, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "drone_positions",
        sa.Column("drone", sa.String(64), primary_key=True),
        sa.Column("airport", sa.String(64), nullable=False),
        sa.Column("updated_at", UtcTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("drone_positions", "patrol_settings", "audit", "findings", "commands", "transitions", "sorties"):
        op.drop_table(table)
