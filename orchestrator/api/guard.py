"""What the API refuses before it reads a request body.

FastAPI reads a JSON body before it runs the token check, so without this an anonymous
client could make the service read (and parse) a body of any size before the 401. This
ASGI middleware answers first: a body over `MAX_BODY` bytes (by Content-Length, or by
counting a chunked one as it arrives) gets 413, and a request with a body but without a
known bearer token gets 401, before a byte of the body is read.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

MAX_BODY = 1 << 20
"""1 MiB: the largest JSON the API takes (a patrol with a long route) is far smaller; CAP
messages have their own 256 KiB limit."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    pass


async def _answer(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    def __init__(self, app: App, known_token: Callable[[Scope, str], bool], max_body: int = MAX_BODY) -> None:
        self.app = app
        self.known_token = known_token
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _answer(send, 413, f"a request body of at most {self.max_body} bytes")
            return
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token or not self.known_token(scope, token.strip()):
            await _answer(
                send,
                401,
                "missing bearer token (Authorization: Bearer <token>)" if not token else "unknown or revoked token",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge
            return message

        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if not started:
                await _answer(send, 413, f"a request body of at most {self.max_body} bytes")
