"""Reading a DJI KMZ back into a `WaylineMission`: what Pilot 2, FlightHub 2 or
`plan --kmz` wrote. Any WPML version (`http://www.dji.com/wpmz/...`) is taken and
elements the reader does not know are ignored; a file that is not a wayline is refused
with the reason (`WpmlError`), and so is one with a document type declaration or a
member that would unpack to more than 20 MB: a KMZ is input from anyone."""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree as ET

from missions.formats.wpml import (
    KML_NS,
    WPML_PREFIX,
    Action,
    ActionGroup,
    Wayline,
    WaylineMission,
    Waypoint,
    WpmlError,
)

MAX_MEMBER_BYTES = 20_000_000
"""A wayline file larger than this is refused unread (a zip bomb is input like any other)."""


def read_kmz(data: bytes) -> WaylineMission:
    """The wayline a KMZ makes the aircraft fly (its `waylines.wpml`; the template's type
    beside it). WpmlError with the reason for anything that is not one."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise WpmlError("not a KMZ: not a zip file") from None
    with z:
        names = {i.filename: i for i in z.infolist()}
        if "wpmz/waylines.wpml" not in names:
            raise WpmlError(f"no wpmz/waylines.wpml in the KMZ (it holds {', '.join(sorted(names)) or 'nothing'})")
        for name in ("wpmz/waylines.wpml", "wpmz/template.kml"):
            if name in names and names[name].file_size > MAX_MEMBER_BYTES:
                raise WpmlError(f"{name} would unpack to {names[name].file_size} bytes: refused")
        wpml = _parse(z.read("wpmz/waylines.wpml"), "waylines.wpml")
        template = _parse(z.read("wpmz/template.kml"), "template.kml") if "wpmz/template.kml" in names else None
    return _mission(wpml, template)


def _parse(raw: bytes, name: str) -> ET.Element:
    """defusedxml: no document type declarations, no entities (a billion laughs, an
    external entity reading local files) in a file anyone may upload."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        root: ET.Element = SafeET.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException:
        raise WpmlError(f"{name}: a document type declaration is not accepted") from None
    except ET.ParseError as exc:
        raise WpmlError(f"{name}: not XML ({exc})") from None
    return root


def _local(tag: str) -> tuple[str, str]:
    ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return ns, local


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        ns, local = _local(c.tag)
        if local == name and (ns.startswith(WPML_PREFIX) or ns in (KML_NS, "")):
            return c
    return None


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag)[1] == name]


def _text(el: ET.Element | None, name: str, default: str | None = None) -> str:
    c = _child(el, name) if el is not None else None
    if c is None or c.text is None or not c.text.strip():
        if default is None:
            raise WpmlError(f"missing wpml:{name}")
        return default
    return c.text.strip()


def _float(el: ET.Element | None, name: str, default: float | None = None) -> float:
    text = _text(el, name, None if default is None else repr(default))
    try:
        return float(text)
    except ValueError:
        raise WpmlError(f"wpml:{name} {text!r} is not a number") from None


def _int(el: ET.Element | None, name: str, default: int | None = None) -> int:
    value = _float(el, name, None if default is None else float(default))
    if value != int(value):
        raise WpmlError(f"wpml:{name} {value:g} is not a whole number")
    return int(value)


def _mission(root: ET.Element, template: ET.Element | None) -> WaylineMission:
    version = next(
        (_local(el.tag)[0][len(WPML_PREFIX) :] for el in root.iter() if _local(el.tag)[0].startswith(WPML_PREFIX)),
        None,
    )
    if version is None:
        raise WpmlError("waylines.wpml has no wpml: elements (not a DJI wayline)")
    doc = _child(root, "Document")
    if doc is None:
        raise WpmlError("waylines.wpml has no Document")
    cfg = _child(doc, "missionConfig")
    if cfg is None:
        raise WpmlError("missing wpml:missionConfig")
    info = _child(cfg, "droneInfo")
    payload = _child(cfg, "payloadInfo")
    template_type = "waypoint"
    if template is not None:
        tdoc = _child(template, "Document")
        tfolder = _child(tdoc, "Folder") if tdoc is not None else None
        if tfolder is not None:
            template_type = _text(tfolder, "templateType", "waypoint")
    lines = []
    for folder in _children(doc, "Folder"):
        speed = _float(folder, "autoFlightSpeed")
        points = []
        for mark in _children(folder, "Placemark"):
            point = _child(mark, "Point")
            coords = _text(point, "coordinates").replace("\n", "").split(",")
            try:
                lon, lat = float(coords[0]), float(coords[1])
            except (ValueError, IndexError):
                raise WpmlError(f"coordinates {','.join(coords)!r} are not lon,lat") from None
            head = _child(mark, "waypointHeadingParam")
            turn = _child(mark, "waypointTurnParam")
            poi = None
            mode = _text(head, "waypointHeadingMode", "followWayline") if head is not None else "followWayline"
            if mode == "towardPOI" and head is not None:
                parts = _text(head, "waypointPoiPoint", "0,0,0").split(",")
                poi = (float(parts[0]), float(parts[1]), float(parts[2]) if len(parts) > 2 else 0.0)
            groups = []
            for g in _children(mark, "actionGroup"):
                actions = tuple(
                    Action(
                        _text(a, "actionActuatorFunc"),
                        tuple(
                            (_local(p.tag)[1], (p.text or "").strip())
                            for p in (_child(a, "actionActuatorFuncParam") or [])
                        ),
                    )
                    for a in _children(g, "action")
                )
                groups.append(
                    ActionGroup(
                        _int(g, "actionGroupId"),
                        _int(g, "actionGroupStartIndex"),
                        _int(g, "actionGroupEndIndex"),
                        _text(_child(g, "actionTrigger"), "actionTriggerType", "reachPoint"),
                        actions,
                    )
                )
            has_speed = _child(mark, "waypointSpeed") is not None
            points.append(
                Waypoint(
                    _int(mark, "index"),
                    lon,
                    lat,
                    _float(mark, "executeHeight"),
                    _float(mark, "waypointSpeed") if has_speed else None,
                    mode,
                    poi,
                    _text(turn, "waypointTurnMode", "toPointAndStopWithDiscontinuityCurvature")
                    if turn is not None
                    else "toPointAndStopWithDiscontinuityCurvature",
                    _float(turn, "waypointTurnDampingDist", 0.0) if turn is not None else 0.0,
                    tuple(groups),
                )
            )
        lines.append(
            Wayline(
                _int(folder, "waylineId", 0),
                _int(folder, "templateId", 0),
                _text(folder, "executeHeightMode"),
                speed,
                tuple(points),
            )
        )
    return WaylineMission(
        tuple(lines),
        _int(info, "droneEnumValue"),
        _int(info, "droneSubEnumValue", 0),
        _int(payload, "payloadEnumValue") if payload is not None else None,
        takeoff_security_height=_float(cfg, "takeOffSecurityHeight"),
        transitional_speed=_float(cfg, "globalTransitionalSpeed"),
        rth_height=_float(cfg, "globalRTHHeight", 100.0),
        finish_action=_text(cfg, "finishAction"),
        fly_to_mode=_text(cfg, "flyToWaylineMode", "safely"),
        exit_on_rc_lost=_text(cfg, "exitOnRCLost", "goContinue"),
        rc_lost_action=_text(cfg, "executeRCLostAction", "") or None,
        template_type=template_type,
        version=version,
    )
