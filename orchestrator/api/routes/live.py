"""Live updates as server-sent events: `sortie`, `drone` and `finding` events, each a
JSON object. A reconnecting reader sends Last-Event-ID and gets what it missed (as far
as the service keeps it). Browsers' EventSource cannot set headers: the token may come
as `?access_token=`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from orchestrator.api.audit import service
from orchestrator.api.auth import Reader

router = APIRouter(tags=["live"])
KEEPALIVE_S = 15.0


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "a stream of events"}},
    summary="live updates (server-sent events)",
)
async def events(
    request: Request,
    who: Reader,
    last_event_id: Annotated[int | None, Header(ge=0)] = None,
    once: bool = False,
) -> StreamingResponse:
    hub = service(request).hub

    async def stream() -> AsyncIterator[str]:
        q = hub.subscribe()
        try:
            for e in hub.since(last_event_id or 0) if last_event_id is not None else []:
                yield e.sse()
            if once:
                return
            while not await request.is_disconnected():
                try:
                    event = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield event.sse()
        finally:
            with contextlib.suppress(Exception):
                hub.unsubscribe(q)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
