"""Findings with their evidence, the audit log, and the health check."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse

from orchestrator.api.audit import aware, service
from orchestrator.api.auth import Auditor, Reader
from orchestrator.api.models import AuditRow, Finding, Health, Problem
from orchestrator.store import FindingRecord

router = APIRouter(tags=["records"])


def _finding(rec: FindingRecord, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": rec.id,
        "kind": rec.kind,
        "airport": rec.airport,
        "sortie": rec.sortie_id,
        "lat": rec.lat,
        "lon": rec.lon,
        "confidence": rec.confidence,
        "sigma_m": rec.report.get("sigma_m"),
        "first_seen": rec.first_seen.astimezone(tz).isoformat(),
        "last_seen": rec.last_seen.astimezone(tz).isoformat(),
        "received_at": rec.received_at.astimezone(tz).isoformat(),
        "zone": rec.report.get("zone"),
        "evidence": f"/api/v1/findings/{rec.id}/evidence" if rec.evidence_path else None,
    }


@router.get("/findings", response_model=list[Finding], summary="vision's confirmed findings, newest first")
def list_findings(
    request: Request,
    who: Reader,
    kind: Literal["fire", "smoke", "illegal_parking"] | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    since = aware(since)
    svc = service(request)
    return [
        _finding(r, svc.scenario.tz) for r in svc.store.findings(kind=kind, since=since, limit=limit, offset=offset)
    ]


@router.get("/findings/{finding_id}", response_model=Finding, responses={404: {"model": Problem}})
def get_finding(finding_id: str, request: Request, who: Reader) -> dict[str, Any]:
    svc = service(request)
    rec = svc.store.finding(finding_id)
    if rec is None:
        raise HTTPException(404, f"no finding '{finding_id}'")
    return _finding(rec, svc.scenario.tz)


@router.get(
    "/findings/{finding_id}/evidence",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": Problem}},
    summary="the annotated frame the finding was confirmed on",
)
def finding_evidence(
    finding_id: str, request: Request, who: Reader, crop: Annotated[bool, Query(description="the crop only")] = False
) -> FileResponse:
    rec = service(request).store.finding(finding_id)
    if rec is None or not rec.evidence_path:
        raise HTTPException(404, f"no evidence for finding '{finding_id}'")
    path = Path(rec.evidence_path)
    if crop:
        path = path.with_name(path.stem + "-crop.jpg")
    if not path.is_file():
        raise HTTPException(404, f"evidence file of '{finding_id}' is missing")
    return FileResponse(path, media_type="image/jpeg")


@router.get("/audit", response_model=list[AuditRow], summary="every command given through the API, newest first")
def list_audit(
    request: Request,
    who: Auditor,
    actor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    svc = service(request)
    rows = svc.store.audit(actor=actor, limit=limit, offset=offset)
    return [{**r.__dict__, "at": r.at.astimezone(svc.scenario.tz).isoformat()} for r in rows]


@router.get("/health", response_model=Health, summary="is the service up (no token needed)")
def health(request: Request) -> dict[str, Any]:
    svc = service(request)
    bus = svc.bus.status()
    return {
        "status": "ok" if bus["connected"] and bus["running"] else "degraded",
        "bus": bus,
        "broker": svc.broker_gate.status() if svc.broker_gate is not None else None,
        "time": svc.clock().isoformat(),
        "scenario": svc.scenario.name,
        "counts": {**svc.store.counts(), "outbox_pending": svc.store.alerts.outbox_counts()["pending"]},
    }
