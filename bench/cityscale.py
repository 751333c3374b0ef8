"""A synthetic city for the planner benchmark: many airports, many patrols, some zones.

Built in code (not a scenario folder) so the benchmark needs no data files and its size
is a parameter.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta, timezone
from pathlib import Path

from shapely.geometry import LineString, Point, box

from missions.airspace import Airspace, Zone, ZoneKind
from missions.fleet import Airport, DockModel, DroneModel
from missions.geo import LocalFrame
from missions.patrols import CronRule, Patrol, PatrolKind, PointMode, Target
from missions.recurrence import Cron
from missions.scenario import Scenario
from missions.weather import HourlyNorm, WeatherScript


def city(airports: int = 100, patrols: int = 1000, seed: int = 7) -> Scenario:
    rng = random.Random(seed)
    frame = LocalFrame(113.9, 22.6)
    cols = math.ceil(math.sqrt(airports * 1.5))
    rows = math.ceil(airports / cols)
    spacing = 6000.0
    width, height = cols * spacing, rows * spacing
    area = box(0, 0, width, height)
    zones = []
    for k in range(max(1, airports // 10)):
        c = Point(rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height)
        kind = ZoneKind.NO_FLY if k % 2 else ZoneKind.APPROVAL
        zones.append(Zone(f"z{k}", f"zone {k}", kind, c.buffer(rng.uniform(300, 900), quad_segs=4)))
    drone, dock = DroneModel(), DockModel()
    aps: dict[str, Airport] = {}
    for i in range(airports):
        x = (i % cols + 0.5) * spacing + rng.uniform(-800, 800)
        y = (i // cols + 0.5) * spacing + rng.uniform(-800, 800)
        if any(z.area.buffer(100).contains(Point(x, y)) for z in zones if z.kind is ZoneKind.NO_FLY):
            x += 1500
        lon, lat = frame.to_lonlat(x, y)
        aps[f"a{i:03d}"] = Airport(f"a{i:03d}", f"airport {i}", "", lon, lat, (x, y), 0.0, drone, dock)
    no_fly = [z.area.buffer(200) for z in zones if z.kind is ZoneKind.NO_FLY]
    crons = ["0 8-18/4 * * *", "30 7,17 * * *", "0 10 * * *", "0 14 * * *", "0 9,15 * * *", "0 20 * * *"]
    pats: dict[str, Patrol] = {}
    ap_list = list(aps.values())
    while len(pats) < patrols:
        base = rng.choice(ap_list)
        cx, cy = base.xy[0] + rng.uniform(-3000, 3000), base.xy[1] + rng.uniform(-3000, 3000)
        kind = rng.choice([PatrolKind.POINT, PatrolKind.POINT, PatrolKind.ROUTE, PatrolKind.AREA])
        if kind is PatrolKind.POINT:
            geom = Point(cx, cy)
        elif kind is PatrolKind.ROUTE:
            ang = rng.uniform(0, math.pi)
            length = rng.uniform(1500, 4000)
            geom = LineString([(cx, cy), (cx + length * math.cos(ang), cy + length * math.sin(ang))])
        else:
            geom = box(cx, cy, cx + rng.uniform(400, 1000), cy + rng.uniform(400, 900))
        if not area.contains(geom.buffer(300)) or any(z.intersects(geom.buffer(300)) for z in no_fly):
            continue
        pid = f"p{len(pats):04d}"
        pats[pid] = Patrol(
            pid,
            pid,
            kind,
            geom,
            (Target.FIRE, Target.SMOKE),
            CronRule(Cron.parse(rng.choice(crons)), None, rng.choice([45.0, 60.0, 90.0])),
            altitude_m=100.0,
            speed_ms=10.0,
            priority=rng.randint(1, 5),
            gsd_cm=6.0,
            point_mode=rng.choice([PointMode.HOVER, PointMode.ORBIT]),
            hover_s=90.0,
            radius_m=150.0,
        )
    weather = WeatherScript(
        tuple(HourlyNorm(h, 3.0 + 3 * math.sin(h / 24 * math.pi), 110.0, 6.0, 0.0, 18.0) for h in range(24))
    )
    return Scenario(
        name=f"synthetic city ({airports} airports, {patrols} patrols)",
        folder=Path("."),
        tz=timezone(timedelta(hours=8)),
        day=date(2026, 12, 2),
        frame=frame,
        district_lonlat=frame.geometry_to_lonlat(area),
        airspace=Airspace(area, tuple(zones)),
        approvals=(),
        airports=aps,
        patrols=pats,
        weather=weather,
    )
