"""An independent check of a mission over the terrain, from what the drone is given.

It shares no code with the planner's fitting (`missions.clearance`): it reads the
MAVLink mission items as an ArduCopter would fly them (straight lines between positions,
the take-off and the landing vertical, a loiter's circle, the RTL's climb to RTL_ALT and
straight line home), in degrees and metres above sea level, and asks the terrain source
itself (`Terrain.heights` at lon/lat, not the planner's local grid) how high the ground
is every few metres. A planner bug that lets a leg dip into a ridge is caught here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from missions.formats.items import Cmd, MissionItem
from missions.terrain import Terrain

M_PER_DEG = 111_195.0
RELATIVE = frozenset({3, 6})
TERRAIN = frozenset({10, 11})
PAD_RADIUS_M = 30.0
"""Round a pad, the vertical take-off and landing are not held to the clearance."""


@dataclass(frozen=True)
class Breach:
    seq: int
    """The mission item whose leg it is."""
    lat: float
    lon: float
    above_ground_m: float
    reason: str


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance between (lat, lon) points; flat-earth over a district is plenty here."""
    dlat = (b[0] - a[0]) * M_PER_DEG
    dlon = (b[1] - a[1]) * M_PER_DEG * math.cos(math.radians((a[0] + b[0]) / 2))
    return math.hypot(dlat, dlon)


@dataclass
class Survey:
    """What flying a mission over the terrain found."""

    breaches: list[Breach] = field(default_factory=list)
    """Empty when the mission keeps to the clearance, the ceiling and out of no-fly areas."""
    lowest: float = math.inf
    """The lowest height above the ground in flight (away from the pads)."""
    highest: float = -math.inf
    """The highest, on the legs held to the ceiling."""


@dataclass
class _Walk:
    terrain: Terrain
    home: tuple[float, float, float]
    clearance: float
    ceiling: float
    step: float
    no_fly: Sequence[tuple[str, BaseGeometry]]
    found: Survey = field(default_factory=Survey)
    pads: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pads.append(self.home[:2])

    def amsl(self, it: MissionItem, here_alt: float) -> float:
        if it.frame in RELATIVE:
            return it.z + self.home[2]
        if it.frame in TERRAIN:
            return it.z + float(self.terrain.heights(it.y, it.x))
        return it.z

    def segment(self, seq: int, a: tuple[float, float, float], b: tuple[float, float, float], ceiling: bool) -> None:
        length = _metres(a[:2], b[:2])
        if length < 0.5:
            return
        n = max(2, math.ceil(length / self.step))
        f = np.linspace(0.0, 1.0, n + 1)
        lat = a[0] + (b[0] - a[0]) * f
        lon = a[1] + (b[1] - a[1]) * f
        alt = a[2] + (b[2] - a[2]) * f
        self._points(seq, lat, lon, alt, ceiling)
        line = LineString([(a[1], a[0]), (b[1], b[0])])
        for zid, area in self.no_fly:
            if area.intersects(line):
                self.found.breaches.append(Breach(seq, b[0], b[1], math.nan, f"enters no-fly zone {zid}"))

    def circle(self, seq: int, centre: tuple[float, float], radius_m: float, alt: float) -> None:
        a = np.linspace(0, 2 * math.pi, 72, endpoint=False)
        lat = centre[0] + radius_m * np.cos(a) / M_PER_DEG
        lon = centre[1] + radius_m * np.sin(a) / (M_PER_DEG * math.cos(math.radians(centre[0])))
        self._points(seq, lat, lon, np.full_like(a, alt), True)

    def _points(self, seq: int, lat: np.ndarray, lon: np.ndarray, alt: np.ndarray, ceiling: bool) -> None:
        ground = self.terrain.heights(lon, lat)
        agl = alt - ground
        near_pad = np.zeros_like(agl, bool)
        for p in self.pads:
            near_pad |= (
                np.hypot((lat - p[0]) * M_PER_DEG, (lon - p[1]) * M_PER_DEG * math.cos(math.radians(p[0])))
                < PAD_RADIUS_M
            )
        for k in np.flatnonzero(np.isnan(ground)):
            self.found.breaches.append(Breach(seq, float(lat[k]), float(lon[k]), math.nan, "no terrain height here"))
            break
        away = agl[~near_pad & np.isfinite(agl)]
        if away.size:
            self.found.lowest = min(self.found.lowest, float(away.min()))
            if ceiling:
                self.found.highest = max(self.found.highest, float(away.max()))
        low = np.flatnonzero((agl < self.clearance - 0.5) & ~near_pad)
        if low.size:
            i = int(low[np.argmin(agl[low])])
            self.found.breaches.append(Breach(seq, float(lat[i]), float(lon[i]), float(agl[i]), "below the clearance"))
        high = np.flatnonzero(agl > self.ceiling + 0.5) if ceiling else np.array([], int)
        if high.size:
            j = int(high[np.argmax(agl[high])])
            self.found.breaches.append(Breach(seq, float(lat[j]), float(lon[j]), float(agl[j]), "above the ceiling"))


def survey_mission(
    items: Sequence[MissionItem],
    terrain: Terrain,
    *,
    clearance_m: float,
    ceiling_m: float,
    rtl_alt_m: float | None = None,
    step_m: float = 10.0,
    no_fly: Sequence[tuple[str, BaseGeometry]] = (),
) -> Survey:
    """The mission flown as ArduCopter flies it: every place where it comes closer to the
    ground than `clearance_m` or higher above it than `ceiling_m` (item 0 is home; the RTL
    climbs to `rtl_alt_m` above home first where given) or enters a `no_fly` area (lon/lat
    geometry), and the lowest and highest heights above the ground it passes."""
    home_item = items[0]
    home = (home_item.x, home_item.y, home_item.z)
    walk = _Walk(terrain, home, clearance_m, ceiling_m, step_m, no_fly)
    here = home
    for it in items[1:]:
        cmd = it.command
        if cmd == Cmd.NAV_TAKEOFF:
            here = (here[0], here[1], walk.amsl(it, here[2]))
        elif cmd in (Cmd.NAV_WAYPOINT, Cmd.NAV_SPLINE_WAYPOINT, Cmd.NAV_LOITER_TIME, Cmd.NAV_LOITER_UNLIM):
            there = (
                (it.x, it.y, walk.amsl(it, here[2])) if (it.x or it.y) else (here[0], here[1], walk.amsl(it, here[2]))
            )
            walk.segment(it.seq, here, there, True)
            here = there
        elif cmd == Cmd.NAV_LOITER_TURNS:
            there = (it.x, it.y, walk.amsl(it, here[2]))
            walk.segment(it.seq, here, there, True)
            walk.circle(it.seq, (it.x, it.y), abs(it.param3), there[2])
            here = there
        elif cmd == Cmd.NAV_RETURN_TO_LAUNCH:
            # ArduCopter's return height: RTL_ALT, but not above RTL_CONE_SLOPE (3) times
            # the distance home, and never below where it is.
            rel = here[2] - home[2]
            alt = home[2] + max(rel, min(rtl_alt_m or 0.0, max(_metres(here[:2], home[:2]) * 3.0, rel)))
            # The climb is vertical; the way home is flown at that height, and the RTL is
            # a failsafe path: it answers to the clearance, not the ceiling.
            walk.segment(it.seq, (here[0], here[1], alt), (home[0], home[1], alt), False)
            here = home
        elif cmd == Cmd.NAV_LAND:
            if it.x or it.y:
                walk.pads.append((it.x, it.y))
                walk.segment(it.seq, here, (it.x, it.y, here[2]), True)
                here = (it.x, it.y, it.z)
    return walk.found
