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

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
BEIJING = timezone(timedelta(hours=8))
IDENTIFIER_RE = re.compile(r"^\d{6}\d{3}\d{3}\d{2}_\d{14}_\d$")

KIND_INFO = {
    # kind: (category, event, urgency, severity)
    "fire": ("Fire", "Fire seen by patrol drone", "Immediate", "Severe"),
    "smoke": ("Fire", "Smoke seen by patrol drone", "Immediate", "Moderate"),
    "illegal_parking": ("Transport", "Vehicle parked in a no-parking zone", "Expected", "Minor"),
}


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
) -> str:
    """One CAP 1.2 <alert> as XML text."""
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
    info = el(alert, "info")
    el(info, "language", "en-US")
    el(info, "category", category)
    el(info, "event", event)
    el(info, "responseType", "AllClear" if msg_type == "Cancel" else "Monitor")
    el(info, "urgency", urgency)
    el(info, "severity", severity)
    el(info, "certainty", "Unlikely" if msg_type == "Cancel" else certainty)
    el(info, "onset", cap_time(finding.first_seen))
    if expires is not None:
        el(info, "expires", cap_time(expires))
    el(info, "senderName", issuer.sender_name)
    headline = f"{event} at {finding.lat:.5f}, {finding.lon:.5f}"
    el(info, "headline", ("False alarm: " if msg_type == "Cancel" else "") + headline)
    el(info, "description", finding.description)
    for name, value in {"confidence": f"{finding.confidence:.2f}", **finding.parameters}.items():
        p = el(info, "parameter")
        el(p, "valueName", name)
        el(p, "value", value)
    if finding.evidence_uri:
        r = el(info, "resource")
        el(r, "resourceDesc", "evidence image (frame with the detection boxed)")
        el(r, "mimeType", "image/jpeg")
        el(r, "uri", finding.evidence_uri)
    area = el(info, "area")
    el(area, "areaDesc", finding.area_desc)
    el(area, "circle", f"{finding.lat:.6f},{finding.lon:.6f} {finding.radius_m / 1000:.3f}")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(alert, encoding="unicode")
