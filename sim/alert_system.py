"""The district's alert system, simulated: it raises the scenario's alerts (sensors and
callers) over MQTT at their simulated times, and hears what the orchestrator decided and
which incidents it reports back. The demo's "air-ground linkage", both ways, on the wire.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiomqtt

from missions.bus_access import BrokerAddress
from missions.incidents import AlertCall
from missions.vocabulary import ALERTS_IN_TOPIC, ALERTS_REPLY_TOPIC, ROOT

log = logging.getLogger("dronepatrol.sim.alerts")


@dataclass
class AlertSystemLog:
    sent: list[str] = field(default_factory=list)
    decisions: list[dict[str, object]] = field(default_factory=list)
    incident_events: list[dict[str, object]] = field(default_factory=list)


class SimAlertSystem:
    def __init__(
        self,
        calls: tuple[AlertCall, ...],
        clock: Callable[[], datetime],
        broker: BrokerAddress,
        since: datetime | None = None,
        tick_s: float = 0.1,
    ) -> None:
        self.calls = sorted(calls, key=lambda c: c.at)
        self.since = since
        """Calls from this time on are sent (late ones at once); None: from when it starts."""
        self.clock = clock
        self.broker = broker
        self.tick_s = tick_s
        self.log = AlertSystemLog()

    async def run(self, stop: asyncio.Event) -> None:
        start = self.since or self.clock()
        pending = [c for c in self.calls if c.at >= start]
        async with aiomqtt.Client(
            **self.broker.client_options(), identifier=f"dronepatrol-sim-alert-system-{uuid.uuid4().hex[:8]}"
        ) as client:
            await client.subscribe(ALERTS_REPLY_TOPIC, qos=1)
            await client.subscribe(f"{ROOT}/incidents/+", qos=1)
            listener = asyncio.create_task(self._listen(client))
            try:
                while not stop.is_set():
                    now = self.clock()
                    while pending and pending[0].at <= now:
                        await self._send(client, pending.pop(0))
                    try:
                        await asyncio.wait_for(stop.wait(), self.tick_s)
                    except TimeoutError:
                        pass
            finally:
                listener.cancel()
                try:
                    await listener
                except asyncio.CancelledError:
                    pass

    async def _send(self, client: aiomqtt.Client, call: AlertCall) -> None:
        body = {"id": call.id, "kind": call.kind, "lat": call.lat, "lon": call.lon, "note": call.note}
        if call.priority is not None:
            body["priority"] = call.priority
        await client.publish(ALERTS_IN_TOPIC, json.dumps(body, ensure_ascii=False), qos=1)
        self.log.sent.append(call.id)
        log.info("alert system: sent %s (%s at %.5f, %.5f): %s", call.id, call.kind, call.lat, call.lon, call.note)

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                data = json.loads(bytes(message.payload))  # type: ignore[arg-type]
            except (ValueError, TypeError):
                continue
            if str(message.topic) == ALERTS_REPLY_TOPIC:
                self.log.decisions.append(data)
            else:
                self.log.incident_events.append(data)
