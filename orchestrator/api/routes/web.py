"""The operators' dashboard: its page and assets (no CDN: everything is served from here),
who the caller is, and the district as GeoJSON layers for the map."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from shapely.geometry import mapping

from missions.scenario import Scenario
from missions.terrain import Ground, contour_lines
from orchestrator.api.audit import service
from orchestrator.api.auth import ALERTING, AUDIT, COMMAND, Reader
from orchestrator.api.models import BaseMap, WhoAmI
from orchestrator.settings import MapSettings

WEB = Path(__file__).resolve().parent.parent / "web"
"""index.html, app.js, app.css and vendor/ (Leaflet, committed as built; see web/README.md)."""

page = APIRouter(include_in_schema=False)
router = APIRouter(tags=["dashboard"])


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # no inline script, none from elsewhere: data shown on the page cannot run
        "style-src 'self' 'unsafe-inline'",  # the timeline places its bars with style attributes
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def page_policy(basemap: MapSettings) -> str:
    """The dashboard's policy, letting its images also come from the configured tile server."""
    if basemap.tiles is None:
        return CONTENT_SECURITY_POLICY
    parts = urlsplit(basemap.tiles.replace("{s}", "*"))
    origin = f"{parts.scheme}://{parts.netloc}"
    return CONTENT_SECURITY_POLICY.replace("img-src 'self' data: blob:", f"img-src 'self' data: blob: {origin}")


@page.get("/")
def index(request: Request) -> FileResponse:
    headers = {**PAGE_HEADERS, "Content-Security-Policy": page_policy(request.app.state.basemap)}
    return FileResponse(WEB / "index.html", media_type="text/html", headers=headers)


@page.get("/api/v1/docs")
def api_docs() -> FileResponse:
    """Swagger UI, from files served here: it works on a network with no internet."""
    return FileResponse(WEB / "api-docs.html", media_type="text/html", headers=PAGE_HEADERS)


@page.get("/api/v1/redoc")
def api_redoc() -> FileResponse:
    """ReDoc, from files served here."""
    headers = {**PAGE_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY + "; worker-src 'self' blob:"}
    return FileResponse(WEB / "api-redoc.html", media_type="text/html", headers=headers)


KMZ_NAME = re.compile(r"^[0-9a-f]{32}-[A-Za-z0-9._-]{1,160}\.kmz$")


@page.get("/dji/kmz/{name}", include_in_schema=False)
def dji_wayline(name: str, request: Request) -> FileResponse:
    """A wayline a DJI dock downloads for its flight (`flighttask_prepare`'s URL). Docks
    carry no token: the name holds 128 random bits, and the dock checks the file's MD5."""
    if not KMZ_NAME.match(name):
        raise HTTPException(404, "no such wayline")
    path = request.app.state.service.kmz_dir / name
    if not path.is_file():
        raise HTTPException(404, "no such wayline")
    return FileResponse(path, media_type="application/vnd.google-earth.kmz")


@router.get("/basemap", response_model=BaseMap, summary="the dashboard's base map: tile URL, attribution, datum")
def basemap(request: Request, who: Reader) -> dict[str, Any]:
    settings: MapSettings = request.app.state.basemap
    return settings.model_dump()


@router.get("/whoami", response_model=WhoAmI, summary="the caller's name, role and what it may do")
def whoami(who: Reader) -> dict[str, Any]:
    return {
        "name": who.name,
        "role": who.role,
        "may": {
            "command": who.role in COMMAND,
            "send_alerts": who.role in ALERTING,
            "step_incidents": who.role in ALERTING,
            "read_audit": who.role in AUDIT,
        },
    }


@functools.cache
def _relief(ground: Ground) -> list[tuple[float, list[list[tuple[float, float]]]]]:
    return contour_lines(ground, 100.0)


def relief(sc: Scenario) -> list[tuple[float, list[list[tuple[float, float]]]]]:
    """The terrain's 100 m contours (computed once per terrain model)."""
    return _relief(sc.ground) if sc.ground is not None else []


@router.get(
    "/map",
    summary="the district, airspace zones, patrols, the terrain's 100 m contours and the airports as one GeoJSON "
    "FeatureCollection",
)
def district_map(request: Request, who: Reader) -> dict[str, Any]:
    svc = service(request)
    sc = svc.scenario
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {"layer": "district", "name": sc.name},
            "geometry": mapping(sc.district_lonlat),
        }
    ]
    for z in sc.airspace.zones:
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "layer": "zone",
                    "id": z.id,
                    "name": z.name,
                    "kind": z.kind.value,
                    "temporary": bool(z.active),
                    "emergency_access": z.emergency_access,
                },
                "geometry": mapping(sc.frame.geometry_to_lonlat(z.area)),
            }
        )
    for p in sc.patrols.values():
        features.append(
            {
                "type": "Feature",
                "properties": {"layer": "patrol", "id": p.id, "name": p.name, "kind": p.kind.value},
                "geometry": mapping(sc.frame.geometry_to_lonlat(p.geometry)),
            }
        )
    if sc.ground is not None:
        for height, lines in relief(sc):
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "layer": "contour",
                        "height_m": height,
                        "approximate": sc.ground.approximate,
                        "source": sc.ground.label,
                    },
                    "geometry": {"type": "MultiLineString", "coordinates": lines},
                }
            )
    for a in sc.airports.values():
        features.append(
            {
                "type": "Feature",
                "properties": {"layer": "airport", "id": a.id, "name": a.name, "subdistrict": a.subdistrict},
                "geometry": {"type": "Point", "coordinates": [a.lon, a.lat]},
            }
        )
    return {"type": "FeatureCollection", "features": features}
