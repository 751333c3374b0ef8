"""Patrols (list, create, edit, pause) and sorties (list, detail, start now, abort)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request

from missions.errors import MissionsError
from missions.patrols import Patrol as PatrolDef
from missions.scenario.loader import patrol_from_feature
from orchestrator.api.audit import fail, guard, record, service
from orchestrator.api.auth import Anyone, Reader
from orchestrator.api.models import CommandReply, Patrol, PatrolEdit, Problem, Sortie, SortieDetail, SortieStateName
from orchestrator.executor.orders import order_from_json
from orchestrator.service.core import Service, sortie_json

router = APIRouter(tags=["patrols and sorties"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "no such patrol or sortie"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "not possible in its present state"}
}

FEATURE_EXAMPLE: dict[str, Any] = {
    "type": "Feature",
    "properties": {
        "id": "dashahe-park",
        "name": "Dashahe park fire watch",
        "kind": "point",
        "looks_for": ["fire", "smoke"],
        "schedule": {"cron": "0 14 * * *", "window_min": 60},
        "mode": "orbit",
        "radius_m": 120,
        "altitude_m": 80,
        "priority": 2,
    },
    "geometry": {"type": "Point", "coordinates": [113.9512, 22.5565]},
}


def _patrol(svc: Service, p: PatrolDef) -> Patrol:
    settings = svc.store.patrol_settings().get(p.id)
    return Patrol(
        id=p.id,
        name=p.name,
        kind=p.kind.value,
        looks_for=[t.value for t in p.looks_for],
        priority=p.priority,
        schedule=p.rule.describe(),
        airports=list(p.airports),
        paused=bool(settings and settings[0]),
        source="api" if settings and settings[1] else "scenario",
        sorties_today=len(svc.store.sorties(patrol=p.id)),
        unscheduled=[
            f"{u.release:%H:%M}: {'; '.join(u.reasons)}" for u in svc.scheduler.unscheduled if u.patrol_id == p.id
        ],
    )


@router.get("/patrols", response_model=list[Patrol], summary="every patrol, paused or not, with today's plan")
def list_patrols(request: Request, who: Reader) -> list[Patrol]:
    svc = service(request)
    return [_patrol(svc, p) for p in svc.scenario.patrols.values()]


@router.get("/patrols/{patrol_id}", response_model=Patrol, responses=NOT_FOUND)
def get_patrol(patrol_id: str, request: Request, who: Reader) -> Patrol:
    svc = service(request)
    p = svc.scenario.patrols.get(patrol_id)
    if p is None:
        raise HTTPException(404, f"no patrol '{patrol_id}'")
    return _patrol(svc, p)


def _parse(request: Request, who: Anyone, action: str, feature: Any) -> PatrolDef:
    try:
        return patrol_from_feature(feature, service(request).scenario)
    except MissionsError as exc:
        target = str(feature.get("properties", {}).get("id", "?")) if isinstance(feature, dict) else "?"
        raise fail(request, who, action, target, 422, str(exc)) from None


@router.post(
    "/patrols",
    response_model=Patrol,
    status_code=201,
    responses={409: {"model": Problem}, 422: {"model": Problem}},
    summary="create a patrol (a GeoJSON Feature as in patrols.geojson); planned from now on",
)
async def create_patrol(
    request: Request, who: Anyone, feature: Annotated[dict[str, Any], Body(examples=[FEATURE_EXAMPLE])]
) -> Patrol:
    guard(request, who, "create_patrol", str(feature.get("properties", {}).get("id", "?")))
    svc = service(request)
    patrol = _parse(request, who, "create_patrol", feature)
    if patrol.id in svc.scenario.patrols:
        raise fail(request, who, "create_patrol", patrol.id, 409, f"patrol '{patrol.id}' exists: edit it instead")
    svc.store.set_patrol(patrol.id, at=svc.clock(), by=who.name, paused=False, spec=feature)
    ids = await svc.scheduler.add_patrol(patrol)
    record(request, who, "create_patrol", patrol.id, {"feature": feature}, 201, f"{len(ids)} sorties planned")
    return _patrol(svc, patrol)


@router.patch(
    "/patrols/{patrol_id}",
    response_model=Patrol,
    responses={**NOT_FOUND, 422: {"model": Problem}},
    summary="pause or resume a patrol, or replace its definition",
)
async def edit_patrol(patrol_id: str, edit: PatrolEdit, request: Request, who: Anyone) -> Patrol:
    params = edit.model_dump(exclude_none=True)
    guard(request, who, "edit_patrol", patrol_id, params)
    svc = service(request)
    if patrol_id not in svc.scenario.patrols:
        raise fail(request, who, "edit_patrol", patrol_id, 404, f"no patrol '{patrol_id}'")
    if edit.paused is None and edit.feature is None:
        raise fail(request, who, "edit_patrol", patrol_id, 422, "nothing to change: give 'paused' or 'feature'")
    now = svc.clock()
    result = []
    if edit.feature is not None:
        patrol = _parse(request, who, "edit_patrol", edit.feature)
        if patrol.id != patrol_id:
            raise fail(
                request, who, "edit_patrol", patrol_id, 422, f"the feature's id '{patrol.id}' is not '{patrol_id}'"
            )
        svc.store.set_patrol(patrol_id, at=now, by=who.name, spec=edit.feature)
        ids = await svc.scheduler.add_patrol(patrol, version=now.strftime("%H%M%S"))
        result.append(f"re-planned: {len(ids)} sorties")
    if edit.paused is not None:
        svc.store.set_patrol(patrol_id, at=now, by=who.name, paused=edit.paused)
        result.append("paused" if edit.paused else "resumed")
    record(request, who, "edit_patrol", patrol_id, params, 200, "; ".join(result))
    return _patrol(svc, svc.scenario.patrols[patrol_id])


@router.get("/sorties", response_model=list[Sortie], summary="sorties of the day, by planned launch")
def list_sorties(
    request: Request,
    who: Reader,
    state: Annotated[list[SortieStateName] | None, Query(description="any of these states")] = None,
    airport: str | None = None,
    patrol: str | None = None,
    since: Annotated[datetime | None, Query(description="planned launch at or after (ISO 8601 with offset)")] = None,
    until: Annotated[datetime | None, Query(description="planned launch before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    for t in (since, until):
        if t is not None and t.tzinfo is None:
            raise HTTPException(422, "since/until need a UTC offset, e.g. 2026-12-02T08:00+08:00")
    svc = service(request)
    rows = svc.store.sorties(
        state=state, airport=airport, patrol=patrol, since=since, until=until, limit=limit, offset=offset
    )
    return [sortie_json(r, svc.scenario.tz) for r in rows]


@router.get("/sorties/{sortie_id}", response_model=SortieDetail, responses=NOT_FOUND)
def get_sortie(sortie_id: str, request: Request, who: Reader) -> dict[str, Any]:
    svc = service(request)
    row = svc.store.sortie(sortie_id)
    if row is None:
        raise HTTPException(404, f"no sortie '{sortie_id}'")
    steps = svc.store.transitions("sortie", sortie_id)
    tz = svc.scenario.tz
    return {
        **sortie_json(row, svc.scenario.tz),
        "transitions": [
            {"at": t.at.astimezone(tz).isoformat(), "old": t.old, "new": t.new, "reason": t.reason} for t in steps
        ],
        "commands": [
            {
                "at": c.at.astimezone(tz).isoformat(),
                "target": c.target,
                "command": c.command,
                "params": c.params,
                "result": c.result,
                "detail": c.detail,
            }
            for c in svc.store.commands(sortie_id)
        ],
        "items": len(order_from_json(row.order).items),
    }


@router.post(
    "/sorties/{sortie_id}/start",
    response_model=CommandReply,
    status_code=202,
    responses={**NOT_FOUND, **CONFLICT},
    summary="launch a planned or held sortie now (its airport's drone, once free)",
)
async def start_sortie(sortie_id: str, request: Request, who: Anyone) -> CommandReply:
    guard(request, who, "start_sortie", sortie_id)
    svc = service(request)
    try:
        svc.scheduler.start_now(sortie_id)
    except KeyError:
        raise fail(request, who, "start_sortie", sortie_id, 404, f"no sortie '{sortie_id}'") from None
    except ValueError as exc:
        raise fail(request, who, "start_sortie", sortie_id, 409, str(exc)) from None
    record(request, who, "start_sortie", sortie_id, {}, 202, "launch ordered")
    return CommandReply(detail=f"sortie {sortie_id} launches as soon as its drone is free")


@router.post(
    "/sorties/{sortie_id}/abort",
    response_model=CommandReply,
    status_code=202,
    responses={**NOT_FOUND, **CONFLICT},
    summary="turn a flying sortie home; it ends as aborted",
)
async def abort_sortie(sortie_id: str, request: Request, who: Anyone) -> CommandReply:
    guard(request, who, "abort_sortie", sortie_id)
    svc = service(request)
    try:
        detail = svc.scheduler.abort(sortie_id)
    except KeyError:
        raise fail(request, who, "abort_sortie", sortie_id, 404, f"no sortie '{sortie_id}'") from None
    except ValueError as exc:
        raise fail(request, who, "abort_sortie", sortie_id, 409, str(exc)) from None
    record(request, who, "abort_sortie", sortie_id, {}, 202, detail)
    return CommandReply(detail=detail)
