"""What the store hands back: plain frozen records, so no caller holds a database row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SortieRow:
    id: str
    airport: str
    land_airport: str
    state: str
    reason: str
    order: dict[str, Any]
    """The SortieOrder as JSON: what is (or was) flown."""
    updated_at: datetime
    drone: str | None = None
    patrol: str | None = None
    occurrence: str | None = None
    alert_id: str | None = None
    planned_launch: datetime | None = None
    planned_land: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class TransitionRecord:
    subject: str
    """sortie or drone."""
    subject_id: str
    at: datetime
    old: str | None
    new: str
    reason: str


@dataclass(frozen=True)
class CommandRecord:
    at: datetime
    target: str
    command: str
    params: dict[str, Any]
    result: str
    detail: str = ""
    sortie_id: str | None = None


@dataclass(frozen=True)
class FindingRecord:
    id: str
    kind: str
    airport: str
    sortie_id: str | None
    lat: float
    lon: float
    confidence: float
    first_seen: datetime
    last_seen: datetime
    received_at: datetime
    report: dict[str, Any]
    """The finding message as received (without its inline images)."""
    evidence_path: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    params: dict[str, Any]
    status: int
    result: str


@dataclass(frozen=True)
class AlertRow:
    """An inbound alert: what was asked, what was decided, and how the response went."""

    id: str
    source: str
    """api, mqtt or cap."""
    sender: str
    kind: str
    priority: int
    lat: float
    lon: float
    received_at: datetime
    state: str
    """rejected, merged, proposed, dispatched, unserved, on_scene, seen, nothing_seen, dismissed."""
    decision: str
    updated_at: datetime
    external_id: str | None = None
    polygon: list[list[float]] | None = None
    note: str = ""
    airport: str | None = None
    sortie_id: str | None = None
    merged_into: str | None = None
    incident_id: str | None = None
    launch_ordered_at: datetime | None = None
    airborne_at: datetime | None = None
    on_scene_at: datetime | None = None
    first_finding_at: datetime | None = None
    outcome: str = ""
    evidence_path: str | None = None
    acknowledged_by: str | None = None
    """The operator who acknowledged it, when it needed one (`ATTENTION` states)."""
    acknowledged_at: datetime | None = None
    """A frame from over the spot (the look itself, whatever vision made of it)."""


@dataclass(frozen=True)
class IncidentRow:
    id: str
    kind: str
    lat: float
    lon: float
    radius_m: float
    confidence: float
    """After the false-alarm rule (missions.alerting.feedback_factor)."""
    raw_confidence: float
    """As vision reported it."""
    state: str
    first_seen: datetime
    last_seen: datetime
    sightings: int
    updated_at: datetime
    evidence_finding: str | None = None
    alert_id: str | None = None
    cap_identifier: str | None = None
    """The first CAP message issued for it (what Updates and Cancels reference)."""
    published: bool = False
    note: str = ""


@dataclass(frozen=True)
class IncidentEvent:
    incident_id: str
    at: datetime
    state: str
    actor: str
    note: str


@dataclass(frozen=True)
class CapMessage:
    identifier: str
    incident_id: str
    msg_type: str
    sent: datetime
    xml: str


@dataclass(frozen=True)
class OutboxItem:
    """One delivery to the alert system, written before it is tried."""

    key: str
    """Idempotency key: the same for every retry of the same event."""
    channel: str
    """webhook or mqtt."""
    target: str
    """The webhook's URL, or the MQTT topic."""
    content_type: str
    body: str
    created_at: datetime
    next_at: datetime
    attempts: int = 0
    delivered_at: datetime | None = None
    last_error: str = ""
    id: int | None = None
