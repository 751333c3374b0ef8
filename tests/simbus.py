"""A simulated world running with its docks on an embedded MQTT broker, for async tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
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
    bus = DockBus(world, address)
    tasks = [asyncio.create_task(world.run(stop)), asyncio.create_task(bus.run(stop))]
    try:
        await asyncio.wait_for(bus.connected.wait(), 5)
        yield SimOnBus(world, address, bus)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        world.close()
        await broker.stop()


async def eventually(pred: Callable[[], object], wait_s: float, every: float = 0.1) -> bool:
    """Poll `pred` on the event loop until it holds or `wait_s` pass; whether it held."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        if pred():
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(every)
