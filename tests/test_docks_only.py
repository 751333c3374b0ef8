"""`dronepatrol sim --docks-only`: simulated docks for a drone flown by another process.

The drone here is flown by one simulator (standing in for ArduPilot SITL or a real drone);
a second process runs only its dock, which learns from the drone's own MAVLink whether
it stands on the pad and how charged it is. The service flies a sortie with the two."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from missions.scenario import Scenario
from orchestrator.bus.broker import EmbeddedBroker
from orchestrator.commands.demo import sim_failsafes
from orchestrator.scheduler.day import SchedulerConfig
from orchestrator.service.core import Service
from orchestrator.store import Store
from sim.world import SimWorld
from tests.conftest import REPO, free_udp_base

pytestmark = pytest.mark.slow
SPEEDUP = 10
SORTIE = "flood-guimiao-underpass.20261202T0600.1"


def test_a_sortie_flies_with_a_dock_that_follows_a_drone_flown_elsewhere(scenario: Scenario, tmp_path: Path) -> None:
    start = scenario.day_start().replace(hour=6, minute=9)  # after the 06:00 downpour

    async def run() -> tuple[list[str], str]:
        broker = EmbeddedBroker()
        address = await broker.start()
        # The drone, flown by its own simulator; its own dock stays open and is not on the bus.
        world = SimWorld(
            scenario, start, speedup=SPEEDUP, airports=["yuehai"], base_port=free_udp_base(1), open_docks=True
        )
        await world.open()
        stop = asyncio.Event()
        flying = asyncio.create_task(world.run(stop))
        log = (tmp_path / "docks.log").open("w")
        docks = await asyncio.create_subprocess_exec(
            *[
                sys.executable,
                "-m",
                "orchestrator.cli",
                "sim",
                "--speedup",
                str(SPEEDUP),
                "--start",
                start.isoformat(),
                "--mqtt",
                address.url,
                "--docks-only",
                f"yuehai={world.mavlink_url('yuehai')}",
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        store = Store.open(f"sqlite:///{tmp_path / 'dronepatrol.db'}")
        service = Service(
            scenario,
            store,
            mqtt_url=address.url,
            drones={"yuehai": world.mavlink_url("yuehai")},
            clock=world.clock.now,
            speedup=SPEEDUP,
            data_dir=tmp_path,
            scheduler=SchedulerConfig(speedup=SPEEDUP, failsafes=sim_failsafes(scenario, SPEEDUP)),
            client_id=f"dronepatrol-test-{uuid.uuid4().hex[:8]}",
        )
        run_stop = asyncio.Event()
        runner = None
        try:
            await service.start(scenario.day_start(), docks_wait_s=30)
            osd = service.docks.state["yuehai"]
            assert osd.drone_on_pad and osd.drone_soc > 0.5, osd
            runner = asyncio.create_task(service.run(run_stop))
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                row = store.sortie(SORTIE)
                if row is not None and row.state in ("completed", "failed", "aborted"):
                    break
                await asyncio.sleep(0.5)
            steps = [s.new for s in store.transitions("sortie", SORTIE)]
            row = store.sortie(SORTIE)
            return steps, f"{row.state if row else None}: {row.reason if row else ''}"
        finally:
            run_stop.set()
            if runner is not None:
                await runner
            await service.stop()
            store.close()
            docks.terminate()
            await asyncio.wait_for(docks.wait(), 15)
            log.close()
            stop.set()
            await flying
            world.close()
            await broker.stop()

    steps, final = asyncio.run(run())
    assert final.startswith("completed"), (final, steps, (tmp_path / "docks.log").read_text()[-2000:])
    assert [s for s in steps if s != "held"][:3] == ["planned", "preflight", "airborne"], steps
