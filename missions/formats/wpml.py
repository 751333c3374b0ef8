"""DJI WPML waylines in KMZ files: what a DJI dock (Dock 2 with the M3D/M3TD, Dock 3 with
the M4D/M4TD) flies, written from a sortie's mission items and read back, including the
files DJI Pilot 2 and FlightHub 2 write.

A KMZ is a zip of `wpmz/template.kml` (the editable plan) and `wpmz/waylines.wpml` (what
the aircraft executes). Both are KML 2.2 with DJI's `wpml:` elements; the namespace's
version differs between DJI tools (1.0.2 in the documentation, 1.0.6 in 2024-era Pilot 2
output), so the reader takes any `http://www.dji.com/wpmz/...` and tolerates elements it
does not know. There is no public schema: the checks in `problems()` are the documented
ranges (speeds 1-15 m/s, the dock's take-off security height 8-1500 m, contiguous
indices, action groups on existing waypoints, turn damping inside the segment).

Heights: a sortie's items are above mean sea level (the terrain model's datum); the
wayline is written in `WGS84` mode, ellipsoidal heights, `executeHeight = AMSL + N` with
N the geoid undulation (about -3.5 m over Nanshan, stated in the file's template as both
`height` and `ellipsoidHeight`). Heights relative to the dock (take-off security height,
return-to-home height) are taken from the sortie's take-off and RTL_ALT.

Reading a KMZ (any DJI tool's) is `wpml_read.read_kmz`.
"""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from missions.errors import MissionsError
from missions.formats.items import NAV_COMMANDS, Cmd, Frame, MissionItem
from missions.geo import haversine_m

KML_NS = "http://www.opengis.net/kml/2.2"
WPML_NS = "http://www.dji.com/wpmz/1.0.6"
WPML_PREFIX = "http://www.dji.com/wpmz/"
NANSHAN_GEOID_M = -3.5
"""EGM96 geoid undulation over Nanshan: ellipsoidal height = height above sea level + N."""

SPEED_RANGE = (1.0, 15.0)
DOCK_TAKEOFF_RANGE = (8.0, 1500.0)
RTH_RANGE = (2.0, 1500.0)
HEIGHT_MODES = ("WGS84", "relativeToStartPoint", "realTimeFollowSurface")
DOCK_HEIGHT_MODES = ("WGS84", "relativeToStartPoint")
FINISH_ACTIONS = ("goHome", "noAction", "autoLand", "gotoFirstWaypoint")


class WpmlError(MissionsError, ValueError):
    """A KMZ that cannot be read, or a mission that cannot be written as a wayline."""


@dataclass(frozen=True)
class DockDrone:
    """A dock aircraft as WPML names it (droneEnumValue/droneSubEnumValue, payloadEnumValue)."""

    model: str
    drone_enum: int
    drone_sub: int
    payload_enum: int


DOCK_DRONES = {
    d.model: d
    for d in (
        DockDrone("M3D", 91, 0, 80),
        DockDrone("M3TD", 91, 1, 81),
        DockDrone("M4D", 100, 0, 98),
        DockDrone("M4TD", 100, 1, 99),
    )
}


@dataclass(frozen=True)
class Action:
    func: str
    """actionActuatorFunc: takePhoto, gimbalRotate, hover, orientedShoot, ..."""
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ActionGroup:
    group_id: int
    start: int
    end: int
    trigger: str = "reachPoint"
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Waypoint:
    index: int
    lon: float
    lat: float
    height: float
    """In the wayline's height mode (ellipsoidal metres for WGS84)."""
    speed: float | None = None
    heading_mode: str = "followWayline"
    poi: tuple[float, float, float] | None = None
    """lat, lon, height the heading looks at (towardPOI)."""
    turn_mode: str = "toPointAndStopWithDiscontinuityCurvature"
    damping_m: float = 0.0
    groups: tuple[ActionGroup, ...] = ()


@dataclass(frozen=True)
class Wayline:
    wayline_id: int
    template_id: int
    height_mode: str
    speed: float
    waypoints: tuple[Waypoint, ...]


@dataclass(frozen=True)
class WaylineMission:
    waylines: tuple[Wayline, ...]
    drone_enum: int
    drone_sub: int
    payload_enum: int | None = None
    takeoff_security_height: float = 20.0
    transitional_speed: float = 10.0
    rth_height: float = 100.0
    finish_action: str = "goHome"
    fly_to_mode: str = "safely"
    exit_on_rc_lost: str = "executeLostAction"
    rc_lost_action: str | None = "goBack"
    template_type: str = "waypoint"
    version: str = "1.0.6"
    notes: tuple[str, ...] = field(default=(), compare=False)
    """What the conversion from a sortie had to change (speeds capped, orbits as hovers)."""

    @property
    def drone(self) -> str:
        """The dock model the file is for, or the enum values when it is not a dock's."""
        for d in DOCK_DRONES.values():
            if (d.drone_enum, d.drone_sub) == (self.drone_enum, self.drone_sub):
                return d.model
        return f"drone {self.drone_enum}/{self.drone_sub}"

    @property
    def waypoint_count(self) -> int:
        return sum(len(w.waypoints) for w in self.waylines)

    def length_m(self) -> float:
        return sum(
            haversine_m(a.lon, a.lat, b.lon, b.lat)
            for w in self.waylines
            for a, b in zip(w.waypoints, w.waypoints[1:], strict=False)
        )


# ---- checks --------------------------------------------------------------------------------
def problems(mission: WaylineMission, *, dock: bool = True, drone: str | None = None) -> list[str]:
    """Why a dock would refuse this wayline (empty when none is known): the documented
    ranges and consistency rules. `drone` names the dock's aircraft model to match."""
    out: list[str] = []

    def within(what: str, value: float, rng: tuple[float, float]) -> None:
        if not (rng[0] <= value <= rng[1]) or math.isnan(value):
            out.append(f"{what} {value:g} outside [{rng[0]:g}, {rng[1]:g}]")

    within("globalTransitionalSpeed", mission.transitional_speed, SPEED_RANGE)
    within("globalRTHHeight", mission.rth_height, RTH_RANGE)
    if dock:
        within("takeOffSecurityHeight", mission.takeoff_security_height, DOCK_TAKEOFF_RANGE)
    if mission.finish_action not in FINISH_ACTIONS:
        out.append(f"finishAction {mission.finish_action!r} is not one of {', '.join(FINISH_ACTIONS)}")
    if mission.exit_on_rc_lost == "executeLostAction" and not mission.rc_lost_action:
        out.append("exitOnRCLost is executeLostAction but no executeRCLostAction is given")
    if drone is not None:
        want = DOCK_DRONES.get(drone)
        if want is None:
            out.append(f"unknown dock drone {drone!r} (known: {', '.join(DOCK_DRONES)})")
        elif (want.drone_enum, want.drone_sub) != (mission.drone_enum, mission.drone_sub):
            out.append(f"written for {mission.drone}, the dock flies a {drone}")
    if not mission.waylines:
        out.append("no wayline")
    for w in mission.waylines:
        group_ids: set[int] = set()  # unique within a wayline: DJI's own files reuse them across waylines
        where = f"wayline {w.wayline_id}"
        within(f"{where}: autoFlightSpeed", w.speed, SPEED_RANGE)
        modes = DOCK_HEIGHT_MODES if dock else HEIGHT_MODES
        if w.height_mode not in modes:
            out.append(f"{where}: executeHeightMode {w.height_mode!r} (a dock's drone flies {' or '.join(modes)})")
        if not w.waypoints:
            out.append(f"{where}: no waypoint")
        indices = [p.index for p in w.waypoints]
        if indices != list(range(len(indices))):
            out.append(f"{where}: waypoint indices {indices[:8]} are not 0, 1, 2, ...")
        for i, p in enumerate(w.waypoints):
            if not (-180 <= p.lon <= 180 and -90 <= p.lat <= 90):
                out.append(f"{where} waypoint {p.index}: ({p.lat}, {p.lon}) is not a position")
            if p.speed is not None:
                within(f"{where} waypoint {p.index}: waypointSpeed", p.speed, SPEED_RANGE)
            if p.turn_mode == "coordinateTurn" and i + 1 < len(w.waypoints):
                nxt = w.waypoints[i + 1]
                seg = haversine_m(p.lon, p.lat, nxt.lon, nxt.lat)
                if p.damping_m + nxt.damping_m >= seg:
                    out.append(
                        f"{where} waypoint {p.index}: turn damping {p.damping_m:g} m does not fit the {seg:.0f} m leg"
                    )
            for g in p.groups:
                if g.group_id in group_ids:
                    out.append(f"{where}: action group id {g.group_id} used twice")
                group_ids.add(g.group_id)
                if not (0 <= g.start <= g.end < len(w.waypoints)):
                    out.append(f"{where}: action group {g.group_id} spans waypoints {g.start}-{g.end}")
    return out


# ---- from a sortie -----------------------------------------------------------------------
def from_items(
    items: Sequence[MissionItem],
    pad_amsl: float,
    drone: str,
    *,
    rth_height_m: float,
    geoid_m: float = NANSHAN_GEOID_M,
    transit_speed: float = 10.0,
) -> WaylineMission:
    """The wayline a DJI dock flies for a sortie's mission items (heights above sea level,
    as the planner writes them). WpmlError when the sortie cannot be one: a landing away
    from the dock, no waypoint. What had to change is listed in `notes`."""
    if drone not in DOCK_DRONES:
        raise WpmlError(f"unknown dock drone {drone!r} (known: {', '.join(DOCK_DRONES)})")
    model = DOCK_DRONES[drone]
    notes: list[str] = []
    speed = transit_speed
    poi: tuple[float, float, float] | None = None
    takeoff_m = DOCK_TAKEOFF_RANGE[0]
    finish = "noAction"
    points: list[Waypoint] = []
    group_id = 0

    def amsl(item: MissionItem) -> float:
        if item.frame in (Frame.GLOBAL, 5):  # MAV_FRAME_GLOBAL(_INT)
            return item.z
        if item.frame in (Frame.GLOBAL_RELATIVE_ALT, 6):  # MAV_FRAME_GLOBAL_RELATIVE_ALT(_INT)
            return item.z + pad_amsl
        raise WpmlError(f"item {item.seq}: frame {item.frame} has no height WPML can take")

    def capped(v: float) -> float:
        c = min(max(v, SPEED_RANGE[0]), SPEED_RANGE[1])
        if c != v:
            notes.append(f"speed {v:g} m/s flown at {c:g} m/s (WPML allows {SPEED_RANGE[0]:g}-{SPEED_RANGE[1]:g})")
        return c

    def hover(seconds: float) -> ActionGroup:
        nonlocal group_id
        group_id += 1
        index = len(points)
        hold = Action("hover", (("hoverTime", f"{seconds:g}"),))
        return ActionGroup(group_id - 1, index, index, "reachPoint", (hold,))

    for item in items[1:]:  # item 0 is home
        cmd = item.command
        if cmd == Cmd.NAV_TAKEOFF:
            takeoff_m = max(DOCK_TAKEOFF_RANGE[0], amsl(item) - pad_amsl)
        elif cmd == Cmd.DO_CHANGE_SPEED:
            speed = capped(item.param2)
        elif cmd == Cmd.DO_SET_ROI_LOCATION:
            poi = (round(item.x, 9), round(item.y, 9), round(item.z, 3))
        elif cmd == Cmd.DO_SET_ROI_NONE:
            poi = None
        elif cmd in (Cmd.NAV_WAYPOINT, Cmd.NAV_LOITER_TIME, Cmd.NAV_LOITER_TURNS):
            hold_s = item.param1 if cmd != Cmd.NAV_LOITER_TURNS else 0.0
            if cmd == Cmd.NAV_LOITER_TURNS:
                radius = abs(item.param3) or 1.0
                hold_s = item.param1 * 2 * math.pi * radius / max(speed, 1.0)
                notes.append(
                    f"orbit of {item.param1:g} turns at {radius:g} m flown as a {hold_s:.0f} s hover over its centre"
                )
            groups = (hover(hold_s),) if hold_s > 0 else ()
            points.append(
                Waypoint(
                    len(points),
                    round(item.y, 9),  # as written: the file is what the dock flies
                    round(item.x, 9),
                    round(amsl(item) + geoid_m, 2),
                    speed,
                    "towardPOI" if poi else "followWayline",
                    poi,
                    groups=groups,
                )
            )
        elif cmd == Cmd.NAV_RETURN_TO_LAUNCH:
            finish = "goHome"
        elif cmd == Cmd.NAV_LAND:
            raise WpmlError("the sortie lands away from its airport: a DJI dock's drone comes home to its own dock")
        elif cmd in NAV_COMMANDS:
            raise WpmlError(f"item {item.seq}: {Cmd(cmd).name} has no WPML equivalent")
    if not points:
        raise WpmlError("the sortie has no waypoint")
    if finish != "goHome":
        notes.append("the sortie does not end with a return: finishAction goHome is set all the same")
        finish = "goHome"
    wayline = Wayline(0, 0, "WGS84", capped(transit_speed), tuple(points))
    return WaylineMission(
        (wayline,),
        model.drone_enum,
        model.drone_sub,
        model.payload_enum,
        takeoff_security_height=round(min(takeoff_m, DOCK_TAKEOFF_RANGE[1]), 1),
        transitional_speed=capped(transit_speed),
        rth_height=round(min(max(rth_height_m, RTH_RANGE[0]), RTH_RANGE[1]), 1),
        finish_action=finish,
        notes=tuple(dict.fromkeys(notes)),
    )


# ---- writing -------------------------------------------------------------------------------
def write_kmz(mission: WaylineMission, *, geoid_m: float = NANSHAN_GEOID_M, author: str = "dronepatrol") -> bytes:
    """The KMZ's bytes. Reproducible (fixed zip dates): the same mission gives the same MD5,
    the fingerprint a dock checks against the file it downloads."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, root in (
            ("wpmz/template.kml", _document(mission, template=True, geoid_m=geoid_m, author=author)),
            ("wpmz/waylines.wpml", _document(mission, template=False, geoid_m=geoid_m, author=author)),
        ):
            ET.indent(root)
            data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def fingerprint(data: bytes) -> str:
    """MD5 of the exact bytes served: `flighttask_prepare`'s `file.fingerprint`."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _document(mission: WaylineMission, *, template: bool, geoid_m: float, author: str) -> ET.Element:
    ET.register_namespace("", KML_NS)
    ET.register_namespace("wpml", WPML_NS)

    def k(tag: str) -> str:
        return f"{{{KML_NS}}}{tag}"

    root = ET.Element(k("kml"))
    doc = ET.SubElement(root, k("Document"))
    if template:
        _w(doc, "author", author)
        _w(doc, "createTime", "0")
        _w(doc, "updateTime", "0")
    cfg = _w(doc, "missionConfig")
    _w(cfg, "flyToWaylineMode", mission.fly_to_mode)
    _w(cfg, "finishAction", mission.finish_action)
    _w(cfg, "exitOnRCLost", mission.exit_on_rc_lost)
    if mission.rc_lost_action:
        _w(cfg, "executeRCLostAction", mission.rc_lost_action)
    _w(cfg, "takeOffSecurityHeight", _num(mission.takeoff_security_height))
    _w(cfg, "globalTransitionalSpeed", _num(mission.transitional_speed))
    _w(cfg, "globalRTHHeight", _num(mission.rth_height))
    info = _w(cfg, "droneInfo")
    _w(info, "droneEnumValue", str(mission.drone_enum))
    _w(info, "droneSubEnumValue", str(mission.drone_sub))
    if mission.payload_enum is not None:
        payload = _w(cfg, "payloadInfo")
        _w(payload, "payloadEnumValue", str(mission.payload_enum))
        _w(payload, "payloadPositionIndex", "0")
    for line in mission.waylines:
        folder = ET.SubElement(doc, k("Folder"))
        if template:
            _w(folder, "templateType", mission.template_type)
        _w(folder, "templateId", str(line.template_id))
        if template:
            sys_ = _w(folder, "waylineCoordinateSysParam")
            _w(sys_, "coordinateMode", "WGS84")
            _w(sys_, "heightMode", "EGM96" if line.height_mode == "WGS84" else line.height_mode)
        else:
            _w(folder, "executeHeightMode", line.height_mode)
            _w(folder, "waylineId", str(line.wayline_id))
        _w(folder, "autoFlightSpeed", _num(line.speed))
        for p in line.waypoints:
            mark = ET.SubElement(folder, k("Placemark"))
            point = ET.SubElement(mark, k("Point"))
            ET.SubElement(point, k("coordinates")).text = f"{p.lon:.9f},{p.lat:.9f}"
            _w(mark, "index", str(p.index))
            if template:
                if line.height_mode == "WGS84":  # the same point in both datums, as DJI's editors write it
                    _w(mark, "ellipsoidHeight", _num(p.height))
                    _w(mark, "height", _num(round(p.height - geoid_m, 2)))
                else:
                    _w(mark, "height", _num(p.height))
            else:
                _w(mark, "executeHeight", _num(p.height))
            if p.speed is not None:
                _w(mark, "waypointSpeed", _num(p.speed))
            head = _w(mark, "waypointHeadingParam")
            _w(head, "waypointHeadingMode", p.heading_mode)
            if p.poi is not None:
                _w(head, "waypointPoiPoint", f"{p.poi[0]:.9f},{p.poi[1]:.9f},{_num(p.poi[2])}")
            turn = _w(mark, "waypointTurnParam")
            _w(turn, "waypointTurnMode", p.turn_mode)
            _w(turn, "waypointTurnDampingDist", _num(p.damping_m))
            _w(mark, "useStraightLine", "1")
            for g in p.groups:
                group = _w(mark, "actionGroup")
                _w(group, "actionGroupId", str(g.group_id))
                _w(group, "actionGroupStartIndex", str(g.start))
                _w(group, "actionGroupEndIndex", str(g.end))
                _w(group, "actionGroupMode", "sequence")
                trig = _w(group, "actionTrigger")
                _w(trig, "actionTriggerType", g.trigger)
                for n, a in enumerate(g.actions):
                    act = _w(group, "action")
                    _w(act, "actionId", str(n))
                    _w(act, "actionActuatorFunc", a.func)
                    params = _w(act, "actionActuatorFuncParam")
                    for key, value in a.params:
                        _w(params, key, value)
    return root


def _w(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{WPML_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _num(v: float) -> str:
    """Millimetres at most, no trailing zeros (12 rather than 12.000)."""
    return f"{v:.3f}".rstrip("0").rstrip(".") or "0"
