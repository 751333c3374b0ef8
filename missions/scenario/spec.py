"""The file formats of a scenario, as strict pydantic models (unknown keys are errors)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Lon = Annotated[float, Field(ge=-180, le=180)]
Lat = Annotated[float, Field(ge=-90, le=90)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraSpec(Strict):
    hfov_deg: float = Field(82.0, gt=10, lt=170, description="Horizontal field of view, degrees")
    width_px: int = Field(4000, gt=0)
    height_px: int = Field(3000, gt=0)
    thermal: bool = Field(False, description="A thermal camera too: patrols fly at night")


class PowerSpec(Strict):
    blade_profile_w: float = Field(45.0, gt=0)
    induced_w: float = Field(55.0, gt=0)
    tip_speed_ms: float = Field(120.0, gt=0)
    hover_induced_velocity_ms: float = Field(4.0, gt=0)
    parasite_coeff: float = Field(0.012, ge=0)
    mass_kg: float = Field(1.41, gt=0)
    climb_efficiency: float = Field(0.7, gt=0, le=1)
    avionics_w: float = Field(6.0, ge=0)


class DroneSpec(Strict):
    battery_wh: float = Field(70.0, gt=0)
    cruise_speed_ms: float = Field(12.0, gt=0, le=30)
    dash_speed_ms: float = Field(20.0, gt=0, le=30)
    climb_rate_ms: float = Field(5.0, gt=0)
    descent_rate_ms: float = Field(3.0, gt=0)
    max_wind_ms: float = Field(12.0, gt=0)
    max_rain_mm_h: float = Field(10.0, ge=0)
    min_temp_c: float = -10.0
    reserve: float = Field(0.25, ge=0.05, lt=0.9, description="Battery share kept at landing")
    energy_margin: float = Field(
        0.08, ge=0, le=0.5, description="Share added to every planned energy for the model's error"
    )
    max_sortie_min: float = Field(30.0, gt=0)
    transit_alt_m: float = Field(80.0, gt=10)
    camera: CameraSpec = CameraSpec()
    power: PowerSpec = PowerSpec()


class DockSpec(Strict):
    launch_s: float = Field(40.0, ge=0)
    land_s: float = Field(60.0, ge=0)
    charge_curve: list[tuple[float, float]] = Field(
        default=[(0.0, 0.0), (0.8, 32.0), (0.9, 40.0), (1.0, 52.0)],
        description="(state of charge, minutes from empty) points",
    )
    launch_soc: float = Field(0.9, gt=0.3, le=1.0)
    max_wind_ms: float = Field(12.0, gt=0)


class ModelsSpec(Strict):
    drones: dict[str, DroneSpec] = {"dock-quad": DroneSpec()}
    docks: dict[str, DockSpec] = {"dock": DockSpec()}


class AirportSpec(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    subdistrict: str = ""
    lon: Lon
    lat: Lat
    elevation_m: float = 0.0
    drone: str = "dock-quad"
    dock: str = "dock"


class ValidDates(Strict):
    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def ordered(self) -> ValidDates:
        if self.to < self.from_:
            raise ValueError("'to' is before 'from'")
        return self


class ApprovalSpec(Strict):
    reference: str
    zones: list[str] = Field(min_length=1)
    valid: ValidDates
    daily: str | None = Field(None, pattern=r"^\d\d:\d\d-\d\d:\d\d$", description="Daily hours, e.g. 07:00-21:00")
    max_alt_m: float = Field(120.0, gt=0)


class AirspaceSpec(Strict):
    ceiling_m: float = Field(120.0, gt=0, le=500)
    clearance_m: float = Field(30.0, gt=0, le=200, description="Lowest height above the ground in flight")
    zones: str = Field(description="GeoJSON file of zones, relative to the scenario folder")
    approvals: list[ApprovalSpec] = []


class FaultSpec(Strict):
    at: datetime
    airport: str
    fault: str
    value: float = 1.0
    duration_s: float = Field(0.0, ge=0)


class FireSpec(Strict):
    id: str
    lon: Lon
    lat: Lat
    ignite: datetime
    out: datetime | None = None
    growth_m_per_min: float = Field(0.6, ge=0)
    max_radius_m: float = Field(30.0, gt=0)


class VehicleSpec(Strict):
    id: str
    kind: Literal["car", "van", "truck"] = "car"
    path: list[tuple[Lon, Lat]] = Field(min_length=1, description="One point: parked; more: driven along them")
    heading_deg: float = 0.0
    start: datetime | None = None
    end: datetime | None = None
    speed_ms: float = Field(8.0, gt=0)


class NoParkingSpec(Strict):
    id: str
    name: str
    polygon: list[tuple[Lon, Lat]] = Field(min_length=3)
    dwell_s: float = Field(300.0, gt=0)


class ConfuserSpec(Strict):
    id: str
    kind: Literal["red_roof", "tarp", "steam", "fog", "shadow", "glare"]
    lon: Lon
    lat: Lat
    size_m: float = Field(10.0, gt=0)


class ConfirmSpec(Strict):
    k: int = Field(ge=1)
    n: int = Field(ge=1)
    span_s: float = Field(2.0, ge=0)

    @model_validator(mode="after")
    def _k_of_n(self) -> ConfirmSpec:
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) cannot exceed n ({self.n})")
        return self


class DetectionZoneSpec(Strict):
    id: str
    name: str
    polygon: list[tuple[Lon, Lat]] = Field(min_length=3)
    class_conf: dict[Literal["fire", "smoke", "vehicle"], float] = {}
    confirm: ConfirmSpec | None = None


class AlertCallSpec(Strict):
    id: str
    at: datetime
    kind: str = Field(min_length=1, max_length=32)
    lon: Lon
    lat: Lat
    priority: int | None = Field(None, ge=1, le=5)
    note: str = ""


class IncidentsSpec(Strict):
    fires: list[FireSpec] = []
    vehicles: list[VehicleSpec] = []
    no_parking: list[NoParkingSpec] = []
    confusers: list[ConfuserSpec] = []
    detection_zones: list[DetectionZoneSpec] = []
    alerts: list[AlertCallSpec] = []


class ScenarioSpec(Strict):
    version: Literal[1]
    name: str
    timezone: str = Field("+08:00", pattern=r"^[+-]\d\d:\d\d$")
    day: date = Field(description="The scenario's default planning day")
    district: str
    airspace: AirspaceSpec
    patrols: str
    weather: str | None = None
    incidents: str | None = Field(None, description="YAML of fires, vehicles, no-parking zones and look-alikes")
    terrain: str | None = Field(
        None, description="The ground: a relief YAML (approximate) or a DEM .npz from `dronepatrol terrain import`"
    )
    models: ModelsSpec = ModelsSpec()
    airports: list[AirportSpec] = Field(min_length=1)
    faults: list[FaultSpec] = Field(default=[], description="Faults the simulator injects at given times")

    @field_validator("airports")
    @classmethod
    def unique_ids(cls, v: list[AirportSpec]) -> list[AirportSpec]:
        ids = [a.id for a in v]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate airport ids: {', '.join(sorted(dup))}")
        return v


class HillSpec(Strict):
    name: str
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    summit_m: float = Field(gt=-500, lt=9000)
    along_m: float = Field(gt=0, le=50_000)
    across_m: float = Field(gt=0, le=50_000)
    axis_deg: float = Field(0.0, ge=0, lt=360)
    source: str = ""


class ReliefSpec(Strict):
    name: str
    base_m: float = Field(5.0, gt=-500, lt=9000)
    spacing_m: float = Field(30.0, ge=5, le=500)
    hills: list[HillSpec] = Field(min_length=1)


class ZoneProps(Strict):
    id: str
    name: str
    kind: Literal["no_fly", "approval_required"]
    floor_m: float = Field(0.0, ge=0)
    top_m: float = Field(10_000.0, gt=0)
    active: list[tuple[datetime, datetime]] = []
    emergency_access: bool = True
    source: str = ""


class ScheduleSpec(Strict):
    cron: str | None = None
    season: str | None = None
    trigger: str | None = None
    delay_min: float = Field(0.0, ge=0)
    window_min: float = Field(60.0, gt=0, le=24 * 60)

    @model_validator(mode="after")
    def one_kind(self) -> ScheduleSpec:
        if (self.cron is None) == (self.trigger is None):
            raise ValueError("a schedule needs exactly one of 'cron' or 'trigger'")
        return self


class PatrolProps(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    kind: Literal["route", "area", "point"]
    looks_for: list[Literal["fire", "smoke", "illegal_parking", "flooding"]] = Field(min_length=1)
    schedule: ScheduleSpec
    altitude_m: float = Field(80.0, gt=5)
    speed_ms: float = Field(10.0, gt=0, le=25)
    priority: int = Field(3, ge=1, le=5)
    gsd_cm: float | None = Field(None, gt=0)
    side_overlap: float = Field(0.2, ge=0, lt=0.95)
    mode: Literal["orbit", "hover"] = "hover"
    radius_m: float = Field(150.0, gt=5)
    laps: int = Field(1, ge=1, le=20)
    hover_s: float = Field(60.0, ge=0)
    airports: list[str] = []
    emergency: bool = False


class HourlySpec(Strict):
    hour: int = Field(ge=0, le=23)
    wind_ms: float = Field(ge=0)
    from_deg: float = Field(ge=0, lt=360)
    gust_ms: float = Field(0.0, ge=0)
    rain_mm_h: float = Field(0.0, ge=0)
    temp_c: float = 20.0


class EventSpec(Strict):
    from_: datetime = Field(alias="from")
    to: datetime
    wind_ms: float | None = Field(None, ge=0)
    from_deg: float | None = Field(None, ge=0, lt=360)
    gust_ms: float | None = Field(None, ge=0)
    rain_mm_h: float | None = Field(None, ge=0)
    temp_c: float | None = None


class WarningSpec(Strict):
    kind: str
    level: str = ""
    from_: datetime = Field(alias="from")
    to: datetime


class WeatherSpec(Strict):
    daily: list[HourlySpec] = Field(min_length=1)
    events: list[EventSpec] = []
    warnings: list[WarningSpec] = []
