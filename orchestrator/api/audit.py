"""Every command is audited, refused or not: who, what, when, on what, and the result.
The audit row is committed before the reply goes out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import HTTPException, Request

from orchestrator.api.auth import COMMAND, Caller
from orchestrator.service.core import Service
from orchestrator.store import AuditEntry


def service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def record(
    request: Request, who: Caller, action: str, target: str, params: dict[str, Any], status: int, result: str
) -> None:
    svc = service(request)
    svc.store.add_audit(AuditEntry(svc.clock(), who.name, who.role, action, target, params, status, result))


def guard(
    request: Request,
    who: Caller,
    action: str,
    target: str,
    params: dict[str, Any] | None = None,
    roles: frozenset[str] = COMMAND,
) -> None:
    """Refuse (403, audited) a command the caller's role may not give."""
    if who.role not in roles:
        why = f"role {who.role} may not {action.replace('_', ' ')}"
        record(request, who, action, target, params or {}, 403, why)
        raise HTTPException(403, why)


def fail(
    request: Request, who: Caller, action: str, target: str, status: int, why: str, params: dict[str, Any] | None = None
) -> HTTPException:
    record(request, who, action, target, params or {}, status, why)
    return HTTPException(status, why)


def aware(since: datetime | None) -> datetime | None:
    """A `since` filter must say its offset: a naive time is ambiguous across the district's zone."""
    if since is not None and since.tzinfo is None:
        raise HTTPException(422, "since needs a UTC offset, e.g. 2026-12-02T08:00+08:00")
    return since
