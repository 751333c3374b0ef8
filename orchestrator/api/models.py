"""The API's request and response shapes, with examples for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SortieStateName = Literal["planned", "preflight", "airborne", "returning", "completed", "held", "aborted", "failed"]


class Problem(BaseModel):
    detail: str = Field(examples=["sortie x is completed: only a flying sortie can be aborted"])


class Dock(BaseModel):
    lid: str | None = Field(None, examples=["closed"])
    drone_on_pad: bool | None = None
    charging: bool | None = None
    drone_soc: float | None = Field(None, description="0-1, as the dock last saw it")
    weather: dict[str, float] = Field(default_factory=dict, examples=[{"wind_ms": 4.2, "rain_mm_h": 0.0}])
    faults: list[str] = Field(default_factory=list)
    powered: bool | None = None
    time: str | None = None


class Airport(BaseModel):
    id: str = Field(examples=["shekou"])
    name: str = Field(examples=["Shekou subdistrict"])
    lat: float
    lon: float
    elevation_m: float
    dock: Dock
    drone: str | None = Field(None, description="the drone standing at this airport now", examples=["shekou"])
    out_of_service: str | None = Field(None, description="why it launches nothing, until cleared")


class Drone(BaseModel):
    id: str = Field(examples=["shekou"])
    home_airport: str
    at_airport: str | None
    phase: str = Field(examples=["ready"])
    reason: str = Field(examples=["battery 100 %"])
    since: str
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


class Sortie(BaseModel):
    id: str = Field(examples=["tanglang-ridge.20261202T0800.1"])
    airport: str
    land_airport: str
    patrol: str | None
    drone: str | None
    alert_id: str | None
    state: SortieStateName
    reason: str = Field(examples=["wind 13.1 m/s over the 12 m/s limit"])
    planned_launch: str | None
    planned_land: str | None
    started_at: str | None
    ended_at: str | None
    updated_at: str


class Transition(BaseModel):
    at: str
    old: str | None
    new: str
    reason: str


class CommandGiven(BaseModel):
    at: str
    target: str = Field(examples=["shekou"])
    command: str = Field(examples=["open_lid"])
    params: dict[str, Any]
    result: Literal["accepted", "failed"]
    detail: str


class SortieDetail(Sortie):
    transitions: list[Transition]
    commands: list[CommandGiven] = Field(description="what was sent to the drone and its dock, in order")
    items: int = Field(description="mission items uploaded (item 0 is home)")


class Patrol(BaseModel):
    id: str = Field(examples=["tanglang-ridge"])
    name: str
    kind: Literal["route", "area", "point"]
    looks_for: list[str]
    priority: int
    schedule: str = Field(examples=["cron '0 8,10,12,16,18 * * *'"])
    airports: list[str]
    paused: bool
    source: Literal["scenario", "api"]
    sorties_today: int
    unscheduled: list[str] = Field(description="today's occurrences not scheduled, with the reasons")


class PatrolEdit(BaseModel):
    """Pause or resume a patrol, or replace its definition (a GeoJSON Feature as in patrols.geojson)."""

    model_config = ConfigDict(extra="forbid")

    paused: bool | None = None
    feature: dict[str, Any] | None = Field(None, description="the new definition; its id must match")


class CommandReply(BaseModel):
    ok: bool = True
    detail: str = Field(examples=["shekou ordered home"])


class Finding(BaseModel):
    id: str
    kind: str
    airport: str
    sortie: str | None
    lat: float
    lon: float
    confidence: float
    sigma_m: float | None
    first_seen: str
    last_seen: str
    received_at: str
    zone: str | None
    evidence: str | None = Field(None, description="URL of the annotated frame (JPEG)")


class AuditRow(BaseModel):
    at: str
    actor: str
    role: str
    action: str
    target: str
    params: dict[str, Any]
    status: int
    result: str


class BusHealth(BaseModel):
    connected: bool
    running: bool
    """The MQTT connection's task is alive (it reconnects by itself; false is a bug to report)."""
    reconnects: int
    queued: int
    refused: int
    """Outgoing messages no broker would take (a malformed topic), refused and not retried."""
    handler_failures: int
    last_error: str | None


class BaseMap(BaseModel):
    tiles: str | None
    """Tile URL template ({z}/{x}/{y}); None: no base map, the district's own layers."""
    attribution: str
    max_zoom: int
    crs: Literal["wgs84", "gcj02"]
    """gcj02: the tiles are in China's GCJ-02; the page shifts every position to match."""


class BrokerHealth(BaseModel):
    users: int
    refused: dict[str, int]
    """login: connections turned away (no user, bad password, a session of another user);
    acl: publishes and subscriptions outside the user's grant."""
    last_refusal: str | None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    """degraded: the MQTT connection is down (docks, alerts and findings do not arrive)."""
    time: str
    scenario: str
    counts: dict[str, int]
    bus: BusHealth
    broker: BrokerHealth | None = None
    """The embedded broker's door (None with an external broker): what it turned away."""


AlertStateName = Literal[
    "received", "rejected", "merged", "proposed", "unserved", "dispatched", "on_scene", "seen", "nothing_seen"
]


class Alert(BaseModel):
    """An inbound alert: what was asked, what was decided, and its response so far."""

    id: str = Field(examples=["al-20261202-094200-3f2a"])
    external_id: str | None = Field(description="the sender's own id")
    source: Literal["api", "mqtt", "cap"]
    sender: str
    kind: str
    priority: int
    lat: float
    lon: float
    polygon: list[list[float]] | None
    note: str
    state: AlertStateName
    decision: str = Field(examples=["yuehai launched: yuehai arrives first: docked and ready, 1.1 km, ETA 1 min 50 s"])
    airport: str | None
    sortie_id: str | None
    merged_into: str | None
    incident_id: str | None
    outcome: str = Field(description="what the drone saw, or 'nothing seen' and how it looked")
    evidence: str | None = Field(None, description="URL of a frame from over the spot (with video sources)")
    received_at: str
    launch_ordered_at: str | None = Field(description="take-off command: the launch ordered to dock and drone")
    airborne_at: str | None
    on_scene_at: str | None
    first_finding_at: str | None
    seconds: dict[str, float | None] = Field(description="seconds from receipt to each stage")
    updated_at: str
    needs_attention: bool = Field(description="unserved or proposed, and no operator has acknowledged it yet")
    acknowledged_by: str | None
    acknowledged_at: str | None


class Percentiles(BaseModel):
    n: int
    p50: float | None
    p90: float | None
    p95: float | None
    max: float | None


class AlertMeasures(BaseModel):
    day: str
    alerts: int
    by_state: dict[str, int]
    stages: dict[str, Percentiles] = Field(
        description="seconds from receipt to launch_ordered, airborne, on_scene, first_finding (simulated time "
        "when flying against the simulator)"
    )


IncidentStateName = Literal["new", "acknowledged", "dispatched", "resolved", "false_alarm"]


class Incident(BaseModel):
    id: str = Field(examples=["inc.nanshan-fire-12"])
    kind: str
    state: IncidentStateName
    lat: float
    lon: float
    radius_m: float
    confidence: float = Field(description="after the false-alarm rule (docs/alerts.md)")
    raw_confidence: float = Field(description="as vision reported it")
    first_seen: str
    last_seen: str
    sightings: int
    evidence: str | None = Field(description="URL of the first finding's evidence image")
    evidence_finding: str | None
    alert_id: str | None = Field(description="the inbound alert it answers, if any")
    cap_identifier: str | None = Field(description="its first CAP message (what Updates and Cancels reference)")
    published: bool = Field(description="pushed to the alert system (false: under the confidence to publish)")
    note: str
    updated_at: str


class IncidentEventOut(BaseModel):
    at: str
    state: str
    actor: str
    note: str


class CapRef(BaseModel):
    identifier: str
    msg_type: Literal["Alert", "Update", "Cancel"]
    sent: str
    url: str


class IncidentDetail(Incident):
    events: list[IncidentEventOut]
    findings: list[str]
    cap: list[CapRef]


class IncidentStep(BaseModel):
    """A step of the incident's lifecycle, by an operator or the alert system."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"state": "acknowledged"}]})

    state: Literal["acknowledged", "dispatched", "resolved", "false_alarm"]
    note: str = Field("", max_length=1000, examples=["fire crew 12 sent from Xili station"])


class WhoAmI(BaseModel):
    name: str = Field(examples=["otto"])
    role: Literal["viewer", "operator", "admin", "integration"]
    may: dict[str, bool] = Field(
        description="command (launch, abort, return home, pause), send_alerts, step_incidents, read_audit"
    )
