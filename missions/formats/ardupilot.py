"""What ArduPilot keeps of a mission item, and gives back when the mission is read.

ArduPilot does not store a MISSION_ITEM_INT as it was sent. `AP_Mission` packs each
command into a small fixed record (`AP_Mission::mavlink_int_to_mission_cmd`) and builds
a MISSION_ITEM_INT from that record again on download
(`AP_Mission::mission_cmd_to_mavlink_int`, libraries/AP_Mission/AP_Mission.cpp). What
survives the round trip is decided per command:

- A position (`stored_in_location`: waypoints, loiters, land, take-off, ROI location)
  keeps latitude and longitude as sent (int32, 1e-7 degree) and the altitude in whole
  centimetres (`alt = z * 100`, truncated); its frame comes back as GLOBAL (0),
  GLOBAL_RELATIVE_ALT (3) or GLOBAL_TERRAIN_ALT (10), whichever of the INT variants or
  MISSION frame was sent.
- A command without a position comes back with frame 0 and x, y, z zero: the download
  starts from a zeroed packet and only the command's own fields are filled in.
  NAV_RETURN_TO_LAUNCH is such a command: it is sent with frame 3 by most planners and
  always read back with frame 0.
- Parameters are kept only where the record has room, in its own types:
  NAV_WAYPOINT keeps param1 (hold, whole seconds, uint16) and drops 2-4 on Copter;
  NAV_LAND keeps param1 (uint16) and returns param4 as -1 or 1 (the sign only: a 0 sent
  comes back 1.0); NAV_LOITER_TURNS keeps the turns (low byte: 0-255, whole) and the
  radius (high byte: whole metres; over 255 m in tens of metres) with its sign as the
  direction, and param4 as 0 or 1; DO_CHANGE_SPEED keeps speed type (uint8), speed and
  throttle and drops param4; ROI location and ROI none keep no parameters.
- autocontinue is always read back as 1.

`stored(item)` is that round trip for the commands the planner and the importers use;
the link compares what it reads back with `stored(what it sent)`, and the simulator
answers a download with `stored(what it was sent)`, as an ArduCopter would.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, fields, replace

from missions.formats.items import Cmd, Frame, MissionItem

RELATIVE_FRAMES = frozenset({3, 6})
"""GLOBAL_RELATIVE_ALT and GLOBAL_RELATIVE_ALT_INT."""
TERRAIN_FRAMES = frozenset({10, 11})
ABSOLUTE_FRAMES = frozenset({0, 2, 5})
"""GLOBAL, MISSION and GLOBAL_INT: ArduPilot takes all three as above sea level."""

LOCATION_COMMANDS = frozenset(
    {
        Cmd.NAV_WAYPOINT,
        Cmd.NAV_LOITER_UNLIM,
        Cmd.NAV_LOITER_TURNS,
        Cmd.NAV_LOITER_TIME,
        Cmd.NAV_LAND,
        Cmd.NAV_TAKEOFF,
        Cmd.NAV_SPLINE_WAYPOINT,
        Cmd.DO_LAND_START,
        Cmd.DO_SET_ROI,
        Cmd.DO_SET_ROI_LOCATION,
    }
)
"""`AP_Mission::stored_in_location`: commands whose x, y, z are a position."""

KNOWN_COMMANDS = LOCATION_COMMANDS | {Cmd.NAV_RETURN_TO_LAUNCH, Cmd.DO_CHANGE_SPEED, Cmd.DO_SET_ROI_NONE, Cmd.DO_JUMP}


def f32(v: float) -> float:
    """The value as a MAVLink float field carries it."""
    return float(struct.unpack("<f", struct.pack("<f", v))[0])


def _uint(v: float, bits: int) -> int:
    """A float stored into an unsigned C integer field (truncated; clamped where C would wrap)."""
    if math.isnan(v) or v <= 0:
        return 0
    return min(int(v), (1 << bits) - 1)


def _frame(frame: int) -> int:
    if frame in RELATIVE_FRAMES:
        return int(Frame.GLOBAL_RELATIVE_ALT)
    if frame in TERRAIN_FRAMES:
        return int(Frame.GLOBAL_TERRAIN_ALT)
    return int(Frame.GLOBAL)


def _altitude(z: float) -> float:
    """Whole centimetres, truncated toward zero, as `int32 alt = z * 100.0f`."""
    return f32(math.trunc(f32(f32(z) * 100.0)) / 100.0)


def _params(item: MissionItem) -> tuple[float, float, float, float]:
    p1, p2, p3, p4 = (f32(p) for p in (item.param1, item.param2, item.param3, item.param4))
    match item.command:
        case Cmd.NAV_WAYPOINT | Cmd.NAV_SPLINE_WAYPOINT | Cmd.NAV_TAKEOFF:
            return float(_uint(p1, 16)), 0.0, 0.0, 0.0
        case Cmd.NAV_LOITER_UNLIM:
            radius = float(_uint(abs(p3), 16))
            return 0.0, 0.0, -radius if p3 < 0 else radius, 0.0
        case Cmd.NAV_LOITER_TURNS:
            turns = float(min(255, _uint(p1, 16)))
            r = abs(p3)
            radius = float(_uint(r, 8)) if r <= 255 else float(min(255, _uint(r * 0.1, 8)) * 10)
            return turns, 0.0, -radius if p3 < 0 else radius, 1.0 if p4 > 0 else 0.0
        case Cmd.NAV_LOITER_TIME:
            return float(_uint(p1, 16)), 0.0, -1.0 if p3 < 0 else 1.0, 1.0 if p4 > 0 else 0.0
        case Cmd.NAV_LAND:
            return float(_uint(p1, 16)), 0.0, 0.0, -1.0 if p4 < 0 else 1.0
        case Cmd.DO_CHANGE_SPEED:
            return float(_uint(p1, 8)), p2, p3, 0.0
        case Cmd.DO_JUMP:
            return float(_uint(p1, 16)), float(_uint(p2, 16)), 0.0, 0.0
        case Cmd.DO_SET_ROI:
            return float(_uint(p1, 16)), 0.0, 0.0, 0.0
        case _:  # RTL, ROI location, ROI none, land start: no parameters kept
            return 0.0, 0.0, 0.0, 0.0


def stored(item: MissionItem) -> MissionItem:
    """`item` as ArduCopter returns it on a mission download. Commands outside
    `KNOWN_COMMANDS` are returned as sent (their float fields as the wire carries them)."""
    if item.command not in KNOWN_COMMANDS:
        return replace(
            item,
            param1=f32(item.param1),
            param2=f32(item.param2),
            param3=f32(item.param3),
            param4=f32(item.param4),
            z=f32(item.z),
        )
    p1, p2, p3, p4 = _params(item)
    if item.command in LOCATION_COMMANDS:
        frame, x, y, z = _frame(item.frame), _deg7(item.x), _deg7(item.y), _altitude(item.z)
    else:
        frame, x, y, z = int(Frame.GLOBAL), 0.0, 0.0, 0.0
    return MissionItem(item.seq, frame, item.command, p1, p2, p3, p4, x, y, z, current=item.current, autocontinue=1)


def _deg7(v: float) -> float:
    """Degrees as MISSION_ITEM_INT carries them (int32, 1e-7 degree)."""
    return round(v * 1e7) / 1e7


@dataclass(frozen=True)
class Tolerance:
    deg: float = 1.5e-7
    """Latitude and longitude: one unit of 1e-7 degree, and rounding."""
    m: float = 0.011
    """Altitude: one centimetre, and rounding."""
    param: float = 1e-4


def differences(expected: MissionItem, held: MissionItem, tol: Tolerance | None = None) -> list[str]:
    """Fields that differ between what the vehicle should hold and what it holds, each
    as `name expected!=held` (current is not compared: it marks the active item)."""
    tol = tol or Tolerance()
    out: list[str] = []
    for f in fields(MissionItem):
        if f.name == "current":
            continue
        a, b = getattr(expected, f.name), getattr(held, f.name)
        limit = tol.deg if f.name in ("x", "y") else tol.m if f.name == "z" else tol.param
        if isinstance(a, float) or isinstance(b, float):
            if (math.isnan(a) and math.isnan(b)) or abs(a - b) <= limit:
                continue
        elif a == b:
            continue
        out.append(f"{f.name} {a:g}!={b:g}")
    return out
