"""One drone-and-dock's state machine: a pure core, fed events with the time they happened.

`DroneMachine.handle(event, now)` updates the state and returns what the shell must do
(`Command`s) and what changed (`Transition`s, each with its reason, for the record). No
sockets, no clocks read here: the async shell turns MAVLink and MQTT into events and
commands into MAVLink, so every rule below is tested without either.

Phases, and what puts a drone in them:
- offline: no heartbeat from the drone (on the ground; in the air it stays airborne or
  returning with `link_ok` false: its own failsafe brings it home, and that is shown);
- fault: the dock reports a fault, or the drone a failed preflight, until cleared;
- hold: held by the scheduler (weather, airspace) with a reason, until released;
- charging / ready / docked: on the pad, charging, charged enough to fly, or neither;
- preflight / launching: a sortie has begun its checks / take-off was commanded;
- airborne / returning / landing: flying the sortie / coming home (RTL, or ordered
  back) / descending onto the pad.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from orchestrator.links.ardupilot import RTL_MODES


class Phase(StrEnum):
    OFFLINE = "offline"
    DOCKED = "docked"
    CHARGING = "charging"
    READY = "ready"
    PREFLIGHT = "preflight"
    LAUNCHING = "launching"
    AIRBORNE = "airborne"
    RETURNING = "returning"
    LANDING = "landing"
    HOLD = "hold"
    FAULT = "fault"


FLYING = frozenset({Phase.LAUNCHING, Phase.AIRBORNE, Phase.RETURNING, Phase.LANDING})

LAND_MODES = frozenset({9})


# -- events ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkChanged:
    up: bool


@dataclass(frozen=True)
class Telemetry:
    armed: bool
    mode: int
    alt_m: float
    battery_pct: float | None
    """None until the drone has reported it (SYS_STATUS)."""
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class DockReport:
    lid_open: bool
    drone_present: bool
    charging: bool
    fault: str | None = None


@dataclass(frozen=True)
class BeginSortie:
    sortie: str


@dataclass(frozen=True)
class Launched:
    """Take-off commanded and acknowledged."""


@dataclass(frozen=True)
class OrderHome:
    reason: str


@dataclass(frozen=True)
class SortieEnded:
    outcome: str
    """completed, aborted or failed."""


@dataclass(frozen=True)
class SetHold:
    reason: str


@dataclass(frozen=True)
class Release:
    pass


@dataclass(frozen=True)
class ClearFault:
    pass


@dataclass(frozen=True)
class Failed:
    """A failed preflight or a fault the drone reported: out of service until cleared."""

    reason: str


Event = (
    LinkChanged
    | Telemetry
    | DockReport
    | BeginSortie
    | Launched
    | OrderHome
    | SortieEnded
    | SetHold
    | Release
    | Failed
    | ClearFault
)


# -- outputs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    kind: str
    """return_home, close_lid, start_charging."""
    reason: str


@dataclass(frozen=True)
class Transition:
    airport: str
    at: datetime
    old: Phase
    new: Phase
    reason: str


@dataclass(frozen=True)
class DroneSnapshot:
    """What the API, the scheduler and the alerts read: immutable."""

    airport: str
    phase: Phase
    reason: str
    since: datetime
    link_ok: bool
    battery_pct: float | None
    armed: bool
    alt_m: float
    lat: float | None
    lon: float | None
    sortie: str | None
    dock_lid_open: bool | None
    dock_fault: str | None
    hold_reason: str | None


@dataclass(frozen=True)
class Thresholds:
    ready_pct: float = 90.0
    """Charged enough to be offered to the scheduler."""
    airborne_alt_m: float = 1.0
    landing_alt_m: float = 8.0
    """Returning below this height above the pad counts as landing."""


@dataclass
class DroneMachine:
    airport: str
    since: datetime
    thresholds: Thresholds = field(default_factory=Thresholds)
    phase: Phase = Phase.OFFLINE
    reason: str = "no heartbeat yet"
    link_ok: bool = False
    telemetry: Telemetry | None = None
    dock: DockReport | None = None
    sortie: str | None = None
    hold_reason: str | None = None
    fault_reason: str | None = None
    launched: bool = False
    airborne_seen: bool = False
    """Has been in the air during this sortie: low and armed again means touching down."""
    ordered_home: str | None = None

    def snapshot(self) -> DroneSnapshot:
        t = self.telemetry
        return DroneSnapshot(
            self.airport,
            self.phase,
            self.reason,
            self.since,
            self.link_ok,
            t.battery_pct if t else None,
            t.armed if t else False,
            t.alt_m if t else 0.0,
            t.lat if t else None,
            t.lon if t else None,
            self.sortie,
            self.dock.lid_open if self.dock else None,
            self.dock.fault if self.dock else None,
            self.hold_reason,
        )

    # -- the core ------------------------------------------------------------------------
    def handle(self, event: Event, now: datetime) -> tuple[list[Command], list[Transition]]:
        commands: list[Command] = []
        match event:
            case LinkChanged(up=up):
                self.link_ok = up
            case Telemetry():
                self.telemetry = event
            case DockReport():
                self.dock = event
            case BeginSortie(sortie=sortie):
                self.sortie, self.launched, self.ordered_home, self.airborne_seen = sortie, False, None, False
            case Launched():
                self.launched = True
            case OrderHome(reason=reason):
                if self.phase in FLYING and self.ordered_home is None:
                    self.ordered_home = reason
                    commands.append(Command("return_home", reason))
            case SortieEnded():
                self.sortie, self.launched, self.ordered_home, self.airborne_seen = None, False, None, False
            case SetHold(reason=reason):
                self.hold_reason = reason
            case Release():
                self.hold_reason = None
            case Failed(reason=reason):
                self.fault_reason, self.sortie = reason, None
            case ClearFault():
                self.fault_reason = None
        new, why = self._derive()
        transitions: list[Transition] = []
        if new != self.phase:
            transitions.append(Transition(self.airport, now, self.phase, new, why))
            self.phase, self.reason, self.since = new, why, now
            if new is Phase.DOCKED and self.dock is not None and self.dock.lid_open:
                commands.append(Command("close_lid", "drone on the pad"))
        elif why != self.reason:
            self.reason = why
        return commands, transitions

    def _derive(self) -> tuple[Phase, str]:
        t, d = self.telemetry, self.dock
        flying = t is not None and t.armed and t.alt_m > self.thresholds.airborne_alt_m
        if flying and t is not None:
            self.airborne_seen = True
            link = "" if self.link_ok else " (link lost: on its own failsafe)"
            if t.mode in LAND_MODES or (
                (t.mode in RTL_MODES or self.ordered_home) and t.alt_m < self.thresholds.landing_alt_m
            ):
                return Phase.LANDING, "descending onto the pad" + link
            if t.mode in RTL_MODES:
                return Phase.RETURNING, (self.ordered_home or "returning to launch") + link
            if self.ordered_home:
                return Phase.RETURNING, self.ordered_home + link
            return Phase.AIRBORNE, (f"flying {self.sortie}" if self.sortie else "flying") + link
        if self.launched and t is not None and t.armed:
            if self.airborne_seen:
                return Phase.LANDING, "touching down"
            return Phase.LAUNCHING, "taking off"
        if not self.link_ok:
            return Phase.OFFLINE, "no heartbeat from the drone"
        if d is not None and d.fault:
            return Phase.FAULT, f"dock: {d.fault}"
        if self.fault_reason:
            return Phase.FAULT, self.fault_reason
        if self.sortie is not None and not self.launched:
            return Phase.PREFLIGHT, f"checks for {self.sortie}"
        if self.hold_reason:
            return Phase.HOLD, self.hold_reason
        if d is not None and d.charging:
            return Phase.CHARGING, "charging"
        pct = t.battery_pct if t is not None else None
        if pct is None:
            return Phase.DOCKED, "battery not reported yet"
        if pct >= self.thresholds.ready_pct and (d is None or d.drone_present):
            return Phase.READY, f"battery {pct:.0f} %"
        return Phase.DOCKED, f"battery {pct:.0f} %, not charging"
