"""QGroundControl `.plan` files (JSON), read and written as QGroundControl does.

Writing follows QGroundControl's own output: fileType "Plan", version 1, groundStation,
mission {version 2, firmwareType, vehicleType, cruiseSpeed, hoverSpeed,
globalPlanAltitudeMode, plannedHomePosition, items}, geoFence {version 2, polygons,
circles}, rallyPoints {version 2, points}. plannedHomePosition is not an item: for
ArduPilot it becomes item 0. SimpleItem params hold null for NaN. Complex items (survey,
corridor scan) are not expanded: importing one is an error that says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from missions.formats.items import NAV_COMMANDS, Frame, MissionItem, renumber

FIRMWARE_ARDUPILOT = 3
FIRMWARE_PX4 = 12
VEHICLE_QUADROTOR = 2

_ALT_MODE: dict[int, int] = {Frame.GLOBAL_RELATIVE_ALT: 1, Frame.GLOBAL: 2, Frame.GLOBAL_TERRAIN_ALT: 4}
"""QGC AltitudeMode for each frame: 1 relative, 2 AMSL, 3 calculated above terrain, 4 terrain frame."""


class PlanFormatError(ValueError):
    """A .plan file that cannot be read; the message names the item."""


@dataclass(frozen=True)
class FencePolygon:
    inclusion: bool
    points: tuple[tuple[float, float], ...]
    """(lat, lon) vertices."""


@dataclass(frozen=True)
class Plan:
    """A mission with its home position, fence and rally points."""

    items: tuple[MissionItem, ...]
    """Item 0 is home (ArduPilot convention)."""
    home: tuple[float, float, float]
    """(lat, lon, alt AMSL)."""
    firmware: int = FIRMWARE_ARDUPILOT
    vehicle: int = VEHICLE_QUADROTOR
    cruise_speed: float = 12.0
    hover_speed: float = 5.0
    fence: tuple[FencePolygon, ...] = ()
    rally: tuple[tuple[float, float, float], ...] = field(default=())


def _num(v: float) -> float | int | None:
    if math.isnan(v):
        return None
    return int(v) if float(v).is_integer() and abs(v) < 1e15 else v


def _item_json(it: MissionItem, jump_id: int) -> dict[str, Any]:
    params = [_num(p) for p in it.params]
    out: dict[str, Any] = {
        "autoContinue": bool(it.autocontinue),
        "command": it.command,
        "doJumpId": jump_id,
        "frame": it.frame,
        "params": params,
        "type": "SimpleItem",
    }
    if it.command in NAV_COMMANDS:
        out["AMSLAltAboveTerrain"] = None
        out["Altitude"] = _num(it.z)
        out["AltitudeMode"] = _ALT_MODE.get(it.frame, 1)
    return dict(sorted(out.items()))


def dumps(plan: Plan) -> str:
    """The plan as QGroundControl writes it (4-space indent, sorted keys)."""
    items = [_item_json(it, k) for k, it in enumerate(plan.items[1:], start=1)]
    doc = {
        "fileType": "Plan",
        "geoFence": {
            "circles": [],
            "polygons": [
                {"inclusion": p.inclusion, "polygon": [list(v) for v in p.points], "version": 1} for p in plan.fence
            ],
            "version": 2,
        },
        "groundStation": "QGroundControl",
        "mission": {
            "cruiseSpeed": _num(plan.cruise_speed),
            "firmwareType": plan.firmware,
            "globalPlanAltitudeMode": 2,
            "hoverSpeed": _num(plan.hover_speed),
            "items": items,
            "plannedHomePosition": list(plan.home),
            "vehicleType": plan.vehicle,
            "version": 2,
        },
        "rallyPoints": {"points": [list(p) for p in plan.rally], "version": 2},
        "version": 1,
    }
    return json.dumps(doc, indent=4, sort_keys=True)


def _param(v: Any, where: str) -> float:
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise PlanFormatError(f"{where}: parameter {v!r} is not a number")
    return float(v)


def loads(text: str) -> Plan:
    """Read a .plan; home becomes item 0 whatever the firmware."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanFormatError(f"not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(doc, dict) or doc.get("fileType") != "Plan":
        raise PlanFormatError("not a QGroundControl plan (fileType is not 'Plan')")
    mission = doc.get("mission")
    if not isinstance(mission, dict) or not isinstance(mission.get("items"), list):
        raise PlanFormatError("mission.items is missing")
    home_raw = mission.get("plannedHomePosition")
    if not isinstance(home_raw, list) or len(home_raw) != 3:
        raise PlanFormatError("mission.plannedHomePosition must be [lat, lon, altAMSL]")
    home = (float(home_raw[0]), float(home_raw[1]), float(home_raw[2] or 0.0))
    items: list[MissionItem] = [MissionItem(0, Frame.GLOBAL, 16, x=home[0], y=home[1], z=home[2])]
    for k, raw in enumerate(mission["items"]):
        where = f"mission.items[{k}]"
        if not isinstance(raw, dict):
            raise PlanFormatError(f"{where}: not an object")
        if raw.get("type") != "SimpleItem":
            raise PlanFormatError(
                f"{where}: {raw.get('complexItemType', raw.get('type'))} items are not supported; "
                "save the plan with the pattern converted to waypoints"
            )
        params = raw.get("params")
        if not isinstance(params, list) or len(params) != 7:
            raise PlanFormatError(f"{where}: params must hold 7 values")
        p = [_param(v, where) for v in params]
        try:
            command, frame = int(raw["command"]), int(raw["frame"])
        except (KeyError, TypeError, ValueError):
            raise PlanFormatError(f"{where}: command and frame must be integers") from None
        items.append(
            MissionItem(
                0,
                frame,
                command,
                p[0],
                p[1],
                p[2],
                p[3],
                p[4],
                p[5],
                p[6],
                autocontinue=1 if raw.get("autoContinue", True) else 0,
            )
        )
    fence: list[FencePolygon] = []
    for poly in (doc.get("geoFence") or {}).get("polygons", []):
        fence.append(
            FencePolygon(bool(poly.get("inclusion", True)), tuple((float(a), float(b)) for a, b in poly["polygon"]))
        )
    rally = tuple(tuple(float(v) for v in p) for p in (doc.get("rallyPoints") or {}).get("points", []))
    return Plan(
        tuple(renumber(items)),
        home,
        int(mission.get("firmwareType", FIRMWARE_ARDUPILOT)),
        int(mission.get("vehicleType", VEHICLE_QUADROTOR)),
        float(mission.get("cruiseSpeed", 12.0)),
        float(mission.get("hoverSpeed", 5.0)),
        tuple(fence),
        tuple((r[0], r[1], r[2]) for r in rally),
    )
