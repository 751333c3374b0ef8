"""The docks as the orchestrator sees them over MQTT: their state, events, and services.

Subscribes to every dock's `state` (retained, on change), `osd` (periodic) and `events`;
keeps the latest state per airport; calls a service (open_lid, close_lid, ...) with a
transaction id and waits for the reply that echoes it. The same client talks to the
simulator's docks and to a real dock's cloud bridge speaking this vocabulary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

import aiomqtt

from missions.vocabulary import DockEvent, DockOsd, ServiceReply, ServiceRequest, VocabularyError, dock_topic
from orchestrator.bus.broker import BrokerAddress

log = logging.getLogger("dronepatrol.bus")


class DockServiceError(RuntimeError):
    pass


class DockClient:
    def __init__(self, url: str, identifier: str | None = None) -> None:
        self.address = BrokerAddress.parse(url)
        self.identifier = identifier or f"dronepatrol-docks-{uuid.uuid4().hex[:6]}"
        self.state: dict[str, DockOsd] = {}
        self.changed = asyncio.Condition()
        self._client: aiomqtt.Client | None = None
        self._listener: asyncio.Task[None] | None = None
        self._replies: dict[str, asyncio.Future[ServiceReply]] = {}
        self._on_event: list[Callable[[DockEvent], None]] = []
        self._on_state: list[Callable[[DockOsd], None]] = []
        self.ready = asyncio.Event()

    def on_event(self, listener: Callable[[DockEvent], None]) -> None:
        self._on_event.append(listener)

    def on_state(self, listener: Callable[[DockOsd], None]) -> None:
        self._on_state.append(listener)

    async def start(self) -> None:
        self._client = aiomqtt.Client(self.address.host, self.address.port, identifier=self.identifier)
        await self._client.__aenter__()
        for leaf in ("state", "osd", "events", "services_reply"):
            await self._client.subscribe(dock_topic("+", leaf), qos=1)
        self._listener = asyncio.create_task(self._listen(self._client))
        self.ready.set()

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            payload = message.payload if isinstance(message.payload, bytes | str) else b""
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
        if self._client is None:
            raise DockServiceError("dock client not started")
        for _ in range(retries + 1):
            tid = uuid.uuid4().hex
            fut: asyncio.Future[ServiceReply] = asyncio.get_running_loop().create_future()
            self._replies[tid] = fut
            await self._client.publish(dock_topic(airport, "services"), ServiceRequest(tid, service).to_json(), qos=1)
            try:
                reply = await asyncio.wait_for(fut, wait_s)
            except TimeoutError:
                self._replies.pop(tid, None)
                continue
            if not reply.ok:
                raise DockServiceError(f"dock {airport}: {service} refused: {reply.reason}")
            return reply
        raise DockServiceError(f"dock {airport}: no reply to {service}")

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
