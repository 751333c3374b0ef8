"""The fleet's async shell: every drone's state machine fed from its MAVLink link and the
dock it stands on, with transitions written to the store and announced.

Drones are named by the airport they belong to, and may stand at another: a dock-to-dock
exchange leaves a drone at its partner's airport until it flies back. `drone_at()` is the
scheduler's question: which drone is on this airport's pad now.

A DJI dock's aircraft has no MAVLink link: its machine is fed from what the dock reports
over the Cloud API (`orchestrator.bus.dji_docks`), and "return home" goes to the dock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from missions.autopilot import ARDUCOPTER_DEFAULTS, CopterLimits
from missions.autopilot import PARAMS as AUTOPILOT_PARAMS
from missions.vocabulary import DockOsd
from orchestrator.bus.dji_docks import DjiDocks, DockRefused
from orchestrator.bus.docks import DockClient, DockServiceError
from orchestrator.fleet.machine import (
    FLYING,
    Command,
    DockReport,
    DroneMachine,
    DroneSnapshot,
    Event,
    LinkChanged,
    Phase,
    Telemetry,
    Transition,
)
from orchestrator.links.ardupilot import RTL, armed
from orchestrator.links.mavlink_link import CommandFailed, LinkError, MavlinkLink, stream_hz

log = logging.getLogger("dronepatrol.fleet")

DJI_MODES = {4: 4, 5: 3, 9: 6, 10: 9, 11: 9, 12: 9, 17: 4, 20: 3, 21: 3}
"""A DJI aircraft's `mode_code` as the ArduCopter mode the machine reads: take-off and
command flight GUIDED (4), wayline AUTO (3), return home RTL (6), landing LAND (9)."""


class FleetTracker:
    def __init__(
        self,
        links: dict[str, MavlinkLink],
        locations: dict[str, str],
        docks: DockClient,
        clock: Callable[[], datetime],
        on_transition: Callable[[str, Transition], None] | None = None,
        speedup: float = 1.0,
        dji: DjiDocks | None = None,
        dji_models: dict[str, str] | None = None,
    ) -> None:
        self.links = links
        self.dji = dji
        self.dji_models = dict(dji_models or {})
        """Airport -> the DJI aircraft model of its dock; its drone is named after the airport."""
        self.speedup = speedup
        """Of the drones' clock over the wall's (a simulator's speed-up; 1 for real drones)."""
        self.location = dict(locations)
        """Drone id -> the airport whose pad it stands on (or left from)."""
        self.docks = docks
        self.clock = clock
        self.on_transition = on_transition
        self.machines = {d: DroneMachine(d, clock()) for d in [*links, *self.dji_models]}
        self._last: dict[str, dict[str, Any]] = {d: {} for d in links}
        for airport in self.dji_models:
            self.location.setdefault(airport, airport)
        self.limits: dict[str, CopterLimits] = {}
        """Per drone, the speeds its autopilot's parameters allow (read at connection)."""
        self._tasks: list[asyncio.Task[None]] = []

    # ---- queries ------------------------------------------------------------------------
    def snapshot(self, drone: str) -> DroneSnapshot:
        return self.machines[drone].snapshot()

    def snapshots(self) -> dict[str, DroneSnapshot]:
        return {d: m.snapshot() for d, m in self.machines.items()}

    def drone_at(self, airport: str) -> str | None:
        """The drone standing at `airport` (its own, or one that relocated there)."""
        for drone, at in self.location.items():
            if at == airport and self.machines[drone].phase not in FLYING:
                return drone
        return None

    def move(self, drone: str, airport: str) -> None:
        self.location[drone] = airport
        osd = self.docks.state.get(airport)
        if osd is not None:
            self._dock(osd)

    # ---- feeding the machines -------------------------------------------------------------
    def handle(self, drone: str, event: Event) -> None:
        commands, transitions = self.machines[drone].handle(event, self.clock())
        for t in transitions:
            # Charging and ready come and go all day: an operator reads the rest.
            routine = {t.old, t.new} <= {Phase.DOCKED, Phase.CHARGING, Phase.READY}
            log.log(
                logging.DEBUG if routine else logging.INFO, "drone %s: %s -> %s (%s)", drone, t.old, t.new, t.reason
            )
            if self.on_transition is not None:
                self.on_transition(drone, t)
        for c in commands:
            self._tasks.append(asyncio.create_task(self._carry_out(drone, c)))

    async def start(self) -> None:
        # Stamped again now: a clock that follows the docks knows the time only once they
        # have spoken, which is after this tracker was built.
        now = self.clock()
        for machine in self.machines.values():
            machine.since = now
        for drone, link in self.links.items():
            link.on_message(functools.partial(self._mavlink, drone))
        self.docks.on_state(self._dock)
        for osd in list(self.docks.state.values()):
            self._dock(osd)
        if self.dji is not None:
            self.dji.on_change.append(self._dji)
            for airport in self.dji_models:
                self._dji(airport)
        self._tasks.append(asyncio.create_task(self._watch_links()))
        for drone, link in self.links.items():
            self._tasks.append(asyncio.create_task(self._ask_streams(drone, link)))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _ask_streams(self, drone: str, link: MavlinkLink) -> None:
        """A real ArduCopter sends almost nothing until asked."""
        while True:
            try:
                await link.wait_heartbeat(30)
                for message, hz in (("GLOBAL_POSITION_INT", 1), ("SYS_STATUS", 0.5)):
                    await link.request_stream(message, stream_hz(hz, self.speedup))
                await self._read_limits(drone, link)
                return
            except (TimeoutError, CommandFailed, LinkError) as exc:
                log.warning("drone %s: streams not set up yet (%s); retrying", drone, exc)
                await asyncio.sleep(5)

    async def _read_limits(self, drone: str, link: MavlinkLink) -> None:
        """The speeds the autopilot will fly (`missions.autopilot`), read once it is heard:
        plans use them instead of assuming the drone model's."""
        values: dict[str, float] = {}
        for name in AUTOPILOT_PARAMS:
            try:
                values[name] = await link.read_param(name)
            except LinkError as exc:
                log.info("drone %s: %s; planning with ArduCopter's default", drone, exc)
        self.limits[drone] = CopterLimits.from_params(values)
        lim = self.limits[drone]
        log.info(
            "drone %s: flies legs at %.1f m/s unless told, orbits of 40 m at %.1f m/s (WPNAV_ACCEL %.0f cm/s/s)",
            drone,
            lim.wpnav_speed_ms,
            lim.orbit_speed_ms(40.0),
            lim.wpnav_accel_mss * 100,
        )

    def limits_at(self, airport: str) -> CopterLimits:
        """The limits of the drone standing at (or flying from) `airport`."""
        drone = self.drone_at(airport) or next((d for d, a in self.location.items() if a == airport), airport)
        return self.limits.get(drone, ARDUCOPTER_DEFAULTS)

    async def _watch_links(self) -> None:
        while True:
            for drone, link in self.links.items():
                if link.link_ok != self.machines[drone].link_ok:
                    self.handle(drone, LinkChanged(link.link_ok))
            await asyncio.sleep(0.2)

    def _mavlink(self, drone: str, msg: Any) -> None:
        kind = msg.get_type()
        if kind not in ("HEARTBEAT", "GLOBAL_POSITION_INT", "SYS_STATUS"):
            return
        last = self._last[drone]
        last[kind] = msg
        hb, pos, sys = last.get("HEARTBEAT"), last.get("GLOBAL_POSITION_INT"), last.get("SYS_STATUS")
        if hb is None:
            return
        if not self.machines[drone].link_ok:
            self.handle(drone, LinkChanged(True))
        self.handle(
            drone,
            Telemetry(
                armed=armed(hb),
                mode=int(hb.custom_mode),
                alt_m=pos.relative_alt / 1000.0 if pos is not None else 0.0,
                battery_pct=float(sys.battery_remaining) if sys is not None and sys.battery_remaining >= 0 else None,
                lat=pos.lat / 1e7 if pos is not None else None,
                lon=pos.lon / 1e7 if pos is not None else None,
            ),
        )

    def _dock(self, osd: DockOsd) -> None:
        report = DockReport(
            lid_open=osd.lid in ("open", "opening"),
            drone_present=osd.drone_on_pad,
            charging=osd.charging,
            fault=", ".join(osd.faults) or (None if osd.powered else "no power"),
        )
        for drone, at in self.location.items():
            if at == osd.airport:
                self.handle(drone, report)

    def is_dji(self, drone: str) -> bool:
        return drone in self.dji_models and drone not in self.links

    def _dji(self, airport: str) -> None:
        """What a DJI dock reported, into its aircraft's machine."""
        assert self.dji is not None
        view = self.dji.views.get(airport)
        if view is None or airport not in self.machines:
            return
        drone = airport
        machine = self.machines[drone]
        if view.online != machine.link_ok:
            self.handle(drone, LinkChanged(view.online))
        if view.dock is not None and self.location.get(drone) == airport:
            d = view.dock
            fault = ", ".join(view.faults) or (None if d.lid != "fault" else "the dock's lid reports a fault")
            self.handle(drone, DockReport(lid_open=d.lid in ("open", "half_open"), drone_present=d.drone_in_dock,
                                          charging=d.charging, fault=fault))  # fmt: skip
        a = view.aircraft
        if a:
            mode = DJI_MODES.get(a.get("mode_code", 0), 0)
            battery = a.get("battery", {}).get("capacity_percent") if isinstance(a.get("battery"), dict) else None
            if battery is None and view.dock is not None:
                battery = view.dock.battery_pct
            self.handle(drone, Telemetry(
                armed=a.get("mode_code", 0) not in (0, 1, 2, 14),
                mode=mode,
                alt_m=float(a.get("elevation", 0.0) or 0.0),
                battery_pct=float(battery) if isinstance(battery, int | float) else None,
                lat=a.get("latitude") if isinstance(a.get("latitude"), float) else None,
                lon=a.get("longitude") if isinstance(a.get("longitude"), float) else None,
            ))  # fmt: skip

    async def _carry_out(self, drone: str, command: Command) -> None:
        try:
            if command.kind == "return_home" and self.is_dji(drone):
                assert self.dji is not None
                await self.dji.return_home(self.location[drone])
            elif command.kind == "close_lid" and self.is_dji(drone):
                return  # a DJI dock closes its own lid
            elif command.kind == "return_home":
                await self.links[drone].set_mode(RTL)
            elif command.kind == "close_lid":
                await self.docks.call(self.location[drone], "close_lid")
        except (CommandFailed, DockServiceError, DockRefused, LinkError, TimeoutError) as exc:
            log.warning("drone %s: %s not carried out: %s", drone, command.kind, exc)
