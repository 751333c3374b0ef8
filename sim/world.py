"""The simulated district: every airport's drone and dock on one simulated clock.

The world steps all vehicles and docks with a fixed physics step in simulated time; the
asyncio loop only decides how many steps are owed to the wall clock. Each drone speaks
MAVLink on its own UDP port (base port + 10 x index, like ArduPilot SITL instances).
Everything random comes from the seed, so the same scenario and seed fly the same
flight for the same commands.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from missions.fleet import Airport
from missions.geo import wind_vector
from missions.scenario import Scenario
from missions.vocabulary import DockFault, LidState, SimControl
from missions.weather import Forecast
from sim.clock import SimClock
from sim.dock.model import Dock
from sim.faults import ALL_FAULTS, DOCK_FAULTS, ActiveFault, FaultError
from sim.mavlink.endpoint import MavlinkEndpoint
from sim.vehicle.copter import Copter
from sim.vehicle.physics import Wind

log = logging.getLogger("dronepatrol.sim")

PHYSICS_DT = 0.1
"""Simulated seconds per physics step."""
MAX_STEPS_PER_TICK = 400
"""When the machine cannot keep up, the clock slips rather than the loop drowning: a
backlog of more simulated time than this many steps is forgotten."""
TICK_BUDGET_S = 0.02
"""Wall seconds of stepping between two looks at the mail."""
PAD_RADIUS_M = 2.0
FORECAST_DAYS = 14


@dataclass
class SimVehicle:
    airport: Airport
    copter: Copter
    endpoint: MavlinkEndpoint
    dock: Dock
    wind: Wind
    port: int


@dataclass
class SimWorld:
    """Drones, docks, weather and faults of a scenario, stepped on one clock."""

    scenario: Scenario
    start: datetime
    speedup: float = 10.0
    seed: int = 0
    host: str = "127.0.0.1"
    base_port: int = 14560
    open_docks: bool = False
    signing_key: bytes | None = None
    airports: list[str] | None = None
    vehicles: dict[str, SimVehicle] = field(default_factory=dict)
    faults: list[ActiveFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = SimClock(self.start, self.speedup)
        self.forecast: Forecast = self.scenario.weather.forecast(self.start, self.start + timedelta(days=FORECAST_DAYS))
        ids = self.airports or list(self.scenario.airports)
        for i, aid in enumerate(ids):
            ap = self.scenario.airport(aid)
            seed = self.seed * 1000 + i
            copter = Copter(
                i + 1,
                ap.lon,
                ap.lat,
                ap.elevation_m,
                ap.drone,
                seed=seed,
                soc=ap.dock.launch_soc,
                frame=self.scenario.frame,
            )
            copter.ground = self.scenario.ground
            # A ground station sharing the CPU needs wall time to answer: at a high speed-up
            # the mission protocol's re-asks are spaced at least 0.2 s of wall time apart.
            copter.missions.retry_s = max(copter.missions.retry_s, 0.2 * self.speedup)
            dock = Dock(aid, ap.dock, ap.drone)
            if self.open_docks:
                dock.lid, dock.charge_wanted = LidState.OPEN, False
            copter.lid_open = dock.lid is LidState.OPEN
            endpoint = MavlinkEndpoint(i + 1, self.signing_key, seed)
            wind = Wind(rng=random.Random(seed + 7))
            self.vehicles[aid] = SimVehicle(ap, copter, endpoint, dock, wind, self.base_port + 10 * i)
        self._pads = {aid: self.scenario.frame.to_xy(v.airport.lon, v.airport.lat) for aid, v in self.vehicles.items()}
        pads = [(self._pads[aid], v.airport.elevation_m) for aid, v in self.vehicles.items()]
        for v in self.vehicles.values():
            v.copter.pads = pads
        self._scenario_faults = sorted(getattr(self.scenario, "faults", ()), key=lambda f: f[0])

    # ---- addresses ------------------------------------------------------------------

    def mavlink_url(self, airport: str) -> str:
        """What a ground station passes to pymavlink's mavlink_connection()."""
        return f"udpout:{self.host}:{self.vehicles[airport].port}"

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        for v in self.vehicles.values():
            await loop.create_datagram_endpoint(lambda v=v: v.endpoint, local_addr=(self.host, v.port))

    def close(self) -> None:
        for v in self.vehicles.values():
            if v.endpoint.transport is not None:
                v.endpoint.transport.close()

    # ---- stepping -------------------------------------------------------------------

    def step(self, dt: float = PHYSICS_DT) -> None:
        """One physics step of every vehicle and dock."""
        t = self.clock.elapsed
        now = self.clock.now()
        weather = self.forecast.at(now)
        self._expire_faults(t)
        for v in self.vehicles.values():
            for name, fields, sender in v.endpoint.take_inbox():
                v.endpoint.send(v.copter.handle(name, fields, sender, t))
        for aid, v in self.vehicles.items():
            on_pad = self.on_pad(aid)
            v.dock.drone_on_pad = on_pad is not None
            soc = on_pad.body.soc if on_pad is not None else 0.0
            added = v.dock.step(dt, now, weather, soc)
            if on_pad is not None:
                on_pad.body.energy_wh = min(on_pad.model.battery_wh, on_pad.body.energy_wh + added)
        for v in self.vehicles.values():
            c = v.copter
            dock = self.dock_under(c)
            c.lid_open = dock is None or dock.lid is LidState.OPEN
            v.wind.steady = wind_vector(weather.wind_ms, weather.wind_from_deg)
            v.wind.gust_sigma = max(0.0, weather.gust_ms - weather.wind_ms) / 2
            v.wind.step(dt)
            v.endpoint.send(c.step(dt, t, v.wind.vector))
            v.endpoint.flush()
        self.clock.advance(dt)

    def dock_under(self, copter: Copter) -> Dock | None:
        """The dock whose pad the drone is over (any airport's: drones relocate)."""
        x, y = copter.district_xy()
        for aid, (px, py) in self._pads.items():
            if math.hypot(x - px, y - py) <= PAD_RADIUS_M:
                return self.vehicles[aid].dock
        return None

    def on_pad(self, airport: str) -> Copter | None:
        """The drone standing disarmed on this airport's pad, whichever airport it came from."""
        px, py = self._pads[airport]
        for v in self.vehicles.values():
            c = v.copter
            if c.body.on_ground and not c.armed:
                x, y = c.district_xy()
                if math.hypot(x - px, y - py) <= PAD_RADIUS_M:
                    return c
        return None

    def pad_soc(self, airport: str) -> float | None:
        """The charge of the drone on this airport's pad, None when the pad is empty."""
        drone = self.on_pad(airport)
        return drone.body.soc if drone is not None else None

    def run_for(self, seconds: float, dt: float = PHYSICS_DT) -> None:
        """Step a fixed span of simulated time, as fast as possible (tests, datasets)."""
        for _ in range(round(seconds / dt)):
            self.step(dt)

    def answer_messages(self) -> None:
        """Handle what arrived since the last step, at the current instant, and send the
        replies now: an autopilot answers the mission protocol and commands within
        milliseconds, not once per physics step."""
        t = self.clock.elapsed
        for v in self.vehicles.values():
            inbox = v.endpoint.take_inbox()
            if inbox:
                for name, fields, sender in inbox:
                    v.endpoint.send(v.copter.handle(name, fields, sender, t))
                v.endpoint.flush()

    async def run(self, stop: asyncio.Event) -> None:
        """Step in pace with the wall clock x speed-up until stop is set."""
        mail = asyncio.Event()
        for v in self.vehicles.values():
            v.endpoint.mail = mail
        while not stop.is_set():
            owed = self.clock.due()
            if owed > MAX_STEPS_PER_TICK * PHYSICS_DT:
                self.clock.set_speedup(self.clock.speedup)  # slip: forget the backlog
                owed = self.clock.due()
            n = int(owed / PHYSICS_DT)
            # Step for at most TICK_BUDGET_S of wall time, then answer the mail: a ground
            # station sharing the loop (the demo, the tests) is never kept waiting longer,
            # and on a busy machine the simulation runs slower rather than late.
            budget_end = time.perf_counter() + TICK_BUDGET_S
            done = 0
            while done < n and (done == 0 or time.perf_counter() < budget_end):
                self.step()
                done += 1
            n = done
            mail.clear()
            self.answer_messages()
            pause = 0.002 if n else max(0.001, self.clock.wall_seconds(PHYSICS_DT) / 2)
            try:
                await asyncio.wait_for(mail.wait(), pause)
            except TimeoutError:
                pass

    # ---- faults and services --------------------------------------------------------

    def apply(self, ctl: SimControl) -> None:
        if ctl.airport not in self.vehicles:
            raise FaultError(f"unknown airport '{ctl.airport}'")
        if ctl.fault not in ALL_FAULTS:
            raise FaultError(f"unknown fault '{ctl.fault}' (known: {', '.join(sorted(ALL_FAULTS))})")
        t = self.clock.elapsed
        clears = t + ctl.duration_s if ctl.duration_s > 0 else None
        self.faults = [f for f in self.faults if not (f.airport == ctl.airport and f.fault == ctl.fault)]
        on = ctl.value != 0
        self._set(ctl.airport, ctl.fault, ctl.value, on)
        if on and ctl.fault not in ("battery_sag", "motor_failure"):
            self.faults.append(ActiveFault(ctl.airport, ctl.fault, ctl.value, clears))
        log.info("fault %s at %s: %s", ctl.fault, ctl.airport, "on" if on else "cleared")

    def _set(self, airport: str, fault: str, value: float, on: bool) -> None:
        v = self.vehicles[airport]
        now = self.clock.now()
        if fault in DOCK_FAULTS:
            v.dock.set_fault(DockFault(fault), on, now)
        elif fault == "link_loss":
            v.endpoint.faults.down = on
        elif fault == "packet_loss":
            v.endpoint.faults.loss = min(max(value, 0.0), 1.0) if on else 0.0
        elif fault == "gps_loss":
            v.copter.gps_ok = not on
        elif fault == "battery_sag" and on:
            v.copter.body.energy_wh = max(0.0, v.copter.body.energy_wh - value)
        elif fault == "motor_failure" and on:
            v.endpoint.send(v.copter.fail_motor())
            v.endpoint.flush()
        elif fault == "gust":
            w = v.wind.steady
            speed = math.hypot(*w) or 1.0
            v.wind.extra = (w[0] / speed * value, w[1] / speed * value) if on else (0.0, 0.0)

    def _expire_faults(self, t: float) -> None:
        while self._scenario_faults and self._scenario_faults[0][0] <= self.clock.now():
            _, airport, fault, value, duration = self._scenario_faults.pop(0)
            self.apply(SimControl(airport, fault, value, duration))
        for f in [f for f in self.faults if f.clears_at is not None and f.clears_at <= t]:
            self.faults.remove(f)
            self._set(f.airport, f.fault, f.value, False)
            log.info("fault %s at %s cleared", f.fault, f.airport)

    def dock_service(self, airport: str, service: str) -> tuple[bool, str]:
        if airport not in self.vehicles:
            return False, f"unknown airport '{airport}'"
        return self.vehicles[airport].dock.service(service, self.clock.now())
