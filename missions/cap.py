"""CAP 1.2 (OASIS Common Alerting Protocol) messages for findings, as the district's
alert system takes them.

Identifiers follow GB/T 35965.1's pattern, ``ZZZZZZDDDUUUXX_YYYYMMDDhhmmss_N`` (31
characters): the issuing unit's code (6-digit administrative division, 440305 for
Nanshan; 3-digit organisation code; 3-digit internal unit; 2-digit extension), the entry
time in Beijing time, and a serial 0-9 for messages issued in the same second. Times
are written with their +08:00 offset. A follow-up is an ``Update`` and a false alarm a
``Cancel``, each naming the message it follows in ``references``.

Pure: the caller passes the time and the serial; the output is a string of XML.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
BEIJING = timezone(timedelta(hours=8))
IDENTIFIER_RE = re.compile(r"^\d{6}\d{3}\d{3}\d{2}_\d{14}_\d$")

KIND_INFO = {
    # kind: (category, event, urgency, severity)
    "fire": ("Fire", "Fire seen by patrol drone", "Immediate", "Severe"),
    "smoke": ("Fire", "Smoke seen by patrol drone", "Immediate", "Moderate"),
    "illegal_parking": ("Transport", "Vehicle parked in a no-parking zone", "Expected", "Minor"),
}


ZH_EVENT = {
    "fire": "无人机巡查发现火情",
    "smoke": "无人机巡查发现烟雾",
    "illegal_parking": "禁停区域车辆违停",
}
"""The event in Chinese, for the zh-CN <info> block GB/T 35965.1 systems read."""
LANGUAGES = ("en-US", "zh-CN")


class CapError(ValueError):
    pass


@dataclass(frozen=True)
class Issuer:
    division: str = "440305"
    """GB/T 2260 administrative division (Nanshan District, Shenzhen)."""
    organisation: str = "000"
    """GB/T 4657 organisation code of the issuing bureau."""
    unit: str = "000"
    extension: str = "00"
    sender: str = "dronepatrol@440305"
    sender_name: str = "Nanshan District drone patrol"

    def code(self) -> str:
        code = f"{self.division}{self.organisation}{self.unit}{self.extension}"
        if not re.fullmatch(r"\d{14}", code):
            raise CapError(f"issuer code {code!r} must be 14 digits (6 + 3 + 3 + 2)")
        return code


def cap_identifier(issuer: Issuer, entered: datetime, serial: int) -> str:
    if entered.tzinfo is None:
        raise CapError("the entry time needs its UTC offset")
    if not 0 <= serial <= 9:
        raise CapError(f"serial {serial}: one digit, 0-9, per issuer and second")
    return f"{issuer.code()}_{entered.astimezone(BEIJING):%Y%m%d%H%M%S}_{serial}"


def cap_time(t: datetime) -> str:
    """CAP's dateTime: no fractional seconds, an explicit offset (Beijing time)."""
    if t.tzinfo is None:
        raise CapError("CAP times need their UTC offset")
    return t.astimezone(BEIJING).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class CapFinding:
    """What a CAP message says about one incident."""

    kind: str
    lat: float
    lon: float
    radius_m: float
    confidence: float
    first_seen: datetime
    area_desc: str
    description: str
    evidence_uri: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    sender: str
    identifier: str
    sent: datetime

    def text(self) -> str:
        return f"{self.sender},{self.identifier},{cap_time(self.sent)}"


def cap_alert(
    finding: CapFinding,
    identifier: str,
    sent: datetime,
    issuer: Issuer = Issuer(),
    msg_type: str = "Alert",
    references: tuple[Reference, ...] = (),
    status: str = "Actual",
    expires: datetime | None = None,
    languages: tuple[str, ...] = LANGUAGES,
) -> str:
    """One CAP 1.2 <alert> as XML text, with one <info> block per language: en-US, and zh-CN
    beside it for the district's platform (GB/T 35965.1 systems read Chinese)."""
    if not languages or any(lang not in LANGUAGES for lang in languages):
        raise CapError(f"languages: some of {', '.join(LANGUAGES)}")
    if not IDENTIFIER_RE.match(identifier):
        raise CapError(f"identifier {identifier!r} does not follow ZZZZZZDDDUUUXX_YYYYMMDDhhmmss_N")
    if msg_type not in ("Alert", "Update", "Cancel"):
        raise CapError(f"msgType {msg_type!r}: Alert, Update or Cancel")
    if msg_type != "Alert" and not references:
        raise CapError(f"an {msg_type} must reference the message it follows")
    if finding.kind not in KIND_INFO:
        raise CapError(f"no CAP mapping for finding kind {finding.kind!r}")
    if not (-90 <= finding.lat <= 90 and -180 <= finding.lon <= 180) or finding.radius_m <= 0:
        raise CapError("location out of range")
    category, event, urgency, severity = KIND_INFO[finding.kind]
    if msg_type == "Cancel":
        urgency, severity = "Past", "Minor"
    certainty = "Observed" if finding.confidence >= 0.7 else "Likely" if finding.confidence >= 0.5 else "Possible"

    ET.register_namespace("", CAP_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        e = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
        if text is not None:
            e.text = text
        return e

    alert = ET.Element(f"{{{CAP_NS}}}alert")
    el(alert, "identifier", identifier)
    el(alert, "sender", issuer.sender)
    el(alert, "sent", cap_time(sent))
    el(alert, "status", status)
    el(alert, "msgType", msg_type)
    el(alert, "scope", "Restricted")
    el(alert, "restriction", "Emergency management bureau and dispatched units")
    if references:
        el(alert, "references", " ".join(r.text() for r in references))
    for language in languages:
        chinese = language == "zh-CN"
        info = el(alert, "info")
        el(info, "language", language)
        el(info, "category", category)
        el(info, "event", ZH_EVENT[finding.kind] if chinese else event)
        el(info, "responseType", "AllClear" if msg_type == "Cancel" else "Monitor")
        el(info, "urgency", urgency)
        el(info, "severity", severity)
        el(info, "certainty", "Unlikely" if msg_type == "Cancel" else certainty)
        el(info, "onset", cap_time(finding.first_seen))
        if expires is not None:
            el(info, "expires", cap_time(expires))
        el(info, "senderName", issuer.sender_name)
        if chinese:
            where = f"北纬 {finding.lat:.5f}，东经 {finding.lon:.5f}"
            headline = ("误报解除：" if msg_type == "Cancel" else "") + f"{ZH_EVENT[finding.kind]}（{where}）"
            description = (
                f"{ZH_EVENT[finding.kind]}，位置{where}（半径 {finding.radius_m:.0f} 米），"
                f"置信度 {finding.confidence:.0%}，首次发现于 {cap_time(finding.first_seen)}。"
            )
        else:
            headline = ("False alarm: " if msg_type == "Cancel" else "") + (
                f"{event} at {finding.lat:.5f}, {finding.lon:.5f}"
            )
            description = finding.description
        el(info, "headline", headline)
        el(info, "description", description)
        for name, value in {"confidence": f"{finding.confidence:.2f}", **finding.parameters}.items():
            p = el(info, "parameter")
            el(p, "valueName", name)
            el(p, "value", value)
        if finding.evidence_uri:
            r = el(info, "resource")
            el(
                r,
                "resourceDesc",
                "现场证据图像（检测框标注）" if chinese else "evidence image (frame with the detection boxed)",
            )
            el(r, "mimeType", "image/jpeg")
            el(r, "uri", finding.evidence_uri)
        area = el(info, "area")
        el(area, "areaDesc", finding.area_desc)
        el(area, "circle", f"{finding.lat:.6f},{finding.lon:.6f} {finding.radius_m / 1000:.3f}")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(alert, encoding="unicode")


@dataclass(frozen=True)
class InboundCap:
    """What an alert sent to us as CAP says: who, which message, where, what, how urgent."""

    identifier: str
    sender: str
    sent: datetime
    msg_type: str
    kind: str
    priority: int
    lat: float
    lon: float
    radius_m: float
    headline: str


def _event_kind(category: str, event: str) -> str | None:
    text = event.lower()
    if "smoke" in text or "烟" in text:
        return "smoke"
    if "火" in text:
        return "fire"
    if "内涝" in text or "积水" in text:
        return "flood"
    if "危化" in text or "泄漏" in text:
        return "hazmat"
    if "违停" in text or "停车" in text:
        return "illegal_parking"
    if "smoke" in text:
        return "smoke"
    if category == "Fire" or "fire" in text:
        return "fire"
    if "flood" in text or "waterlog" in text:
        return "flood"
    if category == "CBRNE" or "chemical" in text or "hazmat" in text or "leak" in text:
        return "hazmat"
    if "parking" in text or "parked" in text:
        return "illegal_parking"
    return None


def _priority(urgency: str, severity: str) -> int:
    if urgency == "Immediate" and severity in ("Extreme", "Severe"):
        return 1
    if urgency in ("Immediate", "Expected") and severity in ("Extreme", "Severe", "Moderate"):
        return 2
    return 3


def parse_cap(text: str | bytes) -> InboundCap:
    """Read an inbound CAP 1.2 alert; CapError says what is missing or wrong. The place is
    the first `<circle>` of the first `<area>`, else the centre of its first `<polygon>`."""
    raw = text.encode() if isinstance(text, str) else text
    try:
        # The parser itself refuses any DTD, entity or external reference, whatever the
        # document's encoding (a byte search misses `<!DOCTYPE` written in UTF-16).
        root = safe_xml.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise CapError("DOCTYPE and entity declarations are not accepted") from None
    except ET.ParseError as exc:
        raise CapError(f"not well-formed XML: {exc}") from None
    ns = {"c": CAP_NS}
    if root.tag != f"{{{CAP_NS}}}alert":
        raise CapError(f"the root element is {root.tag!r}, not a CAP 1.2 <alert> ({CAP_NS})")

    def need(parent: ET.Element, path: str) -> str:
        value = parent.findtext(path, namespaces=ns)
        if value is None or not value.strip():
            raise CapError(f"<{path.replace('c:', '')}> is missing")
        return value.strip()

    identifier, sender = need(root, "c:identifier"), need(root, "c:sender")
    try:
        sent = datetime.fromisoformat(need(root, "c:sent"))
    except ValueError:
        raise CapError("<sent> is not a CAP dateTime") from None
    if sent.tzinfo is None:
        raise CapError("<sent> needs its UTC offset")
    status, msg_type = need(root, "c:status"), need(root, "c:msgType")
    if status not in ("Actual", "Exercise"):
        raise CapError(f"status {status}: only Actual and Exercise alerts launch drones")
    if msg_type not in ("Alert", "Update"):
        raise CapError(f"msgType {msg_type}: Alert or Update (a sortie already flying is aborted through its API)")
    blocks = root.findall("c:info", ns)
    english = [b for b in blocks if (b.findtext("c:language", default="en-US", namespaces=ns) or "").startswith("en")]
    info = (english or blocks or [None])[0]
    if info is None:
        raise CapError("<info> is missing")
    category, event = need(info, "c:category"), need(info, "c:event")
    kind = _event_kind(category, event)
    if kind is None:
        raise CapError(f"no alert kind for category {category!r}, event {event!r}")
    priority = _priority(need(info, "c:urgency"), need(info, "c:severity"))
    area = info.find("c:area", ns)
    if area is None:
        raise CapError("<area> is missing")
    lat, lon, radius_m = _place(area, ns)
    headline = info.findtext("c:headline", default=event, namespaces=ns).strip()
    return InboundCap(identifier, sender, sent, msg_type, kind, priority, lat, lon, radius_m, headline)


def _place(area: ET.Element, ns: dict[str, str]) -> tuple[float, float, float]:
    circle = area.findtext("c:circle", namespaces=ns)
    try:
        if circle:
            point, radius = circle.split()
            lat_s, lon_s = point.split(",")
            lat, lon, radius_m = float(lat_s), float(lon_s), float(radius) * 1000
        else:
            polygon = area.findtext("c:polygon", namespaces=ns)
            if not polygon:
                raise CapError("the <area> has neither a <circle> nor a <polygon>")
            pairs = [tuple(float(v) for v in p.split(",")) for p in polygon.split()]
            if len(pairs) < 4 or any(len(p) != 2 for p in pairs):
                raise CapError("a <polygon> needs at least four lat,lon pairs")
            lat = sum(p[0] for p in pairs[:-1]) / (len(pairs) - 1)
            lon = sum(p[1] for p in pairs[:-1]) / (len(pairs) - 1)
            radius_m = 0.0
    except ValueError:
        raise CapError("the <area>'s coordinates are not numbers as CAP writes them") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise CapError("the <area> lies outside WGS 84's range")
    return lat, lon, radius_m
