"""Which drone answers an alert, and sending it: the fleet as dispatch sees it, then a
launch from a dock or a diversion in the air.

Every airport's drone is a candidate (`missions.dispatch`): docked ones by their
charge, airborne ones from where they are, if the patrol they fly is of lower priority
(a larger number) than the alert; launching, returning, offline, faulty or already
answering an alert, they say so and stay out. The earliest arrival wins, whichever kind.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from missions.clearance import Heights
from missions.dispatch import ON_SCENE_S, Decision, DroneState, DroneStatus, dispatch
from missions.response import FIRST_LEG, response_flight
from missions.scenario import Scenario
from orchestrator.executor.orders import order_to_json
from orchestrator.executor.sortie import SortieOrder
from orchestrator.fleet.machine import Phase
from orchestrator.fleet.tracker import FleetTracker
from orchestrator.scheduler.day import DayScheduler
from orchestrator.store import SortieRow, Store
from orchestrator.store.records import AlertRow

log = logging.getLogger("dronepatrol.dispatch")

DOWN = {Phase.OFFLINE: "offline", Phase.FAULT: "fault"}


@dataclass(frozen=True)
class Sent:
    sortie_id: str
    airport: str
    how: str
    """launched, launching when charged, or diverted."""
    upload: Awaitable[object] | None = None
    """A diversion's mission upload, still to be awaited (the drone is already claimed):
    the desk awaits it after letting go of its lock."""


class AlertDispatcher:
    def __init__(
        self,
        scenario: Scenario,
        store: Store,
        fleet: FleetTracker,
        scheduler: DayScheduler,
        clock: Callable[[], datetime],
    ) -> None:
        self.scenario = scenario
        self.store = store
        self.fleet = fleet
        self.scheduler = scheduler
        self.clock = clock

    def states(self, priority: int) -> dict[str, DroneState]:
        """Each airport's drone as dispatch needs to see it for an alert of `priority`."""
        states: dict[str, DroneState] = {}
        flying = {r.drone: r for r in self.scheduler.running.values()}
        for ap in self.scenario.airports:
            drone = self.fleet.drone_at(ap)
            if ap in self.scheduler.status.out_of_service:
                states[ap] = _off(ap, f"out of service: {self.scheduler.status.out_of_service[ap]}")
            elif drone is not None and drone not in flying:
                snap = self.fleet.snapshot(drone)
                if snap.phase in DOWN:
                    states[ap] = _off(ap, f"drone {DOWN[snap.phase]}: {snap.reason}")
                else:
                    osd = self.fleet.docks.state.get(ap)
                    pct = snap.battery_pct if snap.battery_pct is not None else (osd.drone_soc * 100 if osd else 0.0)
                    states[ap] = DroneState(ap, DroneStatus.READY, soc=pct / 100)
        for drone, run in flying.items():
            states[run.airport] = self._flying(run.airport, drone, run.sortie_id, priority)
        for ap in self.scenario.airports:
            states.setdefault(ap, _off(ap, "no drone on the pad"))
        return states

    def _flying(self, airport: str, drone: str, sid: str, priority: int) -> DroneState:
        row = self.store.sortie(sid)
        snap = self.fleet.snapshot(drone)
        run = self.scheduler.running.get(sid)
        if row is None or run is None or not run.runner.divertible or snap.lat is None or snap.lon is None:
            state = row.state if row else "busy"
            return _off(airport, f"{state} on sortie {sid}")
        if row.alert_id:
            return _off(airport, f"answering alert {row.alert_id}")
        patrol = self.scenario.patrols.get(row.patrol or "")
        patrol_priority = patrol.priority if patrol else 1
        if patrol_priority <= priority:
            return _off(airport, f"flying patrol {row.patrol} (priority {patrol_priority}, not lower than the alert's)")
        return DroneState(
            airport,
            DroneStatus.AIRBORNE,
            soc=(snap.battery_pct or 0.0) / 100,
            xy=self.scenario.to_xy(snap.lon, snap.lat),
            alt_m=snap.alt_m,
            patrol_priority=patrol_priority,
        )

    def decide(
        self, lat: float, lon: float, priority: int, tried: dict[str, str] | None = None
    ) -> tuple[Decision, dict[str, DroneState]]:
        """Dispatch's ranking for an alert now, and the fleet it ranked; the airports in
        `tried` (airport -> what became of its sortie) have had their go at this alert."""
        states = self.states(priority)
        for ap, why in (tried or {}).items():
            if ap in states:
                states[ap] = _off(ap, f"already sent for this alert: {why}")
        return dispatch(self.scenario, lon, lat, self.clock(), states, priority=priority), states

    def send(self, alert: AlertRow, decision: Decision, states: dict[str, DroneState]) -> Sent:
        """Launch or divert the chosen drone. ValueError when it cannot (the reason).
        Synchronous, so that no other alert is decided in between: a launch is ordered
        (the scheduler starts it), an airborne drone is claimed and its new mission's
        upload returned in `Sent.upload` for the caller to await."""
        choice = decision.choice
        if choice is None or choice.route is None:
            raise ValueError(decision.reason)
        ap = self.scenario.airports[choice.airport_id]
        target = self.scenario.to_xy(alert.lon, alert.lat)
        state = states[ap.id]
        blocked = self.scenario.airspace.blocked_zone_ids(
            decision.at, decision.at, self.scenario.approvals, emergency=True
        )
        home = self.scenario.airspace.router(blocked).route(target, ap.xy)
        heights = Heights(self.scenario.ground, self.scenario.band, ap.elevation_m, ap.xy)
        flight = response_flight(
            ap, self.scenario.frame, choice, home, target, limits=self.fleet.limits_at(ap.id), heights=heights
        )
        why = f"for alert {alert.id} ({alert.kind}, priority {alert.priority}): {decision.reason}"
        if state.status is DroneStatus.AIRBORNE:
            sid = next(r.sortie_id for r in self.scheduler.running.values() if r.airport == ap.id)
            previous = self.scheduler.claim(sid, alert.id)
            upload = self.scheduler.divert(
                sid, flight.items, FIRST_LEG, flight.needed_pct, f"diverted {why}", previous, flight.flight_params
            )
            log.info("alert %s: diverting sortie %s (%s)", alert.id, sid, decision.reason)
            return Sent(sid, ap.id, "diverted", upload)
        now = self.clock()
        d = ap.drone
        sid, n = f"alert.{alert.id}", 1
        while self.store.sortie(sid) is not None:  # sent again after a first sortie failed
            n += 1
            sid = f"alert.{alert.id}.{n}"
        order = SortieOrder(
            id=sid,
            airport=ap.id,
            items=flight.items,
            takeoff_alt_m=flight.alt_m,
            needed_pct=flight.needed_pct,
            reserve_pct=d.reserve * 100,
            max_wind_ms=d.max_wind_ms,
            max_rain_mm_h=d.max_rain_mm_h,
            cruise_ms=d.cruise_speed_ms,
            flight_params=flight.flight_params,
        )
        eta = choice.eta_s or 0.0
        back_s = home.length_m / d.cruise_speed_ms + 60
        row = SortieRow(
            id=order.id,
            airport=ap.id,
            land_airport=ap.id,
            state="planned",
            reason=why,
            order=order_to_json(order),
            updated_at=now,
            alert_id=alert.id,
            planned_launch=now,
            planned_land=now + timedelta(seconds=eta + ON_SCENE_S + back_s),
        )
        launched = self.scheduler.add_alert_sortie(row)
        how = "launched" if launched else "launching when charged"
        log.info("alert %s: sortie %s from %s %s (%s)", alert.id, row.id, ap.id, how, decision.reason)
        return Sent(row.id, ap.id, how)


def _off(airport: str, note: str) -> DroneState:
    return DroneState(airport, DroneStatus.UNAVAILABLE, soc=0.0, note=note)
