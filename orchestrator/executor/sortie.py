"""Fly one sortie: preflight -> upload and verify -> open lid -> arm and take off -> AUTO
-> watch -> land -> close lid -> charge. Every step is recorded with its reason.

Preflight refuses to launch, with the reason, when the dock is not ready (drone not on
the pad, lid not closed, a dock fault), the battery is short of what the sortie needs
plus the reserve, or the dock's weather station reads wind or rain over the drone's
limits: a weather refusal is a hold (fly later), the others a failure. In the air the
runner watches position, battery and mission progress; when the battery left falls
short of what it takes to get home plus the reserve (drain measured in flight, on the
vehicle's own clock), it orders the drone home. A lost link is not an abort: the
drone's own failsafe brings it home, and the runner keeps watching until it has landed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from missions.autopilot import ARDUCOPTER_DEFAULTS, CopterLimits, SpeedCheck, speed_checks
from missions.formats.items import MissionItem
from missions.geo import haversine_m
from missions.vocabulary import DockOsd, LidState
from orchestrator.bus.docks import DockClient, DockServiceError
from orchestrator.executor.failsafe import ensure_failsafes
from orchestrator.links.ardupilot import AUTO, GUIDED, RTL, armed
from orchestrator.links.mavlink_link import CommandFailed, LinkError, MavlinkLink, stream_hz
from orchestrator.links.mission import MissionError, set_current, upload_verified

log = logging.getLogger("dronepatrol.executor")

ESTIMATE_TOLERANCE_PCT = 5.0
"""How far below home-plus-reserve the battery may read before turning back: the drain
measured in gusty flight is good to a few points, and the planner lands sorties at the
reserve itself, so without it every sortie would turn home over its last kilometre."""
T = TypeVar("T")
MIN_WAIT_WALL_S = 2.0
"""No wait times out in less wall time than this, however fast the simulator runs."""
WALL_CAP_S = 3600.0
"""Wall-time cap on waits that `_within` bounds by the service's clock."""


SPEED_TOLERANCE = 0.25
"""Leg speeds off the plan by more than this share are reported (acceleration and wind
account for less on a leg of several hundred metres)."""


class SortieState(StrEnum):
    PLANNED = "planned"
    PREFLIGHT = "preflight"
    AIRBORNE = "airborne"
    RETURNING = "returning"
    COMPLETED = "completed"
    HELD = "held"
    ABORTED = "aborted"
    FAILED = "failed"


@dataclass(frozen=True)
class SortieOrder:
    id: str
    airport: str
    items: list[MissionItem]
    """Item 0 is home; then NAV_TAKEOFF, the patrol, and an RTL."""
    takeoff_alt_m: float = 30.0
    needed_pct: float = 40.0
    """Battery the sortie needs, reserve excluded (from the planner's energy model)."""
    reserve_pct: float = 25.0
    max_wind_ms: float = 12.0
    max_rain_mm_h: float = 10.0
    cruise_ms: float = 10.0
    land_airport: str | None = None
    """Where it lands, when not back home (a relocation): that dock closes and charges."""
    flight_params: dict[str, float] = field(default_factory=dict)
    """Parameters this flight needs over the ground it crosses (RTL_ALT, FENCE_ALT_MAX:
    `missions.clearance.flight_limits`), set and verified with the failsafes."""

    @property
    def landing_at(self) -> str:
        return self.land_airport or self.airport


@dataclass(frozen=True)
class Step:
    at: datetime
    state: SortieState
    reason: str


@dataclass
class SortieRecord:
    order: SortieOrder
    steps: list[Step] = field(default_factory=list)
    link_lost: bool = False
    dock_problem: bool = False
    """Failed on the ground because of the dock: the patrol can be given to another airport."""

    @property
    def state(self) -> SortieState:
        return self.steps[-1].state if self.steps else SortieState.PLANNED

    def record(
        self, at: datetime, state: SortieState, reason: str, on_step: Callable[[SortieRecord, Step], None] | None
    ) -> None:
        """A new state, logged and handed to `on_step` (the scheduler's record of it)."""
        step = Step(at, state, reason)
        self.steps.append(step)
        log.info("sortie %s (%s): %s — %s", self.order.id, self.order.airport, state, reason)
        if on_step is not None:
            on_step(self, step)


@dataclass(frozen=True)
class CommandNote:
    """A command the runner gave, for the record: to the drone or to its dock."""

    sortie: str
    target: str
    command: str
    params: dict[str, Any]
    result: str
    """accepted or failed."""
    detail: str = ""


def _lid_closed(osd: DockOsd) -> bool:
    return osd.lid == LidState.CLOSED


class HoldSortie(Exception):
    pass


class FailSortie(Exception):
    pass


class DockProblem(FailSortie):
    """The launch dock cannot launch (fault, lid, no drone on the pad): another airport may."""


class SortieRunner:
    def __init__(
        self,
        link: MavlinkLink,
        docks: DockClient,
        clock: Callable[[], datetime],
        speedup: float = 1.0,
        on_step: Callable[[SortieRecord, Step], None] | None = None,
        failsafes: dict[str, float] | None = None,
        on_command: Callable[[CommandNote], None] | None = None,
        limits: CopterLimits = ARDUCOPTER_DEFAULTS,
    ) -> None:
        self.on_command = on_command
        self.limits = limits
        """The speeds the drone's autopilot allows (read from it): a leg without a speed
        of its own is planned at its WPNAV_SPEED."""
        self.failsafes = failsafes
        """Parameters set and verified before launch (orchestrator.executor.failsafe)."""
        self.link = link
        self.docks = docks
        self.clock = clock
        self.speedup = speedup
        self.on_step = on_step
        self._battery: list[tuple[float, float]] = []
        """(vehicle seconds, percent) in flight."""
        self._boot_s = 0.0
        self._reached = -1
        self._reached_at: dict[int, float] = {}
        """Item seq -> vehicle seconds when MISSION_ITEM_REACHED came."""
        self.speed_checks: list[SpeedCheck] = []
        self._complete = False
        self._home_ordered = False
        self._rec: SortieRecord | None = None

    async def _within(self, step: Awaitable[T], sim_s: float, what: str) -> T:
        """`step`, or TimeoutError naming `what` once `sim_s` seconds have passed on the
        service's clock and as many (divided by the speed-up) on the wall clock. The
        first is the simulator's clock when flying against it: a simulator that falls
        behind its speed-up does not time out what it had no time to do. The second: one
        that catches up in a burst has not yet sent what happened meanwhile."""
        task = asyncio.ensure_future(step)
        loop = asyncio.get_running_loop()
        deadline = self.clock() + timedelta(seconds=sim_s)
        wall_deadline = loop.time() + max(MIN_WAIT_WALL_S, sim_s / self.speedup)
        poll = min(0.25, max(0.01, sim_s / self.speedup / 20))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=poll)
                if done:
                    return task.result()
                if self.clock() >= deadline and loop.time() >= wall_deadline:
                    raise TimeoutError(f"{what}: not within {sim_s:g} s")
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _dock(self, airport: str, pred: Callable[[DockOsd], bool], sim_s: float, what: str) -> Awaitable[DockOsd]:
        return self._within(self.docks.wait_state(airport, pred, WALL_CAP_S), sim_s, what)

    def _record(self, rec: SortieRecord, state: SortieState, reason: str) -> None:
        rec.record(self.clock(), state, reason, self.on_step)

    async def fly(self, order: SortieOrder) -> SortieRecord:
        rec = self._rec = SortieRecord(order)
        self.link.on_message(self._telemetry)
        try:
            self._record(rec, SortieState.PREFLIGHT, "checks")
            await self._preflight(order)
            drone = self.link.name
            await self._do(
                order, drone, "upload_mission", {"items": len(order.items)}, upload_verified(self.link, order.items)
            )
            await self._do(order, order.airport, "open_lid", {}, self.docks.call(order.airport, "open_lid"))
            await self._dock(order.airport, lambda o: o.lid == LidState.OPEN, 60, f"dock {order.airport}: lid open")
            await self._do(order, drone, "set_mode", {"mode": "GUIDED"}, self.link.set_mode(GUIDED))
            await self._arm_and_take_off(order)
            await self._within(self._wait_alt(order.takeoff_alt_m * 0.8, WALL_CAP_S), 120, "climb after take-off")
            await self._do(order, drone, "set_mode", {"mode": "AUTO"}, self.link.set_mode(AUTO))
            self._record(rec, SortieState.AIRBORNE, f"flying {len(order.items) - 1} items")
            await self._finish(rec)
        except HoldSortie as exc:
            self._record(rec, SortieState.HELD, str(exc))
        except (DockServiceError, DockProblem) as exc:
            rec.dock_problem = rec.state is SortieState.PREFLIGHT
            await self._secure_dock(order)
            self._record(rec, SortieState.FAILED, str(exc))
        except (FailSortie, MissionError, CommandFailed, LinkError, TimeoutError) as exc:
            await self._secure_dock(order)
            self._record(rec, SortieState.FAILED, str(exc) or type(exc).__name__)
        finally:
            self.link.off_message(self._telemetry)
        return rec

    async def _do(self, order: SortieOrder, target: str, command: str, params: dict[str, Any], step: Awaitable[T]) -> T:
        try:
            result = await step
        except Exception as exc:
            self._note(CommandNote(order.id, target, command, params, "failed", str(exc) or type(exc).__name__))
            raise
        self._note(CommandNote(order.id, target, command, params, "accepted"))
        return result

    def _note(self, note: CommandNote) -> None:
        if self.on_command is not None:
            self.on_command(note)

    async def _secure_dock(self, order: SortieOrder) -> None:
        """After a launch that did not happen: the drone still on the pad, shut the lid
        (best effort: a jammed lid stays as it is, and says so in the dock's state)."""
        osd = self.docks.state.get(order.airport)
        if osd is None or not osd.drone_on_pad or osd.lid == LidState.CLOSED:
            return
        hb = self.link.latest.get("HEARTBEAT")
        if armed(hb):
            with contextlib.suppress(CommandFailed, LinkError, TimeoutError):
                await self.link.disarm()
        try:
            await self.docks.call(order.airport, "close_lid")
            await self._dock(order.airport, lambda o: o.lid == LidState.CLOSED, 60, f"dock {order.airport}: lid closed")
        except (DockServiceError, TimeoutError) as exc:
            log.warning("sortie %s: lid not closed after the failed launch: %s", order.id, exc)

    async def resume(self, order: SortieOrder, state: SortieState) -> SortieRecord:
        """Watch a sortie that was in the air when the service stopped, to its end.

        Nothing is flown again: the drone goes on with the mission it holds (or is already
        home), and this runner only watches, recovers the dock and closes the record."""
        rec = self._rec = SortieRecord(order)
        self.link.on_message(self._telemetry)
        try:
            await self._within(self.link.wait_heartbeat(WALL_CAP_S), 30, "heartbeat")
            for message, hz in (("GLOBAL_POSITION_INT", 4), ("SYS_STATUS", 1), ("MISSION_CURRENT", 1)):
                await self.link.request_stream(message, stream_hz(hz, self.speedup))
            await self._within(self.link.wait_for("GLOBAL_POSITION_INT", WALL_CAP_S), 10, "position")
            self._record(rec, state, "re-attached after a restart")
            hb = self.link.latest.get("HEARTBEAT")
            if hb is not None and hb.custom_mode == GUIDED and armed(hb) and order.items:
                await self._finish_launch(rec)  # a recovery (no mission) only watches it home
            await self._finish(rec)
        except (FailSortie, MissionError, CommandFailed, DockServiceError, LinkError, TimeoutError) as exc:
            self._record(rec, SortieState.FAILED, str(exc) or type(exc).__name__)
        finally:
            self.link.off_message(self._telemetry)
        return rec

    async def _arm_and_take_off(self, order: SortieOrder, attempts: int = 3) -> None:
        """Arm, then NAV_TAKEOFF at once. ArduCopter disarms a drone left armed on the
        ground for DISARM_DELAY; a busy ground station that is late with the take-off finds
        it refused (FAILED) on a disarmed drone. Then it arms again and retries; a refusal
        while still armed is a real one."""
        drone = self.link.name
        for attempt in range(1, attempts + 1):
            await self._do(order, drone, "arm", {}, self.link.arm())
            try:
                await self._do(
                    order, drone, "takeoff", {"alt_m": order.takeoff_alt_m}, self.link.takeoff(order.takeoff_alt_m)
                )
                return
            except CommandFailed:
                if attempt == attempts or await self._still_armed():
                    raise
                log.warning("sortie %s: disarmed before the take-off command (try %d); arming again", order.id, attempt)

    async def _still_armed(self) -> bool:
        """The armed flag from a heartbeat newer than now (the last one may predate a disarm)."""
        try:
            hb = await self.link.wait_for("HEARTBEAT", max(1.0, 2.0 / self.speedup))
        except TimeoutError:
            hb = self.link.latest.get("HEARTBEAT")
        return armed(hb)

    async def _finish_launch(self, rec: SortieRecord) -> None:
        """The service stopped while launching (armed in GUIDED, the mission uploaded and
        verified before arming): take off if still on the pad, then AUTO, as `fly` would have."""
        order, drone = rec.order, self.link.name
        pos = self.link.latest.get("GLOBAL_POSITION_INT")
        if pos is None or pos.relative_alt < order.takeoff_alt_m * 800:  # mm: below 80 % of take-off height
            if pos is None or pos.relative_alt < 1000:
                await self._do(
                    order, drone, "takeoff", {"alt_m": order.takeoff_alt_m}, self.link.takeoff(order.takeoff_alt_m)
                )
            await self._within(self._wait_alt(order.takeoff_alt_m * 0.8, WALL_CAP_S), 120, "climb after take-off")
        await self._do(order, drone, "set_mode", {"mode": "AUTO"}, self.link.set_mode(AUTO))
        log.info("sortie %s: launch finished after a restart", order.id)

    async def _finish(self, rec: SortieRecord) -> None:
        await self._watch(rec)
        order = rec.order  # as flown, after any diversion
        await self._recover(order)
        done = self._complete or self._reached >= len(order.items) - 2
        if rec.state is SortieState.RETURNING:
            self._record(rec, SortieState.ABORTED, rec.steps[-1].reason + "; landed")
        elif not done:
            why = "landed before the mission was flown" + (" (its failsafe: link lost)" if rec.link_lost else "")
            self._record(rec, SortieState.ABORTED, why)
        else:
            where = "" if order.landing_at == order.airport else f" at {order.landing_at}"
            self._record(rec, SortieState.COMPLETED, f"landed{where}, lid closed, charging{self._speed_note(order)}")

    def _speed_note(self, order: SortieOrder) -> str:
        """The legs flown slower or faster than planned by more than SPEED_TOLERANCE, said
        in the sortie's record (the plan's times and battery are off by as much)."""
        self.speed_checks = speed_checks(order.items, self._reached_at, self.limits)
        if not self.speed_checks:
            return ""
        worst = max(self.speed_checks, key=lambda c: abs(c.error))
        log.info(
            "sortie %s: %d legs, flown/planned speed %s",
            order.id,
            len(self.speed_checks),
            ", ".join(f"{c.flown_ms:.1f}/{c.planned_ms:.1f}" for c in self.speed_checks),
        )
        if abs(worst.error) <= SPEED_TOLERANCE:
            return ""
        return (
            f"; flew {worst.flown_ms:.1f} m/s where {worst.planned_ms:.1f} m/s was planned "
            f"(item {worst.seq}, {worst.error:+.0%})"
        )

    def order_home(self) -> None:
        """An operator's abort: the watcher turns the drone home at its next look."""
        self._home_ordered = True

    @property
    def divertible(self) -> bool:
        """In the air on its mission with the link up: it can take a new one."""
        rec = self._rec
        return rec is not None and rec.state is SortieState.AIRBORNE and self.link.link_ok and not self._home_ordered

    async def divert(
        self, items: list[MissionItem], first: int, needed_pct: float, why: str, limits: dict[str, float] | None = None
    ) -> SortieOrder:
        """Fly `items` from item `first` instead of the mission under way (an alert takes
        the drone): hold in GUIDED, set the new flight's RTL height and altitude fence
        (`limits`, its `flight_params`), upload and verify, set the current item, back to
        AUTO. The sortie stays airborne; its record says why it changed course."""
        rec = self._rec
        if rec is None or not self.divertible:
            raise FailSortie("the drone is not flying a mission it can leave")
        params = diverted_limits(rec.order.flight_params, limits or {})
        # The new mission ends with an RTL: back where it took off, even from a relocation.
        order = replace(rec.order, items=items, needed_pct=needed_pct, land_airport=None, flight_params=params)
        drone = self.link.name
        await self._do(order, drone, "set_mode", {"mode": "GUIDED"}, self.link.set_mode(GUIDED))
        try:
            if params != rec.order.flight_params:
                await self._do(order, drone, "set_params", dict(params), ensure_failsafes(self.link, params))
            await self._do(order, drone, "upload_mission", {"items": len(items)}, upload_verified(self.link, items))
            await self._do(order, drone, "set_current", {"seq": first}, set_current(self.link, first))
        finally:
            # Whatever the upload did, AUTO flies what the drone holds: never leave it hovering in GUIDED.
            await self._do(order, drone, "set_mode", {"mode": "AUTO"}, self.link.set_mode(AUTO))
        rec.order = order
        self._reached, self._complete = first - 1, False
        self._record(rec, SortieState.AIRBORNE, why)
        return order

    async def _preflight(self, order: SortieOrder) -> None:
        try:
            osd = await self._dock(order.airport, lambda o: True, 30, f"dock {order.airport}: state")
        except TimeoutError:
            raise FailSortie(f"dock {order.airport} silent") from None
        if osd.faults:
            raise DockProblem(f"dock fault: {', '.join(osd.faults)}")
        if not osd.drone_on_pad:
            raise DockProblem("drone not on the pad")
        if osd.lid != LidState.CLOSED:
            # Left open by an earlier failed launch: close it; a lid that will not close is the dock's fault.
            try:
                await self.docks.call(order.airport, "close_lid")
                await self._dock(
                    order.airport, lambda o: o.lid == LidState.CLOSED, 60, f"dock {order.airport}: lid closed"
                )
            except (DockServiceError, TimeoutError):
                raise DockProblem(f"lid {osd.lid} and will not close") from None
        wind = max(osd.weather.get("wind_ms", 0.0), osd.weather.get("gust_ms", 0.0) * 0.8)
        if wind > order.max_wind_ms:
            raise HoldSortie(f"wind {wind:.1f} m/s over the {order.max_wind_ms:g} m/s limit")
        rain = osd.weather.get("rain_mm_h", 0.0)
        if rain > order.max_rain_mm_h:
            raise HoldSortie(f"rain {rain:.1f} mm/h over the {order.max_rain_mm_h:g} mm/h limit")
        soc = osd.drone_soc * 100
        if soc < order.needed_pct + order.reserve_pct:
            raise HoldSortie(f"battery {soc:.0f} %, needs {order.needed_pct + order.reserve_pct:.0f} %")
        await self._within(self.link.wait_heartbeat(WALL_CAP_S), 10, "heartbeat")
        if self.failsafes or order.flight_params:
            await ensure_failsafes(self.link, {**(self.failsafes or {}), **order.flight_params})
        for message, hz in (("GLOBAL_POSITION_INT", 4), ("SYS_STATUS", 1), ("MISSION_CURRENT", 1)):
            await self.link.request_stream(message, stream_hz(hz, self.speedup))

    def _telemetry(self, msg: Any) -> None:
        kind = msg.get_type()
        if kind == "GLOBAL_POSITION_INT":
            self._boot_s = msg.time_boot_ms / 1000.0
        elif kind == "MISSION_ITEM_REACHED":
            self._reached = max(self._reached, int(msg.seq))
            self._reached_at.setdefault(int(msg.seq), self._boot_s)
        elif kind == "MISSION_CURRENT" and getattr(msg, "mission_state", 0) == 5:
            self._complete = True
        elif kind == "SYS_STATUS" and msg.battery_remaining >= 0 and self._boot_s:
            self._battery.append((self._boot_s, float(msg.battery_remaining)))
            del self._battery[:-600]  # ten minutes at 1 Hz: a climb is part of the rate, not all of it

    async def _wait_alt(self, alt_m: float, wait_s: float) -> None:
        await self.link.wait_for(
            lambda m: m.get_type() == "GLOBAL_POSITION_INT" and m.relative_alt / 1000 >= alt_m, wait_s
        )

    def _home_distance_m(self, order: SortieOrder) -> float:
        pos = self.link.latest.get("GLOBAL_POSITION_INT")
        if pos is None:
            return 0.0
        home = order.items[-1] if order.landing_at != order.airport else order.items[0]
        return haversine_m(pos.lon / 1e7, pos.lat / 1e7, home.y, home.x)

    def _short_of_home(self, order: SortieOrder) -> str | None:
        """The reason to turn back, when the battery left no longer covers home plus reserve."""
        if len(self._battery) < 3 or self._battery[-1][0] - self._battery[0][0] < 30:
            return None
        span = max(1, len(self._battery) // 4)  # whole percents: measure over spans, not single steps
        rates = [
            (pa - pb) / (tb - ta)
            for (ta, pa), (tb, pb) in zip(self._battery, self._battery[span:], strict=False)
            if tb > ta
        ]
        if not rates:
            return None
        # The median interval: a sudden sag is one step, not the rate the rest will drain at.
        drain = max(0.0, sorted(rates)[len(rates) // 2])  # percent per vehicle second
        p1 = self._battery[-1][1]
        seconds_home = self._home_distance_m(order) / order.cruise_ms + 30.0  # and the descent onto the pad
        need = drain * seconds_home + order.reserve_pct
        if p1 < need - ESTIMATE_TOLERANCE_PCT:
            return f"battery {p1:.0f} % short of home plus reserve ({need:.0f} %)"
        return None

    async def _watch(self, rec: SortieRecord) -> None:
        while True:
            order = rec.order  # a diversion replaces it
            hb = self.link.latest.get("HEARTBEAT")
            pos = self.link.latest.get("GLOBAL_POSITION_INT")
            is_armed = armed(hb)
            if hb is not None and not is_armed and pos is not None and pos.relative_alt < 1500:
                return  # landed and disarmed
            if not self.link.link_ok and not rec.link_lost:
                rec.link_lost = True
                self._record(rec, rec.state, "link lost: the drone is on its own failsafe")
            elif self.link.link_ok and rec.link_lost:
                rec.link_lost = False
                self._record(rec, rec.state, "link back")
            if rec.state is SortieState.AIRBORNE:
                if hb is not None and hb.custom_mode == RTL:
                    lost = any("link lost" in s.reason for s in rec.steps)
                    why = "returning to launch" + (" on its failsafe after the link was lost" if lost else "")
                    self._record(rec, SortieState.RETURNING, why)
                else:
                    short = "ordered home by an operator" if self._home_ordered else self._short_of_home(order)
                    if short is not None and self.link.link_ok:
                        self._record(rec, SortieState.RETURNING, short)
                        try:
                            await self._do(order, self.link.name, "set_mode", {"mode": "RTL"}, self.link.set_mode(RTL))
                        except CommandFailed as exc:
                            log.warning("sortie %s: RTL refused: %s", order.id, exc)
            await asyncio.sleep(0.05)

    async def _recover(self, order: SortieOrder) -> None:
        dock = order.landing_at
        await self._dock(dock, lambda o: o.drone_on_pad, 120, f"dock {dock}: drone on the pad")
        await self._do(order, dock, "close_lid", {}, self.docks.call(dock, "close_lid"))
        await self._dock(dock, lambda o: o.lid == LidState.CLOSED, 60, f"dock {dock}: lid closed")
        try:
            await self._do(order, dock, "start_charge", {}, self.docks.call(dock, "start_charge"))
        except DockServiceError as exc:
            log.info("sortie %s: %s", order.id, exc)  # already charging is fine


def diverted_limits(flying: dict[str, float], new: dict[str, float]) -> dict[str, float]:
    """The RTL height and altitude fence for a drone taking a new flight in the air: the
    higher of the two flights' values. Both are measured from home; the new flight's own
    values cover its path, the old ones the ground it is over now (a fence lowered below
    the drone's height would breach at once and turn it home, an RTL lowered could fly it
    into the hill it patrolled)."""
    out = dict(flying)
    for name, value in new.items():
        out[name] = max(value, out.get(name, value))
    return out
