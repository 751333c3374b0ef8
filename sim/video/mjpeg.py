"""MJPEG over HTTP: the stream OpenCV's VideoCapture (FFmpeg) opens by URL.

    GET /video/<airport>.mjpg   multipart/x-mixed-replace; each part a JPEG, with headers
                                X-Frame-Seq, X-Capture-Time (simulated clock) and X-Pose
    GET /video/<airport>.jpg    the latest frame once
    GET /                       a plain-text index

Every client gets the freshest frame: a client that falls behind skips frames rather than
queueing them, and the server counts what it skipped. With a `token`, every request must
carry it (`?token=...`, as the URLs the server hands out do): anyone on the network could
otherwise watch the drones' cameras; refused requests get 401 and are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
from dataclasses import dataclass, field
from urllib.parse import parse_qs

log = logging.getLogger("dronepatrol.sim.video")

BOUNDARY = b"dronepatrolframe"
SEND_BUFFER = 8 * 1024


@dataclass
class Latest:
    """The newest encoded frame of one stream, and a condition to wait for the next."""

    jpeg: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seq: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    skipped: int = 0

    async def publish(self, jpeg: bytes, headers: dict[str, str], seq: int) -> None:
        async with self.changed:
            self.jpeg, self.headers, self.seq = jpeg, headers, seq
            self.changed.notify_all()


class MjpegServer:
    """Serves one MJPEG stream per airport."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> None:
        self.host, self.port = host, port
        self.token = token
        self.refused = 0
        self.streams: dict[str, Latest] = {}
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._closing = False

    def url(self, airport: str) -> str:
        query = f"?token={self.token}" if self.token else ""
        return f"http://{self.host}:{self.port}/video/{airport}.mjpg{query}"

    def _allowed(self, query: str) -> bool:
        if not self.token:
            return True
        given = parse_qs(query).get("token", [""])[0]
        return hmac.compare_digest(given.encode(), self.token.encode())

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._closing = True
            for writer in list(self._writers):
                writer.transport.abort()  # the handlers end on their own, not cancelled
            for streamer in self.streams.values():
                async with streamer.changed:
                    streamer.changed.notify_all()
            await asyncio.gather(*self._clients, return_exceptions=True)
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        self._writers.add(writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Keep little in flight, so a slow reader skips frames instead of queueing them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        writer.transport.set_write_buffer_limits(high=0)
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            line = request.split(b"\r\n", 1)[0].decode(errors="replace")
            parts = line.split()
            path, _, query = (parts[1] if len(parts) >= 2 else "/").partition("?")
            if not self._allowed(query):
                self.refused += 1
                writer.write(b"HTTP/1.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            elif path.startswith("/video/") and path.endswith(".mjpg"):
                await self._stream(path[len("/video/") : -len(".mjpg")], writer)
            elif path.startswith("/video/") and path.endswith(".jpg"):
                await self._still(path[len("/video/") : -len(".jpg")], writer)
            elif path == "/":
                body = "\n".join(f"{a} {self.url(a)}" for a in self.streams).encode() + b"\n"
                writer.write(
                    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
            else:
                writer.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, RuntimeError, asyncio.CancelledError):
                await writer.wait_closed()
            if task is not None:
                self._clients.discard(task)
            self._writers.discard(writer)

    async def _still(self, airport: str, writer: asyncio.StreamWriter) -> None:
        latest = self.streams.get(airport)
        if latest is None or not latest.jpeg:
            writer.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        writer.write(
            b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: "
            + str(len(latest.jpeg)).encode()
            + b"\r\n\r\n"
            + latest.jpeg
        )

    async def _stream(self, airport: str, writer: asyncio.StreamWriter) -> None:
        latest = self.streams.get(airport)
        if latest is None:
            writer.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        writer.write(
            b"HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\nConnection: close\r\n"
            b"Content-Type: multipart/x-mixed-replace; boundary=" + BOUNDARY + b"\r\n\r\n"
        )
        sent = 0
        while True:
            async with latest.changed:
                await latest.changed.wait_for(lambda sent=sent: latest.seq > sent or self._closing)
                if self._closing:
                    return
                jpeg, headers, seq = latest.jpeg, dict(latest.headers), latest.seq
            if sent and seq > sent + 1:
                latest.skipped += seq - sent - 1
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
            writer.write(
                b"--"
                + BOUNDARY
                + b"\r\nContent-Type: image/jpeg\r\nContent-Length: "
                + str(len(jpeg)).encode()
                + b"\r\n"
                + extra
                + b"\r\n"
                + jpeg
                + b"\r\n"
            )
            await writer.drain()  # a slow reader blocks here; meanwhile newer frames replace older
            sent = seq
