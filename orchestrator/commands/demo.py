"""`dronepatrol demo`: the simulated district at work, in one process.

An embedded MQTT broker, the simulator (8 drones on MAVLink over UDP, 8 docks on MQTT),
the service (store, scheduler, fleet) and its API, all on loopback. Prints where to look
(`api: ...`, one `token <role>: ...` per demo user), then the day as it happens, and a
summary when the day is over or on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from missions.scenario import Scenario
from orchestrator.bus.broker import EmbeddedBroker
from orchestrator.commands.serve import ApiServer, stop_on_signals
from orchestrator.scheduler.day import SchedulerConfig
from orchestrator.service.core import Service
from orchestrator.settings import ApiUser
from orchestrator.store import Store

log = logging.getLogger("dronepatrol.demo")
ROLES = ("viewer", "operator", "admin", "integration")


@dataclass(frozen=True)
class DemoOptions:
    speedup: float = 60.0
    port: int = 8080
    host: str = "127.0.0.1"
    start: datetime | None = None
    """Simulated start (default: the scenario's day, 05:50, before the first patrol)."""
    hours: float = 14.5
    data_dir: Path = Path("var/demo")
    seed: int = 0


def demo_users() -> list[ApiUser]:
    return [ApiUser(name=f"demo-{role}", role=role, token=secrets.token_urlsafe(24)) for role in ROLES]


async def run_demo(scenario: Scenario, opts: DemoOptions, stop: asyncio.Event | None = None) -> dict[str, int]:
    from sim.dock.bus import DockBus
    from sim.world import SimWorld

    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    start = opts.start or scenario.day_start().replace(hour=5, minute=50)
    end = start + timedelta(hours=opts.hours)
    opts.data_dir.mkdir(parents=True, exist_ok=True)
    db = opts.data_dir / "dronepatrol.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)  # the simulated drones start fresh, so does the record
    broker = EmbeddedBroker(opts.host)
    address = await broker.start()
    world = SimWorld(scenario, start, speedup=opts.speedup, seed=opts.seed, host=opts.host)
    store = Store.open(f"sqlite:///{db}")
    users = demo_users()
    service = Service(
        scenario,
        store,
        mqtt_url=address.url,
        drones={a: world.mavlink_url(a) for a in world.vehicles},
        clock=world.clock.now,
        speedup=opts.speedup,
        data_dir=opts.data_dir,
        scheduler=SchedulerConfig(speedup=opts.speedup),
    )
    api = ApiServer(service, users, opts.host, opts.port)
    sim_stop = asyncio.Event()
    sim_tasks: list[asyncio.Task[None]] = []
    try:
        await world.open()
        docks = DockBus(world, address.host, address.port)
        sim_tasks = [asyncio.create_task(world.run(sim_stop)), asyncio.create_task(docks.run(sim_stop))]
        await asyncio.wait_for(docks.connected.wait(), 10)
        await service.start(scenario.day_start())
        await api.start()
        print(f"api: {api.url}/api/v1", flush=True)
        print(f"docs: {api.url}/api/v1/docs", flush=True)
        for u in users:
            print(f"token {u.role}: {u.token}", flush=True)
        print(
            f"simulating {len(world.vehicles)} airports from {start:%Y-%m-%d %H:%M} to {end:%H:%M} "
            f"at {opts.speedup:g}x (about {opts.hours * 3600 / opts.speedup / 60:.0f} min); Ctrl-C stops",
            flush=True,
        )
        runner = asyncio.create_task(service.run(stop))
        while not stop.is_set() and world.clock.now() < end:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        stop.set()
        await runner
    finally:
        await api.stop()
        await service.stop()
        sim_stop.set()
        for t in sim_tasks:
            with contextlib.suppress(Exception):
                await t
        world.close()
        await broker.stop()
    summary = Counter(r.state for r in store.sorties(limit=100_000))
    held = [r for r in store.sorties(state=["held", "failed", "aborted"], limit=100_000)]
    store.close()
    print(f"day over at {world.clock.now():%H:%M}: " + ", ".join(f"{n} {s}" for s, n in sorted(summary.items())))
    for r in held:
        print(f"  {r.id} ({r.airport}) {r.state}: {r.reason}")
    print(f"record: {db}")
    return dict(summary)
