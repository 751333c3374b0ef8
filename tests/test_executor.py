"""One sortie flown end to end against the simulator: MAVLink on UDP, docks on MQTT."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from missions.formats.items import MissionItem
from missions.scenario import Scenario
from missions.vocabulary import LidState, SimControl
from orchestrator.bus.docks import DockClient
from orchestrator.executor.sortie import SortieOrder, SortieRecord, SortieRunner, SortieState
from orchestrator.links.mavlink_link import MavlinkLink
from sim.world import SimWorld
from tests.conftest import square_mission
from tests.simbus import sim_on_bus

pytestmark = pytest.mark.slow
AIRPORT = "shahe"  # on the plain: these hand-made squares know nothing of the hills
SPEEDUP = 20


def _order(scenario: Scenario, size_deg: float = 0.003, hold_s: float = 0.0, **kw) -> SortieOrder:  # type: ignore[no-untyped-def]
    rows = square_mission(scenario, AIRPORT, size_deg, 60, last_hold_s=hold_s)
    items = [MissionItem(i, f, c, p1, x=lat, y=lon, z=alt) for i, (f, c, p1, lat, lon, alt) in enumerate(rows)]
    return SortieOrder("S-test", AIRPORT, items, **kw)


async def _fly(
    scenario: Scenario,
    order: SortieOrder,
    hour: int = 10,
    during: Callable[[SimWorld, MavlinkLink], Awaitable[None]] | None = None,
) -> tuple[SortieRecord, SimWorld]:
    async with sim_on_bus(scenario, [AIRPORT], SPEEDUP, hour) as sim:
        world = sim.world
        docks = DockClient(sim.address.url)
        link = await MavlinkLink(world.mavlink_url(AIRPORT), heartbeat_hz=SPEEDUP, link_timeout_s=0.5).open()
        try:
            await docks.start()
            await link.wait_heartbeat(5)
            await asyncio.sleep(3 / SPEEDUP * 2)  # the autopilot's boot
            runner = SortieRunner(link, docks, world.clock.now, speedup=SPEEDUP)
            flight = asyncio.create_task(runner.fly(order))
            if during is not None:
                await during(world, link)
            return await asyncio.wait_for(flight, 240), world
        finally:
            await link.close()
            await docks.stop()


def test_a_sortie_flies_lands_and_recharges_with_every_step_recorded(scenario: Scenario) -> None:
    record, world = asyncio.run(_fly(scenario, _order(scenario)))
    states = [s.state for s in record.steps]
    assert states == [SortieState.PREFLIGHT, SortieState.AIRBORNE, SortieState.COMPLETED], record.steps
    v = world.vehicles[AIRPORT]
    assert not v.copter.armed and v.dock.drone_on_pad and v.dock.lid == LidState.CLOSED
    assert v.copter.body.soc > 0.25, "landed with its reserve"
    assert record.steps[-1].at > record.steps[0].at


def test_a_battery_sag_in_flight_turns_it_home_and_the_sortie_is_aborted(scenario: Scenario) -> None:
    async def sag(world: SimWorld, link: MavlinkLink) -> None:
        await link.wait_for(lambda m: m.get_type() == "MISSION_CURRENT" and m.seq >= 2, 60)
        await asyncio.sleep(40 / SPEEDUP)
        world.apply(SimControl(AIRPORT, "battery_sag", 40.0, 0))  # 40 of 70 Wh gone at once

    record, world = asyncio.run(_fly(scenario, _order(scenario, size_deg=0.01, hold_s=300), during=sag))
    states = [s.state for s in record.steps]
    assert SortieState.RETURNING in states and states[-1] is SortieState.ABORTED, record.steps
    returning = next(s for s in record.steps if s.state is SortieState.RETURNING)
    assert "short of home plus reserve" in returning.reason
    assert world.vehicles[AIRPORT].dock.drone_on_pad


def test_high_wind_at_the_dock_holds_the_sortie_with_the_reason(scenario: Scenario) -> None:
    record, world = asyncio.run(_fly(scenario, _order(scenario, max_wind_ms=0.5)))
    assert record.state is SortieState.HELD and "wind" in record.steps[-1].reason
    assert not world.vehicles[AIRPORT].copter.armed and world.vehicles[AIRPORT].dock.lid == LidState.CLOSED


def test_a_jammed_lid_fails_the_sortie_and_the_drone_stays_home(scenario: Scenario) -> None:
    async def jam(world: SimWorld, link: MavlinkLink) -> None:
        world.apply(SimControl(AIRPORT, "lid_jam", 1, 0))

    record, world = asyncio.run(_fly(scenario, _order(scenario), during=jam))
    assert record.state is SortieState.FAILED and ("lid" in record.steps[-1].reason), record.steps
    assert not world.vehicles[AIRPORT].copter.airborne


def test_link_loss_mid_sortie_the_drone_comes_home_on_its_failsafe_and_the_record_shows_it(
    scenario: Scenario,
) -> None:
    async def cut(world: SimWorld, link: MavlinkLink) -> None:
        await link.wait_for(lambda m: m.get_type() == "MISSION_CURRENT" and m.seq >= 3, 60)
        world.apply(SimControl(AIRPORT, "link_loss", 1, 30))  # 30 simulated seconds without a link

    record, world = asyncio.run(_fly(scenario, _order(scenario, size_deg=0.006, hold_s=120), during=cut))
    reasons = [s.reason for s in record.steps]
    assert any("link lost" in r for r in reasons) and any("link back" in r for r in reasons), record.steps
    assert record.state is SortieState.ABORTED, "its failsafe brought it home before the mission was flown"
    assert world.vehicles[AIRPORT].dock.drone_on_pad and not world.vehicles[AIRPORT].copter.armed


def test_a_sortie_from_the_days_plan_is_flown_as_planned(scenario: Scenario) -> None:
    from missions.planner import plan_day
    from orchestrator.executor.orders import order_for

    plan = plan_day(scenario, scenario.day_start(), 24)
    candidates = [
        s
        for s in plan.sorties
        if s.sortie.land_airport_id == s.airport_id and 240 < s.sortie.duration_s < 900 and 8 <= s.launch_at.hour < 13
    ]
    assert candidates, "the built-in day has short out-and-back sorties in the morning"
    scheduled = min(candidates, key=lambda s: s.sortie.duration_s)
    order = order_for(scenario, scheduled)
    assert order.items[0].x == pytest.approx(scenario.airports[scheduled.airport_id].lat)
    assert order.needed_pct > 0 and order.reserve_pct == pytest.approx(25.0)

    async def fly() -> tuple[SortieRecord, float]:
        start = scheduled.launch_at - timedelta(seconds=5)
        async with sim_on_bus(scenario, [scheduled.airport_id], SPEEDUP, start=start) as sim:
            world = sim.world
            docks = DockClient(sim.address.url)
            link = await MavlinkLink(world.mavlink_url(scheduled.airport_id), heartbeat_hz=SPEEDUP).open()
            try:
                await docks.start()
                await link.wait_heartbeat(5)
                await asyncio.sleep(3 / SPEEDUP * 2)
                record = await asyncio.wait_for(SortieRunner(link, docks, world.clock.now, SPEEDUP).fly(order), 240)
                return record, world.vehicles[scheduled.airport_id].copter.body.soc
            finally:
                await link.close()
                await docks.stop()

    record, soc = asyncio.run(fly())
    assert record.state is SortieState.COMPLETED, record.steps
    airborne = next(s for s in record.steps if s.state is SortieState.AIRBORNE)
    flown_s = (record.steps[-1].at - airborne.at).total_seconds()
    planned_s = scheduled.sortie.duration_s
    facts = f"planned {planned_s:.0f} s to {scheduled.sortie.land_soc:.2f}; flew {flown_s:.0f} s to {soc:.2f}"
    assert 0.6 * planned_s < flown_s < 1.6 * planned_s, facts
    assert soc > scheduled.sortie.land_soc - 0.1, facts
