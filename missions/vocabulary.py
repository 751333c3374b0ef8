"""What sim, vision and orchestrator say to each other over the bus: topics and messages.

Plain data with versioned JSON encodings and no client code. The dock topics follow the
layout of real dock cloud APIs: a periodic `osd` stream, `state` on change, `events`,
and `services` requests answered on `services_reply`, one tree per dock:

    dronepatrol/v1/dock/<airport>/osd               DockOsd, every 2 s (sim time)
    dronepatrol/v1/dock/<airport>/state             DockOsd, on any change (retained)
    dronepatrol/v1/dock/<airport>/events            DockEvent
    dronepatrol/v1/dock/<airport>/services          ServiceRequest
    dronepatrol/v1/dock/<airport>/services_reply    ServiceReply
    dronepatrol/v1/sim/control                      SimControl (faults and the like)
    dronepatrol/v1/video/<airport>/meta             frame_meta: seq, capture time, camera pose

Every payload is a JSON object with `"v": 1` and a `"type"` naming the message.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

VERSION = 1
ROOT = "dronepatrol/v1"


def dock_topic(airport: str, leaf: str) -> str:
    return f"{ROOT}/dock/{airport}/{leaf}"


SIM_CONTROL_TOPIC = f"{ROOT}/sim/control"


def video_meta_topic(airport: str) -> str:
    """Per-frame metadata of a drone's video (capture time and camera pose), JSON lines."""
    return f"{ROOT}/video/{airport}/meta"


VEHICLE_FAULTS = frozenset({"link_loss", "packet_loss", "gps_loss", "battery_sag", "motor_failure", "gust"})
DOCK_FAULTS = frozenset({"lid_jam", "charger_fault", "power_loss"})
SIM_FAULTS = VEHICLE_FAULTS | DOCK_FAULTS
"""Faults the simulator can inject (see sim/faults.py for what each does)."""


class VocabularyError(ValueError):
    """A payload that is not a valid message of the expected type."""


class LidState(StrEnum):
    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    JAMMED = "jammed"


class DockFault(StrEnum):
    LID_JAM = "lid_jam"
    CHARGER = "charger_fault"
    POWER_LOSS = "power_loss"


class DockService(StrEnum):
    OPEN_LID = "open_lid"
    CLOSE_LID = "close_lid"
    START_CHARGE = "start_charge"
    STOP_CHARGE = "stop_charge"
    REBOOT = "reboot"


T = TypeVar("T", bound="Message")


@dataclass(frozen=True)
class Message:
    """Base of bus messages: JSON with a version and a type tag."""

    TYPE: ClassVar[str] = "message"

    def to_json(self) -> str:
        return json.dumps({"v": VERSION, "type": self.TYPE, **asdict(self)}, separators=(",", ":"))

    @classmethod
    def from_json(cls: type[T], payload: str | bytes) -> T:
        try:
            data = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise VocabularyError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise VocabularyError("not a JSON object")
        if data.pop("v", None) != VERSION:
            raise VocabularyError(f"unsupported version (expected {VERSION})")
        if data.pop("type", None) != cls.TYPE:
            raise VocabularyError(f"not a {cls.TYPE} message")
        try:
            return cls(**data)
        except TypeError as exc:
            raise VocabularyError(f"bad {cls.TYPE} fields: {exc}") from None


@dataclass(frozen=True)
class WeatherReading:
    wind_ms: float
    wind_from_deg: float
    gust_ms: float
    rain_mm_h: float
    temp_c: float


@dataclass(frozen=True)
class DockOsd(Message):
    """A dock's state: lid, pad, charger, weather station, faults."""

    TYPE: ClassVar[str] = "dock_osd"
    airport: str
    time: str
    """Sim time, ISO 8601 with offset."""
    lid: str
    drone_on_pad: bool
    charging: bool
    drone_soc: float
    """Drone battery state of charge, 0-1 (as last seen by the dock)."""
    weather: dict[str, float]
    faults: list[str] = field(default_factory=list)
    powered: bool = True


@dataclass(frozen=True)
class DockEvent(Message):
    TYPE: ClassVar[str] = "dock_event"
    airport: str
    time: str
    event: str
    detail: str = ""


@dataclass(frozen=True)
class ServiceRequest(Message):
    TYPE: ClassVar[str] = "service_request"
    tid: str
    """Transaction id, echoed in the reply."""
    service: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceReply(Message):
    TYPE: ClassVar[str] = "service_reply"
    tid: str
    service: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class SimControl(Message):
    """A command to the simulator: inject or clear a fault."""

    TYPE: ClassVar[str] = "sim_control"
    airport: str
    fault: str
    """link_loss, packet_loss, gps_loss, battery_sag, motor_failure, gust, lid_jam, charger_fault, power_loss."""
    value: float = 1.0
    """Strength: loss share for packet_loss, Wh for battery_sag, m/s for gust; 0 clears."""
    duration_s: float = 0.0
    """Sim seconds until it clears by itself; 0 = until cleared."""


def findings_topic(airport: str) -> str:
    """Vision's confirmed findings from one airport's drone (JSON, evidence inline)."""
    return f"{ROOT}/vision/{airport}/findings"


def sortie_topic(airport: str) -> str:
    """The orchestrator's sortie events (every state change, with its reason), per launch airport."""
    return f"{ROOT}/orchestrator/{airport}/sorties"


def drone_topic(drone: str) -> str:
    """The orchestrator's view of one drone (phase, battery, position), on change; retained."""
    return f"{ROOT}/orchestrator/drones/{drone}"


@dataclass(frozen=True)
class SortieEvent(Message):
    """A sortie changed state: what the alert system and dashboards follow."""

    TYPE: ClassVar[str] = "sortie_event"
    id: str
    airport: str
    state: str
    """planned, preflight, airborne, returning, completed, held, aborted, failed."""
    reason: str
    time: str
    patrol: str | None = None
    drone: str | None = None
    alert_id: str | None = None


def incident_topic(incident_id: str) -> str:
    """The orchestrator's incidents: opened, updated, each lifecycle step (JSON, QoS 1)."""
    return f"{ROOT}/incidents/{incident_id}"


CAP_TOPIC = f"{ROOT}/cap"
"""Every CAP 1.2 message the orchestrator issues, as XML (QoS 1)."""
ALERTS_IN_TOPIC = f"{ROOT}/alerts/in"
"""Inbound alerts: a JSON alert (as POST /api/v1/alerts takes) or a CAP 1.2 XML alert."""
ALERTS_REPLY_TOPIC = f"{ROOT}/alerts/decisions"
"""What was decided for each inbound MQTT alert, taken or refused (JSON)."""
