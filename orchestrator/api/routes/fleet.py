"""Airports (dock state, the drone on the pad) and drones (live state), and the commands
on them: return a drone home, clear an airport's fault.

Commands are `async def`: they run on the service's event loop, as the scheduler and
fleet do; reads are plain functions in the server's thread pool."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from orchestrator.api.audit import fail, guard, record, service
from orchestrator.api.auth import Anyone, Reader
from orchestrator.api.models import Airport, CommandReply, Dock, Drone, Problem
from orchestrator.fleet.machine import FLYING, OrderHome
from orchestrator.video.live_view import BOUNDARY

router = APIRouter(tags=["fleet"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "no such airport or drone"}}


def _airport(request: Request, airport_id: str) -> Airport:
    svc = service(request)
    ap = svc.scenario.airports.get(airport_id)
    if ap is None:
        raise HTTPException(404, f"no airport '{airport_id}' (known: {', '.join(svc.scenario.airports)})")
    osd = svc.docks.state.get(airport_id)
    dock = Dock(**{k: v for k, v in asdict(osd).items() if k in Dock.model_fields}) if osd else Dock()
    return Airport(
        id=ap.id,
        name=ap.name,
        lat=ap.lat,
        lon=ap.lon,
        elevation_m=ap.elevation_m,
        dock=dock,
        drone=svc.fleet.drone_at(ap.id),
        out_of_service=svc.scheduler.status.out_of_service.get(ap.id),
    )


@router.get("/airports", response_model=list[Airport], summary="every airport with its dock and drone")
def list_airports(request: Request, who: Reader) -> list[Airport]:
    return [_airport(request, a) for a in service(request).scenario.airports]


@router.get("/airports/{airport_id}", response_model=Airport, responses=NOT_FOUND)
def get_airport(airport_id: str, request: Request, who: Reader) -> Airport:
    return _airport(request, airport_id)


@router.post(
    "/airports/{airport_id}/clear-fault",
    response_model=CommandReply,
    responses={**NOT_FOUND, 409: {"model": Problem, "description": "the airport is in service"}},
    summary="put an airport back in service after its dock was repaired",
)
async def clear_fault(airport_id: str, request: Request, who: Anyone) -> CommandReply:
    guard(request, who, "clear_fault", airport_id)
    svc = service(request)
    if airport_id not in svc.scenario.airports:
        raise fail(request, who, "clear_fault", airport_id, 404, f"no airport '{airport_id}'")
    if not svc.scheduler.clear_airport(airport_id):
        raise fail(request, who, "clear_fault", airport_id, 409, f"airport {airport_id} is not out of service")
    record(request, who, "clear_fault", airport_id, {}, 200, "back in service")
    return CommandReply(detail=f"airport {airport_id} back in service")


@router.get("/drones", response_model=list[Drone], summary="every drone's live state")
def list_drones(request: Request, who: Reader) -> list[Drone]:
    svc = service(request)
    return [Drone(**svc.drone_json(d)) for d in svc.fleet.machines]


@router.get("/drones/{drone_id}", response_model=Drone, responses=NOT_FOUND)
def get_drone(drone_id: str, request: Request, who: Reader) -> Drone:
    svc = service(request)
    if drone_id not in svc.fleet.machines:
        raise HTTPException(404, f"no drone '{drone_id}' (known: {', '.join(svc.fleet.machines)})")
    return Drone(**svc.drone_json(drone_id))


@router.post(
    "/drones/{drone_id}/return-home",
    response_model=CommandReply,
    status_code=202,
    responses={**NOT_FOUND, 409: {"model": Problem, "description": "the drone is not flying"}},
    summary="order a flying drone back (its sortie ends as aborted)",
)
async def return_home(drone_id: str, request: Request, who: Anyone) -> CommandReply:
    guard(request, who, "return_home", drone_id)
    svc = service(request)
    if drone_id not in svc.fleet.machines:
        raise fail(request, who, "return_home", drone_id, 404, f"no drone '{drone_id}'")
    snap = svc.fleet.snapshot(drone_id)
    if snap.phase not in FLYING:
        raise fail(request, who, "return_home", drone_id, 409, f"drone {drone_id} is {snap.phase.value}, not flying")
    why = f"ordered home by {who.name}"
    running = next((r for r in svc.scheduler.running.values() if r.drone == drone_id), None)
    if running is not None:
        running.runner.order_home()
    else:
        svc.fleet.handle(drone_id, OrderHome(why))
    record(request, who, "return_home", drone_id, {}, 202, why)
    return CommandReply(detail=f"{drone_id} ordered home")


@router.get(
    "/drones/{drone_id}/video",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"multipart/x-mixed-replace": {}}, "description": "MJPEG with the detector's boxes drawn"},
        **NOT_FOUND,
    },
    summary="the drone's live video with detections drawn (MJPEG, for an <img>; ?access_token= for browsers)",
)
async def drone_video(drone_id: str, request: Request, who: Reader) -> StreamingResponse:
    svc = service(request)
    if drone_id not in svc.live.urls:
        raise HTTPException(404, f"no video for drone '{drone_id}' (settings: video)")
    return StreamingResponse(
        svc.live.frames(drone_id),
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store"},
    )
