"""Simulated docks for drones flown elsewhere: a real ArduPilot or PX4 drone, SITL, or a
drone of another simulator process.

The service launches a sortie only from a dock that says the drone stands on its pad,
charged, lid open. For a drone this simulator does not fly, the dock learns that from the
drone itself: it listens to the drone's MAVLink as a second ground station would (asking
for the position and battery streams, as ArduPilot needs before it says anything), takes
only what the autopilot's own component says, and reports the drone on the pad when it
stands disarmed within `PAD_RADIUS_M` of the pad and below `PAD_HEIGHT_M` above home. The
battery the dock reports is the drone's own; the dock cannot charge a drone it does not
simulate, so its charger only says whether it would be charging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink2

from missions.fleet import Airport
from missions.geo import haversine_m
from missions.scenario import Scenario
from missions.vocabulary import DockFault, LidState, SimControl
from sim.clock import SimClock
from sim.dock.model import Dock
from sim.faults import DOCK_FAULTS, FaultError

log = logging.getLogger("dronepatrol.sim.external")

PAD_RADIUS_M = 2.0
PAD_HEIGHT_M = 1.0
FRESH_S = 5.0
"""Wall seconds after which a drone not heard from is not on any pad."""
STREAMS = (("GLOBAL_POSITION_INT", 2.0), ("SYS_STATUS", 1.0))
STEP_S = 0.5
"""Simulated seconds per dock step."""


class _Link(asyncio.DatagramProtocol):
    def __init__(self, drone: ExternalDrone) -> None:
        self.drone = drone

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.drone.feed(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("drone %s: %s", self.drone.airport, exc)


@dataclass
class ExternalDrone:
    """What a dock needs to know of a drone it does not fly, read from its MAVLink."""

    airport: str
    url: str
    """udpout:HOST:PORT, udpin:HOST:PORT or tcp:HOST:PORT."""
    lat: float | None = None
    lon: float | None = None
    rel_alt_m: float = 0.0
    armed: bool = False
    soc: float = 0.0
    heard_at: float = 0.0
    ignored: int = 0
    system: int = 0
    _mav: Any = field(default=None, repr=False)
    _send: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._mav = mavlink2.MAVLink(None, srcSystem=254, srcComponent=mavlink2.MAV_COMP_ID_MISSIONPLANNER)
        self._mav.robust_parsing = True

    @property
    def fresh(self) -> bool:
        return self.heard_at > 0 and time.monotonic() - self.heard_at < FRESH_S

    def on_pad(self, airport: Airport) -> bool:
        if not self.fresh or self.lat is None or self.lon is None or self.armed:
            return False
        near = haversine_m(self.lon, self.lat, airport.lon, airport.lat) <= PAD_RADIUS_M
        return near and abs(self.rel_alt_m) <= PAD_HEIGHT_M

    def feed(self, data: bytes) -> None:
        try:
            msgs = self._mav.parse_buffer(data) or []
        except mavlink2.MAVError:
            return
        for m in msgs:
            self.take(m)

    def take(self, m: Any) -> None:
        """One message: only the autopilot (component 1 of the first autopilot heard) counts."""
        kind = m.get_type()
        if kind == "BAD_DATA":
            return
        if kind == "HEARTBEAT" and not self.system:
            if m.autopilot != mavlink2.MAV_AUTOPILOT_INVALID and m.get_srcComponent() == 1:
                self.system = m.get_srcSystem()
        if not self.system or m.get_srcSystem() != self.system or m.get_srcComponent() != 1:
            self.ignored += 1
            return
        self.heard_at = time.monotonic()
        if kind == "HEARTBEAT":
            self.armed = bool(m.base_mode & mavlink2.MAV_MODE_FLAG_SAFETY_ARMED)
        elif kind == "GLOBAL_POSITION_INT":
            self.lat, self.lon, self.rel_alt_m = m.lat / 1e7, m.lon / 1e7, m.relative_alt / 1000
        elif kind == "SYS_STATUS" and m.battery_remaining >= 0:
            self.soc = m.battery_remaining / 100

    def _out(self, msg: Any) -> None:
        if self._send is not None:
            self._send(msg.pack(self._mav))

    async def run(self, stop: asyncio.Event) -> None:
        """Listen (and keep asking for the streams) until stopped; reconnect TCP when dropped."""
        kind, _, rest = self.url.partition(":")
        host, _, port_text = rest.removeprefix("//").rpartition(":")
        port = int(port_text)
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            transport: Any = None
            reader_task: asyncio.Task[None] | None = None
            try:
                if kind in ("udpout", "udp", "udpin"):
                    local = (host, port) if kind != "udpout" else None
                    remote = (host, port) if kind == "udpout" else None
                    transport, _ = await loop.create_datagram_endpoint(
                        lambda: _Link(self), local_addr=local, remote_addr=remote
                    )
                    self._send = transport.sendto if remote else None
                else:
                    reader, writer = await asyncio.open_connection(host, port)
                    transport = writer
                    self._send = writer.write
                    reader_task = asyncio.create_task(self._read(reader))
                while not stop.is_set() and (reader_task is None or not reader_task.done()):
                    self._ask()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
            except OSError as exc:
                log.warning("drone %s at %s: %s; retrying", self.airport, self.url, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2.0)
            finally:
                if reader_task is not None:
                    reader_task.cancel()
                if transport is not None:
                    transport.close()
                self._send = None

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(65536):
            self.feed(data)

    def _ask(self) -> None:
        """A heartbeat (a UDP autopilot sends only to peers it has heard), and the streams."""
        self._out(self._mav.heartbeat_encode(mavlink2.MAV_TYPE_GCS, mavlink2.MAV_AUTOPILOT_INVALID, 0, 0, 0))
        if self.system and not self.fresh_streams:
            for message, hz in STREAMS:
                msg_id = getattr(mavlink2, f"MAVLINK_MSG_ID_{message}")
                self._out(
                    self._mav.command_long_encode(
                        self.system, 1, mavlink2.MAV_CMD_SET_MESSAGE_INTERVAL, 0, msg_id, 1e6 / hz, 0, 0, 0, 0, 0
                    )
                )

    @property
    def fresh_streams(self) -> bool:
        return self.lat is not None and self.fresh


@dataclass
class DockSlot:
    """What the dock bus reads of an airport: its dock."""

    airport: Airport
    dock: Dock


class ExternalDocks:
    """Docks, weather and dock faults of a scenario's airports, each for a drone flown
    elsewhere. Speaks to the dock bus as `SimWorld` does (`vehicles[a].dock`, `clock`,
    `pad_soc`, `apply`, `dock_service`)."""

    def __init__(self, scenario: Scenario, start: datetime, speedup: float, drones: dict[str, str]) -> None:
        unknown = sorted(set(drones) - set(scenario.airports))
        if unknown:
            raise ValueError(f"unknown airports: {', '.join(unknown)}")
        self.scenario = scenario
        self.clock = SimClock(start, speedup)
        self.forecast = scenario.weather.forecast(start, start + timedelta(days=14))
        self.vehicles: dict[str, DockSlot] = {}
        self.drones: dict[str, ExternalDrone] = {}
        for aid, url in drones.items():
            ap = scenario.airport(aid)
            self.vehicles[aid] = DockSlot(ap, Dock(aid, ap.dock, ap.drone))
            self.drones[aid] = ExternalDrone(aid, url)

    def pad_soc(self, airport: str) -> float | None:
        """The charge of the drone standing on this airport's pad (any watched drone: they
        relocate), None when the pad is empty."""
        ap = self.vehicles[airport].airport
        for drone in self.drones.values():
            if drone.on_pad(ap):
                return drone.soc
        return None

    def step(self, dt: float = STEP_S) -> None:
        now = self.clock.now()
        weather = self.forecast.at(now)
        for aid, slot in self.vehicles.items():
            soc = self.pad_soc(aid)
            if slot.dock.drone_on_pad != (soc is not None):
                slot.dock.changed = True
            slot.dock.drone_on_pad = soc is not None
            slot.dock.step(dt, now, weather, soc or 0.0)
        self.clock.advance(dt)

    def apply(self, ctl: SimControl) -> None:
        if ctl.airport not in self.vehicles:
            raise FaultError(f"unknown airport '{ctl.airport}'")
        if ctl.fault not in DOCK_FAULTS:
            raise FaultError(f"{ctl.fault}: the drone at {ctl.airport} is flown elsewhere; only dock faults here")
        self.vehicles[ctl.airport].dock.set_fault(DockFault(ctl.fault), ctl.value != 0, self.clock.now())

    def dock_service(self, airport: str, service: str) -> tuple[bool, str]:
        if airport not in self.vehicles:
            return False, f"unknown airport '{airport}'"
        return self.vehicles[airport].dock.service(service, self.clock.now())

    def open_lids(self) -> None:
        for slot in self.vehicles.values():
            slot.dock.lid, slot.dock.charge_wanted = LidState.OPEN, False

    async def run(self, stop: asyncio.Event) -> None:
        watchers = [asyncio.create_task(d.run(stop)) for d in self.drones.values()]
        try:
            while not stop.is_set():
                owed = self.clock.due()
                for _ in range(min(int(owed / STEP_S), 200)):
                    self.step()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.01, self.clock.wall_seconds(STEP_S) / 2))
        finally:
            for w in watchers:
                with contextlib.suppress(Exception):
                    await w
