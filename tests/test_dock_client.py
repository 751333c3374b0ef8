"""The orchestrator's dock client against the simulator's docks, over a real MQTT broker."""

from __future__ import annotations

import asyncio

import pytest

from missions.scenario import Scenario
from missions.vocabulary import DockEvent, LidState, SimControl
from orchestrator.bus.broker import EmbeddedBroker
from orchestrator.bus.docks import DockClient, DockServiceError
from sim.dock.bus import DockBus
from sim.world import SimWorld
from tests.conftest import free_udp_base


def test_dock_state_services_and_refusals(scenario: Scenario) -> None:
    async def run() -> tuple[list[str], list[str]]:
        broker = EmbeddedBroker()
        address = await broker.start()
        world = SimWorld(
            scenario,
            scenario.day_start().replace(hour=10),
            speedup=20,
            airports=["shekou", "xili"],
            base_port=free_udp_base(2),
        )
        await world.open()
        stop = asyncio.Event()
        bus = DockBus(world, address.host, address.port)
        tasks = [asyncio.create_task(world.run(stop)), asyncio.create_task(bus.run(stop))]
        docks = DockClient(address.url)
        events: list[DockEvent] = []
        docks.on_event(events.append)
        try:
            await asyncio.wait_for(bus.connected.wait(), 5)
            await docks.start()
            osd = await docks.wait_state("shekou", lambda o: True, 5)
            assert osd.lid == LidState.CLOSED and osd.drone_on_pad
            await docks.call("shekou", "open_lid")
            await docks.wait_state("shekou", lambda o: o.lid == LidState.OPEN, 10)
            world.apply(SimControl("xili", "lid_jam", 1, 0))
            refused = []
            with pytest.raises(DockServiceError, match="open_lid refused") as info:
                await docks.call("xili", "open_lid")
                await docks.wait_state("xili", lambda o: o.lid == LidState.OPEN, 3)
            refused.append(str(info.value))
            await asyncio.sleep(0.3)
            return refused, [e.event for e in events]
        finally:
            await docks.stop()
            stop.set()
            await asyncio.gather(*tasks)
            world.close()
            await broker.stop()

    refused, events = asyncio.run(run())
    assert "xili" in refused[0]
    assert events, "dock events arrive"
