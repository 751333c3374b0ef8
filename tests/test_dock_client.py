"""The orchestrator's dock client against the simulator's docks, over a real MQTT broker."""

from __future__ import annotations

import asyncio

import pytest

from missions.scenario import Scenario
from missions.vocabulary import DockEvent, LidState, SimControl
from orchestrator.bus.docks import DockClient, DockServiceError
from tests.simbus import sim_on_bus


def test_dock_state_services_and_refusals(scenario: Scenario) -> None:
    async def run() -> tuple[list[str], list[str]]:
        async with sim_on_bus(scenario, ["shekou", "xili"]) as sim:
            docks = DockClient(sim.address.url)
            events: list[DockEvent] = []
            docks.on_event(events.append)
            await docks.start()
            try:
                osd = await docks.wait_state("shekou", lambda o: True, 5)
                assert osd.lid == LidState.CLOSED and osd.drone_on_pad
                await docks.call("shekou", "open_lid")
                await docks.wait_state("shekou", lambda o: o.lid == LidState.OPEN, 10)
                sim.world.apply(SimControl("xili", "lid_jam", 1, 0))
                with pytest.raises(DockServiceError, match="open_lid refused") as info:
                    await docks.call("xili", "open_lid")
                await asyncio.sleep(0.3)
                return [str(info.value)], [e.event for e in events]
            finally:
                await docks.stop()

    refused, events = asyncio.run(run())
    assert "xili" in refused[0]
    assert events, "dock events arrive"
