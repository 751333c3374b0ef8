"""The service flying the built-in day against the simulator: MAVLink over UDP, docks and
events over MQTT (the embedded broker, and a real Mosquitto), the record in SQLite and
in PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from missions.scenario import Scenario
from missions.vocabulary import LidState, SimControl
from orchestrator.commands.demo import District, simulated_district
from tests.conftest import free_udp_base
from tests.services import database_url, mosquitto_url
from tests.simbus import eventually

pytestmark = pytest.mark.slow
SPEEDUP = 100


async def _run_until(district: District, end: datetime, until: object = None) -> None:
    stop = asyncio.Event()
    runner = asyncio.create_task(district.service.run(stop))
    try:
        while district.service.clock() < end:
            if callable(until) and until():
                break
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await runner


def _flown(states: list[str]) -> list[str]:
    """The states with weather holds and their re-checks taken out (06:00 can be rainy)."""
    out: list[str] = []
    for state in states:
        if state != "held" and (not out or out[-1] != state):
            out.append(state)
    return out


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield from database_url("sqlite", tmp_path)


def test_a_morning_of_the_built_in_schedule_is_flown_as_planned(
    scenario: Scenario, sqlite_url: str, tmp_path: Path
) -> None:
    """05:50-09:52 (before the 10:00 wave): every sortie planned to land by 09:40 is
    completed, the drones of any dock-to-dock exchange end up at each other's airport, and
    every drone stands on a closed dock with more than its reserve."""
    start = scenario.day_start().replace(hour=5, minute=50)

    async def run() -> tuple[list, dict[str, tuple[bool, bool, float]], dict[str, str]]:  # type: ignore[type-arg]
        async with simulated_district(
            scenario, start, SPEEDUP, sqlite_url, tmp_path, base_port=free_udp_base(8), pace=True
        ) as district:
            await _run_until(district, start + timedelta(hours=4, minutes=2))
            world = district.world
            pads = {}
            for a, v in world.vehicles.items():
                drone = world.on_pad(a)  # whichever drone stands there: two swapped airports at 07:30
                pads[a] = (drone is not None, v.dock.lid == LidState.CLOSED, drone.body.soc if drone else 0.0)
            return district.store.sorties(), pads, district.store.drone_airports()

    rows, pads, positions = asyncio.run(run())
    due = [r for r in rows if r.planned_land and r.planned_land <= start + timedelta(hours=3, minutes=50)]
    assert len(due) >= 15, [r.id for r in rows]
    not_done = [(r.id, r.state, r.reason) for r in due if r.state != "completed"]
    assert not not_done, not_done
    for on_pad, lid_closed, soc in pads.values():
        assert on_pad and lid_closed and soc >= 0.25, pads
    # Dock-to-dock exchanges (the planner chooses them when they are cheapest): each drone
    # that flew one stands at the other airport; every other drone is at home.
    swapped = {r.land_airport: r.airport for r in rows if r.state == "completed" and r.land_airport != r.airport}
    assert positions == swapped, "drones stand where their last sortie landed"


def test_the_record_of_a_flown_sortie_matches_what_flew(scenario: Scenario, sqlite_url: str, tmp_path: Path) -> None:
    start = scenario.day_start().replace(hour=5, minute=55)

    async def run() -> tuple[list, list]:  # type: ignore[type-arg]
        async with simulated_district(
            scenario, start, SPEEDUP, sqlite_url, tmp_path, base_port=free_udp_base(1), airports=["yuehai"], pace=True
        ) as district:
            sid = "flood-guimiao-underpass.20261202T0600.1"
            done = lambda: (r := district.store.sortie(sid)) is not None and r.state == "completed"  # noqa: E731
            await _run_until(district, start + timedelta(minutes=30), done)
            return district.store.transitions("sortie", sid), district.store.commands(sid)

    steps, commands = asyncio.run(run())
    assert _flown([s.new for s in steps]) == ["planned", "preflight", "airborne", "completed"], steps
    assert all("rain" in s.reason for s in steps if s.new == "held"), steps
    assert [(c.target, c.command, c.result) for c in commands] == [
        ("yuehai", "upload_mission", "accepted"),
        ("yuehai", "open_lid", "accepted"),
        ("yuehai", "set_mode", "accepted"),
        ("yuehai", "arm", "accepted"),
        ("yuehai", "takeoff", "accepted"),
        ("yuehai", "set_mode", "accepted"),
        ("yuehai", "close_lid", "accepted"),
        ("yuehai", "start_charge", "accepted"),
    ], commands
    assert steps[-2].at - steps[-3].at < timedelta(minutes=3), "from checks to take-off"
    flight = steps[-1].at - steps[-2].at
    assert timedelta(minutes=8) < flight < timedelta(minutes=20), f"planned 13.6 min, flew {flight}"


def test_a_jammed_lid_holds_the_sortie_and_gives_it_to_another_airport(
    scenario: Scenario, sqlite_url: str, tmp_path: Path
) -> None:
    start = scenario.day_start().replace(hour=7, minute=57)

    async def run() -> list:  # type: ignore[type-arg]
        async with simulated_district(
            scenario, start, SPEEDUP, sqlite_url, tmp_path, base_port=free_udp_base(8)
        ) as district:
            district.world.apply(SimControl("taoyuan", "lid_jam", 1, 0))
            sid = "tanglang-ridge.20261202T0800.1"
            moved = lambda: any(r.id.startswith(sid + ".r-") for r in district.store.sorties())  # noqa: E731
            await _run_until(district, start + timedelta(minutes=20), moved)
            assert not district.world.vehicles["taoyuan"].copter.armed
            return district.store.sorties(patrol="tanglang-ridge")

    rows = {r.id: r for r in asyncio.run(run())}
    original = rows["tanglang-ridge.20261202T0800.1"]
    assert original.state == "held" and "out of service" in original.reason and "reassigned as" in original.reason
    replacement = [r for r in rows.values() if r.id.startswith(original.id + ".r-")]
    assert replacement and all(r.airport != "taoyuan" for r in replacement), rows


def test_high_wind_holds_a_sortie_and_it_flies_when_the_wind_drops(
    scenario: Scenario, sqlite_url: str, tmp_path: Path
) -> None:
    """The built-in day blows over the limit 14:00-15:30; started at 13:55 by an operator,
    the 15:30 sortie from Shahe is held for the wind, re-checked, and flown after."""
    from orchestrator.commands.demo import sim_failsafes
    from orchestrator.scheduler.day import SchedulerConfig

    start = scenario.day_start().replace(hour=13, minute=58)
    sid = "houhai-construction.20261202T1400.1"

    async def run() -> list:  # type: ignore[type-arg]
        config = SchedulerConfig(speedup=SPEEDUP, hold_recheck_s=300, failsafes=sim_failsafes(scenario, SPEEDUP))
        async with simulated_district(
            scenario,
            start,
            SPEEDUP,
            sqlite_url,
            tmp_path,
            base_port=free_udp_base(8),
            airports=["shahe"],
            scheduler=config,
            pace=True,
        ) as district:
            district.service.scheduler.start_now(sid)
            airborne = lambda: (r := district.store.sortie(sid)) is not None and r.state in ("airborne", "completed")  # noqa: E731
            await _run_until(district, start + timedelta(hours=2), airborne)
            return district.store.transitions("sortie", sid)

    steps = asyncio.run(run())
    states = [s.new for s in steps]
    assert "held" in states and states[-1] == "airborne", steps
    held = [s for s in steps if s.new == "held"]
    assert all("wind" in s.reason for s in held)
    assert steps[-1].at.astimezone(scenario.tz).hour >= 15, "flown once the wind dropped"


@pytest.fixture
def postgresql_url(tmp_path: Path) -> Iterator[str]:
    yield from database_url("postgresql", tmp_path)


def test_on_mosquitto_and_postgresql_a_sortie_is_flown_and_recorded(
    scenario: Scenario, postgresql_url: str, tmp_path: Path
) -> None:
    url = mosquitto_url()
    start = scenario.day_start().replace(hour=5, minute=55)
    sid = "flood-guimiao-underpass.20261202T0600.1"

    async def run() -> list:  # type: ignore[type-arg]
        async with simulated_district(
            scenario,
            start,
            SPEEDUP,
            postgresql_url,
            tmp_path,
            mqtt=url,
            base_port=free_udp_base(8),
            airports=["yuehai"],
            pace=True,
        ) as district:
            done = lambda: (r := district.store.sortie(sid)) is not None and r.state == "completed"  # noqa: E731
            await _run_until(district, start + timedelta(minutes=30), done)
            return district.store.transitions("sortie", sid)

    steps = asyncio.run(run())
    assert _flown([s.new for s in steps]) == ["planned", "preflight", "airborne", "completed"], steps


def test_a_broker_restart_mid_sortie_loses_no_event(scenario: Scenario, sqlite_url: str, tmp_path: Path) -> None:
    """Mosquitto (persistence on) stopped while the drone is in the air and started again:
    the sortie completes, and a subscriber sees every one of its events."""
    from orchestrator.bus.client import BusClient
    from tests.services import MosquittoProcess

    mosquitto_url()  # skipped (or failed in CI) without Mosquitto
    broker = MosquittoProcess(tmp_path)
    broker.start()
    start = scenario.day_start().replace(hour=5, minute=55)
    sid = "flood-guimiao-underpass.20261202T0600.1"
    seen: list[str] = []

    def on_event(topic: str, payload: bytes) -> None:
        from missions.vocabulary import SortieEvent

        event = SortieEvent.from_json(payload)
        if event.id == sid:
            seen.append(event.state)

    async def run() -> str:
        watcher = BusClient(broker.url, "test-watcher", min_backoff_s=0.1, max_backoff_s=0.5)
        watcher.subscribe("dronepatrol/v1/orchestrator/+/sorties", on_event)
        await watcher.start()
        try:
            async with simulated_district(
                scenario,
                start,
                SPEEDUP,
                sqlite_url,
                tmp_path,
                mqtt=broker.url,
                base_port=free_udp_base(1),
                airports=["yuehai"],
                pace=True,
            ) as district:
                store = district.store
                state = lambda: (r := store.sortie(sid)) is not None and r.state  # noqa: E731
                stop = asyncio.Event()
                runner = asyncio.create_task(district.service.run(stop))
                assert await eventually(lambda: state() == "airborne", 60)
                broker.stop()
                await asyncio.sleep(1.5)
                broker.start()
                await eventually(lambda: state() in ("completed", "aborted", "failed"), 60)
                await asyncio.sleep(1.0)  # the last event's way through the broker
                stop.set()
                await runner
                return str(state())
        finally:
            await watcher.stop()
            broker.stop()

    final = asyncio.run(run())
    assert final == "completed"
    assert _flown(seen) == ["planned", "preflight", "airborne", "completed"], seen
