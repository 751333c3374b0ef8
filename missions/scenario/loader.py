"""Reading a scenario folder and compiling it into a Scenario.

This is the one place in missions/ that reads files: a scenario is input data, and the
simulator and the orchestrator must compile it the same way. Everything after loading
is pure.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from shapely.geometry import LineString, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from shapely.validation import explain_validity

from missions.airspace import Airspace, Approval, Zone, ZoneKind
from missions.energy import PowerModel
from missions.errors import ScenarioError
from missions.fleet import Airport, Camera, ChargeCurve, DockModel, DroneModel
from missions.geo import LocalFrame
from missions.incidents import AlertCall, Confuser, DetectionZone, FirePlan, Incidents, NoParkingZone, VehiclePlan
from missions.patrols import CronRule, Patrol, PatrolKind, PatrolRule, PointMode, Target, TriggerRule
from missions.recurrence import Cron, RecurrenceError, Season
from missions.scenario import spec
from missions.scenario.model import Scenario
from missions.terrain import DemGrid, Ground, Hill, Relief, Terrain
from missions.timewindow import TimeWindow
from missions.vocabulary import SIM_FAULTS
from missions.weather import HourlyNorm, Warning, WeatherEvent, WeatherScript

BUILTIN_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "nanshan"
"""The Nanshan District scenario shipped with the package."""

M = TypeVar("M", bound=BaseModel)


def _read_text(path: Path, item: str | None = None) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("file not found", file=str(path), item=item) from None
    except OSError as exc:
        raise ScenarioError(f"cannot read: {exc.strerror}", file=str(path), item=item) from None


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(_read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise ScenarioError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path), item=where) from None


def _read_geojson(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"not valid JSON: {exc.msg} at line {exc.lineno}", file=str(path)) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise ScenarioError("expected a GeoJSON FeatureCollection", file=str(path))
    return list(doc["features"])


def _validate(model: type[M], data: Any, file: Path, item: str | None = None) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        where = ".".join(p for p in (item, loc) if p) or None
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ScenarioError(f"{first['msg']}{more}", file=str(file), item=where) from None


def _geometry(feature: dict[str, Any], file: Path, item: str) -> BaseGeometry:
    try:
        geom = shape(feature["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ScenarioError(f"missing or malformed geometry ({exc})", file=str(file), item=item) from None
    if geom.is_empty:
        raise ScenarioError("empty geometry", file=str(file), item=item)
    if not geom.is_valid:
        raise ScenarioError(f"invalid geometry: {explain_validity(geom)}", file=str(file), item=item)
    return geom


def _tz(offset: str) -> timezone:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes), f"UTC{offset}")


def _aware(t: datetime, tz: timezone) -> datetime:
    return t.replace(tzinfo=tz) if t.tzinfo is None else t


def _drone(s: spec.DroneSpec, name: str) -> DroneModel:
    return DroneModel(
        name=name,
        battery_wh=s.battery_wh,
        cruise_speed_ms=s.cruise_speed_ms,
        dash_speed_ms=s.dash_speed_ms,
        climb_rate_ms=s.climb_rate_ms,
        descent_rate_ms=s.descent_rate_ms,
        max_wind_ms=s.max_wind_ms,
        max_rain_mm_h=s.max_rain_mm_h,
        min_temp_c=s.min_temp_c,
        reserve=s.reserve,
        energy_margin=s.energy_margin,
        max_sortie_s=s.max_sortie_min * 60,
        transit_alt_m=s.transit_alt_m,
        camera=Camera(s.camera.hfov_deg, s.camera.width_px, s.camera.height_px, s.camera.thermal),
        power=PowerModel(**s.power.model_dump()),
    )


def _dock(s: spec.DockSpec, name: str, file: Path) -> DockModel:
    try:
        curve = ChargeCurve(tuple((float(a), float(b)) for a, b in s.charge_curve))
    except ValueError as exc:
        raise ScenarioError(str(exc), file=str(file), item=f"models.docks.{name}.charge_curve") from None
    return DockModel(name, s.launch_s, s.land_s, curve, s.launch_soc, s.max_wind_ms)


def _approvals(specs: list[spec.ApprovalSpec], zone_ids: set[str], tz: timezone, file: Path) -> tuple[Approval, ...]:
    out: list[Approval] = []
    for k, a in enumerate(specs):
        unknown = sorted(set(a.zones) - zone_ids)
        if unknown:
            raise ScenarioError(
                f"unknown zone(s) {', '.join(unknown)}", file=str(file), item=f"airspace.approvals[{k}] {a.reference}"
            )
        days = [a.valid.from_ + timedelta(days=i) for i in range((a.valid.to - a.valid.from_).days + 1)]
        windows: list[TimeWindow] = []
        if a.daily is None:
            start = datetime.combine(a.valid.from_, time(0), tz)
            windows.append(TimeWindow(start, datetime.combine(a.valid.to + timedelta(days=1), time(0), tz)))
        else:
            t0 = time.fromisoformat(a.daily[:5])
            t1 = time.fromisoformat(a.daily[6:])
            if t1 <= t0:
                raise ScenarioError(
                    "daily hours must end after they start",
                    file=str(file),
                    item=f"airspace.approvals[{k}] {a.reference}",
                )
            windows.extend(TimeWindow(datetime.combine(d, t0, tz), datetime.combine(d, t1, tz)) for d in days)
        out.extend(Approval(a.reference, frozenset(a.zones), w, a.max_alt_m) for w in windows)
    return tuple(out)


def _zones(path: Path, frame: LocalFrame, tz: timezone) -> tuple[Zone, ...]:
    zones: list[Zone] = []
    seen: set[str] = set()
    for k, feat in enumerate(_read_geojson(path)):
        props = _validate(spec.ZoneProps, feat.get("properties"), path, f"features[{k}]")
        item = f"zone '{props.id}'"
        if props.id in seen:
            raise ScenarioError("duplicate zone id", file=str(path), item=item)
        seen.add(props.id)
        geom = _geometry(feat, path, item)
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise ScenarioError(
                f"a zone must be a Polygon or MultiPolygon, not {geom.geom_type}", file=str(path), item=item
            )
        if props.top_m <= props.floor_m:
            raise ScenarioError("top_m must be above floor_m", file=str(path), item=item)
        active = []
        for a, b in props.active:
            if b <= a:
                raise ScenarioError("an active window ends before it starts", file=str(path), item=item)
            active.append(TimeWindow(_aware(a, tz), _aware(b, tz)))
        zones.append(
            Zone(
                props.id,
                props.name,
                ZoneKind(props.kind),
                frame.geometry_to_xy(geom),
                props.floor_m,
                props.top_m,
                tuple(active),
                props.emergency_access,
            )
        )
    return tuple(zones)


def _rule(s: spec.ScheduleSpec, file: Path, item: str) -> PatrolRule:
    try:
        if s.cron is not None:
            season = Season.parse(s.season) if s.season else None
            return CronRule(Cron.parse(s.cron), season, s.window_min)
    except RecurrenceError as exc:
        raise ScenarioError(str(exc), file=str(file), item=item) from None
    if s.season is not None:
        raise ScenarioError("'season' goes with 'cron', not with 'trigger'", file=str(file), item=item)
    assert s.trigger is not None
    return TriggerRule(s.trigger, s.delay_min, s.window_min)


def _patrols(path: Path, frame: LocalFrame, airspace: Airspace, airports: set[str]) -> dict[str, Patrol]:
    patrols: dict[str, Patrol] = {}
    for k, feat in enumerate(_read_geojson(path)):
        patrol = _patrol(feat, path, f"features[{k}]", frame, airspace, airports)
        if patrol.id in patrols:
            raise ScenarioError("duplicate patrol id", file=str(path), item=f"patrol '{patrol.id}'")
        patrols[patrol.id] = patrol
    if not patrols:
        raise ScenarioError("no patrols defined", file=str(path))
    return patrols


def patrol_from_feature(feature: Any, scenario: Scenario, source: str = "request") -> Patrol:
    """One patrol from a GeoJSON Feature (as in patrols.geojson), checked against the
    scenario's district, airspace and airports: what the API accepts for a new patrol."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ScenarioError("expected a GeoJSON Feature", file=source)
    return _patrol(feature, Path(source), "feature", scenario.frame, scenario.airspace, set(scenario.airports))


def _patrol(
    feat: dict[str, Any], path: Path, where: str, frame: LocalFrame, airspace: Airspace, airports: set[str]
) -> Patrol:
    no_fly = [z for z in airspace.zones if z.kind is ZoneKind.NO_FLY and not z.active]
    p = _validate(spec.PatrolProps, feat.get("properties"), path, where)
    item = f"patrol '{p.id}'"
    geom = _geometry(feat, path, item)
    expected = {"route": LineString, "area": Polygon, "point": Point}[p.kind]
    if not isinstance(geom, expected):
        raise ScenarioError(
            f"a {p.kind} patrol needs a {expected.__name__}, not {geom.geom_type}", file=str(path), item=item
        )
    if isinstance(geom, LineString) and not geom.is_simple:
        raise ScenarioError("the route crosses itself", file=str(path), item=item)
    local = frame.geometry_to_xy(geom)
    if not airspace.operating_area.covers(local):
        raise ScenarioError("lies outside the operating area (district boundary)", file=str(path), item=item)
    if p.altitude_m > airspace.ceiling_m:
        raise ScenarioError(
            f"altitude {p.altitude_m:.0f} m is above the {airspace.ceiling_m:.0f} m ceiling",
            file=str(path),
            item=item,
        )
    flown = local.buffer(p.radius_m) if p.kind == "point" and p.mode == "orbit" else local
    for z in no_fly:
        if z.area.intersects(flown) and z.band_overlaps(0.0, p.altitude_m):
            raise ScenarioError(f"enters no-fly zone '{z.id}' ({z.name})", file=str(path), item=item)
    unknown = sorted(set(p.airports) - airports)
    if unknown:
        raise ScenarioError(f"unknown airport(s) {', '.join(unknown)}", file=str(path), item=item)
    return Patrol(
        id=p.id,
        name=p.name,
        kind=PatrolKind(p.kind),
        geometry=local,
        looks_for=tuple(Target(t) for t in p.looks_for),
        rule=_rule(p.schedule, path, item),
        altitude_m=p.altitude_m,
        speed_ms=p.speed_ms,
        priority=p.priority,
        gsd_cm=p.gsd_cm,
        side_overlap=p.side_overlap,
        point_mode=PointMode(p.mode),
        radius_m=p.radius_m,
        laps=p.laps,
        hover_s=p.hover_s,
        airports=tuple(p.airports),
        emergency=p.emergency,
    )


def _weather(path: Path | None, tz: timezone) -> WeatherScript:
    if path is None:
        return WeatherScript((HourlyNorm(0, 0.0, 0.0, 0.0, 0.0, 20.0),))
    w = _validate(spec.WeatherSpec, _read_yaml(path), path)
    for k, e in enumerate(w.events):
        if e.to <= e.from_:
            raise ScenarioError("event ends before it starts", file=str(path), item=f"events[{k}]")
    for k, wr in enumerate(w.warnings):
        if wr.to <= wr.from_:
            raise ScenarioError("warning ends before it starts", file=str(path), item=f"warnings[{k}]")
    return WeatherScript(
        tuple(HourlyNorm(h.hour, h.wind_ms, h.from_deg, h.gust_ms, h.rain_mm_h, h.temp_c) for h in w.daily),
        tuple(
            WeatherEvent(
                TimeWindow(_aware(e.from_, tz), _aware(e.to, tz)),
                e.wind_ms,
                e.from_deg,
                e.gust_ms,
                e.rain_mm_h,
                e.temp_c,
            )
            for e in w.events
        ),
        tuple(Warning(wr.kind, TimeWindow(_aware(wr.from_, tz), _aware(wr.to, tz)), wr.level) for wr in w.warnings),
    )


def _incidents(path: Path | None, frame: LocalFrame, tz: timezone, area: BaseGeometry) -> Incidents:
    if path is None:
        return Incidents()
    spec_ = _validate(spec.IncidentsSpec, _read_yaml(path) or {}, path)

    def inside(xy: tuple[float, float], item: str) -> tuple[float, float]:
        if not area.covers(Point(xy)):
            raise ScenarioError("lies outside the operating area", file=str(path), item=item)
        return xy

    fires = tuple(
        FirePlan(
            f.id,
            inside(frame.to_xy(f.lon, f.lat), f"fire '{f.id}'"),
            _aware(f.ignite, tz),
            f.growth_m_per_min,
            f.max_radius_m,
            _aware(f.out, tz) if f.out else None,
        )
        for f in spec_.fires
    )
    vehicles = tuple(
        VehiclePlan(
            v.id,
            v.kind,
            tuple(inside(frame.to_xy(lo, la), f"vehicle '{v.id}'") for lo, la in v.path),
            v.heading_deg,
            _aware(v.start, tz) if v.start else None,
            _aware(v.end, tz) if v.end else None,
            v.speed_ms,
        )
        for v in spec_.vehicles
    )

    def polygon(points: list[tuple[float, float]], item: str) -> BaseGeometry:
        poly = frame.geometry_to_xy(Polygon(points))
        if not poly.is_valid:
            raise ScenarioError(f"invalid polygon: {explain_validity(poly)}", file=str(path), item=item)
        return poly

    zones = [
        NoParkingZone(z.id, z.name, polygon(z.polygon, f"no_parking '{z.id}'"), z.dwell_s) for z in spec_.no_parking
    ]
    confusers = tuple(
        Confuser(c.id, c.kind, inside(frame.to_xy(c.lon, c.lat), f"confuser '{c.id}'"), c.size_m)
        for c in spec_.confusers
    )
    detection = []
    for dz in spec_.detection_zones:
        item = f"detection_zone '{dz.id}'"
        area = polygon(dz.polygon, item)
        for cls, score in dz.class_conf.items():
            if not 0 < score < 1:
                raise ScenarioError(f"class_conf {cls}: {score} is not between 0 and 1", file=str(path), item=item)
        confirm = (dz.confirm.k, dz.confirm.n, dz.confirm.span_s) if dz.confirm else None
        detection.append(DetectionZone(dz.id, dz.name, area, {str(k): v for k, v in dz.class_conf.items()}, confirm))
    alerts = tuple(
        AlertCall(a.id, _aware(a.at, tz), a.kind, a.lon, a.lat, a.priority, a.note)
        for a in sorted(spec_.alerts, key=lambda a: a.at)
    )
    return Incidents(fires, vehicles, tuple(zones), confusers, tuple(detection), alerts)


PAD_BURIED_M = 10.0
"""A pad this far below the terrain model's ground is a mistake in one of them."""


def read_terrain(path: Path) -> Terrain:
    """A relief YAML or a DEM .npz, as the scenario's `terrain:` names it."""
    if path.suffix == ".npz":
        try:
            return DemGrid.load(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ScenarioError(f"cannot read the DEM: {exc}", file=str(path)) from None
    r = _validate(spec.ReliefSpec, _read_yaml(path), path)
    hills = tuple(Hill(h.name, h.lon, h.lat, h.summit_m, h.along_m, h.across_m, h.axis_deg, h.source) for h in r.hills)
    return Relief(hills, r.base_m, r.name, r.spacing_m)


def _ground(
    terrain: Terrain, path: Path, frame: LocalFrame, area: BaseGeometry, airports: dict[str, Airport]
) -> Ground:
    x0, y0, x1, y1 = area.bounds
    margin = 2000.0
    ground = Ground(terrain, frame, (x0 - margin, y0 - margin, x1 + margin, y1 + margin))
    edge = [c for part in getattr(area, "geoms", [area]) for c in part.exterior.coords]
    xs, ys = zip(*edge, strict=True)
    if bool(any(v != v for v in ground.at(xs, ys))):
        raise ScenarioError("the terrain model does not cover the operating area", file=str(path))
    for a in airports.values():
        g = ground.height(a.xy)
        if g > a.elevation_m + PAD_BURIED_M:
            raise ScenarioError(
                f"the pad's elevation {a.elevation_m:.0f} m is {g - a.elevation_m:.0f} m below the ground "
                f"there ({terrain.label}): check elevation_m or the terrain",
                file=str(path),
                item=f"airport '{a.id}'",
            )
    return ground


def load_scenario(folder: Path | str | None = None) -> Scenario:
    """Load and validate a scenario folder (or its scenario.yaml); the built-in one by default."""
    path = Path(folder) if folder is not None else BUILTIN_SCENARIO
    main = path if path.is_file() else path / "scenario.yaml"
    root = main.parent
    s = _validate(spec.ScenarioSpec, _read_yaml(main), main)
    tz = _tz(s.timezone)

    district_file = root / s.district
    feats = _read_geojson(district_file)
    geoms = [_geometry(f, district_file, f"features[{k}]") for k, f in enumerate(feats)]
    roles = [(f.get("properties") or {}).get("role", "operating_area") for f in feats]
    operating = [g for g, r in zip(geoms, roles, strict=True) if r == "operating_area"]
    if not operating:
        raise ScenarioError("no feature with role 'operating_area'", file=str(district_file))
    district_ll = unary_union(geoms)
    centre = unary_union(operating).centroid
    frame = LocalFrame(round(centre.x, 4), round(centre.y, 4))
    operating_xy = unary_union([frame.geometry_to_xy(g) for g in operating])
    outlying = tuple(frame.geometry_to_xy(g) for g, r in zip(geoms, roles, strict=True) if r != "operating_area")

    zones = _zones(root / s.airspace.zones, frame, tz)
    airspace = Airspace(operating_xy, zones, s.airspace.ceiling_m)
    approvals = _approvals(s.airspace.approvals, {z.id for z in zones}, tz, main)

    drones = {name: _drone(d, name) for name, d in s.models.drones.items()}
    docks = {name: _dock(d, name, main) for name, d in s.models.docks.items()}
    airports: dict[str, Airport] = {}
    for a in s.airports:
        item = f"airport '{a.id}'"
        if a.drone not in drones:
            raise ScenarioError(f"unknown drone model '{a.drone}'", file=str(main), item=item)
        if a.dock not in docks:
            raise ScenarioError(f"unknown dock model '{a.dock}'", file=str(main), item=item)
        xy = frame.to_xy(a.lon, a.lat)
        if not operating_xy.covers(Point(xy)):
            raise ScenarioError(f"({a.lon}, {a.lat}) is outside the operating area", file=str(main), item=item)
        for z in zones:
            if z.kind is ZoneKind.NO_FLY and not z.active and z.area.covers(Point(xy)):
                raise ScenarioError(f"stands in no-fly zone '{z.id}'", file=str(main), item=item)
        airports[a.id] = Airport(
            a.id, a.name, a.subdistrict, a.lon, a.lat, xy, a.elevation_m, drones[a.drone], docks[a.dock]
        )

    patrols = _patrols(root / s.patrols, frame, airspace, set(airports))
    faults = []
    for k, fs in enumerate(s.faults):
        item = f"faults[{k}]"
        if fs.airport not in airports:
            raise ScenarioError(f"unknown airport '{fs.airport}'", file=str(main), item=item)
        if fs.fault not in SIM_FAULTS:
            raise ScenarioError(
                f"unknown fault '{fs.fault}' (known: {', '.join(sorted(SIM_FAULTS))})", file=str(main), item=item
            )
        faults.append((_aware(fs.at, tz), fs.airport, fs.fault, fs.value, fs.duration_s))
    weather = _weather(root / s.weather if s.weather else None, tz)
    incidents = _incidents(root / s.incidents if s.incidents else None, frame, tz, operating_xy)
    ground = None
    if s.terrain:
        tpath = root / s.terrain
        ground = _ground(read_terrain(tpath), tpath, frame, operating_xy, airports)
    return Scenario(
        name=s.name,
        folder=root,
        tz=tz,
        day=s.day,
        frame=frame,
        district_lonlat=district_ll,
        airspace=airspace,
        approvals=approvals,
        airports=airports,
        patrols=patrols,
        weather=weather,
        outlying=outlying,
        faults=tuple(faults),
        incidents=incidents,
        ground=ground,
        clearance_m=s.airspace.clearance_m,
    )
