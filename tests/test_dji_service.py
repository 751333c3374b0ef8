"""A DJI dock as one of the service's airports, end to end against the dock emulator on
the broker: the day's plan gives the dock its sorties, the scheduler launches the first
through the Cloud API with a KMZ the service serves at /dji/kmz/, the dock downloads it,
checks its MD5 and flies it, and the sortie goes planned -> preflight -> airborne ->
returning -> completed in the store, its drone's phases in the fleet, as a MAVLink
airport's would."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from missions.scenario import Scenario
from orchestrator.bus.broker import EmbeddedBroker
from orchestrator.commands.serve import ApiServer
from orchestrator.scheduler.day import SchedulerConfig
from orchestrator.service.core import Service
from orchestrator.settings import DjiDockSettings
from orchestrator.store import Store
from sim.dji_dock import DjiDockEmulator
from tests.apiserver import USERS
from tests.simbus import eventually

pytestmark = pytest.mark.slow
DOCK, AIRCRAFT = "7CTXN00000001", "1581F5BK0000A1"
SPEEDUP = 120.0


def test_a_dji_dock_flies_its_planned_sortie_through_the_cloud_api(scenario: Scenario, tmp_path: Path) -> None:
    start = scenario.day_start().replace(hour=5, minute=58)
    t0 = time.monotonic()

    def clock() -> datetime:
        return start + timedelta(seconds=(time.monotonic() - t0) * SPEEDUP)

    async def run() -> dict[str, object]:
        broker = EmbeddedBroker()
        address = await broker.start()
        store = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
        docks = {"yuehai": DjiDockSettings(dock_sn=DOCK, model="M3D")}
        svc = Service(
            scenario, store, mqtt_url=address.url, drones={}, clock=clock, speedup=SPEEDUP, data_dir=tmp_path,
            scheduler=SchedulerConfig(speedup=SPEEDUP), dji_docks=docks,
        )  # fmt: skip
        api = ApiServer(svc, USERS, "127.0.0.1", 0)
        await api.start()
        svc.kmz_url = f"{api.url}/dji/kmz"
        pad = scenario.airports["yuehai"]
        dock = DjiDockEmulator(address, DOCK, AIRCRAFT, "M3D", pad.lat, pad.lon, pad.elevation_m, speedup=SPEEDUP)
        stop = asyncio.Event()
        dock_task = asyncio.create_task(dock.run(stop))
        try:
            await asyncio.wait_for(dock.connected.wait(), 10)
            await svc.start(scenario.day_start())
            runner = asyncio.create_task(svc.run(stop))
            first = min((r for r in store.sorties() if r.airport == "yuehai"), key=lambda r: r.planned_launch)
            ended = lambda: (r := store.sortie(first.id)) is not None and r.state in ("completed", "failed", "held")  # noqa: E731
            assert await eventually(ended, 120), store.sortie(first.id)
            stop.set()
            await runner
            return {
                "row": store.sortie(first.id),
                "transitions": [t.new for t in store.transitions("sortie", first.id)],
                "phases": [t.new for t in store.transitions("drone", "yuehai")],
                "calls": list(dock.calls),
                "kmz": sorted(p.name for p in (tmp_path / "kmz").glob("*.kmz")),
                "refused": dict(svc.dji.refused) if svc.dji else None,
            }
        finally:
            stop.set()
            await asyncio.wait_for(dock_task, 10)
            await api.stop()
            await svc.stop()
            store.close()
            await broker.stop()

    got = asyncio.run(run())
    row = got["row"]
    assert row is not None and row.state == "completed", (row, got["transitions"])
    assert got["transitions"][-4:] == ["preflight", "airborne", "returning", "completed"], got["transitions"]
    assert got["calls"] == [("flighttask_prepare", 0), ("flighttask_execute", 0)]
    assert len(got["kmz"]) == 1 and got["kmz"][0].endswith(f"-{row.id}.kmz")
    phases = got["phases"]
    assert "airborne" in phases and phases[-1] in ("docked", "charging", "ready"), phases
    assert got["refused"] == {}
