"""One sortie from a DJI dock, from preflight to landing: what `SortieRunner` does for a
MAVLink drone, through the Cloud API (`orchestrator.bus.dji_docks`).

The dock flies the whole sortie itself once it has the wayline, so the runner's work is
to check before (the dock online, its aircraft inside, its wind, rain and the battery
against the sortie's limits: a hold, as for a MAVLink airport), turn the sortie's items
into a KMZ (`missions.formats.wpml`), start it, and follow the dock's progress into the
sortie's states. A dock's refusal for the weather or the battery is a hold; any other
refusal fails the sortie with the dock's reason, and a dock that says nothing for
`silence_s` (simulated) fails it too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from missions import dji_cloud as dji
from missions.formats import wpml
from orchestrator.bus.dji_docks import DjiDocks, DockRefused
from orchestrator.executor.sortie import SortieOrder, SortieRecord, SortieState, Step

log = logging.getLogger("dronepatrol.executor")

WEATHER_CODES = frozenset({314008, 314009, 314010})
"""Refusals that pass with time (rain, wind, battery): the sortie is held, not failed."""
STATES = {
    "planned": SortieState.PREFLIGHT,
    "preflight": SortieState.PREFLIGHT,
    "airborne": SortieState.AIRBORNE,
    "returning": SortieState.RETURNING,
    "completed": SortieState.COMPLETED,
    "failed": SortieState.FAILED,
    "aborted": SortieState.ABORTED,
}


class DjiSortieRunner:
    divertible = False
    """An alert takes a DJI dock's aircraft by `fly_to_point`, not by a new mission: not yet."""

    def __init__(
        self,
        docks: DjiDocks,
        airport: str,
        drone_model: str,
        pad_amsl_m: float,
        clock: Callable[[], datetime],
        speedup: float = 1.0,
        on_step: Callable[[SortieRecord, Step], None] | None = None,
        silence_s: float = 600.0,
    ) -> None:
        self.docks = docks
        self.airport = airport
        self.drone_model = drone_model
        self.pad_amsl_m = pad_amsl_m
        self.clock = clock
        self.speedup = speedup
        self.on_step = on_step
        self.silence_s = silence_s
        self._home = False

    def _record(self, rec: SortieRecord, state: SortieState, reason: str) -> None:
        rec.record(self.clock(), state, reason, self.on_step)

    async def fly(self, order: SortieOrder) -> SortieRecord:
        rec = SortieRecord(order)
        self._record(rec, SortieState.PREFLIGHT, "checks")
        hold = self._preflight(order)
        if hold is not None:
            state, why = hold
            rec.dock_problem = state is SortieState.FAILED
            self._record(rec, state, why)
            return rec
        try:
            mission = wpml.from_items(
                order.items,
                self.pad_amsl_m,
                self.drone_model,
                rth_height_m=order.flight_params.get("RTL_ALT", 3000.0) / 100,
                transit_speed=order.cruise_ms,
            )
            await self.docks.fly_wayline(self.airport, order.id, wpml.write_kmz(mission), mission.rth_height)
        except wpml.WpmlError as exc:
            self._record(rec, SortieState.FAILED, f"not a wayline a DJI dock flies: {exc}")
            return rec
        except DockRefused as exc:
            if exc.code in WEATHER_CODES:
                self._record(rec, SortieState.HELD, str(exc))
            else:
                rec.dock_problem = True
                self._record(rec, SortieState.FAILED, str(exc))
            return rec
        await self._follow(rec)
        return rec

    async def resume(self, order: SortieOrder, state: SortieState) -> SortieRecord:
        """After a restart: the dock flies on without us; follow its progress again."""
        rec = SortieRecord(order)
        self._record(rec, state, "followed again after a restart")
        await self._follow(rec)
        return rec

    def order_home(self) -> None:
        """Return home now (an operator's abort): the dock's `return_home`."""
        self._home = True
        task = asyncio.ensure_future(self.docks.return_home(self.airport))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    def _preflight(self, order: SortieOrder) -> tuple[SortieState, str] | None:
        view = self.docks.views[self.airport]
        if not view.online or view.dock is None:
            return SortieState.FAILED, "the dock is offline (no topology or state from it)"
        d = view.dock
        if not d.drone_in_dock:
            return SortieState.FAILED, "the aircraft is not in the dock"
        if d.wind_ms is not None and d.wind_ms > order.max_wind_ms:
            return SortieState.HELD, f"wind {d.wind_ms:.1f} m/s over the {order.max_wind_ms:g} m/s limit"
        if d.rain_mm_h is not None and d.rain_mm_h > order.max_rain_mm_h:
            return SortieState.HELD, f"rain (about {d.rain_mm_h:g} mm/h) over the {order.max_rain_mm_h:g} mm/h limit"
        need = order.needed_pct + order.reserve_pct
        if d.battery_pct is not None and d.battery_pct < need:
            return SortieState.HELD, f"battery {d.battery_pct:.0f} %, needs {need:.0f} %"
        return None

    async def _follow(self, rec: SortieRecord) -> None:
        flight = rec.order.id
        wait_s = max(2.0, self.silence_s / self.speedup)
        while True:
            last = rec.state

            def news(p: dji.TaskProgress, last: SortieState = last) -> bool:
                return p.done or STATES[p.sortie_state] is not last

            try:
                p = await self.docks.wait_progress(self.airport, flight, news, wait_s)
            except TimeoutError:
                self._record(
                    rec, SortieState.FAILED, f"the dock said nothing of flight {flight} for {self.silence_s:.0f} s"
                )
                return
            state = STATES[p.sortie_state]
            if p.done:
                why = {
                    SortieState.COMPLETED: "landed in the dock"
                    + (" (returned early)" if p.status == "partially_done" else ""),
                }.get(state, f"the dock reports {p.status}")
                if p.break_reason:
                    why += f": {p.break_reason}"
                if state is SortieState.COMPLETED and self._home:
                    state, why = SortieState.ABORTED, "returned home on an operator's order"
                self._record(rec, state, why)
                return
            reason = {
                SortieState.AIRBORNE: f"flying the wayline (waypoint {(p.waypoint or 0) + 1})",
                SortieState.RETURNING: "returning to the dock",
            }.get(state, f"the dock is preparing (step {p.step})")
            self._record(rec, state, reason)
