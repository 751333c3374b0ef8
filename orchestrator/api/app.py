"""The FastAPI application: routes under /api/v1, errors as {"detail": reason}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from orchestrator.api.auth import TokenBook
from orchestrator.api.guard import BodyGuard
from orchestrator.api.models import Problem
from orchestrator.api.routes import alerts, fleet, live, plans, records, web
from orchestrator.service.core import Service
from orchestrator.settings import ApiUser, MapSettings

PREFIX = "/api/v1"
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "the body is not valid JSON"},
    401: {"model": Problem, "description": "no token, or an unknown one"},
    403: {"model": Problem, "description": "the caller's role may not do this"},
    422: {"model": Problem, "description": "the request is malformed; `detail` says what and where"},
}


def _reason(errors: list[dict[str, Any]]) -> str:
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {e.get('msg', 'invalid')}" if loc else str(e.get("msg", "invalid")))
    return "; ".join(parts)


def create_app(service: Service, users: list[ApiUser], basemap: MapSettings | None = None) -> FastAPI:
    app = FastAPI(
        title="dronepatrol",
        version="1",
        summary="Drone patrols from automated drone airports",
        description=(
            "Airports and drones with live state, patrols and their schedules, sorties, vision's findings, "
            "inbound alerts and the incidents (with their CAP messages) pushed to the alert system, "
            "the audit log and a stream of live updates. Every call but /health needs `Authorization: "
            "Bearer <token>`; roles viewer, operator, admin, integration. A refused request says why in "
            '`{"detail": ...}`.'
        ),
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # served by routes/web.py from vendored files: FastAPI's pages load them from a CDN
        redoc_url=None,
    )
    app.state.service = service
    app.state.basemap = basemap or MapSettings()
    app.state.tokens = tokens = TokenBook(users)
    app.add_middleware(BodyGuard, known_token=lambda _scope, token: tokens.find(token) is not None)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _reason(list(exc.errors()))}, status_code=422)

    for module in (fleet, plans, records, alerts, web, live):
        app.include_router(module.router, prefix=PREFIX, responses=COMMON_RESPONSES)
    app.include_router(web.page)
    app.mount("/ui", StaticFiles(directory=web.WEB), name="ui")
    return app
