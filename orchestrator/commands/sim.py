"""`dronepatrol sim`: the simulated district on real protocols, until stopped.

Prints one line per vehicle, `airport <id> mavlink <URL>` (what a ground station passes
to pymavlink's mavlink_connection()), and `mqtt <URL>` for the docks' broker, then runs
until SIGINT or SIGTERM. Without --mqtt the embedded broker is started here, with fresh
users and passwords written to a file (`bus users <FILE>`; the service logs in as
`orchestrator`, `sim fault` as `operator`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from datetime import datetime
from pathlib import Path

from missions.bus_access import BrokerAddress, BusAccessError, BusRole, BusUser
from missions.scenario import Scenario
from missions.vocabulary import SIM_CONTROL_TOPIC, SimControl, video_meta_topic
from orchestrator.bus.broker import EmbeddedBroker
from orchestrator.bus.users import generate_users, load_users, login, save_users
from sim.video.camera import FrameMeta

log = logging.getLogger("dronepatrol.sim")


async def run_sim(
    scenario: Scenario,
    *,
    start: datetime,
    speedup: float,
    seed: int,
    mqtt: str | None,
    open_docks: bool,
    base_port: int,
    host: str,
    signing_key: bytes | None = None,
    stop: asyncio.Event | None = None,
    video: bool = True,
    video_port: int = 0,
    video_fps: float = 5.0,
    docks_only: dict[str, str] | None = None,
    users_file: Path = Path("var/sim/mqtt-users.json"),
) -> None:
    import aiomqtt

    from sim.dock.bus import DockBus
    from sim.video.mjpeg import MjpegServer
    from sim.video.service import VideoService
    from sim.world import SimWorld

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    broker = None
    users: list[BusUser] | None = None
    if mqtt is None:
        # Fresh passwords each run: the service and others read them from the file.
        users = generate_users(list(scenario.airports))
        save_users(users_file, users)
        broker = EmbeddedBroker(host, users=users)
        address = await broker.start()
    else:
        address = BrokerAddress.parse(mqtt)
    sim_address = login(address, users, BusRole.SIM)
    if users is not None:
        print(f"bus users {users_file}")
    if docks_only:
        try:
            await _run_docks_only(scenario, start, speedup, sim_address, docks_only, open_docks, stop)
        finally:
            if broker is not None:
                await broker.stop()
        return
    world = SimWorld(
        scenario,
        start,
        speedup=speedup,
        seed=seed,
        host=host,
        base_port=base_port,
        open_docks=open_docks,
        signing_key=signing_key,
    )
    server = MjpegServer(host, video_port, token=secrets.token_urlsafe(16))
    try:
        await world.open()
        if video:
            await server.start()
        for aid in world.vehicles:
            print(f"airport {aid} mavlink {world.mavlink_url(aid)}")
            if video:
                print(f"airport {aid} video {server.url(aid)}")
        print(f"mqtt {address.url}", flush=True)
        log.info("simulating %d airports from %s at %gx", len(world.vehicles), start.isoformat(), speedup)
        bus = DockBus(world, sim_address)
        async with aiomqtt.Client(
            **sim_address.client_options(), identifier=f"dronepatrol-sim-video-{secrets.token_hex(4)}"
        ) as meta_client:

            async def publish_meta(meta: FrameMeta) -> None:
                await meta_client.publish(video_meta_topic(meta.airport), meta.to_json(), qos=0)

            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(world.run(stop))
                tasks.create_task(bus.run(stop))
                if video:
                    service = VideoService(world, server, video_fps, publish_meta=publish_meta, seed=seed)
                    tasks.create_task(service.run(stop))
    finally:
        await server.stop()
        world.close()
        if broker is not None:
            await broker.stop()
        log.info("simulator stopped at %s", world.clock.now().isoformat())


async def _run_docks_only(
    scenario: Scenario,
    start: datetime,
    speedup: float,
    address: BrokerAddress,
    drones: dict[str, str],
    open_docks: bool,
    stop: asyncio.Event,
) -> None:
    """Docks only, each following a drone flown elsewhere (its MAVLink URL)."""
    from sim.dock.bus import DockBus
    from sim.dock.external import ExternalDocks

    docks = ExternalDocks(scenario, start, speedup, drones)
    if open_docks:
        docks.open_lids()
    for aid, url in drones.items():
        print(f"airport {aid} dock for the drone at {url}")
    print(f"mqtt {address.login(None, None).url}", flush=True)
    log.info("docks for %d drones flown elsewhere, from %s at %gx", len(drones), start.isoformat(), speedup)
    bus = DockBus(docks, address)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(docks.run(stop))
        tasks.create_task(bus.run(stop))


def fault_sender(mqtt: str, users_file: Path | None = None) -> BrokerAddress:
    """The broker logged in as the operator: the URL's login, else the operator's in the
    simulator's users file (when it is there)."""
    address = BrokerAddress.parse(mqtt)
    if address.username is None and users_file is not None and users_file.is_file():
        address = login(address, load_users(users_file), BusRole.OPERATOR)
    return address


async def send_fault(address: BrokerAddress, ctl: SimControl) -> None:
    import aiomqtt

    try:
        async with aiomqtt.Client(**address.client_options(), timeout=10) as client:
            await client.publish(SIM_CONTROL_TOPIC, ctl.to_json(), qos=1)
    except aiomqtt.MqttError as exc:
        raise BusAccessError(f"broker {address.url}: {exc}") from None
    print(f"fault {ctl.fault} sent to {ctl.airport}", file=sys.stderr)
