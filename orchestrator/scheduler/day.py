"""The day's plan, flown: each planned sortie launched at its time by the drone standing
at its airport, one sortie per drone at a time.

Events re-plan it:
- a weather or battery hold is recorded as `held` with its reason and re-checked every
  `hold_recheck_s` (simulated) until the launch window closes;
- a dock that cannot launch (lid jammed, dock fault, no drone on the pad) puts that
  airport out of service and gives the patrol to the best other airport
  (`missions.planner.reassign`); the original is `held` with the reason and the new
  sortie's id;
- an operator's "start now" launches a planned or held sortie at once; "pause" keeps a
  patrol's sorties on the ground until resumed; "abort" turns a flying sortie home.
The store is written before anything is announced; ids are stable, so a restarted
service neither plans nor flies a sortie twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from missions.autopilot import ARDUCOPTER_DEFAULTS
from missions.formats.items import MissionItem
from missions.patrols import Patrol
from missions.planner import DayPlan, ScheduledSortie, Unscheduled, check_sortie, plan_day, reassign
from missions.scenario import Scenario
from orchestrator.bus.docks import DockClient
from orchestrator.executor.dji_sortie import DjiSortieRunner
from orchestrator.executor.orders import order_for, order_from_json, order_to_json, sortie_id
from orchestrator.executor.sortie import CommandNote, SortieOrder, SortieRecord, SortieRunner, SortieState, Step
from orchestrator.fleet.machine import FLYING, BeginSortie, Launched, Release, SetHold, SortieEnded
from orchestrator.fleet.tracker import FleetTracker
from orchestrator.links.ardupilot import RTL as RTL_MODE
from orchestrator.links.ardupilot import armed
from orchestrator.links.mavlink_link import CommandFailed, LinkError
from orchestrator.store import CommandRecord, SortieRow, Store

log = logging.getLogger("dronepatrol.scheduler")

WAITING = ("planned", "held")
FLYING_STATES = ("preflight", "airborne", "returning")


@dataclass(frozen=True)
class SchedulerConfig:
    speedup: float = 1.0
    tick_s: float = 0.25
    """Wall seconds between looks at the plan."""
    hold_recheck_s: float = 600.0
    """Simulated seconds between re-checks of a held sortie."""
    launch_window_s: float = 3600.0
    """How late after its slot a sortie may still launch."""
    failsafes: dict[str, float] | None = None
    """Failsafe parameters each drone must hold before launch (none: not checked)."""


@dataclass
class _Running:
    sortie_id: str
    airport: str
    drone: str
    runner: SortieRunner | DjiSortieRunner
    task: asyncio.Task[SortieRecord]


@dataclass
class SchedulerStatus:
    out_of_service: dict[str, str] = field(default_factory=dict)
    """Airport -> why it launches nothing until an operator clears it."""
    retry_at: dict[str, datetime] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)


class DayScheduler:
    def __init__(
        self,
        scenario: Scenario,
        store: Store,
        fleet: FleetTracker,
        docks: DockClient,
        clock: Callable[[], datetime],
        config: SchedulerConfig,
        announce: Callable[[SortieRow], None] | None = None,
    ) -> None:
        self.scenario = scenario
        self.store = store
        self.fleet = fleet
        self.docks = docks
        self.clock = clock
        self.config = config
        self.announce = announce
        self.status = SchedulerStatus()
        self.running: dict[str, _Running] = {}
        self.plan: DayPlan | None = None
        self.unscheduled: tuple[Unscheduled, ...] = ()
        self._start_now: set[str] = set()
        self.scheduled: dict[str, ScheduledSortie] = {}
        """Sortie id -> its place in the plan (for the airspace check at launch)."""

    # ---- the plan ---------------------------------------------------------------------
    def load_day(self, start: datetime, hours: float = 24.0) -> int:
        """Plan the day and record its sorties (known ids are kept as they are)."""
        return self.record_day(plan_day(self.scenario, start, hours))

    async def load_day_async(self, start: datetime, hours: float = 24.0) -> int:
        """The same, planning in a worker thread: a day takes the planner a second or
        two, which the event loop (links, bus, API) must not wait out."""
        plan = await asyncio.to_thread(plan_day, self.scenario, start, hours)
        return self.record_day(plan)

    def record_day(self, plan: DayPlan) -> int:
        start = plan.start
        self.plan = plan
        self.unscheduled = self.plan.unscheduled
        added = sum(self._record_planned(s) for s in self.plan.sorties)
        log.info(
            "day from %s: %d sorties planned (%d new), %d occurrences not scheduled",
            start.strftime("%Y-%m-%d %H:%M"),
            len(self.plan.sorties),
            added,
            len(self.plan.unscheduled),
        )
        return added

    def _record_planned(self, s: ScheduledSortie, suffix: str = "", reason: str = "on the day's plan") -> bool:
        sid = sortie_id(s, suffix)
        self.scheduled[sid] = s
        order = order_for(self.scenario, s, sid)
        row = SortieRow(
            id=sid,
            airport=s.airport_id,
            land_airport=s.sortie.land_airport_id,
            state="planned",
            reason=reason,
            order=order_to_json(order),
            updated_at=self.clock(),
            patrol=s.patrol_id,
            occurrence=s.occurrence,
            planned_launch=s.launch_at,
            planned_land=s.landed_at,
        )
        added = self.store.add_sortie(row)
        if added and self.announce is not None:
            self.announce(row)
        return added

    # ---- operator commands ------------------------------------------------------------
    def start_now(self, sid: str) -> SortieRow:
        row = self.store.sortie(sid)
        if row is None:
            raise KeyError(sid)
        if row.state not in WAITING:
            raise ValueError(f"sortie {sid} is {row.state}: only a planned or held sortie can be started")
        self._start_now.add(sid)
        self.status.retry_at.pop(sid, None)
        self.status.expired.discard(sid)
        return row

    def abort(self, sid: str) -> str:
        running = self.running.get(sid)
        if running is None:
            row = self.store.sortie(sid)
            if row is None:
                raise KeyError(sid)
            raise ValueError(f"sortie {sid} is {row.state}: only a flying sortie can be aborted")
        running.runner.order_home()
        return f"{running.drone} ordered home"

    async def add_patrol(self, patrol: Patrol, version: str = "") -> list[str]:
        """A patrol created or edited through the API: planned from now to the end of the
        day (its earlier plan, if any, is withdrawn), the planning in a worker thread so
        the event loop keeps flying. Returns the new sorties' ids."""
        now = self.clock()
        self.scenario.patrols[patrol.id] = patrol
        for row in self.store.sorties(state=["planned"], patrol=patrol.id):
            self.status.expired.add(row.id)
            self._set_state(row.id, "held", "withdrawn: the patrol was edited and planned again", now)
        if self.plan is None:
            return []
        hours = max(0.0, (self.plan.end - now).total_seconds() / 3600)
        if hours <= 0:
            return []
        only = dataclasses.replace(self.scenario, patrols={patrol.id: patrol})
        plan = await asyncio.to_thread(plan_day, only, now, hours)
        suffix = f".v{version}" if version else ""
        ids = []
        for s in plan.sorties:
            if self._record_planned(s, suffix, reason="planned for a patrol set through the API"):
                ids.append(sortie_id(s, suffix))
        self.unscheduled = tuple(u for u in self.unscheduled if u.patrol_id != patrol.id) + plan.unscheduled
        return ids

    def add_alert_sortie(self, row: SortieRow) -> bool:
        """Record an alert's sortie and launch it at once when its airport's drone stands
        ready and charged for it; otherwise it is due now and the next look launches it as
        soon as it can (a drone charging to what the trip needs). True: launched now."""
        self.store.add_sortie(row)
        if self.announce is not None:
            self.announce(row)
        busy = {r.airport for r in self.running.values()} | {r.drone for r in self.running.values()}
        drone = self.fleet.drone_at(row.airport)
        if row.airport in busy or drone is None or drone in busy or not self._charged_for(drone, row):
            return False
        self._launch(row, drone)
        return True

    def claim(self, sid: str, alert_id: str) -> str | None:
        """Mark a flying sortie as answering `alert_id` before its new mission is sent:
        from now on dispatch sees its drone taken, so the upload (`divert`) can run without
        holding the alert desk. Returns the alert it answered before, for `divert` to put
        back if the drone refuses. ValueError if the sortie is not flying."""
        if sid not in self.running:
            raise ValueError(f"sortie {sid} is not flying")
        row = self.store.sortie(sid)
        previous = row.alert_id if row else None
        self.store.update_sortie(sid, alert_id=alert_id)  # announced with the diversion
        return previous

    async def divert(
        self,
        sid: str,
        items: list[MissionItem],
        first: int,
        needed_pct: float,
        why: str,
        previous: str | None,
        limits: dict[str, float] | None = None,
    ) -> SortieRow:
        """Give a claimed sortie's drone its new mission (an alert's), and record it on the
        sortie: its order (what a restart watches, with the RTL height and fence `limits`
        set for the new flight) and why. If the drone refuses or has
        landed meanwhile, the claim is undone (`previous` is the alert it answered before)."""
        running = self.running.get(sid)
        try:
            if running is None:
                raise ValueError(f"sortie {sid} is no longer flying")
            if not isinstance(running.runner, SortieRunner):
                raise ValueError(f"sortie {sid} flies from a DJI dock: its aircraft is not diverted yet")
            order = await running.runner.divert(items, first, needed_pct, why, limits)
        except Exception:
            self.store.update_sortie(sid, alert_id=previous)
            raise
        return self.store.update_sortie(sid, order=order_to_json(order))

    def clear_airport(self, airport: str) -> bool:
        return self.status.out_of_service.pop(airport, None) is not None

    # ---- the loop -----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        await self.reattach()
        while not stop.is_set():
            self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.tick_s)
        for r in list(self.running.values()):
            r.task.cancel()
        for r in list(self.running.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await r.task

    def tick(self) -> None:
        now = self.clock()
        paused = {pid for pid, (p, _) in self.store.patrol_settings().items() if p}
        busy_drones = {r.drone for r in self.running.values()}
        busy_airports = {r.airport for r in self.running.values()}
        due = self.store.sorties(state=list(WAITING), until=now + timedelta(seconds=1))
        due_ids = {r.id for r in due}
        forced_rows = [r for sid in sorted(self._start_now - due_ids) if (r := self.store.sortie(sid)) is not None]
        for row in forced_rows + due:
            if row.state not in WAITING:
                self._start_now.discard(row.id)
                continue
            forced = row.id in self._start_now
            if row.id in self.running or (row.id in self.status.expired and not forced):
                continue
            retry = self.status.retry_at.get(row.id)
            if retry is not None and now < retry:
                continue
            if not forced:
                if row.patrol in paused:
                    continue
                if row.planned_launch and now > row.planned_launch + timedelta(seconds=self.config.launch_window_s):
                    self._expire(row, now)
                    continue
            if row.airport in self.status.out_of_service and not forced:
                self._give_away(row, self.status.out_of_service[row.airport])
                continue
            if row.airport in busy_airports:
                continue
            drone = self.fleet.drone_at(row.airport)
            if drone is None or drone in busy_drones or not (forced or self._charged_for(drone, row)):
                continue
            closed = self._airspace_closed(row, now)
            if closed is not None:
                self.status.retry_at[row.id] = now + timedelta(seconds=self.config.hold_recheck_s)
                if row.reason != closed:
                    self._set_state(row.id, "held", closed, now)
                continue
            self._launch(row, drone)
            busy_drones.add(drone)
            busy_airports.add(row.airport)

    def _airspace_closed(self, row: SortieRow, now: datetime) -> str | None:
        """The approval must cover the flight as it will be flown now, not as planned."""
        planned = self.scheduled.get(row.id)
        if planned is None:
            return None
        shift = now - planned.launch_at
        flown = dataclasses.replace(planned, launch_at=now, landed_at=planned.landed_at + shift)
        violations = check_sortie(self.scenario, flown)
        if not violations:
            return None
        return f"airspace: {violations[0].reason}"

    def _charged_for(self, drone: str, row: SortieRow) -> bool:
        """Still charging after a late landing: wait for it rather than hold the sortie."""
        pct = self.fleet.snapshot(drone).battery_pct
        order = row.order
        return pct is None or pct >= float(order["needed_pct"]) + float(order["reserve_pct"])

    def _expire(self, row: SortieRow, now: datetime) -> None:
        self.status.expired.add(row.id)
        why = f"not launched by {now:%H:%M}: its window closed"
        if row.state == "held":
            why = f"{row.reason}; {why}"
        self._set_state(row.id, "held", why, now)

    def _give_away(self, row: SortieRow, problem: str) -> None:
        now = self.clock()
        exclude = set(self.status.out_of_service)
        replacement = reassign(self.scenario, row.patrol or "", now, exclude, row.occurrence) if row.patrol else []
        self.status.expired.add(row.id)
        if not replacement:
            self._set_state(
                row.id, "held", f"airport {row.airport} out of service ({problem}); no other airport can fly it", now
            )
            return
        ids = []
        for i, s in enumerate(replacement):
            suffix = f".r-{s.airport_id}" + (f"-{i}" if i else "")
            self._record_planned(s, suffix, reason=f"reassigned from {row.airport} ({problem})")
            ids.append(sortie_id(s, suffix))
        self._set_state(
            row.id, "held", f"airport {row.airport} out of service ({problem}); reassigned as {', '.join(ids)}", now
        )

    def _launch(self, row: SortieRow, drone: str) -> None:
        order = order_from_json(row.order)
        runner = self._runner(drone)
        task = asyncio.create_task(self._fly(row, drone, order, runner), name=f"sortie {row.id}")
        self.running[row.id] = _Running(row.id, row.airport, drone, runner, task)

    def _runner(self, drone: str) -> SortieRunner | DjiSortieRunner:
        def on_step(rec: SortieRecord, step: Step) -> None:
            self._on_step(rec, step, drone)

        if self.fleet.is_dji(drone) and self.fleet.dji is not None:
            airport = self.fleet.location[drone]
            return DjiSortieRunner(
                self.fleet.dji,
                airport,
                self.fleet.dji_models[drone],
                self.scenario.airports[airport].elevation_m,
                self.clock,
                self.config.speedup,
                on_step=on_step,
            )
        return SortieRunner(
            self.fleet.links[drone],
            self.docks,
            self.clock,
            self.config.speedup,
            on_step=on_step,
            failsafes=self.config.failsafes,
            on_command=self._command,
            limits=self.fleet.limits.get(drone, ARDUCOPTER_DEFAULTS) if self.fleet is not None else ARDUCOPTER_DEFAULTS,
        )

    def _command(self, note: CommandNote) -> None:
        self.store.add_command(
            CommandRecord(self.clock(), note.target, note.command, note.params, note.result, note.detail, note.sortie)
        )

    async def _fly(
        self, row: SortieRow, drone: str, order: SortieOrder, runner: SortieRunner | DjiSortieRunner
    ) -> SortieRecord:
        if row.state == "held":
            self.fleet.handle(drone, Release())
        self.fleet.handle(drone, BeginSortie(row.id))
        try:
            rec = await runner.fly(order)
        finally:
            self.running.pop(row.id, None)
        self._after(rec, drone)
        return rec

    async def _resume(self, row: SortieRow, drone: str, runner: SortieRunner | DjiSortieRunner) -> SortieRecord:
        self.fleet.handle(drone, BeginSortie(row.id))
        self.fleet.handle(drone, Launched())
        try:
            rec = await runner.resume(order_from_json(row.order), SortieState(row.state))
        finally:
            self.running.pop(row.id, None)
        self._after(rec, drone)
        return rec

    def _after(self, rec: SortieRecord, drone: str) -> None:
        order, now = rec.order, self.clock()
        if rec.state is not SortieState.HELD:
            self._start_now.discard(order.id)  # an operator's "start now" holds until it has flown
        self.fleet.handle(drone, SortieEnded(rec.state.value))
        if rec.state in (SortieState.COMPLETED, SortieState.ABORTED) and order.landing_at != self.fleet.location[drone]:
            self.fleet.move(drone, order.landing_at)
            self.store.set_drone_airport(drone, order.landing_at, now)
        if rec.state is SortieState.HELD:
            self.status.retry_at[order.id] = now + timedelta(seconds=self.config.hold_recheck_s)
            self.fleet.handle(drone, SetHold(rec.steps[-1].reason))
        elif rec.dock_problem:
            problem = rec.steps[-1].reason
            self.status.out_of_service[order.airport] = problem
            log.warning("airport %s out of service: %s", order.airport, problem)
            row = self.store.sortie(order.id)
            if row is not None:
                self._give_away(row, problem)

    def _on_step(self, rec: SortieRecord, step: Step, drone: str) -> None:
        if step.state is SortieState.AIRBORNE and (not rec.steps[:-1] or rec.steps[-2].state is SortieState.PREFLIGHT):
            self.fleet.handle(drone, Launched())
        self._set_state(rec.order.id, step.state.value, step.reason, step.at, drone=drone)

    def _set_state(self, sid: str, state: str, reason: str, at: datetime, **columns: object) -> SortieRow:
        row = self.store.set_sortie_state(sid, state, reason, at, **columns)
        if self.announce is not None:
            self.announce(row)
        return row

    # ---- restart ----------------------------------------------------------------------------
    async def _armed(self, drone: str, wait_s: float = 10.0) -> bool:
        """Whether the drone's autopilot says it is armed (waiting a while for its heartbeat);
        a DJI dock's aircraft, whether its dock last said it was out and flying."""
        if self.fleet.is_dji(drone):
            return self.fleet.snapshot(drone).phase in FLYING
        link = self.fleet.links[drone]
        try:
            await link.wait_heartbeat(wait_s)
        except LinkError:
            return False
        hb = link.latest.get("HEARTBEAT")
        return armed(hb)

    async def reattach(self) -> None:
        """Pick up what was under way when the service stopped: a sortie in the air is
        watched to its end; one still in preflight is planned again unless its drone is
        armed (the service stopped between the arming and the record of the take-off: the
        drone is flying its mission, and is watched like any other in the air)."""
        for row in self.store.unfinished_sorties():
            drone = row.drone or self.fleet.drone_at(row.airport)
            state = row.state
            if state == "preflight" and drone is not None and await self._armed(drone):
                state = "airborne"
                log.warning("sortie %s: its drone %s is armed though the record says preflight", row.id, drone)
            elif state == "preflight" or drone is None:
                self._set_state(row.id, "planned", "the service restarted before it launched", self.clock())
                continue
            assert drone is not None
            if state != row.state:
                row = self._set_state(
                    row.id, state, "armed when the service restarted: its launch had begun", self.clock()
                )
            runner = self._runner(drone)
            task = asyncio.create_task(self._resume(row, drone, runner), name=f"sortie {row.id} (re-attached)")
            self.running[row.id] = _Running(row.id, row.airport, drone, runner, task)
            log.info("re-attached to sortie %s (%s, drone %s)", row.id, row.state, drone)
        await self._adopt_orphans()

    async def _adopt_orphans(self) -> None:
        """A drone that is armed though no flight of it is on record (a record lost, or
        closed too early, or a drone armed by hand) is never left unwatched: it is ordered
        home (RTL) and watched down onto its dock under a recovery sortie of its own."""
        watched = {r.drone for r in self.running.values()}
        others = [d for d in self.fleet.links if d not in watched]
        # Asked all at once: a drone that is not heard within 2 s is not armed as far as we know.
        states = await asyncio.gather(*(self._armed(d, wait_s=2.0) for d in others))
        for drone, is_armed in zip(others, states, strict=True):
            if not is_armed:
                continue
            link = self.fleet.links[drone]
            home = self.fleet.location[drone]
            now = self.clock()
            sid = f"recovery.{drone}.{now.astimezone(self.scenario.tz):%Y%m%dT%H%M%S}"
            order = SortieOrder(sid, home, [])
            reason = "armed with no flight on record when the service restarted: ordered home and watched"
            log.warning("drone %s: %s", drone, reason)
            row = SortieRow(
                sid, home, home, "returning", reason, order_to_json(order), now, drone=drone, started_at=now
            )
            self.store.add_sortie(row)
            if self.announce is not None:
                self.announce(row)
            try:
                await link.set_mode(RTL_MODE)
                await link.wait_for(lambda m: m.get_type() == "HEARTBEAT" and m.custom_mode == RTL_MODE, 5.0)
            except (CommandFailed, TimeoutError) as exc:
                log.error("drone %s: RTL not taken (%s): watched where it is", drone, exc or "no RTL heartbeat")
            runner = self._runner(drone)
            task = asyncio.create_task(self._resume(row, drone, runner), name=f"sortie {sid} (recovery)")
            self.running[sid] = _Running(sid, home, drone, runner, task)
