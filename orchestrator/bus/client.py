"""One MQTT connection that outlives the broker: reconnects with backoff, resubscribes,
and keeps what it has not yet handed to the broker.

The session is persistent (clean_session off, a fixed client id), so a broker that keeps
sessions (Mosquitto with persistence, and the embedded one) delivers the QoS 1 messages
published to our topics while we were away. What we publish while disconnected waits in
order in our own queue and goes out once the link is back; `publish()` returns when the
broker has acknowledged it (QoS 1), so callers that record-then-acknowledge can rely on
it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt

from orchestrator.bus.broker import BrokerAddress

log = logging.getLogger("dronepatrol.bus")

Handler = Callable[[str, bytes], Awaitable[None] | None]


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT wildcard match: `+` one level, `#` the rest."""
    p, t = pattern.split("/"), topic.split("/")
    for i, part in enumerate(p):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(p) == len(t)


@dataclass
class _Outgoing:
    topic: str
    payload: str | bytes
    qos: int
    retain: bool
    done: asyncio.Future[None]


class BusClient:
    def __init__(
        self,
        url: str,
        identifier: str,
        *,
        min_backoff_s: float = 0.25,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.identifier = identifier
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._subs: list[tuple[str, int, Handler]] = []
        self._out: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def subscribe(self, pattern: str, handler: Handler, qos: int = 1) -> None:
        """Register before start(); every (re)connection subscribes again."""
        self._subs.append((pattern, qos, handler))

    async def start(self, wait_s: float | None = 10.0) -> None:
        self._task = asyncio.create_task(self._run(), name=f"mqtt {self.identifier}")
        if wait_s is not None:
            await asyncio.wait_for(self.connected.wait(), wait_s)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False) -> None:
        """Hand a message to the broker; returns once it has it (QoS 1: acknowledged)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._out.put(_Outgoing(topic, payload, qos, retain, done))
        await done

    def publish_soon(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue a message without waiting (from synchronous code)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        self._out.put_nowait(_Outgoing(topic, payload, qos, retain, done))

    async def _run(self) -> None:
        backoff = self.min_backoff_s
        while not self._stopping:
            try:
                async with aiomqtt.Client(
                    self.address.host,
                    self.address.port,
                    identifier=self.identifier,
                    clean_session=False,
                    keepalive=10,
                    timeout=5,
                ) as client:
                    for pattern, qos, _ in self._subs:
                        await client.subscribe(pattern, qos=qos)
                    if self.reconnects:
                        log.info("bus %s: reconnected to %s", self.identifier, self.address.url)
                    self.connected.set()
                    backoff = self.min_backoff_s
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self._listen(client))
                        tg.create_task(self._send(client))
            except (aiomqtt.MqttError, OSError, ExceptionGroup) as caught:
                exc: BaseException = caught
                self.connected.clear()
                if self._stopping:
                    return
                if isinstance(caught, ExceptionGroup):
                    lost, rest = caught.split((aiomqtt.MqttError, OSError))
                    if rest is not None:
                        raise rest from None
                    exc = lost.exceptions[0] if lost is not None else caught
                self.reconnects += 1
                log.warning("bus %s: %s; retrying in %.1f s", self.identifier, exc or "disconnected", backoff)
                await asyncio.sleep(backoff)
                backoff = min(self.max_backoff_s, backoff * 2)

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            item = await self._out.get()
            try:
                await client.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
            except aiomqtt.MqttError:
                # Not handed over: put it back in front, in order, for the next connection.
                self._requeue_first(item)
                raise
            if not item.done.done():
                item.done.set_result(None)

    def _requeue_first(self, item: _Outgoing) -> None:
        rest: list[_Outgoing] = []
        while not self._out.empty():
            rest.append(self._out.get_nowait())
        for x in [item, *rest]:
            self._out.put_nowait(x)

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            payload = message.payload
            data = payload if isinstance(payload, bytes) else str(payload or "").encode()
            for pattern, _, handler in self._subs:
                if topic_matches(pattern, topic):
                    try:
                        result = handler(topic, data)
                        if result is not None:
                            await result
                    except Exception:
                        log.exception("bus %s: handler for %s failed", self.identifier, topic)
