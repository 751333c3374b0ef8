"""One vehicle's MAVLink 2 endpoint on UDP: asyncio owns the socket, pymavlink is the codec.

The vehicle listens on its port; every address that sends it a valid packet becomes a
peer and receives everything the vehicle says (as ArduPilot SITL does for a ground
station on `udpout:`). Malformed frames, bad CRCs, unknown ids and (with a signing key)
unsigned or badly signed packets are counted and dropped; nothing a peer sends can stop
the endpoint. What one ground station sends is forwarded to the others as ArduPilot
routes between its links (a second ground station's heartbeats reach the first). Faults
can cut the link or drop a share of packets both ways.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from sim.mavlink.fastpack import FastPacker
from sim.mavlink.messages import Out

log = logging.getLogger("dronepatrol.sim.mavlink")

PEER_TIMEOUT_S = 30.0
"""A peer silent for this long (wall time) stops receiving telemetry."""
MAX_DATAGRAM = 1400
"""Frames produced in one step share datagrams up to this size (under a typical MTU):
several MAVLink frames per UDP datagram is allowed, and every parser reads them in turn."""


@dataclass
class LinkStats:
    received: int = 0
    sent: int = 0
    bad: int = 0
    unsigned: int = 0
    dropped: int = 0
    forwarded: int = 0


@dataclass
class LinkFaults:
    down: bool = False
    loss: float = 0.0
    """Share of packets lost each way, 0-1."""
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def drop(self) -> bool:
        return self.down or (self.loss > 0 and self.rng.random() < self.loss)


class _Sink:
    """pymavlink writes encoded frames here; they go to every live peer."""

    def __init__(self, endpoint: MavlinkEndpoint) -> None:
        self.endpoint = endpoint

    def write(self, buf: bytes) -> None:
        self.endpoint._emit(bytes(buf))


class MavlinkEndpoint(asyncio.DatagramProtocol):
    """The UDP side of one simulated vehicle."""

    def __init__(self, sysid: int, signing_key: bytes | None = None, seed: int = 0) -> None:
        self.mav = mavlink2.MAVLink(_Sink(self), srcSystem=sysid, srcComponent=1)
        self.mav.robust_parsing = True
        if signing_key is not None:
            self.set_signing(signing_key, int((time.time() - 1420070400) * 100_000))
        self.inbox: list[tuple[str, dict[str, Any], tuple[int, int]]] = []
        self.peers: dict[tuple[str, int], float] = {}
        self.routes: dict[tuple[int, int], set[tuple[str, int]]] = {}
        """(system, component) -> the peers it was heard from (ArduPilot's learned routes)."""
        self.transport: asyncio.DatagramTransport | None = None
        self.stats = LinkStats()
        self.faults = LinkFaults(rng=random.Random(seed))
        self._pending: list[bytes] = []
        self._encoders: dict[str, Any] = {}
        self._fast = FastPacker(sysid, 1)
        self.mail: asyncio.Event | None = None
        """Set when messages arrive, so the world answers them between physics steps."""

    def set_signing(self, key: bytes | None, timestamp: int) -> None:
        """Sign from now on with `key` (None, or all zeros with timestamp 0: stop signing),
        as ArduPilot's GCS_MAVLINK::handle_setup_signing stores and activates at once."""
        signing = self.mav.signing
        if key is None or (not any(key) and timestamp == 0):
            signing.secret_key, signing.sign_outgoing = None, False
            log.info("vehicle %d: signing off", self.mav.srcSystem)
            return
        signing.secret_key = key
        signing.sign_outgoing = True
        signing.link_id = 0
        signing.timestamp = max(timestamp, signing.timestamp or 0)
        signing.allow_unsigned_callback = lambda _mav, _msg_id: False
        log.info("vehicle %d: signing key set", self.mav.srcSystem)

    # asyncio protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.faults.drop():
            self.stats.dropped += 1
            return
        try:
            msgs = self.mav.parse_buffer(data) or []
        except Exception as exc:  # pymavlink raises on garbage in several ways; a bad frame is just dropped
            if "signature" in str(exc):
                self.stats.unsigned += 1
            else:
                self.stats.bad += 1
            return
        for msg in msgs:
            kind = msg.get_type()
            if kind == "BAD_DATA" or kind.startswith("UNKNOWN"):
                if "signature" in str(getattr(msg, "reason", "")):
                    self.stats.unsigned += 1
                else:
                    self.stats.bad += 1
                continue
            if self.mav.signing.secret_key is not None and not msg.get_signed():
                self.stats.unsigned += 1
                continue
            self.stats.received += 1
            self.peers[addr] = time.monotonic()
            if kind == "SETUP_SIGNING" and msg.target_system == self.mav.srcSystem:
                # Unsigned only while the vehicle has no key yet (a key in use refuses
                # unsigned messages above): commissioning, or a rotation signed by the old key.
                self.set_signing(bytes(msg.secret_key), msg.initial_timestamp)
                continue
            self._route(msg, addr)
            fields = msg.to_dict()
            fields.pop("mavpackettype", None)
            self.inbox.append((kind, fields, (msg.get_srcSystem(), msg.get_srcComponent())))
        if self.inbox and self.mail is not None:
            self.mail.set()

    def _route(self, msg: Any, came_from: tuple[str, int]) -> None:
        """Forward what one ground station says to the others, as ArduPilot's
        MAVLink_routing::check_and_forward does between its links: a heartbeat goes to
        every other link except those its sender is known on; a message for another
        system, or for everyone, goes to the links where a system it targets was heard."""
        src = (msg.get_srcSystem(), msg.get_srcComponent())
        self.routes.setdefault(src, set()).add(came_from)
        others = [a for a in self.peers if a != came_from]
        if not others or self.transport is None:
            return
        if msg.get_type() == "HEARTBEAT":
            targets = [a for a in others if a not in self.routes[src]]
        else:
            system = getattr(msg, "target_system", None)
            if system == self.mav.srcSystem:
                return  # for this vehicle only
            heard = [links for (sys, _c), links in self.routes.items() if system in (None, 0, sys)]
            targets = [a for a in others if any(a in links for links in heard)]
        raw = msg.get_msgbuf()
        for a in targets:
            self.transport.sendto(raw, a)
            self.stats.forwarded += 1

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)

    # outbound -------------------------------------------------------------------------

    def send(self, outs: list[Out]) -> None:
        mav = self.mav
        for out in outs:
            try:
                encode = self._encoders.get(out.name)
                if encode is None:
                    encode = self._encoders[out.name] = getattr(mav, out.name.lower() + "_encode")
                if mav.signing.sign_outgoing:
                    mav.send(encode(**out.fields))
                    continue
                # What mav.send does, without its file and bookkeeping, and without
                # building a message object where the fast packer can do without.
                frame = self._fast.pack(out.name, out.fields, mav.seq)
                self._pending.append(frame if frame is not None else encode(**out.fields).pack(mav))
                mav.seq = (mav.seq + 1) % 256
                mav.total_packets_sent += 1
            except Exception:
                log.exception("cannot encode %s %s", out.name, out.fields)

    def _emit(self, buf: bytes) -> None:
        self._pending.append(buf)

    def flush(self) -> None:
        """Send what was encoded since the last flush, packed into few datagrams."""
        frames, self._pending = self._pending, []
        if self.transport is None or not self.peers or not frames:
            return
        datagrams: list[bytes] = []
        current = bytearray()
        for f in frames:
            if current and len(current) + len(f) > MAX_DATAGRAM:
                datagrams.append(bytes(current))
                current = bytearray()
            current += f
        if current:
            datagrams.append(bytes(current))
        now = time.monotonic()
        for addr, seen in list(self.peers.items()):
            if now - seen > PEER_TIMEOUT_S:
                del self.peers[addr]
                continue
            for d in datagrams:
                if self.faults.drop():
                    self.stats.dropped += 1
                    continue
                self.transport.sendto(d, addr)
                self.stats.sent += 1

    def take_inbox(self) -> list[tuple[str, dict[str, Any], tuple[int, int]]]:
        msgs, self.inbox = self.inbox, []
        return msgs
