"""The docks as the orchestrator sees them over MQTT: their state, events, and services.

Subscribes to every dock's `state` (retained, on change), `osd` (periodic) and `events`;
keeps the latest state per airport; calls a service (open_lid, close_lid, ...) with a
transaction id and waits for the reply that echoes it. The same client talks to the
simulator's docks and to a real dock's cloud bridge speaking this vocabulary.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from missions.vocabulary import DockEvent, DockOsd, ServiceReply, ServiceRequest, VocabularyError, dock_topic
from orchestrator.bus.client import BusClient

log = logging.getLogger("dronepatrol.bus")


class DockServiceError(RuntimeError):
    pass


class DockClient:
    """Pass `bus` to share the service's connection; without it the client has its own."""

    def __init__(self, url: str | None = None, identifier: str | None = None, bus: BusClient | None = None) -> None:
        if bus is None:
            if url is None:
                raise ValueError("a broker URL or a bus")
            bus = BusClient(url, identifier or f"dronepatrol-docks-{uuid.uuid4().hex[:6]}")
            self._own_bus = True
        else:
            self._own_bus = False
        self.bus = bus
        self.state: dict[str, DockOsd] = {}
        self.changed = asyncio.Condition()
        self._replies: dict[str, asyncio.Future[ServiceReply]] = {}
        self._on_event: list[Callable[[DockEvent], None]] = []
        self._on_state: list[Callable[[DockOsd], None]] = []
        for leaf in ("state", "osd", "events", "services_reply"):
            bus.subscribe(dock_topic("+", leaf), self._message, qos=1)

    def on_event(self, listener: Callable[[DockEvent], None]) -> None:
        self._on_event.append(listener)

    def on_state(self, listener: Callable[[DockOsd], None]) -> None:
        self._on_state.append(listener)

    async def start(self) -> None:
        if self._own_bus:
            await self.bus.start()

    async def stop(self) -> None:
        if self._own_bus:
            await self.bus.stop()

    async def _message(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        airport, leaf = parts[-2], parts[-1]
        try:
            if leaf in ("state", "osd"):
                osd = DockOsd.from_json(payload)
                self.state[airport] = osd
                for f in self._on_state:
                    f(osd)
                async with self.changed:
                    self.changed.notify_all()
            elif leaf == "events":
                ev = DockEvent.from_json(payload)
                for g in self._on_event:
                    g(ev)
            elif leaf == "services_reply":
                reply = ServiceReply.from_json(payload)
                fut = self._replies.pop(reply.tid, None)
                if fut is not None and not fut.done():
                    fut.set_result(reply)
        except VocabularyError as exc:
            log.warning("dock message on %s ignored: %s", topic, exc)

    async def call(self, airport: str, service: str, wait_s: float = 5.0, retries: int = 2) -> ServiceReply:
        """Call a dock service; DockServiceError when refused or unanswered."""
        for _ in range(retries + 1):
            tid = uuid.uuid4().hex
            fut: asyncio.Future[ServiceReply] = asyncio.get_running_loop().create_future()
            self._replies[tid] = fut
            await self.bus.publish(dock_topic(airport, "services"), ServiceRequest(tid, service).to_json(), qos=1)
            try:
                reply = await asyncio.wait_for(fut, wait_s)
            except TimeoutError:
                self._replies.pop(tid, None)
                continue
            if not reply.ok:
                raise DockServiceError(f"dock {airport}: {service} refused: {reply.reason}")
            return reply
        raise DockServiceError(f"dock {airport}: no reply to {service}")

    async def wait_any(self, wait_s: float) -> None:
        """Until some dock has reported (the retained states arrive on subscribing)."""

        async def until() -> None:
            async with self.changed:
                while not self.state:
                    await self.changed.wait()

        await asyncio.wait_for(until(), wait_s)

    async def wait_state(self, airport: str, pred: Callable[[DockOsd], bool], wait_s: float) -> DockOsd:
        """The dock's state once `pred` holds (e.g. the lid open), or TimeoutError."""

        async def until() -> DockOsd:
            async with self.changed:
                while True:
                    osd = self.state.get(airport)
                    if osd is not None and pred(osd):
                        return osd
                    await self.changed.wait()

        return await asyncio.wait_for(until(), wait_s)
