"""DJI Cloud API, the cloud's side, as pure data: the MQTT topics and envelope a DJI dock
(Dock 2, Dock 3) speaks, the service calls the cloud makes (checked against DJI's
documented ranges before they go out), the book of calls awaiting their replies, and
what the dock reports turned into our own terms (sortie states, faults, weather).

No I/O here: the adapter that connects this to a broker, and the dock emulator that
answers it, are built on top. Everything a dock sends is input from the network: a
message that is not JSON, has no `tid`, names an unknown method, replies to a call never
made or replies twice is refused with the reason (`DjiProtocolError`) and changes
nothing.

Heights: DJI's command-flight heights (`takeoff_to_point.target_height`,
`fly_to_point.points[].height`) are WGS84 ellipsoidal; ours are above mean sea level, so
they go out as AMSL + N (N, the geoid undulation, about -3.5 m over Nanshan). Heights
"relative to the dock" (RTH altitude, security take-off height, commander flight height)
are metres above the dock's take-off point.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from missions.errors import MissionsError
from missions.formats.wpml import NANSHAN_GEOID_M

SN_PATTERN = re.compile(r"^[A-Z0-9]{6,32}$")
"""DJI serial numbers: upper-case letters and digits (7CTXN00000001)."""

MAX_MESSAGE_BYTES = 256_000


class DjiProtocolError(MissionsError, ValueError):
    """A message from a dock that is refused (the reason says why), or a call we would
    send that a dock would refuse."""


class Channel(StrEnum):
    """The topic's last part(s): what the message is."""

    OSD = "osd"
    STATE = "state"
    SERVICES = "services"
    SERVICES_REPLY = "services_reply"
    EVENTS = "events"
    EVENTS_REPLY = "events_reply"
    REQUESTS = "requests"
    REQUESTS_REPLY = "requests_reply"
    STATUS = "status"
    STATUS_REPLY = "status_reply"
    PROPERTY_SET = "property/set"
    PROPERTY_SET_REPLY = "property/set_reply"


FROM_DEVICE = frozenset(
    {
        Channel.OSD,
        Channel.STATE,
        Channel.SERVICES_REPLY,
        Channel.EVENTS,
        Channel.REQUESTS,
        Channel.STATUS,
        Channel.PROPERTY_SET_REPLY,
    }
)
SUBSCRIPTIONS = ("thing/product/+/osd", "thing/product/+/state", "thing/product/+/services_reply",
                 "thing/product/+/events", "thing/product/+/requests", "thing/product/+/property/set_reply",
                 "sys/product/+/status")  # fmt: skip
"""What the cloud subscribes to: everything a dock (or its aircraft) sends."""


def topic(sn: str, channel: Channel) -> str:
    prefix = "sys" if channel in (Channel.STATUS, Channel.STATUS_REPLY) else "thing"
    return f"{prefix}/product/{sn}/{channel.value}"


def parse_topic(name: str) -> tuple[str, Channel]:
    """(serial number, channel) of a topic a dock publishes on; DjiProtocolError otherwise."""
    parts = name.split("/")
    if len(parts) < 4 or parts[1] != "product" or parts[0] not in ("thing", "sys"):
        raise DjiProtocolError(f"topic {name!r} is not a DJI Cloud API topic")
    sn, rest = parts[2], "/".join(parts[3:])
    if not SN_PATTERN.match(sn):
        raise DjiProtocolError(f"topic {name!r}: {sn!r} is not a serial number")
    try:
        channel = Channel(rest)
    except ValueError:
        raise DjiProtocolError(f"topic {name!r}: unknown channel {rest!r}") from None
    if (parts[0] == "sys") != (channel in (Channel.STATUS, Channel.STATUS_REPLY)):
        raise DjiProtocolError(f"topic {name!r}: {rest} is not under {parts[0]}/")
    return sn, channel


@dataclass(frozen=True)
class Envelope:
    """One message: `tid` ties a reply to its call, `bid` a business flow (a whole flight)."""

    tid: str
    bid: str
    timestamp_ms: int
    data: dict[str, Any]
    method: str | None = None
    gateway: str | None = None
    need_reply: bool = False

    def to_json(self) -> bytes:
        body: dict[str, Any] = {"tid": self.tid, "bid": self.bid, "timestamp": self.timestamp_ms}
        if self.gateway is not None:
            body["gateway"] = self.gateway
        if self.method is not None:
            body["method"] = self.method
        if self.need_reply:
            body["need_reply"] = 1
        body["data"] = self.data
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Message:
    sn: str
    channel: Channel
    envelope: Envelope


NEEDS_METHOD = frozenset({Channel.SERVICES_REPLY, Channel.EVENTS, Channel.REQUESTS, Channel.STATUS})


def parse_message(topic_name: str, payload: bytes) -> Message:
    """A message a dock published, checked: DjiProtocolError says what is wrong with it."""
    sn, channel = parse_topic(topic_name)
    if channel not in FROM_DEVICE:
        raise DjiProtocolError(f"{topic_name}: {channel.value} is sent by the cloud, not by a dock")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise DjiProtocolError(f"{topic_name}: {len(payload)} bytes, more than {MAX_MESSAGE_BYTES}")
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DjiProtocolError(f"{topic_name}: not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise DjiProtocolError(f"{topic_name}: not a JSON object")
    for key in ("tid", "bid"):
        if not isinstance(body.get(key), str) or not body[key] or len(body[key]) > 64:
            raise DjiProtocolError(f"{topic_name}: no {key} (a text of 1-64 characters)")
    ts = body.get("timestamp")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
        raise DjiProtocolError(f"{topic_name}: timestamp {ts!r} is not milliseconds")
    data = body.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DjiProtocolError(f"{topic_name}: data is not an object")
    method = body.get("method")
    if channel in NEEDS_METHOD and (not isinstance(method, str) or not method):
        raise DjiProtocolError(f"{topic_name}: no method")
    gateway = body.get("gateway")
    if gateway is not None and (not isinstance(gateway, str) or not SN_PATTERN.match(gateway)):
        raise DjiProtocolError(f"{topic_name}: gateway {gateway!r} is not a serial number")
    need = body.get("need_reply", 0)
    return Message(
        sn,
        channel,
        Envelope(body["tid"], body["bid"], ts, data, method if isinstance(method, str) else None, gateway, need == 1),
    )


# ---- calls the cloud makes ------------------------------------------------------------
def _range(name: str, value: float, lo: float, hi: float) -> None:
    if not (lo <= value <= hi) or math.isnan(value):
        raise DjiProtocolError(f"{name} {value:g} is outside DJI's [{lo:g}, {hi:g}]")


def call(method: str, data: dict[str, Any] | None, now_ms: int, bid: str | None = None) -> Envelope:
    """A `services` call with a fresh tid (and bid, unless it continues a flow)."""
    return Envelope(uuid.uuid4().hex, bid or uuid.uuid4().hex, now_ms, data or {}, method)


def flighttask_prepare(
    flight_id: str,
    kmz_url: str,
    fingerprint: str,
    execute_time_ms: int,
    rth_altitude_m: float,
    *,
    exit_on_rc_lost: bool = True,
) -> dict[str, Any]:
    """The data of `flighttask_prepare` for an immediate task (type 0): the KMZ by URL with
    its MD5, the return height relative to the dock (20-1500 m)."""
    if not re.fullmatch(r"[0-9a-f]{32}", fingerprint):
        raise DjiProtocolError(f"fingerprint {fingerprint!r} is not an MD5 in hex")
    if not kmz_url.startswith(("http://", "https://")):
        raise DjiProtocolError(f"KMZ URL {kmz_url!r}: a dock downloads over HTTP(S)")
    _range("rth_altitude", rth_altitude_m, 20, 1500)
    return {
        "flight_id": flight_id,
        "task_type": 0,
        "execute_time": execute_time_ms,
        "file": {"url": kmz_url, "fingerprint": fingerprint},
        "rth_altitude": round(rth_altitude_m),
        "rth_mode": 1,  # preset height: the only one the docks support
        "out_of_control_action": 0,  # return home: fixed at 0 by DJI
        "exit_wayline_when_rc_lost": 1 if exit_on_rc_lost else 0,
        "wayline_precision_type": 1,
    }


def takeoff_to_point(
    flight_id: str,
    lat: float,
    lon: float,
    target_amsl_m: float,
    *,
    dock_amsl_m: float,
    security_takeoff_m: float,
    rth_altitude_m: float,
    commander_height_m: float,
    max_speed_ms: float,
    geoid_m: float = NANSHAN_GEOID_M,
) -> dict[str, Any]:
    """An alert from a docked aircraft: take off, climb to the higher of the security and
    commander heights (both relative to the dock: set them over the terrain on the way),
    fly to the point and hover at `target_amsl_m` (sent as an ellipsoidal height)."""
    target = target_amsl_m + geoid_m
    _range("target_height", target, 2, 1500)
    _range("security_takeoff_height", security_takeoff_m, 20, 1500)
    _range("rth_altitude", rth_altitude_m, 2, 1500)
    _range("commander_flight_height", commander_height_m, 2, 3000)
    _range("max_speed", max_speed_ms, 1, 15)
    if target_amsl_m < dock_amsl_m + 2:
        raise DjiProtocolError(f"target {target_amsl_m:.0f} m is below the dock ({dock_amsl_m:.0f} m above sea level)")
    return {
        "flight_id": flight_id,
        "target_latitude": lat,
        "target_longitude": lon,
        "target_height": round(target, 1),
        "security_takeoff_height": round(security_takeoff_m, 1),
        "rth_altitude": round(rth_altitude_m),
        "rth_mode": 1,
        "rc_lost_action": 2,  # return home (0 hover, 1 land, 2 RTH)
        "commander_mode_lost_action": 1,
        "commander_flight_mode": 1,  # preset height: over the hills, not "smart"
        "commander_flight_height": round(commander_height_m, 1),
        "max_speed": round(max_speed_ms, 1),
    }


def fly_to_point(fly_to_id: str, lat: float, lon: float, amsl_m: float, max_speed_ms: float,
                 geoid_m: float = NANSHAN_GEOID_M) -> dict[str, Any]:  # fmt: skip
    """An alert for an aircraft already in the air: one point, its height ellipsoidal."""
    height = amsl_m + geoid_m
    _range("height", height, 2, 10000)
    _range("max_speed", max_speed_ms, 0, 15)
    return {
        "fly_to_id": fly_to_id,
        "max_speed": round(max_speed_ms, 1),
        "points": [{"latitude": lat, "longitude": lon, "height": round(height, 1)}],
    }


# ---- waiting for replies ----------------------------------------------------------------
@dataclass
class Pending:
    sn: str
    method: str
    sent_ms: int
    deadline_ms: int


@dataclass(frozen=True)
class Reply:
    """What became of a call: result 0 is done; anything else is the dock's error code."""

    sn: str
    method: str
    result: int
    output: dict[str, Any]
    waited_ms: int

    @property
    def ok(self) -> bool:
        return self.result == 0


@dataclass
class CallBook:
    """Service calls awaiting their `services_reply`, by tid. A reply to a call never made,
    to one already answered or timed out, from another dock or for another method is
    refused; a call without an answer by its deadline is given up (not resent with the
    same tid: the caller asks the dock's state instead)."""

    pending: dict[str, Pending] = field(default_factory=dict)
    settled: dict[str, str] = field(default_factory=dict)
    """tid -> what became of it, kept for a while so a replay is named as one."""
    keep_settled: int = 1000

    def sent(self, sn: str, env: Envelope, timeout_ms: int) -> None:
        if env.method is None:
            raise DjiProtocolError("a service call needs a method")
        self.pending[env.tid] = Pending(sn, env.method, env.timestamp_ms, env.timestamp_ms + timeout_ms)

    def reply(self, msg: Message, now_ms: int) -> Reply:
        env = msg.envelope
        if msg.channel is not Channel.SERVICES_REPLY:
            raise DjiProtocolError(f"{msg.channel.value} is not a services reply")
        if env.tid in self.settled:
            raise DjiProtocolError(f"reply to {env.tid} again (it was {self.settled[env.tid]}): a replay, ignored")
        call_ = self.pending.get(env.tid)
        if call_ is None:
            raise DjiProtocolError(f"reply to {env.tid}, which no call of ours carried")
        if call_.sn != msg.sn:
            raise DjiProtocolError(f"reply to {env.tid} from {msg.sn}; the call went to {call_.sn}")
        if env.method != call_.method:
            raise DjiProtocolError(f"reply to {env.tid} says {env.method!r}; the call was {call_.method!r}")
        result = env.data.get("result")
        if not isinstance(result, int) or isinstance(result, bool):
            raise DjiProtocolError(f"reply to {env.tid}: result {result!r} is not a number")
        output = env.data.get("output")
        del self.pending[env.tid]
        self._settle(env.tid, f"answered {result}")
        return Reply(msg.sn, call_.method, result, output if isinstance(output, dict) else {}, now_ms - call_.sent_ms)

    def expire(self, now_ms: int) -> list[tuple[str, Pending]]:
        """Calls past their deadline, given up: (tid, call) for each."""
        late = [(tid, p) for tid, p in self.pending.items() if now_ms > p.deadline_ms]
        for tid, _ in late:
            del self.pending[tid]
            self._settle(tid, "timed out")
        return late

    def _settle(self, tid: str, how: str) -> None:
        self.settled[tid] = how
        while len(self.settled) > self.keep_settled:
            del self.settled[next(iter(self.settled))]


# ---- what the dock reports, in our terms ---------------------------------------------------
TERMINAL_PROGRESS = frozenset({"ok", "partially_done", "failed", "canceled", "timeout", "rejected"})

BREAK_REASONS = {
    513: "exceeds the height limit",
    514: "exceeds the distance limit",
    515: "the wayline crosses a restricted zone",
    516: "low-altitude limit",
    517: "obstacle avoidance triggered",
    519: "near a no-fly boundary",
    521: "above the dock's zone height limit",
    529: "an obstacle or no-fly area makes the route unreachable",
    772: "battery too low to start",
    773: "low battery: returning home",
    784: "high wind: returning home",
    780: "terrain-follow height out of 30-200 m",
    1540: "coordinate system not supported",
    1541: "height mode not supported",
    1547: "global speed out of range",
    1548: "waypoint count abnormal",
    1565: "obstacle emergency brake",
}


@dataclass(frozen=True)
class TaskProgress:
    flight_id: str
    status: str
    step: int | None
    percent: float | None
    waypoint: int | None
    break_reason: str | None

    @property
    def sortie_state(self) -> str:
        """The sortie's state (planned, preflight, airborne, returning, completed, failed,
        aborted) this progress means."""
        if self.status in ("ok", "partially_done"):
            return "completed"
        if self.status in ("failed", "rejected", "timeout"):
            return "failed"
        if self.status == "canceled":
            return "aborted"
        if self.step is None or self.step < 25:
            return "preflight" if self.status != "sent" else "planned"
        return "returning" if 26 <= self.step <= 29 else "airborne"

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_PROGRESS


def task_progress(msg: Message) -> TaskProgress:
    """A `flighttask_progress` event in our terms; DjiProtocolError if it is not one."""
    env = msg.envelope
    if msg.channel is not Channel.EVENTS or env.method != "flighttask_progress":
        raise DjiProtocolError(f"{env.method} on {msg.channel.value} is not a flight task's progress")
    out = env.data.get("output")
    if not isinstance(out, dict) or not isinstance(out.get("status"), str):
        raise DjiProtocolError("flighttask_progress without output.status")
    ext = _obj(out.get("ext"))
    prog = _obj(out.get("progress"))
    flight_id = ext.get("flight_id")
    if not isinstance(flight_id, str) or not flight_id:
        raise DjiProtocolError("flighttask_progress without ext.flight_id")
    brk = _obj(ext.get("break_point"))
    code = brk.get("break_reason")
    why = None
    if isinstance(code, int) and code:
        why = f"{BREAK_REASONS.get(code, 'break reason')} ({code})"
    result = env.data.get("result")
    if why is None and isinstance(result, int) and result and out["status"] in ("failed", "rejected"):
        why = f"the dock's error {result}"
    return TaskProgress(
        flight_id,
        out["status"],
        _int_or_none(prog.get("current_step")),
        _float_or_none(prog.get("percent")),
        _int_or_none(ext.get("current_waypoint_index")),
        why,
    )


TASK_ERRORS = {
    314001: "the task's parameters are invalid",
    314002: "another flight task is under way",
    314003: "the KMZ could not be downloaded",
    314004: "the KMZ's MD5 differs from the fingerprint",
    314005: "the wayline is not one this aircraft can fly",
    314006: "no prepared task has this flight_id",
    314007: "execute_time is more than 30 s from the dock's clock",
    314008: "rain over the dock",
    314009: "wind over the dock's limit",
    314010: "the aircraft's battery is too low",
    314011: "the aircraft is not in the dock",
}
"""Result codes of the rejections the simulator's dock emulator gives (`sim/dji_dock.py`):
DJI's error-code page is not at hand, so these are the emulator's own numbers; a real
dock's codes are added here as they are met, and any other code is shown as a number."""


def error_words(code: int) -> str:
    return f"{TASK_ERRORS[code]} ({code})" if code in TASK_ERRORS else f"the dock's error {code}"


HMS_LEVELS = {0: "notice", 1: "reminder", 2: "warning"}


def hms_faults(msg: Message) -> list[str]:
    """An `hms` event's warnings (level 2), as fault texts naming the code and device; the
    notices and reminders are not faults."""
    env = msg.envelope
    if env.method != "hms":
        raise DjiProtocolError(f"{env.method} is not an hms event")
    items = env.data.get("list")
    if not isinstance(items, list):
        raise DjiProtocolError("hms without list")
    out = []
    for item in items:
        if isinstance(item, dict) and item.get("level") == 2:
            where = "in the air" if item.get("in_the_sky") == 1 else "on the ground"
            out.append(f"HMS {item.get('code', '?')} on {item.get('device_type', '?')} ({where})")
    return out


RAINFALL_MM_H = {0: 0.0, 1: 2.5, 2: 8.0, 3: 16.0}
"""The dock's rain enum (none, light, moderate, heavy) as a rate our weather holds compare:
the middle of China's hourly classes (light < 2.5 mm, moderate 2.6-8, heavy 8.1-15.9)."""


@dataclass(frozen=True)
class DockState:
    lid: str
    drone_in_dock: bool
    charging: bool
    battery_pct: float | None
    wind_ms: float | None
    rain_mm_h: float | None
    temperature_c: float | None
    working: bool


LIDS = {0: "closed", 1: "open", 2: "half_open", 3: "fault"}


def dock_state(data: dict[str, Any]) -> DockState:
    """A dock's OSD properties in our terms (what the fleet tracker and the weather holds read)."""
    charge = _obj(data.get("drone_charge_state"))
    rain = data.get("rainfall")
    return DockState(
        lid=LIDS.get(data.get("cover_state", -1), "unknown"),
        drone_in_dock=data.get("drone_in_dock") == 1,
        charging=charge.get("state") == 1,
        battery_pct=_float_or_none(charge.get("capacity_percent")),
        wind_ms=_float_or_none(data.get("wind_speed")),
        rain_mm_h=RAINFALL_MM_H.get(rain) if isinstance(rain, int) else None,
        temperature_c=_float_or_none(data.get("environment_temperature")),
        working=data.get("mode_code") == 4,
    )


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _int_or_none(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _float_or_none(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)
