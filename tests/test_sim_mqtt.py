"""The docks on a real MQTT broker (the embedded one): state out, services in, faults."""

from __future__ import annotations

import asyncio
import uuid

import aiomqtt
import pytest

from missions.scenario import Scenario
from missions.vocabulary import (
    SIM_CONTROL_TOPIC,
    DockEvent,
    DockOsd,
    ServiceReply,
    ServiceRequest,
    SimControl,
    dock_topic,
)
from sim.world import SimWorld
from tests.simbus import sim_on_bus


async def _with_sim(scenario: Scenario, hour: int, body) -> None:  # type: ignore[no-untyped-def]
    async with sim_on_bus(scenario, ["shekou", "xili"], 20, hour) as sim:
        identifier = f"test-{uuid.uuid4().hex[:6]}"
        async with aiomqtt.Client(sim.address.host, sim.address.port, identifier=identifier) as client:
            await body(client, sim.world)


async def _next(client: aiomqtt.Client, topic_end: str):  # type: ignore[no-untyped-def]
    async with asyncio.timeout(5):
        async for m in client.messages:
            if str(m.topic).endswith(topic_end):
                return m


async def _call(client: aiomqtt.Client, airport: str, service: str) -> ServiceReply:
    tid = uuid.uuid4().hex
    await client.publish(dock_topic(airport, "services"), ServiceRequest(tid, service).to_json(), qos=1)
    while True:
        m = await _next(client, "services_reply")
        reply = ServiceReply.from_json(m.payload)
        if reply.tid == tid:
            return reply


def test_state_is_retained_and_services_are_answered(scenario: Scenario) -> None:
    async def body(client: aiomqtt.Client, world: SimWorld) -> None:
        await client.subscribe(dock_topic("shekou", "#"), qos=1)
        state = DockOsd.from_json((await _next(client, "/state")).payload)
        assert state.airport == "shekou" and state.lid == "closed" and state.drone_on_pad
        reply = await _call(client, "shekou", "open_lid")
        assert reply.ok and reply.service == "open_lid"
        events = []
        async with asyncio.timeout(10):
            async for m in client.messages:
                if str(m.topic).endswith("/events"):
                    events.append(DockEvent.from_json(m.payload).event)
                    if "lid_opened" in events:
                        break
        assert events[:1] == ["lid_opening"]
        assert world.vehicles["shekou"].copter.lid_open, "the drone may arm once the lid is open"

    asyncio.run(_with_sim(scenario, 9, body))


def test_the_gale_keeps_the_lid_shut_and_faults_arrive_over_the_bus(scenario: Scenario) -> None:
    async def body(client: aiomqtt.Client, world: SimWorld) -> None:
        await client.subscribe(dock_topic("xili", "#"), qos=1)
        reply = await _call(client, "xili", "open_lid")
        assert not reply.ok and "wind 13.5 m/s above" in reply.reason
        await client.publish(SIM_CONTROL_TOPIC, SimControl("xili", "charger_fault", 1.0, 0.0).to_json(), qos=1)
        reply = await _call(client, "xili", "start_charge")
        assert (reply.ok, reply.reason) == (False, "charger fault")

    asyncio.run(_with_sim(scenario, 14, body))


def test_bad_payloads_are_refused_without_harm(scenario: Scenario) -> None:
    async def body(client: aiomqtt.Client, world: SimWorld) -> None:
        await client.subscribe(dock_topic("shekou", "services_reply"), qos=1)
        await client.publish(dock_topic("shekou", "services"), b"{not json", qos=1)
        await client.publish(
            SIM_CONTROL_TOPIC, b'{"v": 1, "type": "sim_control", "airport": "mars", "fault": "x"}', qos=1
        )
        reply = await _call(client, "shekou", "close_lid")
        assert reply.ok

    asyncio.run(_with_sim(scenario, 9, body))


def test_sim_control_rejects_unknown_faults(scenario: Scenario) -> None:
    world = SimWorld(scenario, scenario.day_start(), airports=["shekou"])
    with pytest.raises(ValueError, match="unknown fault"):
        world.apply(SimControl("shekou", "meteor"))
    with pytest.raises(ValueError, match="unknown airport"):
        world.apply(SimControl("mars", "gps_loss"))
