"""`dronepatrol serve` and the pieces `demo` shares with it: the service, its API server,
and a clean stop on SIGINT/SIGTERM.

`serve --config FILE` flies the drones named in the settings (`drones: {airport: URL}`),
against real drones, ArduPilot SITL or an external `dronepatrol sim`; the docks and
vision meet it on the configured broker (or the embedded one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from datetime import datetime

from missions.bus_access import BrokerAddress, BusAccessError, BusRole, transport_problems
from missions.scenario import Scenario
from orchestrator.bus.broker import EmbeddedBroker, free_tcp_port
from orchestrator.bus.users import login, users_at_first_start
from orchestrator.executor.failsafe import failsafe_params
from orchestrator.links.address import AddressError, LinkAddress
from orchestrator.links.signing import key_at_first_start
from orchestrator.logclock import set_log_clock
from orchestrator.scheduler.day import SchedulerConfig
from orchestrator.service.clock import DockClock
from orchestrator.service.core import Service
from orchestrator.settings import ApiUser, MapSettings, Settings
from orchestrator.store import Store

log = logging.getLogger("dronepatrol.serve")


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


class ApiServer:
    """uvicorn inside our event loop."""

    def __init__(
        self, service: Service, users: list[ApiUser], host: str, port: int, basemap: MapSettings | None = None
    ) -> None:
        import uvicorn

        from orchestrator.api.app import create_app

        self.host = host
        self.port = port or free_tcp_port(host)
        config = uvicorn.Config(
            create_app(service, users, basemap), host=host, port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start (port taken)
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def drone_signing_key(settings: Settings) -> bytes | None:
    """The key the service signs with: the settings', else the data folder's (made at first
    start); None when signing is turned off, which the log says at every start."""
    if not settings.mavlink_signing:
        log.warning("MAVLink signing is off: anyone on the drone network can command the drones")
        return None
    if settings.signing_key:
        return bytes.fromhex(settings.signing_key)
    key, path, created = key_at_first_start(settings.data_dir)
    if created:
        log.warning("made a MAVLink signing key in %s: give it to each drone with `dronepatrol commission`", path)
    else:
        log.info("MAVLink signing with the key in %s", path)
    return key


def wall_clock(scenario: Scenario) -> Callable[[], datetime]:
    def now() -> datetime:
        return datetime.now(scenario.tz)

    return now


async def serve(settings: Settings, scenario: Scenario, stop: asyncio.Event | None = None) -> None:
    if not settings.drones and not settings.dji_docks:
        raise ValueError(
            "no drones configured: set `drones: {airport: MAVLink URL}` or `dji_docks:` in the settings file"
        )
    both = sorted(set(settings.drones) & set(settings.dji_docks))
    if both:
        raise ValueError(f"airports both MAVLink and DJI docks: {', '.join(both)}")
    unknown = sorted((set(settings.drones) | set(settings.dji_docks)) - set(scenario.airports))
    if unknown:
        raise ValueError(f"drones for unknown airports: {', '.join(unknown)}")
    for airport, url in settings.drones.items():  # before anything starts: a bad URL is one line
        try:
            LinkAddress.parse(url)
        except AddressError as exc:
            raise AddressError(f"drones.{airport}: {exc}") from None
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    broker = None
    if settings.mqtt is None:
        users, users_file, created = users_at_first_start(settings.data_dir, list(scenario.airports))
        broker = EmbeddedBroker(users=users)
        mqtt = login(await broker.start(), users, BusRole.ORCHESTRATOR)
        print(f"mqtt users: {users_file}" + (" (created)" if created else ""), flush=True)
    else:
        mqtt = BrokerAddress.parse(settings.mqtt).with_ca(str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None)
        problems = transport_problems(mqtt)
        if problems and not settings.mqtt_plain_remote:
            raise BusAccessError(
                f"broker {mqtt.url}: {'; '.join(problems)} (or set mqtt_plain_remote on a closed network)"
            )
        for problem in problems:
            log.warning("broker %s: %s", mqtt.url, problem)
    signing_key = drone_signing_key(settings)
    store = Store.open(settings.database_url())
    clock: Callable[[], datetime]
    docks_clock = DockClock(settings.speedup, scenario.tz) if settings.clock == "docks" else None
    clock = docks_clock or wall_clock(scenario)
    service = Service(
        scenario,
        store,
        mqtt_url=mqtt,
        drones=settings.drones,
        clock=clock,
        speedup=settings.speedup,
        data_dir=settings.data_dir,
        client_id=settings.mqtt_client_id,
        alerts=settings.alerts,
        video=settings.video,
        vision=settings.vision,
        dji_docks=settings.dji_docks,
        kmz_url=settings.dji_kmz_url or f"http://{settings.api.host}:{settings.api.port}/dji/kmz",
        signing_key=signing_key,
        scheduler=SchedulerConfig(
            speedup=settings.speedup,
            hold_recheck_s=settings.scheduler.hold_recheck_s,
            launch_window_s=settings.scheduler.launch_window_s,
            failsafes=failsafe_params(
                settings.failsafe.gcs_timeout_s, scenario.airspace.ceiling_m, settings.failsafe.fence_radius_m
            ),
        ),
    )
    if docks_clock is not None:
        docks_clock.attach(service.docks)
        set_log_clock(docks_clock)  # the docks' (a simulator's) time in the log, wall time beside it
    if broker is not None:
        service.broker_gate = broker.gate
    api = ApiServer(service, settings.api.users, settings.api.host, settings.api.port, settings.map)
    try:
        await service.start(docks_wait_s=10.0 if docks_clock is not None else 0.0)
        await api.start()
        print(f"api: {api.url}", flush=True)
        print(f"mqtt: {mqtt.url}", flush=True)
        await service.run(stop)
    finally:
        set_log_clock(None)
        await api.stop()
        await service.stop()
        store.close()
        if broker is not None:
            await broker.stop()
