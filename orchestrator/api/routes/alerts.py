"""Inbound alerts (send, list, read, dispatch a proposed one, the day's measures),
incidents (list, read, lifecycle) and the CAP messages (feed, each, and CAP in)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse

from missions.alerting import AlertError
from missions.cap import CapError, parse_cap
from orchestrator.alerts.bus_inbound import alert_from_cap
from orchestrator.alerts.cap_feed import cap_feed
from orchestrator.alerts.desk import alert_json
from orchestrator.alerts.inbound import AlertIn, AlertRefused
from orchestrator.alerts.incidents import incident_json
from orchestrator.api.audit import aware, fail, guard, record, service
from orchestrator.api.auth import ALERTING, Anyone, Reader
from orchestrator.api.models import (
    Alert,
    AlertMeasures,
    AlertStateName,
    Incident,
    IncidentDetail,
    IncidentStateName,
    IncidentStep,
    Problem,
)
from orchestrator.service.core import Service

router = APIRouter(tags=["alerts and incidents"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "no such alert or incident"}}
REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "already received from this sender (the reason names the alert)"},
    422: {"model": Problem, "description": "unknown kind, outside the district, in a no-fly zone, malformed"},
    429: {"model": Problem, "description": "too many alerts a minute from this sender"},
}
CAP_XML = "application/cap+xml"


async def _take(request: Request, who: Anyone, alert: AlertIn, source: str, response: Response) -> dict[str, Any]:
    svc = service(request)
    params = alert.model_dump(exclude_none=True)
    guard(request, who, "send_alert", alert.kind, params, roles=ALERTING)
    try:
        row = await svc.alerts.receive(alert, source, who.name)
    except AlertRefused as exc:
        record(request, who, "send_alert", exc.alert_id or alert.kind, params, exc.status, exc.reason)
        headers = {"Retry-After": "60"} if exc.status == 429 else None
        raise HTTPException(exc.status, exc.reason, headers) from None
    record(request, who, "send_alert", row.id, params, 201, f"{row.state}: {row.decision}")
    response.status_code = 201
    return alert_json(row, svc.scenario.tz)


@router.post(
    "/alerts",
    response_model=Alert,
    status_code=201,
    responses=REFUSED,
    summary="send an alert: the earliest drone goes (or an operator is asked), the reply says which",
)
async def send_alert(request: Request, who: Anyone, alert: AlertIn, response: Response) -> dict[str, Any]:
    return await _take(request, who, alert, "api", response)


@router.get("/alerts", response_model=list[Alert], summary="inbound alerts, newest first")
def list_alerts(
    request: Request,
    who: Reader,
    state: AlertStateName | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    since = aware(since)
    svc = service(request)
    rows = svc.store.alerts.alerts(state=[state] if state else None, since=since, limit=limit, offset=offset)
    return [alert_json(r, svc.scenario.tz) for r in rows]


@router.get(
    "/alerts/measures",
    response_model=AlertMeasures,
    summary="per stage, seconds from receipt: percentiles over a day's alerts",
)
def alert_measures(request: Request, who: Reader, day: date | None = None) -> dict[str, Any]:
    svc = service(request)
    tz = svc.scenario.tz
    day = day or svc.clock().astimezone(tz).date()
    if not date(2000, 1, 1) <= day <= date(2200, 1, 1):
        raise HTTPException(422, "day out of range")
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return {"day": day.isoformat(), **svc.alerts.measures(start, start + timedelta(days=1))}


@router.get("/alerts/{alert_id}", response_model=Alert, responses=NOT_FOUND)
def get_alert(alert_id: str, request: Request, who: Reader) -> dict[str, Any]:
    svc = service(request)
    row = svc.store.alerts.alert(alert_id)
    if row is None:
        raise HTTPException(404, f"no alert '{alert_id}'")
    return alert_json(row, svc.scenario.tz)


@router.post(
    "/alerts/{alert_id}/dispatch",
    response_model=Alert,
    responses={**NOT_FOUND, 409: {"model": Problem, "description": "not a proposed or unserved alert"}},
    summary="send the earliest drone for a proposed (or unserved) alert",
)
async def dispatch_alert(alert_id: str, request: Request, who: Anyone) -> dict[str, Any]:
    guard(request, who, "dispatch_alert", alert_id)
    svc = service(request)
    try:
        row = await svc.alerts.approve(alert_id)
    except KeyError:
        raise fail(request, who, "dispatch_alert", alert_id, 404, f"no alert '{alert_id}'") from None
    except ValueError as exc:
        raise fail(request, who, "dispatch_alert", alert_id, 409, str(exc)) from None
    record(request, who, "dispatch_alert", alert_id, {}, 200, f"{row.state}: {row.decision}")
    return alert_json(row, svc.scenario.tz)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=Alert,
    responses=NOT_FOUND,
    summary="an operator has seen an alert that needed one (unserved or proposed): its banner goes",
)
def acknowledge_alert(alert_id: str, request: Request, who: Anyone) -> dict[str, Any]:
    guard(request, who, "acknowledge_alert", alert_id)
    svc = service(request)
    row = svc.store.alerts.alert(alert_id)
    if row is None:
        raise fail(request, who, "acknowledge_alert", alert_id, 404, f"no alert '{alert_id}'")
    if row.acknowledged_at is None:
        row = svc.store.alerts.update_alert(alert_id, acknowledged_by=who.name, acknowledged_at=svc.clock())
    record(request, who, "acknowledge_alert", alert_id, {}, 200, f"{row.state}: acknowledged by {row.acknowledged_by}")
    out = alert_json(row, svc.scenario.tz)
    svc.hub.publish("alert", out)  # every dashboard drops its banner
    return out


# ---- incidents -------------------------------------------------------------------------
def _detail(svc: Service, incident_id: str) -> dict[str, Any]:
    book, tz = svc.store.alerts, svc.scenario.tz
    inc = book.incident(incident_id)
    if inc is None:
        raise HTTPException(404, f"no incident '{incident_id}'")
    return {
        **incident_json(inc, tz),
        "events": [
            {"at": e.at.astimezone(tz).isoformat(), "state": e.state, "actor": e.actor, "note": e.note}
            for e in book.incident_events(incident_id)
        ],
        "findings": book.incident_findings(incident_id),
        "cap": [
            {
                "identifier": c.identifier,
                "msg_type": c.msg_type,
                "sent": c.sent.astimezone(tz).isoformat(),
                "url": f"/api/v1/cap/{c.identifier}",
            }
            for c in reversed(book.caps(incident_id=incident_id))
        ],
    }


@router.get("/incidents", response_model=list[Incident], summary="incidents, most recently seen first")
def list_incidents(
    request: Request,
    who: Reader,
    state: IncidentStateName | None = None,
    kind: str | None = Query(None, max_length=32),
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    svc = service(request)
    rows = svc.store.alerts.incidents(state=[state] if state else None, kind=kind, limit=limit, offset=offset)
    return [incident_json(r, svc.scenario.tz) for r in rows]


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses=NOT_FOUND)
def get_incident(incident_id: str, request: Request, who: Reader) -> dict[str, Any]:
    return _detail(service(request), incident_id)


@router.post(
    "/incidents/{incident_id}/state",
    response_model=IncidentDetail,
    responses={**NOT_FOUND, 409: {"model": Problem, "description": "the step is not allowed from its state"}},
    summary="acknowledge, dispatch a ground unit, resolve, or mark a false alarm",
)
def step_incident(
    incident_id: str, request: Request, who: Anyone, step: Annotated[IncidentStep, Body()]
) -> dict[str, Any]:
    params = step.model_dump()
    guard(request, who, "step_incident", incident_id, params, roles=ALERTING)
    svc = service(request)
    try:
        svc.incidents.step(incident_id, step.state, who.name, step.note)
    except KeyError:
        raise fail(request, who, "step_incident", incident_id, 404, f"no incident '{incident_id}'", params) from None
    except AlertError as exc:
        raise fail(request, who, "step_incident", incident_id, 409, str(exc), params) from None
    record(request, who, "step_incident", incident_id, params, 200, step.state)
    return _detail(svc, incident_id)


# ---- CAP -------------------------------------------------------------------------------
@router.get(
    "/cap/feed",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}, "description": "Atom feed of CAP 1.2 messages"}},
    summary="every CAP message issued, newest first, as an Atom feed",
)
def cap_feed_route(request: Request, who: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Response:
    svc = service(request)
    base = str(request.base_url).rstrip("/")
    xml = cap_feed(svc.store.alerts.caps(limit=limit), base, svc.incidents.issuer.sender, svc.clock())
    return Response(xml, media_type="application/atom+xml")


@router.get(
    "/cap/{identifier}",
    response_class=Response,
    responses={200: {"content": {CAP_XML: {}}, "description": "one CAP 1.2 alert"}, **NOT_FOUND},
    summary="one CAP 1.2 message",
)
def cap_message(identifier: str, request: Request, who: Reader) -> Response:
    msg = service(request).store.alerts.cap(identifier)
    if msg is None:
        raise HTTPException(404, f"no CAP message '{identifier}'")
    return Response(msg.xml, media_type=CAP_XML)


@router.post(
    "/cap",
    response_model=Alert,
    status_code=201,
    responses=REFUSED,
    openapi_extra={"requestBody": {"required": True, "content": {CAP_XML: {"schema": {"type": "string"}}}}},
    summary="send an alert as CAP 1.2 XML (Alert or Update); answered as POST /alerts",
)
async def send_cap(request: Request, who: Anyone, response: Response) -> dict[str, Any]:
    body = await request.body()
    if len(body) > 256 * 1024:
        raise fail(request, who, "send_alert", "cap", 413, "a CAP message of more than 256 KiB")
    try:
        cap = parse_cap(body)
    except CapError as exc:
        guard(request, who, "send_alert", "cap", roles=ALERTING)
        try:
            service(request).alerts.admit_malformed(who.name)
        except AlertRefused as flood:
            raise fail(request, who, "send_alert", "cap", flood.status, flood.reason) from None
        service(request).alerts.record_malformed("cap", who.name, str(exc))
        raise fail(request, who, "send_alert", "cap", 422, f"not a CAP 1.2 alert we can take: {exc}") from None
    return await _take(request, who, alert_from_cap(cap), "cap", response)


@router.get(
    "/alerts/{alert_id}/evidence",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}}, "description": "a frame from over the spot"}, **NOT_FOUND},
    summary="the frame the answering drone took over the spot (detections boxed), found something or not",
)
def alert_evidence(alert_id: str, request: Request, who: Reader) -> FileResponse:
    row = service(request).store.alerts.alert(alert_id)
    if row is None or not row.evidence_path or not Path(row.evidence_path).is_file():
        raise HTTPException(404, f"no evidence for alert '{alert_id}'")
    return FileResponse(row.evidence_path, media_type="image/jpeg")
