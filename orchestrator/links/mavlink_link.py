"""One drone's MAVLink link: asyncio owns the socket, pymavlink is only the codec.

What a ground station must do with a real ArduCopter, done once here: heartbeats out (as
often as the vehicle's clock asks: a sim at speed-up 10 needs ten a second); every
command waits for its COMMAND_ACK, retried on silence with the confirmation counter
raised; streams are asked for explicitly (the vehicle sends almost nothing until asked);
the link is lost when the vehicle's heartbeat stops; MAVLink 2 signing when a key is
given. Missions are uploaded by `orchestrator.links.mission`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from orchestrator.links.address import LinkAddress

log = logging.getLogger("dronepatrol.links")

MAV_RESULT = {v.name: k for k, v in mavlink2.enums["MAV_RESULT"].items()}
MAV_RESULT_NAME = {k: v.name.removeprefix("MAV_RESULT_") for k, v in mavlink2.enums["MAV_RESULT"].items()}
ACCEPTED = 0
IN_PROGRESS = 5
WALL_STREAM_HZ = 40.0
"""Most messages a second of one telemetry stream, in wall time. Rates are asked in the
drone's time; a simulator at 100x would send a 4 Hz position 400 times a wall second per
drone, more than a Python ground station reads while it flies eight of them, and the
acknowledgements it waits for drown in the backlog. A real drone runs at 1x, where this
changes nothing."""


def stream_hz(hz: float, speedup: float = 1.0) -> float:
    """The rate to ask for a stream wanted at `hz` (drone time) from a drone at `speedup`."""
    return min(hz, WALL_STREAM_HZ / max(speedup, 1.0))


Predicate = Callable[[Any], bool]


class LinkError(RuntimeError):
    pass


class CommandFailed(LinkError):
    def __init__(self, command: int, result: int | None, text: str) -> None:
        super().__init__(text)
        self.command = command
        self.result = result


class _Datagram(asyncio.DatagramProtocol):
    def __init__(self, link: MavlinkLink) -> None:
        self.link = link

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.link._datagram(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable while the vehicle is down
        log.debug("link %s: %s", self.link.address.url, exc)


class MavlinkLink:
    def __init__(
        self,
        url: str,
        system: int = 255,
        component: int = 190,
        signing_key: bytes | None = None,
        heartbeat_hz: float = 1.0,
        link_timeout_s: float = 3.0,
        name: str = "",
    ) -> None:
        self.address = LinkAddress.parse(url)
        self.name = name or self.address.url
        self.heartbeat_hz = heartbeat_hz
        self.link_timeout_s = link_timeout_s
        self.mav = mavlink2.MAVLink(None, srcSystem=system, srcComponent=component)
        self.mav.robust_parsing = True
        if signing_key is not None:
            if len(signing_key) != 32:
                raise LinkError("a MAVLink 2 signing key is 32 bytes")
            self.mav.signing.secret_key = signing_key
            self.mav.signing.link_id = 0
            self.mav.signing.sign_outgoing = True
            self.mav.signing.timestamp = int((time.time() - 1420070400) * 100000)
        self.target_system = 0
        self.target_component = 0
        self.latest: dict[str, Any] = {}
        self.last_heartbeat = 0.0
        self.received = 0
        self.ignored = 0
        """Messages refused: from another system, or heartbeats not from the autopilot."""
        self.foreign = 0
        """Datagrams refused on `udpin:` from another address than the vehicle's."""
        self._confirmation = 0
        self._waiters: list[tuple[Predicate, asyncio.Future[Any]]] = []
        self._listeners: list[Callable[[Any], None]] = []
        self._transport: asyncio.BaseTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._peer: tuple[str, int] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._command_lock = asyncio.Lock()
        self.heard = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------
    async def open(self) -> MavlinkLink:
        loop = asyncio.get_running_loop()
        a = self.address
        if a.kind == "udpout":
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagram(self), remote_addr=(a.host, a.port)
            )
        elif a.kind == "udpin":
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagram(self), local_addr=(a.host, a.port)
            )
        else:
            reader, self._writer = await asyncio.open_connection(a.host, a.port)
            self._tasks.append(asyncio.create_task(self._read_tcp(reader)))
        self._tasks.append(asyncio.create_task(self._heartbeats()))
        return self

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()
        if self._transport is not None:
            self._transport.close()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        for _, fut in self._waiters:
            if not fut.done():
                fut.cancel()

    async def __aenter__(self) -> MavlinkLink:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- state ---------------------------------------------------------------------------
    @property
    def link_ok(self) -> bool:
        return self.last_heartbeat > 0 and time.monotonic() - self.last_heartbeat < self.link_timeout_s

    def on_message(self, listener: Callable[[Any], None]) -> None:
        """Call `listener(msg)` for every message from the vehicle (telemetry for fleet state)."""
        self._listeners.append(listener)

    def off_message(self, listener: Callable[[Any], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @contextlib.contextmanager
    def subscribe(self, pred: Predicate) -> Iterator[asyncio.Queue[Any]]:
        """Every matching message, queued, for a conversation of several messages (a
        datagram may carry two replies at once: none is missed between two waits)."""
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def put(msg: Any) -> None:
            if pred(msg):
                queue.put_nowait(msg)

        self.on_message(put)
        try:
            yield queue
        finally:
            self.off_message(put)

    # -- bytes in and out ----------------------------------------------------------------
    async def _read_tcp(self, reader: asyncio.StreamReader) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                log.warning("link %s: TCP connection closed", self.name)
                return
            self._feed(data)

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        """On `udpin:` the service answers the vehicle at the address it sends from. That
        address is taken from the first datagram carrying the vehicle's heartbeat (signed,
        when signing is on) and then held: a datagram from elsewhere is dropped unread, so a
        stranger cannot redirect the service's commands by sending to its port. Only when
        the vehicle has been silent past the link timeout may a new address take over
        (a drone whose modem reconnected), again by its heartbeat."""
        if self._peer is not None and addr != self._peer and self.link_ok:
            self.foreign += 1
            if self.foreign in (1, 10, 100, 1000) or self.foreign % 10000 == 0:
                log.warning(
                    "link %s: %d datagrams from %s:%d refused (the vehicle is at %s:%d)",
                    self.name,
                    self.foreign,
                    *addr,
                    *self._peer,
                )
            return
        heard = self.last_heartbeat
        self._feed(data)
        if self.last_heartbeat != heard and addr != self._peer:
            if self._peer is not None:
                log.warning("link %s: the vehicle now sends from %s:%d", self.name, *addr)
            self._peer = addr

    def _feed(self, data: bytes) -> None:
        try:
            msgs = self.mav.parse_buffer(data) or []
        except mavlink2.MAVError as exc:
            log.debug("link %s: unparsable bytes: %s", self.name, exc)
            return
        for msg in msgs:
            self._dispatch(msg)

    def _dispatch(self, msg: Any) -> None:
        kind = msg.get_type()
        if kind == "BAD_DATA":
            return
        if not self._from_vehicle(msg):
            self.ignored += 1
            return
        self.received += 1
        self.latest[kind] = msg
        if kind == "HEARTBEAT":
            if not self.target_system:
                log.info("link %s: vehicle %d/%d heard", self.name, msg.get_srcSystem(), msg.get_srcComponent())
            self.target_system, self.target_component = msg.get_srcSystem(), msg.get_srcComponent()
            self.last_heartbeat = time.monotonic()
            self.heard.set()
        for listener in self._listeners:
            listener(msg)
        still = []
        for pred, fut in self._waiters:
            if fut.done():
                continue
            if pred(msg):
                fut.set_result(msg)
            else:
                still.append((pred, fut))
        self._waiters = still

    def _from_vehicle(self, msg: Any) -> bool:
        """Only the autopilot speaks for the vehicle. A heartbeat counts when it comes from
        an autopilot component (MAV_COMP_ID_AUTOPILOT1, autopilot type not INVALID) of the
        vehicle's system (the first such heard); other messages count when they come from
        that system. Another ground station's heartbeats (QGroundControl, MAVProxy beside
        the service, or one forged) would otherwise read as a disarmed vehicle."""
        system = msg.get_srcSystem()
        if self.target_system and system != self.target_system:
            return False
        if msg.get_type() == "HEARTBEAT":
            return bool(
                msg.get_srcComponent() == mavlink2.MAV_COMP_ID_AUTOPILOT1
                and msg.autopilot != mavlink2.MAV_AUTOPILOT_INVALID
                and msg.type != mavlink2.MAV_TYPE_GCS
            )
        return bool(self.target_system)

    def send(self, msg: Any) -> None:
        data = msg.pack(self.mav)
        if self._writer is not None:
            self._writer.write(data)
        elif self._transport is not None:
            udp = cast(asyncio.DatagramTransport, self._transport)
            if self.address.kind == "udpout":
                udp.sendto(data)
            elif self._peer is not None:
                udp.sendto(data, self._peer)

    async def _heartbeats(self) -> None:
        while True:
            self.send(self.mav.heartbeat_encode(mavlink2.MAV_TYPE_GCS, mavlink2.MAV_AUTOPILOT_INVALID, 0, 0, 0))
            await asyncio.sleep(1.0 / self.heartbeat_hz)

    # -- waiting -------------------------------------------------------------------------
    async def wait_for(self, pred: Predicate | str, wait_s: float) -> Any:
        """The next message matching `pred` (a predicate or a message type), or TimeoutError."""
        test = _of_type(pred) if isinstance(pred, str) else pred
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((test, fut))
        try:
            return await asyncio.wait_for(fut, wait_s)
        finally:
            if not fut.done():
                fut.cancel()

    async def wait_heartbeat(self, wait_s: float = 10.0) -> None:
        try:
            await asyncio.wait_for(self.heard.wait(), wait_s)
        except TimeoutError:
            raise LinkError(f"link {self.name}: no heartbeat from a vehicle in {wait_s:g} s") from None

    # -- commands ------------------------------------------------------------------------
    async def command(
        self, command: int, *params: float, wait_s: float = 1.0, retries: int = 3, check: bool = True
    ) -> int:
        """COMMAND_LONG until its COMMAND_ACK; the result code (CommandFailed when check and not accepted)."""
        if not self.target_system:
            raise LinkError(f"link {self.name}: no vehicle heard yet")
        p = [float(v) for v in params] + [0.0] * (7 - len(params))
        async with self._command_lock:
            for attempt in range(retries + 1):
                self.send(self.mav.command_long_encode(self.target_system, self.target_component, command, attempt, *p))
                try:
                    ack = await self.wait_for(
                        lambda m: m.get_type() == "COMMAND_ACK" and m.command == command and m.result != IN_PROGRESS,
                        wait_s,
                    )
                except TimeoutError:
                    log.debug("link %s: no ack for command %d (attempt %d)", self.name, command, attempt + 1)
                    continue
                result = int(ack.result)
                if check and result != ACCEPTED:
                    name = MAV_RESULT_NAME.get(result, str(result))
                    raise CommandFailed(command, result, f"command {command_name(command)} refused: {name}")
                return result
        raise CommandFailed(command, None, f"command {command_name(command)}: no COMMAND_ACK after {retries + 1} tries")

    async def set_mode(self, custom_mode: int) -> None:
        await self.command(mavlink2.MAV_CMD_DO_SET_MODE, mavlink2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, custom_mode)

    async def arm(self) -> None:
        await self.command(mavlink2.MAV_CMD_COMPONENT_ARM_DISARM, 1)

    async def disarm(self) -> None:
        await self.command(mavlink2.MAV_CMD_COMPONENT_ARM_DISARM, 0)

    async def takeoff(self, alt_m: float) -> None:
        await self.command(mavlink2.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, float("nan"), 0, 0, alt_m)

    async def request_stream(self, message: str, hz: float) -> None:
        """SET_MESSAGE_INTERVAL for one message (MAVSDK's way; per message, any rate)."""
        msg_id = getattr(mavlink2, f"MAVLINK_MSG_ID_{message}")
        await self.command(mavlink2.MAV_CMD_SET_MESSAGE_INTERVAL, msg_id, 1e6 / hz if hz > 0 else -1)

    async def read_param(self, name: str, wait_s: float = 1.0, retries: int = 3) -> float:
        """PARAM_REQUEST_READ until the vehicle answers with the parameter's value."""
        request = self.mav.param_request_read_encode(self.target_system, self.target_component, name.encode(), -1)
        return await self._param(name, request, wait_s, retries)

    async def set_param(self, name: str, value: float, wait_s: float = 1.0, retries: int = 3) -> float:
        """PARAM_SET until the vehicle echoes the parameter; returns the value it now holds."""
        request = self.mav.param_set_encode(
            self.target_system, self.target_component, name.encode(), value, mavlink2.MAV_PARAM_TYPE_REAL32
        )
        return await self._param(name, request, wait_s, retries)

    async def _param(self, name: str, request: Any, wait_s: float, retries: int) -> float:
        """Send `request` until a PARAM_VALUE for `name` answers it; its value."""
        for _ in range(retries + 1):
            self.send(request)
            try:
                answer = await self.wait_for(
                    lambda m: m.get_type() == "PARAM_VALUE" and m.param_id.rstrip("\x00") == name, wait_s
                )
            except TimeoutError:
                continue
            return float(answer.param_value)
        raise LinkError(f"link {self.name}: no PARAM_VALUE for {name}")


def _of_type(kind: str) -> Predicate:
    def test(m: Any) -> bool:
        return bool(m.get_type() == kind)

    return test


def command_name(command: int) -> str:
    entry = mavlink2.enums["MAV_CMD"].get(command)
    return entry.name.removeprefix("MAV_CMD_") if entry is not None else str(command)
