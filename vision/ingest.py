"""Video in: one thread per stream, reconnecting, keeping only the freshest frame.

HTTP MJPEG is read by our own multipart reader, which keeps each part's headers (the
sim's capture time and pose; OpenCV drops them). Anything else OpenCV/FFmpeg opens
(rtsp://, udp://, files, other http) goes through `cv2.VideoCapture`. A stream that does
not open, or drops, is retried with exponential backoff; a frame not taken before the
next one arrives is dropped and counted, so a slow detector always works on the present.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from vision.frames import MetaError, RawFrame, meta_from_comment, parse_pose_header, parse_time

log = logging.getLogger("dronepatrol.vision.ingest")

MAX_PART = 16 * 1024 * 1024


class StreamError(RuntimeError):
    pass


@dataclass
class StreamStats:
    received: int = 0
    dropped_stale: int = 0
    """Frames replaced by a newer one before the pipeline took them."""
    corrupt: int = 0
    bad_meta: int = 0
    connects: int = 0
    failures: int = 0
    last_error: str = ""


class _Sock:
    """Buffered reads from a socket with a deadline per read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise StreamError("stream closed by the server")
        self.buf += chunk

    def until(self, sep: bytes, limit: int = 65536) -> bytes:
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[: i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise StreamError("malformed stream: separator not found")
            self._fill()

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


def _headers(block: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.decode("latin-1").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def read_mjpeg(
    url: str,
    on_part: Callable[[bytes, dict[str, str]], None],
    stop: threading.Event,
    timeout_s: float = 5.0,
    on_connect: Callable[[], None] | None = None,
) -> None:
    """Read parts of a multipart/x-mixed-replace stream until it ends or `stop` is set."""
    try:
        _read_mjpeg(url, on_part, stop, timeout_s, on_connect)
    except TimeoutError:
        raise StreamError(f"no data for {timeout_s:g} s") from None


def _read_mjpeg(
    url: str,
    on_part: Callable[[bytes, dict[str, str]], None],
    stop: threading.Event,
    timeout_s: float,
    on_connect: Callable[[], None] | None,
) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: multipart/x-mixed-replace\r\n\r\n".encode())
        r = _Sock(sock)
        status, _, rest = r.until(b"\r\n").partition(b" ")
        code = rest.split(b" ", 1)[0]
        if not status.startswith(b"HTTP/") or code != b"200":
            raise StreamError(f"HTTP {code.decode(errors='replace') or '?'} from {url}")
        head = _headers(r.until(b"\r\n\r\n"))
        ctype = head.get("content-type", "")
        if "multipart" not in ctype or "boundary=" not in ctype:
            raise StreamError(f"{url} is not an MJPEG stream (content-type {ctype!r})")
        boundary = b"--" + ctype.split("boundary=", 1)[1].strip().strip('"').removeprefix("--").encode()
        if on_connect is not None:
            on_connect()
        while not stop.is_set():
            line = r.until(b"\r\n")
            if not line.strip():
                continue
            if not line.startswith(boundary):
                raise StreamError("malformed stream: expected a part boundary")
            if line.startswith(boundary + b"--"):
                return
            ph = _headers(r.until(b"\r\n\r\n"))
            length = ph.get("content-length")
            if length is not None:
                n = int(length) if length.isdigit() else -1
                if not 0 < n <= MAX_PART:
                    raise StreamError(f"malformed stream: part length {length!r}")
                body = r.exactly(n)
            else:
                body = r.until(b"\r\n" + boundary, MAX_PART)
                r.buf[:0] = boundary
            on_part(body, ph)


class StreamIngest:
    """Keeps the freshest frame of one stream, reconnecting as long as it runs."""

    def __init__(
        self,
        name: str,
        url: str,
        backoff_s: tuple[float, float] = (0.5, 10.0),
        timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self.url = url
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.stats = StreamStats()
        self._latest: RawFrame | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.connected = False

    def start(self) -> StreamIngest:
        self._thread = threading.Thread(target=self._run, name=f"ingest-{self.name}", daemon=True)
        self._thread.start()
        return self

    @property
    def started(self) -> bool:
        return self._thread is not None

    def stop(self, wait: bool = True) -> None:
        """Stop reading; with `wait`, until the reader thread has ended (up to its read
        timeout). From an event loop that also serves the stream, do not wait: the reader
        may be blocked on a frame only that loop can send."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and wait:
            self._thread.join(timeout=self.timeout_s + 1)

    def take(self, timeout: float | None = None) -> RawFrame | None:
        """The newest frame not yet taken, waiting up to `timeout` for one."""
        with self._cond:
            if self._latest is None and timeout:
                self._cond.wait_for(lambda: self._latest is not None or self._stop.is_set(), timeout)
            frame, self._latest = self._latest, None
            return frame

    def has_frame(self) -> bool:
        return self._latest is not None

    def _offer(self, frame: RawFrame) -> None:
        with self._cond:
            if self._latest is not None:
                self.stats.dropped_stale += 1
            self._latest = frame
            self.stats.received += 1
            self._cond.notify_all()

    def _on_connect(self) -> None:
        self.connected = True
        log.info("stream %s connected (%s)", self.name, self.url)

    def _on_part(self, body: bytes, headers: dict[str, str]) -> None:
        if not body.startswith(b"\xff\xd8"):
            self.stats.corrupt += 1
            return
        seq, captured, pose = meta_from_comment(body)
        try:
            if "x-capture-time" in headers:
                captured = parse_time(headers["x-capture-time"])
            if "x-pose" in headers:
                hpose = parse_pose_header(headers["x-pose"])
                pose = hpose if pose is None else pose  # the comment also carries the field of view
            if "x-frame-seq" in headers and headers["x-frame-seq"].isdigit():
                seq = int(headers["x-frame-seq"])
        except MetaError as exc:
            self.stats.bad_meta += 1
            self.stats.last_error = str(exc)
            captured, pose = None, None
        self._seq += 1
        self._offer(
            RawFrame(
                self.name,
                seq if seq is not None else self._seq,
                body,
                None,
                captured,
                pose,
                time.monotonic(),
                datetime.now(UTC),
            )
        )

    def _run(self) -> None:
        delay = self.backoff_s[0]
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.stats.connects += 1
                if urlsplit(self.url).scheme == "http":
                    read_mjpeg(self.url, self._on_part, self._stop, self.timeout_s, self._on_connect)
                else:
                    self._run_capture()
                if self._stop.is_set():
                    return
                raise StreamError("stream ended")
            except (OSError, StreamError) as exc:
                self.connected = False
                if self._stop.is_set():
                    return  # stopped while reading: the stream ending is expected
                self.stats.failures += 1
                msg = str(exc) or type(exc).__name__
                if msg != self.stats.last_error:
                    log.warning("stream %s (%s): %s; retrying", self.name, self.url, msg)
                self.stats.last_error = msg
            if time.monotonic() - started > 10:
                delay = self.backoff_s[0]  # it ran a while: start the backoff over
            self._stop.wait(delay)
            delay = min(delay * 2, self.backoff_s[1])

    def _run_capture(self) -> None:
        import cv2

        cap = cv2.VideoCapture(self.url)
        try:
            if not cap.isOpened():
                raise StreamError("cannot open")
            self.connected = True
            misses = 0
            # A file plays at its own frame rate, as the live stream it stands for would.
            is_file = "://" not in self.url
            fps = cap.get(cv2.CAP_PROP_FPS) if is_file else 0.0
            period = 1.0 / fps if 0 < fps < 240 else 0.0
            next_at = time.monotonic()
            while not self._stop.is_set():
                if period:
                    next_at += period
                    self._stop.wait(max(0.0, next_at - time.monotonic()))
                ok, img = cap.read()
                if not ok or img is None:
                    misses += 1
                    if misses > 25:
                        return
                    continue
                misses = 0
                self._seq += 1
                self._offer(RawFrame(self.name, self._seq, None, img, None, None, time.monotonic(), datetime.now(UTC)))
        finally:
            cap.release()
