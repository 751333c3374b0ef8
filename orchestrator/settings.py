"""The service's configuration: one strict pydantic settings model, read from YAML.

Sources, later ones winning: defaults, the YAML file (`--config`, else the path in
DRONEPATROL_CONFIG, else ./dronepatrol.yaml when present), then DRONEPATROL_* variables.
Unknown keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from missions.alerting import ALERT_RULES
from vision.classmap import parse_class_map


class ConfigError(Exception):
    """The configuration file or environment is invalid; the message says where."""


class VisionSettings(BaseModel):
    """The detector and its thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Path | None = Field(None, description="ONNX or ultralytics model; the shipped one when unset")
    classes: str | None = Field(None, description="class map such as '0:smoke,1:fire' for a model trained elsewhere")
    imgsz: int = Field(416, ge=64, le=2048, multiple_of=32, description="long side of the network input")
    conf: float = Field(0.25, gt=0, lt=1, description="lowest score kept")
    class_conf: dict[Literal["fire", "smoke", "vehicle"], float] = Field(
        default_factory=dict, description="per-class minimum score"
    )
    threads: int = Field(0, ge=0, description="inference threads (0: one per core)")
    confirm_k: int = Field(3, ge=1, description="fire/smoke: seen in k ...")
    confirm_n: int = Field(6, ge=1, description="... of the last n frames in view")
    confirm_span_s: float = Field(2.0, ge=0, description="fire/smoke: over at least this many seconds")

    @model_validator(mode="after")
    def _k_of_n(self) -> VisionSettings:
        if self.classes is not None:
            parse_class_map(self.classes)  # ClassMapError is a ValueError: the file's error names the key
        if self.confirm_k > self.confirm_n:
            raise ValueError(f"confirm_k ({self.confirm_k}) cannot exceed confirm_n ({self.confirm_n})")
        return self


class DjiDockSettings(BaseModel):
    """A DJI dock (Dock 2 or 3) that is one of our airports, by its serial numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dock_sn: str = Field(pattern=r"^[A-Z0-9]{6,32}$", description="the dock's serial number")
    model: Literal["M3D", "M3TD", "M4D", "M4TD"] = Field("M3D", description="its aircraft")


Role = Literal["viewer", "operator", "admin", "integration"]


class ApiUser(BaseModel):
    """A bearer token and who holds it. Tokens are secrets: keep the file private."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role
    token: str = Field(min_length=16, description="at least 16 characters")


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535, description="0: any free port")
    users: list[ApiUser] = Field(default_factory=list, description="who may call the API; none: the API refuses all")


class MapSettings(BaseModel):
    """The dashboard's base map: none by default (the district's own layers, offline); a
    bureau points it at its intranet tile server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tiles: str | None = Field(
        None,
        pattern=r"^https?://[^\s\"'<>]+$",
        description="tile URL template with {z}, {x}, {y} (and optional {s}), e.g. http://tiles.intranet/{z}/{x}/{y}.png",
    )
    attribution: str = Field("", max_length=200, description="the tiles' attribution, shown on the map")
    max_zoom: int = Field(18, ge=1, le=22)
    crs: Literal["wgs84", "gcj02"] = Field(
        "wgs84", description="the tiles' datum: gcj02 for maps published in China (positions are shifted to match)"
    )

    @model_validator(mode="after")
    def _placeholders(self) -> MapSettings:
        if self.tiles is not None and not all(p in self.tiles for p in ("{z}", "{x}", "{y}")):
            raise ValueError("map.tiles must contain {z}, {x} and {y}")
        return self


class SchedulerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hold_recheck_s: float = Field(600.0, gt=0, description="simulated seconds between re-checks of a held sortie")
    launch_window_s: float = Field(3600.0, gt=0, description="how late after its slot a sortie may still launch")


class FailsafeSettings(BaseModel):
    """What each drone is set to do on its own; checked before every launch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gcs_timeout_s: float = Field(5.0, ge=2, le=120, description="lost ground-station link -> return home after")
    fence_radius_m: float = Field(8000.0, ge=30, le=10_000, description="geofence radius around home")


class WebhookTarget(BaseModel):
    """An endpoint of the district's alert system that takes our incidents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://", description="where incidents and their CAP messages are POSTed")
    secret: str = Field(min_length=16, description="HMAC-SHA256 key for the X-Dronepatrol-Signature header")


class AlertSettings(BaseModel):
    """Alerts both ways: what is pushed to the alert system, and what inbound alerts get."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhooks: list[WebhookTarget] = Field(default_factory=list, description="incidents pushed here (outbox, retried)")
    policy: dict[str, Literal["launch", "propose"]] = Field(
        default_factory=dict, description="per alert kind: launch at once, or propose to an operator"
    )
    flood_per_min: int = Field(30, ge=1, description="inbound alerts taken per sender per minute; more are refused")
    retry_max_s: float = Field(300.0, gt=0, description="longest wait between two tries of a delivery")
    public_url: str = Field(
        "", description="base URL the alert system reaches the API at (CAP <resource> links); empty: paths only"
    )
    vision: bool = Field(True, description="run vision on the video of drones answering alerts (with `video:` sources)")
    issuer_organisation: str = Field("000", pattern=r"^\d{3}$", description="GB/T 4657 organisation code")
    issuer_unit: str = Field("000", pattern=r"^\d{3}$", description="issuing unit within the organisation")

    @model_validator(mode="after")
    def _known_kinds(self) -> AlertSettings:
        unknown = sorted(set(self.policy) - set(ALERT_RULES))
        if unknown:
            raise ValueError(f"policy for unknown alert kinds {unknown} (known: {', '.join(sorted(ALERT_RULES))})")
        return self


class Settings(BaseSettings):
    """Everything an operator may set."""

    model_config = SettingsConfigDict(env_prefix="DRONEPATROL_", extra="forbid", frozen=True)

    version: Literal[1] = 1
    scenario: Path | None = Field(None, description="Scenario folder; the built-in Nanshan scenario when unset")
    data_dir: Path = Field(Path("var"), description="Where the service writes its files (plans, maps, database)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    vision: VisionSettings = VisionSettings()
    database: str | None = Field(
        None, description="SQLAlchemy URL (sqlite:///FILE or postgresql://...); default <data_dir>/dronepatrol.db"
    )
    mqtt: str | None = Field(
        None,
        description="broker URL, mqtt://USER:PASSWORD@host:port or mqtts:// for TLS; unset: the embedded broker "
        "(users and passwords generated at first start in <data_dir>/mqtt-users.json)",
    )
    mqtt_ca_file: Path | None = Field(
        None, description="certificate authority that signed an mqtts:// broker's certificate (default: the system's)"
    )
    mqtt_plain_remote: bool = Field(
        False, description="allow a broker off this machine without TLS or without a login (a closed network only)"
    )
    mqtt_client_id: str = Field(
        "dronepatrol-orchestrator", min_length=1, max_length=64, description="the service's MQTT session (persistent)"
    )
    drones: dict[str, str] = Field(
        default_factory=dict, description="airport id -> MAVLink URL of its drone (udpout:, udpin:, tcp:)"
    )
    dji_docks: dict[str, DjiDockSettings] = Field(
        default_factory=dict,
        description="airport id -> a DJI dock flown over the Cloud API on the same broker (docs/dji-dock.md)",
    )
    dji_kmz_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="where DJI docks download waylines from: this service's /dji/kmz (default: the API's address)",
    )
    signing_key: str | None = Field(
        None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="MAVLink 2 signing key, hex; unset: made at first start in <data_dir>/mavlink-signing.key",
    )
    mavlink_signing: bool = Field(
        True,
        description="sign every MAVLink message and hear only signed ones (drones get the key with "
        "`dronepatrol commission`); false only for a bench drone on a cable",
    )
    speedup: float = Field(1.0, gt=0, description="simulated seconds per wall second (a simulator's speed-up)")
    clock: Literal["wall", "docks"] = Field(
        "wall", description="wall: real time; docks: the time the docks report (a simulator at a speed-up)"
    )
    api: ApiSettings = ApiSettings()
    map: MapSettings = MapSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    failsafe: FailsafeSettings = FailsafeSettings()
    alerts: AlertSettings = AlertSettings()
    video: dict[str, str] = Field(
        default_factory=dict, description="airport id -> its drone's video stream (MJPEG URL), for the dashboard"
    )

    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_dir / 'dronepatrol.db'}"

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read the YAML file (if any) and the environment."""
        if path is None and os.environ.get("DRONEPATROL_CONFIG"):
            path = Path(os.environ["DRONEPATROL_CONFIG"])
        if path is None and Path("dronepatrol.yaml").is_file():
            path = Path("dronepatrol.yaml")
        data: dict[str, Any] = {}
        if path is not None:
            try:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ConfigError(f"{path}: file not found") from None
            except yaml.YAMLError as exc:
                raise ConfigError(f"{path}: not valid YAML ({exc})") from None
            if loaded is not None and not isinstance(loaded, dict):
                raise ConfigError(f"{path}: expected a mapping of settings")
            data = loaded or {}
        try:
            # Environment variables override the file: pydantic-settings gives init
            # arguments precedence, so only pass file keys the environment does not set.
            env_keys = {k.removeprefix("DRONEPATROL_").lower() for k in os.environ if k.startswith("DRONEPATROL_")}
            return cls(**{k: v for k, v in data.items() if k not in env_keys})
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{path or 'environment'}: {loc}: {first['msg']}") from None
