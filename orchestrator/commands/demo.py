"""`dronepatrol demo`: the simulated district at work, in one process.

An MQTT broker (embedded unless one is given), the simulator (8 drones on MAVLink over
UDP, 8 docks on MQTT), the service (store, scheduler, fleet) and its API, all on
loopback. Prints where to look (`api: ...`, one `token <role>: ...` per demo user), then
the day as it happens, and a summary when the day is over or on Ctrl-C. On a machine too
busy for the speed-up asked for, the day runs slower and the demo says so (sim/pace.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from missions.bus_access import BrokerAddress, BusRole, BusUser
from missions.scenario import Scenario
from orchestrator.alerts.desk import alert_json
from orchestrator.bus.broker import EmbeddedBroker, free_udp_base
from orchestrator.bus.users import USERS_FILE, dji_dock_user, generate_users, login, save_users
from orchestrator.commands.serve import ApiServer, stop_on_signals
from orchestrator.executor.failsafe import failsafe_params
from orchestrator.logclock import set_log_clock
from orchestrator.scheduler.day import SchedulerConfig
from orchestrator.service.core import Service
from orchestrator.settings import AlertSettings, ApiUser, DjiDockSettings, VisionSettings
from orchestrator.store import Store
from sim.alert_system import SimAlertSystem
from sim.pace import PaceGovernor, keep_pace

if TYPE_CHECKING:
    from sim.video.service import VideoService
    from sim.world import SimWorld

log = logging.getLogger("dronepatrol.demo")

DJI_MODEL = "M3TD"
"""The simulated DJI docks' aircraft: a Dock 2's thermal Mavic 3, as the district buys."""
DEMO_DJI_AIRPORTS = ("xili", "taoyuan", "nantou", "shekou")
"""The demo's DJI docks (the hill airports and one more); the other four fly MAVLink."""
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
    base_port: int | None = None
    """First drone's UDP port (+10 each); None: free ports found at start."""
    dji_airports: tuple[str, ...] = DEMO_DJI_AIRPORTS
    """Airports that are DJI docks on the Cloud API (the rest are MAVLink drones)."""


def demo_users() -> list[ApiUser]:
    return [ApiUser(name=f"demo-{role}", role=role, token=secrets.token_urlsafe(24)) for role in ROLES]


def sim_failsafes(scenario: Scenario, speedup: float) -> dict[str, float]:
    """The lost-link failsafe and the disarm delay count simulated seconds: at a speed-up,
    give the service a wall second (half for the disarm delay), as 5 s gives it at 1x: two
    cores shared with a browser and the live video's detector can hold its heartbeats up
    that long."""
    return failsafe_params(
        min(120.0, max(5.0, 1.0 * speedup)),
        scenario.airspace.ceiling_m,
        disarm_delay_s=min(127.0, max(10.0, 0.5 * speedup)),
    )


@dataclass
class District:
    world: SimWorld
    service: Service
    store: Store
    mqtt: BrokerAddress
    """The broker, not logged in (see `bus`)."""
    cameras: VideoService | None = None
    """The drones' cameras (with `video`): they render only while watched (`cameras.active`)."""
    users: list[BusUser] | None = None
    """The embedded broker's users (None with an external broker)."""

    def bus(self, role: BusRole) -> BrokerAddress:
        """The broker, logged in as that role's user."""
        return login(self.mqtt, self.users, role)


def _say_pace(message: str) -> None:
    log.warning("simulator pace: %s", message)


@contextlib.asynccontextmanager
async def simulated_district(
    scenario: Scenario,
    start: datetime,
    speedup: float,
    db_url: str,
    data_dir: Path,
    *,
    mqtt: str | None = None,
    host: str = "127.0.0.1",
    base_port: int | None = None,
    seed: int = 0,
    airports: list[str] | None = None,
    scheduler: SchedulerConfig | None = None,
    alerts: AlertSettings | None = None,
    vision: VisionSettings | None = None,
    video: bool = False,
    pace: bool = False,
    dji_airports: list[str] | None = None,
) -> AsyncIterator[District]:
    """The simulator and the service, connected over MQTT and MAVLink/UDP, started; the
    scheduler is not running yet (call `service.run(stop)`). With `video`, every drone's
    camera streams MJPEG while the dashboard watches it. With `pace`, the simulator slows
    its speed-up when the machine cannot hold it (`sim.pace`), as the demo does. The
    `dji_airports` are DJI docks (`sim.dji_dock`) on DJI's Cloud API instead of MAVLink
    drones with our own docks; the service serves their waylines once `service.kmz_url`
    is set (the demo sets it to its API's address)."""
    from sim.dji_dock import DjiDockEmulator
    from sim.dock.bus import DockBus
    from sim.video.mjpeg import MjpegServer
    from sim.video.service import VideoService
    from sim.world import SimWorld

    broker = None
    users: list[BusUser] | None = None
    dji = [a for a in dji_airports or [] if a in scenario.airports and (airports is None or a in airports)]
    if dji:
        airports = [a for a in (airports or list(scenario.airports)) if a not in dji]
    dji_logins = {a: dji_dock_user(a, f"SIMDOCK{a.upper()}", f"SIMAIR{a.upper()}") for a in dji}
    if mqtt is None:
        # Fresh passwords each run, as the API tokens; written for whoever joins the bus.
        users = generate_users(airports or list(scenario.airports)) + list(dji_logins.values())
        save_users(data_dir / USERS_FILE, users)
        broker = EmbeddedBroker(host, users=users)
        address = await broker.start()
    else:
        address = BrokerAddress.parse(mqtt)
    if base_port is None:  # free ports, found now: never a fixed one another run may hold
        base_port = free_udp_base(len(airports or scenario.airports), host=host)
    world = SimWorld(scenario, start, speedup=speedup, seed=seed, host=host, base_port=base_port, airports=airports)
    server = MjpegServer(host, token=secrets.token_urlsafe(16)) if video else None
    cameras = VideoService(world, server, fps=5) if server is not None else None
    if server is not None and cameras is not None:
        cameras.active = set()
        await server.start()  # its port goes into the service's video URLs

    def watch(airport: str, on: bool) -> None:
        if cameras is not None and cameras.active is not None:
            (cameras.active.add if on else cameras.active.discard)(airport)

    store = Store.open(db_url)
    service = Service(
        scenario,
        store,
        mqtt_url=login(address, users, BusRole.ORCHESTRATOR),
        drones={a: world.mavlink_url(a) for a in world.vehicles},
        clock=world.clock.now,
        speedup=speedup,
        data_dir=data_dir,
        scheduler=scheduler or SchedulerConfig(speedup=speedup, failsafes=sim_failsafes(scenario, speedup)),
        client_id=f"dronepatrol-orchestrator-{uuid.uuid4().hex[:8]}",
        alerts=alerts,
        video={a: server.url(a) for a in world.vehicles} if server is not None else None,
        video_watch=watch,
        vision=vision,
        dji_docks={a: DjiDockSettings(dock_sn=u.serials[0], model=DJI_MODEL) for a, u in dji_logins.items()},
    )

    def station(airport: str) -> Callable[[], tuple[float, float]]:
        def now() -> tuple[float, float]:
            w = world.forecast.at(world.clock.now())
            return max(w.wind_ms, w.gust_ms * 0.8), w.rain_mm_h

        return now

    emulators = [
        DjiDockEmulator(
            address.login(u.name, u.password) if users is not None else address,
            u.serials[0],
            u.serials[1],
            DJI_MODEL,
            scenario.airports[a].lat,
            scenario.airports[a].lon,
            scenario.airports[a].elevation_m,
            speedup=speedup,
            weather=station(a),
        )
        for a, u in dji_logins.items()
    ]
    sim_stop = asyncio.Event()
    sim_tasks: list[asyncio.Task[None]] = []
    try:
        await world.open()
        docks = DockBus(world, login(address, users, BusRole.SIM))
        sim_tasks = [asyncio.create_task(world.run(sim_stop)), asyncio.create_task(docks.run(sim_stop))]
        if cameras is not None:
            sim_tasks.append(asyncio.create_task(cameras.run(sim_stop)))
        sim_tasks += [asyncio.create_task(e.run(sim_stop)) for e in emulators]
        if pace:
            governor = PaceGovernor(speedup, floor=min(speedup, 5.0))
            sim_tasks.append(asyncio.create_task(keep_pace(world.clock, governor, sim_stop, _say_pace)))
        await asyncio.wait_for(docks.connected.wait(), 10)
        for e in emulators:
            await asyncio.wait_for(e.connected.wait(), 10)
        await service.start(scenario.day_start())
        if broker is not None:
            service.broker_gate = broker.gate
        yield District(world, service, store, address, cameras, users)
    finally:
        await service.stop()
        sim_stop.set()
        for t in sim_tasks:
            with contextlib.suppress(Exception):
                await t
        if server is not None:
            await server.stop()
        world.close()
        store.close()
        if broker is not None:
            await broker.stop()


async def run_demo(scenario: Scenario, opts: DemoOptions, stop: asyncio.Event | None = None) -> dict[str, int]:
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    start = opts.start or scenario.day_start().replace(hour=5, minute=50)
    end = start + timedelta(hours=opts.hours)
    opts.data_dir.mkdir(parents=True, exist_ok=True)
    db = opts.data_dir / "dronepatrol.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)  # the simulated drones start fresh, so does the record
    users = demo_users()
    async with simulated_district(
        scenario,
        start,
        opts.speedup,
        f"sqlite:///{db}",
        opts.data_dir,
        host=opts.host,
        seed=opts.seed,
        video=True,
        base_port=opts.base_port,
        dji_airports=list(opts.dji_airports),
    ) as district:
        service, store = district.service, district.store
        set_log_clock(service.clock)  # the log speaks the day's (simulated) time, wall time beside it
        api = ApiServer(service, users, opts.host, opts.port)
        await api.start()
        service.kmz_url = f"{api.url}/dji/kmz"  # where the DJI docks download their waylines
        try:
            print(f"api: {api.url}/api/v1", flush=True)
            print(f"dashboard: {api.url}/", flush=True)
            print(f"docs: {api.url}/api/v1/docs", flush=True)
            for u in users:
                print(f"token {u.role}: {u.token}", flush=True)
            print(f"mqtt: {district.mqtt.url} (users and passwords: {opts.data_dir / USERS_FILE})", flush=True)
            print(
                f"simulating {len(service.links)} MAVLink airports and {len(service.fleet.dji_models)} DJI docks "
                f"from {start:%Y-%m-%d %H:%M} to {end:%H:%M} "
                f"at {opts.speedup:g}x (about {opts.hours * 3600 / opts.speedup / 60:.0f} min); Ctrl-C stops",
                flush=True,
            )
            runner = asyncio.create_task(service.run(stop))
            caller = SimAlertSystem(
                scenario.incidents.alerts, district.world.clock.now, district.bus(BusRole.ALERTS), start
            )
            calls = asyncio.create_task(caller.run(stop))

            def say(message: str) -> None:
                log.warning("%s", message)
                print(f"{service.clock():%H:%M} {message}", flush=True)

            # On a busy machine the day runs slower rather than with sorties failing for it.
            governor = PaceGovernor(opts.speedup, floor=min(opts.speedup, 5.0))
            pace = asyncio.create_task(keep_pace(district.world.clock, governor, stop, say))
            while not stop.is_set() and service.clock() < end:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            stop.set()
            await runner
            await calls
            await pace
        finally:
            await api.stop()
            set_log_clock(None)
        summary = Counter(r.state for r in store.sorties(limit=100_000))
        held = store.sorties(state=["held", "failed", "aborted"], limit=100_000)
        print(f"day over at {service.clock():%H:%M}: " + ", ".join(f"{n} {s}" for s, n in sorted(summary.items())))
        for r in held:
            print(f"  {r.id} ({r.airport}) {r.state}: {r.reason}")
        _alert_summary(service, start, end)
        print(f"record: {db}")
    return dict(summary)


def _alert_summary(service: Service, start: datetime, end: datetime) -> None:
    """Each inbound alert with what became of it, and the response times over the day."""
    book, tz = service.store.alerts, service.scenario.tz
    rows = sorted(book.alerts(since=start, until=end, limit=100_000), key=lambda a: a.received_at)
    if not rows:
        return
    print(f"alerts: {len(rows)} received")
    for a in rows:
        secs = alert_json(a)["seconds"]
        timing = ", ".join(f"{k.replace('_', ' ')} +{v:.0f} s" for k, v in secs.items() if v is not None)
        what = a.outcome or a.decision
        print(
            f"  {a.received_at.astimezone(tz):%H:%M:%S} {a.external_id or a.id} {a.kind}: {a.state}"
            f"{' (' + timing + ')' if timing else ''}; {what}"
        )
    measures = service.alerts.measures(start, end)["stages"]
    on_scene, launch = measures["on_scene"], measures["launch_ordered"]
    if on_scene["n"]:
        print(
            f"  on scene after receipt: p50 {on_scene['p50']:.0f} s, p95 {on_scene['p95']:.0f} s (n={on_scene['n']}); "
            f"launch ordered: p50 {launch['p50']:.1f} s"
        )
    incidents = book.incidents(limit=100_000)
    if incidents:
        print(f"incidents: {len(incidents)}, " + ", ".join(f"{i.id} {i.kind} {i.state}" for i in incidents[:8]))
