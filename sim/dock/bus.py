"""The docks on MQTT: state out, service requests in, and the simulator's control topic.

Topic layout and payloads are in missions/vocabulary.py. `osd` goes out every
`osd_interval_s` of simulated time (QoS 0, it is a stream); `state` on every change (QoS 1,
retained, so a late subscriber sees the current state at once); `events` as they happen
(QoS 1); service replies (QoS 1).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import Protocol

import aiomqtt

from missions.bus_access import BrokerAddress
from missions.vocabulary import (
    SIM_CONTROL_TOPIC,
    ServiceReply,
    ServiceRequest,
    SimControl,
    VocabularyError,
    dock_topic,
)
from sim.clock import SimClock
from sim.dock.model import Dock
from sim.faults import FaultError

log = logging.getLogger("dronepatrol.sim.bus")


class _HasDock(Protocol):
    dock: Dock


class DockWorld(Protocol):
    """What the bus needs of a world: its docks, clock, pads, faults and services
    (`sim.world.SimWorld`, or `sim.dock.external.ExternalDocks` for drones flown elsewhere)."""

    clock: SimClock

    @property
    def vehicles(self) -> Mapping[str, _HasDock]: ...

    def pad_soc(self, airport: str) -> float | None: ...

    def apply(self, ctl: SimControl) -> None: ...

    def dock_service(self, airport: str, service: str) -> tuple[bool, str]: ...


class DockBus:
    """Connects a world's docks to an MQTT broker."""

    def __init__(self, world: DockWorld, broker: BrokerAddress, osd_interval_s: float = 2.0) -> None:
        self.world = world
        self.broker = broker
        self.osd_interval_s = osd_interval_s
        self._next_osd = 0.0
        self.connected = asyncio.Event()
        # One session per simulator run: it survives a broker restart, not the next run.
        self.identifier = f"dronepatrol-sim-{uuid.uuid4().hex[:8]}"

    async def run(self, stop: asyncio.Event) -> None:
        """Until stopped, reconnecting (with backoff) when the broker goes away, as a dock's
        cloud bridge does; every state is published again on reconnection."""
        backoff = 0.25
        while not stop.is_set():
            try:
                await self._session(stop)
                return
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                log.warning("docks' broker connection lost (%s); retrying in %.1f s", exc, backoff)
                try:
                    await asyncio.wait_for(stop.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(5.0, backoff * 2)
                for v in self.world.vehicles.values():
                    v.dock.changed = True

    async def _session(self, stop: asyncio.Event) -> None:
        async with aiomqtt.Client(
            **self.broker.client_options(), identifier=self.identifier, clean_session=False, keepalive=10
        ) as client:
            await client.subscribe(dock_topic("+", "services"), qos=1)
            await client.subscribe(SIM_CONTROL_TOPIC, qos=1)
            self.connected.set()
            listener = asyncio.create_task(self._listen(client))
            try:
                while not stop.is_set():
                    await self._publish(client)
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=0.05)
                    except TimeoutError:
                        pass
            finally:
                listener.cancel()
                try:
                    await listener
                except asyncio.CancelledError:
                    pass

    async def _publish(self, client: aiomqtt.Client) -> None:
        now = self.world.clock.now()
        osd_due = self.world.clock.elapsed >= self._next_osd
        if osd_due:
            self._next_osd = self.world.clock.elapsed + self.osd_interval_s
        for aid, v in self.world.vehicles.items():
            for ev in v.dock.take_events():
                await client.publish(dock_topic(aid, "events"), ev.to_json(), qos=1)
            if v.dock.changed or osd_due:
                osd = v.dock.osd(now, self.world.pad_soc(aid) or 0.0).to_json()
                if osd_due:
                    await client.publish(dock_topic(aid, "osd"), osd, qos=0)
                if v.dock.changed:
                    await client.publish(dock_topic(aid, "state"), osd, qos=1, retain=True)
                    v.dock.changed = False

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            payload = message.payload if isinstance(message.payload, bytes | str) else b""
            if topic == SIM_CONTROL_TOPIC:
                try:
                    self.world.apply(SimControl.from_json(payload))
                except (VocabularyError, FaultError) as exc:
                    log.warning("sim control refused: %s", exc)
                continue
            airport = topic.split("/")[-2]
            try:
                req = ServiceRequest.from_json(payload)
            except VocabularyError as exc:
                log.warning("bad service request on %s: %s", topic, exc)
                continue
            ok, reason = self.world.dock_service(airport, req.service)
            reply = ServiceReply(req.tid, req.service, ok, reason)
            await client.publish(dock_topic(airport, "services_reply"), reply.to_json(), qos=1)
