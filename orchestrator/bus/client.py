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

from missions.bus_access import BrokerAddress, covers

log = logging.getLogger("dronepatrol.bus")

Handler = Callable[[str, bytes], Awaitable[None] | None]


class BusError(ValueError):
    """A message that no broker would take (a malformed topic); it is refused, not retried."""


def check_topic(topic: str) -> str:
    """A topic a client may publish to (MQTT 3.1.1, 4.7): not empty, no wildcard, no NUL,
    at most 65535 bytes. A broker (and the client library) refuses anything else, and a
    refused publish must not end the connection's task."""
    if not topic:
        raise BusError("empty topic")
    if any(c in topic for c in "+#\x00"):
        raise BusError(f"topic {topic[:80]!r}: '+', '#' and NUL are not allowed in a published topic")
    if len(topic.encode()) > 65535:
        raise BusError("topic longer than 65535 bytes")
    return topic


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT wildcard match: `+` one level, `#` the rest (the broker's own rule for grants)."""
    return covers(pattern, topic)


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
        url: str | BrokerAddress,
        identifier: str,
        *,
        min_backoff_s: float = 0.25,
        max_backoff_s: float = 10.0,
    ) -> None:
        self.address = url if isinstance(url, BrokerAddress) else BrokerAddress.parse(url)
        self.identifier = identifier
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._subs: list[tuple[str, int, Handler]] = []
        self._out: asyncio.Queue[_Outgoing] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.refused = 0
        """Outgoing messages refused (malformed topic or payload): never retried."""
        self.handler_failures = 0
        """Incoming messages a handler failed on (logged with the traceback)."""
        self.last_error: str | None = None

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
        """Hand a message to the broker; returns once it has it (QoS 1: acknowledged).
        BusError at once for a topic no broker would take."""
        self._check(topic)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._out.put(_Outgoing(topic, payload, qos, retain, done))
        await done

    def publish_soon(self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue a message without waiting (from synchronous code). BusError at once for a
        topic no broker would take."""
        self._check(topic)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        self._out.put_nowait(_Outgoing(topic, payload, qos, retain, done))

    def _check(self, topic: str) -> None:
        try:
            check_topic(topic)
        except BusError as exc:
            self.refused += 1
            self.last_error = str(exc)
            log.error("bus %s: refused to publish: %s", self.identifier, exc)
            raise

    def status(self) -> dict[str, object]:
        """For /health: is it connected, and what went wrong."""
        return {
            "connected": self.connected.is_set(),
            "running": self._task is not None and not self._task.done(),
            "reconnects": self.reconnects,
            "queued": self._out.qsize(),
            "refused": self.refused,
            "handler_failures": self.handler_failures,
            "last_error": self.last_error,
        }

    async def _run(self) -> None:
        backoff = self.min_backoff_s
        while not self._stopping:
            try:
                async with aiomqtt.Client(
                    **self.address.client_options(),
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
            except Exception as caught:  # the connection's task never ends on its own: log, then again
                exc: BaseException = caught
                self.connected.clear()
                if self._stopping:
                    return
                if isinstance(caught, ExceptionGroup):
                    lost, rest = caught.split((aiomqtt.MqttError, OSError))
                    if rest is not None:
                        log.error("bus %s: unexpected failure", self.identifier, exc_info=rest)
                    exc = (lost or rest or caught).exceptions[0]
                elif not isinstance(caught, aiomqtt.MqttError | OSError):
                    log.error("bus %s: unexpected failure", self.identifier, exc_info=caught)
                self.last_error = str(exc) or type(exc).__name__
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
            except (ValueError, TypeError) as exc:  # a message the library refuses: its sender is told
                self.refused += 1
                self.last_error = f"{item.topic[:80]}: {exc}"
                log.error("bus %s: message to %r refused: %s", self.identifier, item.topic[:80], exc)
                if not item.done.done():
                    item.done.set_exception(BusError(str(exc)))
                continue
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
                        self.handler_failures += 1
                        log.exception("bus %s: handler for %s failed", self.identifier, topic)
