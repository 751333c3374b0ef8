"""AUTO: flying the stored mission item by item, as ArduCopter does.

NAV items set where to go and finish on arrival (plus any hold); DO items act at once
and the runner moves on. Progress is reported the ArduPilot way: STATUSTEXT
"Mission: N <cmd>" when an item starts and "Reached command #N" on arrival, with
MISSION_ITEM_REACHED and MISSION_CURRENT. A NAV_RETURN_TO_LAUNCH item keeps the mode
AUTO while it returns, lands and disarms; after it, MISSION_CURRENT reads seq 0, COMPLETE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from missions.autopilot import CopterLimits
from missions.formats.items import MissionItem
from sim.mavlink.messages import INFO, Out, statustext
from sim.vehicle.modes import COMMAND_NAMES, NAV_COMMANDS

if TYPE_CHECKING:
    from sim.vehicle.copter import Copter

MAX_DO_PER_STEP = 64
"""DO items run in one step at most this many times (a DO_JUMP loop cannot hang the sim)."""

# MISSION_STATE
MISSION_STATE_NO_MISSION, MISSION_STATE_NOT_STARTED, MISSION_STATE_ACTIVE, MISSION_STATE_COMPLETE = 1, 2, 3, 5


@dataclass
class NavTarget:
    """Where the current NAV item wants the vehicle."""

    x: float
    y: float
    alt: float
    radius: float
    hold_s: float = 0.0
    kind: str = "wp"
    """wp, takeoff, land, rtl, loiter_unlim, turns."""
    turns: float = 0.0
    turn_radius: float = 0.0


@dataclass
class MissionRunner:
    """State of AUTO for one vehicle."""

    seq: int = 0
    state: int = MISSION_STATE_NOT_STARTED
    target: NavTarget | None = None
    arrived_at: float | None = None
    jumps: dict[int, int] = field(default_factory=dict)
    orbit_angle: float = 0.0

    def reset(self) -> None:
        self.seq, self.state, self.target, self.arrived_at = 0, MISSION_STATE_NOT_STARTED, None, None
        self.jumps.clear()

    def current_fields(self, count: int) -> dict[str, int]:
        state = MISSION_STATE_NO_MISSION if count <= 1 else self.state
        return {"seq": self.seq, "total": max(0, count - 1), "mission_state": state, "mission_mode": 0}

    def start(self, copter: Copter, now: float, first: int | None = None) -> list[Out]:
        """Begin (or resume) the mission at `first`, or at the current item."""
        items = copter.missions.items
        if len(items) <= 1:
            return [statustext(INFO, "Mission: no mission")]
        seq = first if first is not None else (self.seq if 1 <= self.seq < len(items) else 1)
        self.state = MISSION_STATE_ACTIVE
        return self._begin(copter, seq, now)

    def set_current(self, copter: Copter, seq: int, now: float) -> list[Out]:
        self.seq = seq
        if copter.in_auto and copter.armed:
            return self._begin(copter, seq, now)
        return [Out("MISSION_CURRENT", self.current_fields(copter.missions.count))]

    def _begin(self, copter: Copter, seq: int, now: float) -> list[Out]:
        out: list[Out] = []
        items = copter.missions.items
        for _ in range(MAX_DO_PER_STEP):
            if seq >= len(items):
                self._complete(copter, out)
                return out
            self.seq = seq
            item = items[seq]
            out.append(statustext(INFO, f"Mission: {seq} {COMMAND_NAMES.get(item.command, str(item.command))}"))
            out.append(Out("MISSION_CURRENT", self.current_fields(len(items))))
            if item.command in NAV_COMMANDS:
                self.target = self._nav_target(copter, item)
                self.arrived_at = None
                return out
            jump_to = self._do(copter, item)
            seq = jump_to if jump_to is not None else seq + 1
        return out

    def _complete(self, copter: Copter, out: list[Out]) -> None:
        self.state = MISSION_STATE_COMPLETE
        self.target = None
        out.append(statustext(INFO, "Mission complete"))
        copter.hold_here()

    def _nav_target(self, copter: Copter, it: MissionItem) -> NavTarget:
        x, y = copter.item_xy(it)
        alt = copter.item_alt(it)
        radius = it.param2 if it.command in (16, 82) and it.param2 > 0 else copter.params["WPNAV_RADIUS"] / 100
        if it.command == 22:
            return NavTarget(copter.body.x, copter.body.y, max(alt, 1.0), 1.0, kind="takeoff")
        if it.command == 20:
            copter.rtl.begin(copter)
            return NavTarget(0.0, 0.0, 0.0, 1.0, kind="rtl")
        if it.command == 21:
            if it.x == 0 and it.y == 0:
                x, y = copter.body.x, copter.body.y
            return NavTarget(x, y, copter.body.alt, 1.0, kind="land")
        if it.command == 19:
            return NavTarget(x, y, alt, radius, hold_s=max(it.param1, 0.0))
        if it.command == 17:
            return NavTarget(x, y, alt, radius, kind="loiter_unlim")
        if it.command == 18:
            r = abs(it.param3) or 10.0
            return NavTarget(x, y, alt, radius, kind="turns", turns=max(it.param1, 0.0), turn_radius=r)
        return NavTarget(x, y, alt, radius, hold_s=max(it.param1, 0.0))

    def _do(self, copter: Copter, it: MissionItem) -> int | None:
        """Carry out a DO item; returns the next seq when it jumps."""
        c = it.command
        if c == 178 and it.param2 > 0:
            copter.speed_override = it.param2
        elif c in (195, 201):
            copter.roi = copter.item_xy(it) if (it.x, it.y) != (0, 0) else None
        elif c == 197:
            copter.roi = None
        elif c == 205:
            copter.gimbal_pitch, copter.gimbal_yaw = it.param1, it.param3
        elif c == 1000:
            copter.gimbal_pitch, copter.gimbal_yaw = it.param1, it.param2
        elif c == 177:
            target, repeat = int(it.param1), int(it.param2)
            done = self.jumps.get(it.seq, 0)
            if repeat < 0 or done < repeat:
                self.jumps[it.seq] = done + 1
                return target
        return None

    def step(self, copter: Copter, now: float) -> tuple[tuple[float, float, float] | None, list[Out]]:
        """The setpoint (x, y, alt) for this step, and progress messages."""
        t = self.target
        if t is None or self.state != MISSION_STATE_ACTIVE:
            return None, []
        b = copter.body
        if t.kind == "rtl":
            setpoint, landed = copter.rtl.step(copter, now)
            if landed:
                out = self._reached(copter)
                self.state = MISSION_STATE_COMPLETE
                self.seq = 0
                self.target = None
                out.append(Out("MISSION_CURRENT", self.current_fields(copter.missions.count)))
                return None, out
            return setpoint, []
        if t.kind == "land":
            if b.on_ground and copter.landed_flag:
                out = self._reached(copter)
                self.state = MISSION_STATE_COMPLETE
                self.target = None
                return None, out
            near = math.hypot(b.x - t.x, b.y - t.y) < 2.0
            return (t.x, t.y, 0.0 if near else b.alt), []
        if t.kind == "takeoff":
            if b.alt >= t.alt - 1.0:
                return self._advance(copter, now)
            return (t.x, t.y, t.alt), []
        dist = math.hypot(b.x - t.x, b.y - t.y)
        if self.arrived_at is None:
            if dist <= t.radius and abs(b.alt - t.alt) <= 2.0:
                # Arrived; MISSION_ITEM_REACHED comes when the item is done (after its hold
                # or its turns), as AP_Mission sends it when the command completes.
                self.arrived_at = now
                return (t.x, t.y, t.alt), []
            return (t.x, t.y, t.alt), []
        if t.kind == "loiter_unlim":
            return (t.x, t.y, t.alt), []
        if t.kind == "turns":
            # AC_Circle's speed: WPNAV_SPEED, half WPNAV_ACCEL toward the centre, CIRCLE_RATE;
            # a DO_CHANGE_SPEED does not reach the circle.
            limits = CopterLimits.from_params(copter.params.values)
            needed = limits.orbit_s(t.turn_radius, t.turns)
            if now - self.arrived_at >= needed:
                return self._advance(copter, now)
            self.orbit_angle = (now - self.arrived_at) / needed * t.turns * 2 * math.pi
            return (
                t.x + t.turn_radius * math.cos(self.orbit_angle),
                t.y + t.turn_radius * math.sin(self.orbit_angle),
                t.alt,
            ), []
        if now - self.arrived_at >= t.hold_s:
            return self._advance(copter, now)
        return (t.x, t.y, t.alt), []

    def _reached(self, copter: Copter) -> list[Out]:
        return [statustext(INFO, f"Reached command #{self.seq}"), Out("MISSION_ITEM_REACHED", {"seq": self.seq})]

    def _advance(self, copter: Copter, now: float) -> tuple[tuple[float, float, float] | None, list[Out]]:
        t = self.target
        out = [] if t is None else self._reached(copter)
        out += self._begin(copter, self.seq + 1, now)
        if self.target is None:
            return None, out
        return (self.target.x, self.target.y, self.target.alt), out
