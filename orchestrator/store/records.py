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
