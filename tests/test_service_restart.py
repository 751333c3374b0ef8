"""Kill the service (SIGKILL) while its drone is in the air, start it again: it
re-attaches, watches the drone home, and the record has every step once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from missions.scenario import Scenario
from orchestrator.bus.broker import EmbeddedBroker
from orchestrator.store import Store
from sim.dock.bus import DockBus
from sim.world import SimWorld
from tests.conftest import REPO, free_udp_base

pytestmark = pytest.mark.slow
SPEEDUP = 10
SORTIE = "flood-guimiao-underpass.20261202T0600.1"


def _serve(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "serve", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _wait_state(store: Store, states: set[str], wait_s: float) -> str:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        row = store.sortie(SORTIE)
        if row is not None and row.state in states:
            return row.state
        await asyncio.sleep(0.2)
    raise AssertionError(f"sortie not {states} within {wait_s} s")


@dataclass
class _Yuehai:
    """yuehai's simulated drone and dock on an embedded broker, and `serve`'s settings for them."""

    world: SimWorld
    config: Path
    store: Store
    served: list[subprocess.Popen[bytes]]

    def serve(self, log: Path) -> subprocess.Popen[bytes]:
        proc = _serve(self.config, log)
        self.served.append(proc)
        return proc


@contextlib.asynccontextmanager
async def _yuehai(scenario: Scenario, tmp_path: Path) -> AsyncIterator[_Yuehai]:
    db = tmp_path / "dronepatrol.db"
    broker = EmbeddedBroker()
    address = await broker.start()
    start = scenario.day_start().replace(hour=6, minute=9)  # after the 06:00 downpour
    key = bytes(range(32))  # signed, as `serve` is by default: the drone was commissioned with it
    world = SimWorld(scenario, start, speedup=SPEEDUP, airports=["yuehai"], base_port=free_udp_base(1), signing_key=key)
    await world.open()
    stop = asyncio.Event()
    bus = DockBus(world, address)
    tasks = [asyncio.create_task(world.run(stop)), asyncio.create_task(bus.run(stop))]
    config = tmp_path / "dronepatrol.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path),
                "database": f"sqlite:///{db}",
                "mqtt": address.url,
                "drones": {"yuehai": world.mavlink_url("yuehai")},
                "signing_key": key.hex(),
                "speedup": SPEEDUP,
                "clock": "docks",
                "api": {"port": 0},
                # Long enough (12 s of wall time here) for the restart: the drone goes
                # on with its mission instead of turning home on a lost link.
                "failsafe": {"gcs_timeout_s": 120},
                "scheduler": {"hold_recheck_s": 120},
            }
        ),
        encoding="utf-8",
    )
    store = Store.open(f"sqlite:///{db}")  # the schema first: the service then has nothing to migrate
    place = _Yuehai(world, config, store, [])
    try:
        yield place
    finally:
        for p in place.served:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
        store.close()
        stop.set()
        await asyncio.gather(*tasks)
        world.close()
        await broker.stop()


def test_a_killed_service_re_attaches_and_the_sortie_completes_once(scenario: Scenario, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"

    async def run() -> list:  # type: ignore[type-arg]
        async with _yuehai(scenario, tmp_path) as place:
            store, world = place.store, place.world
            first = place.serve(log)
            await _wait_state(store, {"airborne"}, 60)
            await asyncio.sleep(2.0)  # well into the flight
            first.send_signal(signal.SIGKILL)
            first.wait(5)
            assert store.sortie(SORTIE).state == "airborne"  # type: ignore[union-attr]
            assert world.vehicles["yuehai"].copter.airborne, "the drone flies on without the service"
            place.serve(log)
            final = await _wait_state(store, {"completed", "aborted", "failed"}, 150)
            assert final == "completed", store.sortie(SORTIE)
            return store.transitions("sortie", SORTIE)

    steps = asyncio.run(run())
    states = [(s.new, s.reason) for s in steps]
    assert [s for s, _ in states] == ["planned", "preflight", "airborne", "airborne", "completed"], (
        states,
        log.read_text()[-3000:],
    )
    assert states[3][1] == "re-attached after a restart"


def test_a_service_killed_between_arming_and_the_take_off_record_watches_the_drone_home(
    scenario: Scenario, tmp_path: Path
) -> None:
    """Killed while the record still says preflight but the drone is armed and climbing:
    the restarted service must not plan it again (and leave an armed drone over its dock
    with nothing watching it): it watches it as airborne, to its landing."""
    log = tmp_path / "serve.log"

    async def run() -> list:  # type: ignore[type-arg]
        async with _yuehai(scenario, tmp_path) as place:
            store, copter = place.store, place.world.vehicles["yuehai"].copter
            first = place.serve(log)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                row = store.sortie(SORTIE)
                if row is not None and row.state == "preflight" and copter.armed:
                    break
                await asyncio.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            first.wait(5)
            assert store.sortie(SORTIE).state == "preflight" and copter.armed, "killed in the window"  # type: ignore[union-attr]
            place.serve(log)
            final = await _wait_state(store, {"completed", "aborted", "failed", "planned"}, 150)
            assert final == "completed", store.sortie(SORTIE)
            return store.transitions("sortie", SORTIE)

    steps = asyncio.run(run())
    states = [(s.new, s.reason) for s in steps]
    assert [s for s, _ in states] == ["planned", "preflight", "airborne", "airborne", "completed"], (
        states,
        log.read_text()[-3000:],
    )
    assert "armed when the service restarted" in states[2][1] and states[3][1] == "re-attached after a restart"


def test_an_armed_drone_with_no_flight_on_record_is_ordered_home_and_watched(
    scenario: Scenario, tmp_path: Path
) -> None:
    """Whatever the store says (here: nothing at all), a drone that is armed when the
    service starts is never left unwatched: a recovery sortie orders it home (RTL), watches
    it land on its dock, and closes the record as aborted (whatever it was flying was cut
    short), with the dock closed and charging."""
    from orchestrator.links.mavlink_link import MavlinkLink
    from orchestrator.service.core import Service
    from tests.simbus import eventually, sim_on_bus

    async def run() -> list[tuple[str, str]]:
        async with sim_on_bus(scenario, ["yuehai"], speedup=SPEEDUP, hour=10) as sim:
            dock = sim.world.vehicles["yuehai"].dock
            sim.world.dock_service("yuehai", "open_lid")
            pilot = await MavlinkLink(sim.world.mavlink_url("yuehai"), heartbeat_hz=SPEEDUP, link_timeout_s=5).open()
            try:
                await pilot.wait_heartbeat(10)
                assert await eventually(lambda: dock.lid == "open", 30)
                await pilot.set_mode(4)  # GUIDED
                await pilot.arm()
                await pilot.takeoff(30.0)
                assert await eventually(lambda: sim.world.vehicles["yuehai"].copter.body.alt > 20, 30)
            finally:
                await pilot.close()
            store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
            svc = Service(
                scenario,
                store,
                mqtt_url=sim.address,
                drones={"yuehai": sim.world.mavlink_url("yuehai")},
                clock=sim.world.clock.now,
                speedup=SPEEDUP,
                data_dir=tmp_path,
            )
            for pid in scenario.patrols:
                store.set_patrol(pid, at=sim.world.clock.now(), by="test", paused=True)
            stop = asyncio.Event()
            await svc.start(scenario.day_start())
            runner = asyncio.create_task(svc.run(stop))
            try:

                def recovery() -> str | None:
                    rows = [r for r in store.sorties(limit=100) if r.id.startswith("recovery.yuehai.")]
                    return rows[0].state if rows else None

                assert await eventually(lambda: recovery() == "aborted", 120), recovery()
                copter = sim.world.vehicles["yuehai"].copter
                assert not copter.armed and copter.body.alt < 0.5
                assert await eventually(lambda: dock.lid == "closed" and dock.charging, 30), (dock.lid, dock.charging)
                row = next(r for r in store.sorties(limit=100) if r.id.startswith("recovery.yuehai."))
                return [(t.new, t.reason) for t in store.transitions("sortie", row.id)]
            finally:
                stop.set()
                await runner
                await svc.stop()
                store.close()

    steps = asyncio.run(run())
    assert steps[0][0] == "returning" and "no flight on record" in steps[0][1], steps
    assert steps[-1][0] == "aborted" and "landed" in steps[-1][1], steps
