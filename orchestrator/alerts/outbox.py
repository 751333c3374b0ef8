"""Deliveries to the alert system, at least once: each is a row in the store's outbox
before it is tried, and stays there until its receiver said yes.

Webhooks are POSTed with:
- `Idempotency-Key`: the same on every retry of the same event, so a receiver that got
  it twice (it answered, we did not hear) can drop the second;
- `X-Dronepatrol-Signature: t=<unix seconds>,v1=<hex>`: HMAC-SHA256 with the target's
  secret over `<t>.<body>`; the receiver recomputes it and refuses stale `t`.
A refusal (not 2xx) or no answer is retried after 2, 4, 8 ... seconds of the service's
clock, at most `retry_max_s` apart, for as long as it takes: a receiver down for hours
gets everything when it is back, a restart of this service included (the rows are
still there). MQTT deliveries go through the same rows, published with QoS 1.
One incident's events reach each target in the order they happened: a delivery waits
while an earlier one of the same incident to the same target is still pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from orchestrator.bus.client import BusClient
from orchestrator.store.alert_book import AlertBook
from orchestrator.store.records import OutboxItem

log = logging.getLogger("dronepatrol.outbox")

SIGNATURE_HEADER = "X-Dronepatrol-Signature"
TIMEOUT_S = 5.0
PARALLEL = 8


def signature(secret: str, body: str, at: int) -> str:
    """The header's value for `body` sent at unix time `at`."""
    mac = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def verify(secret: str, body: str, header: str, now: int | None = None, tolerance_s: int = 300) -> bool:
    """What a receiver does with the header (used by tests and shown in docs/alerts.md)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        at = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if now is not None and abs(now - at) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, body, at), header)


def stream_of(item: OutboxItem) -> tuple[str, str, str]:
    """Deliveries that must arrive in order: one incident's events to one target (the key
    starts with the incident's id)."""
    return item.channel, item.target, item.key.split("/", 1)[0]


def in_order(due: list[OutboxItem], pending: list[OutboxItem]) -> list[OutboxItem]:
    """Of the deliveries due, those first in line in their stream: an incident's "resolved"
    never reaches a receiver before its "opened", even when the "opened" is waiting for a
    retry after an outage and the "resolved" is due now."""
    first: dict[tuple[str, str, str], int] = {}
    for item in pending:
        assert item.id is not None
        stream = stream_of(item)
        first[stream] = min(first.get(stream, item.id), item.id)
    return [item for item in due if item.id == first.get(stream_of(item), item.id)]


class Outbox:
    def __init__(
        self,
        book: AlertBook,
        bus: BusClient,
        clock: Callable[[], datetime],
        secrets: dict[str, str],
        *,
        retry_max_s: float = 300.0,
        poll_s: float = 0.2,
    ) -> None:
        self.book = book
        self.bus = bus
        self.clock = clock
        self.secrets = secrets
        """Webhook URL -> its HMAC secret."""
        self.retry_max_s = retry_max_s
        self.poll_s = poll_s
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was queued: try it now rather than at the next poll."""
        self._wake.set()

    def backoff_s(self, attempts: int) -> float:
        return float(min(self.retry_max_s, 2.0 ** max(1, attempts)))

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            gate = asyncio.Semaphore(PARALLEL)
            while not stop.is_set():
                due = in_order(self.book.due(self.clock()), self.book.outbox(pending=True, limit=10_000))
                if due:
                    await asyncio.gather(*(self._try(http, gate, item) for item in due))
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_s)

    async def _try(self, http: httpx.AsyncClient, gate: asyncio.Semaphore, item: OutboxItem) -> None:
        assert item.id is not None
        async with gate:
            try:
                if item.channel == "webhook":
                    await self._post(http, item)
                elif item.channel == "mqtt":
                    await asyncio.wait_for(self.bus.publish(item.target, item.body, qos=1), TIMEOUT_S)
                else:
                    raise ValueError(f"unknown channel {item.channel!r}")
            except Exception as exc:  # every failure is a retry; the row says why
                why = str(exc) or type(exc).__name__
                wait = self.backoff_s(item.attempts + 1)
                self.book.retry(item.id, self.clock() + timedelta(seconds=wait), why[:500])
                level = logging.WARNING if item.attempts == 0 else logging.INFO
                log.log(
                    level,
                    "delivery %s to %s failed (try %d): %s; again in %.0f s",
                    item.key,
                    item.target,
                    item.attempts + 1,
                    why,
                    wait,
                )
                return
        self.book.delivered(item.id, self.clock())
        log.info("delivered %s to %s", item.key, item.target)

    async def _post(self, http: httpx.AsyncClient, item: OutboxItem) -> None:
        headers = {"Content-Type": item.content_type, "Idempotency-Key": item.key}
        secret = self.secrets.get(item.target)
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, item.body, int(time.time()))
        reply = await http.post(item.target, content=item.body.encode(), headers=headers)
        if not 200 <= reply.status_code < 300:
            raise RuntimeError(f"HTTP {reply.status_code}: {reply.text[:200]}")
