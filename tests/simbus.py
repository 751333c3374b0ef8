"""A simulated world running with its docks on an embedded MQTT broker, for async tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from missions.scenario import Scenario
from orchestrator.bus.broker import BrokerAddress, EmbeddedBroker
from sim.dock.bus import DockBus
from sim.world import SimWorld
from tests.conftest import free_udp_base


@dataclass
class SimOnBus:
    world: SimWorld
    address: BrokerAddress
    bus: DockBus


@contextlib.asynccontextmanager
async def sim_on_bus(
    scenario: Scenario, airports: list[str], speedup: float = 20, hour: int = 10, start: datetime | None = None
) -> AsyncIterator[SimOnBus]:
    broker = EmbeddedBroker()
    address = await broker.start()
    start = start or scenario.day_start().replace(hour=hour)
    world = SimWorld(scenario, start, speedup=speedup, airports=airports, base_port=free_udp_base(len(airports)))
    await world.open()
    stop = asyncio.Event()
    bus = DockBus(world, address.host, address.port)
    tasks = [asyncio.create_task(world.run(stop)), asyncio.create_task(bus.run(stop))]
    try:
        await asyncio.wait_for(bus.connected.wait(), 5)
        yield SimOnBus(world, address, bus)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        world.close()
        await broker.stop()
