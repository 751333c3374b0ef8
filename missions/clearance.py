"""Keeping a flight between the ground and the ceiling: the planner's terrain step.

A leg is a straight 3-D line, as an ArduCopter flies between waypoints. Over hills a
straight line between two waypoints at a good height above the ground can pass into a
ridge between them, or far above the 120 m ceiling over a valley. `fit_leg` samples the
ground along the leg at the terrain model's spacing, and where the line leaves the band
[min clearance, ceiling] above the ground it adds a waypoint at the worst sample, at the
height the leg asked for above the ground there, and looks again at both halves. What it
cannot mend (ground that rises and falls faster than the band is wide between samples) is
`TooSteep`, with the place, and the planner lists the patrol as not flyable with that
reason.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from missions.flight import Role, Waypoint
from missions.geo import XY
from missions.terrain import Ground

FIT_MARGIN_M = 4.0
"""Legs are fitted this far inside the band: between the samples, and between the
planner's grid and the DEM it was resampled from, the ground differs by a few metres
on steep slopes."""
FIT_CACHE_SIZE = 200_000
MAX_ADDED = 400
"""Waypoints one leg may gain; an autopilot holds a few hundred items in all."""


@dataclass(frozen=True)
class Band:
    """The heights a drone may fly above the ground."""

    clearance_m: float = 30.0
    """Lowest height above the ground in flight: above the forest canopy (20-30 m in
    Nanshan's hills), masts and the GNSS/DEM height error, with margin."""
    ceiling_m: float = 120.0
    """Highest height above the ground (the 2024 interim rules: 120 m true height)."""

    def target(self, wanted_m: float) -> float:
        """A height to add a waypoint at: the one asked for, kept 8 m inside the band."""
        return min(max(wanted_m, self.clearance_m + 8.0), self.ceiling_m - 8.0)


class TooSteep(Exception):
    """The ground changes faster than a straight leg can follow inside the band."""


class OffTerrain(Exception):
    """A leg leaves the terrain model: the heights under it are not known."""


def _violation(z: np.ndarray, g: np.ndarray, band: Band) -> np.ndarray:
    out: np.ndarray = np.maximum(g + band.clearance_m - z, z - (g + band.ceiling_m))
    return out


def fit_leg(
    a: XY, za: float, b: XY, zb: float, ground: Ground, band: Band, agl: tuple[float, float]
) -> list[tuple[XY, float]]:
    """Points to add between a and b (heights above mean sea level) so that the leg
    stays inside the band at every sample of the ground; `agl` is the height above the
    ground asked for at a and at b, interpolated for added points.

    Answers are kept on the ground model: the sortie splitter asks about the same legs
    home from the same work points for both directions of a patrol and every wind."""
    key = (a, round(za, 3), b, round(zb, 3), band, round(agl[0], 3), round(agl[1], 3))
    cache = ground.fit_cache
    hit = cache.get(key)
    if hit is not None:
        return list(hit)
    if len(cache) > FIT_CACHE_SIZE:
        cache.clear()
    added = _fit(a, za, b, zb, ground, band, agl)
    cache[key] = tuple(added)
    return added


def _fit(
    a: XY, za: float, b: XY, zb: float, ground: Ground, band: Band, agl: tuple[float, float]
) -> list[tuple[XY, float]]:
    added: list[tuple[XY, float]] = []
    inner = Band(band.clearance_m + FIT_MARGIN_M, band.ceiling_m - FIT_MARGIN_M)

    def fit(pa: XY, pz: float, qa: XY, qz: float, fa: float, fb: float) -> None:
        span = ground.span(pa, qa)
        if span is not None and span[1] + inner.clearance_m <= min(pz, qz) and max(pz, qz) <= span[0] + inner.ceiling_m:
            return  # the whole box is inside the band at every height the leg passes
        f, g = ground.profile(pa, qa)
        if len(f) <= 2:
            return
        fi, gi = f[1:-1], g[1:-1]
        if np.isnan(gi).any():
            raise OffTerrain(f"the leg leaves the terrain model ({ground.label})")
        z = pz + (qz - pz) * fi
        bad = _violation(z, gi, inner)
        k = int(np.argmax(bad))
        if bad[k] <= 0.01:
            return
        if len(added) >= MAX_ADDED:
            raise TooSteep(f"more than {MAX_ADDED} waypoints would be needed to follow the ground")
        t = float(fi[k])
        p = (pa[0] + (qa[0] - pa[0]) * t, pa[1] + (qa[1] - pa[1]) * t)
        wanted = agl[0] + (agl[1] - agl[0]) * (fa + (fb - fa) * t)
        pz_new = float(gi[k]) + band.target(wanted)
        ft = fa + (fb - fa) * t
        fit(pa, pz, p, pz_new, fa, ft)
        added.append((p, pz_new))
        fit(p, pz_new, qa, qz, ft, fb)

    fit(a, za, b, zb, 0.0, 1.0)
    return added


def worst_breach(points: list[tuple[XY, float]], ground: Ground, band: Band) -> tuple[float, XY] | None:
    """The largest excursion outside the band (metres) along a polyline of (xy, height
    above mean sea level), sampled at half the model's spacing; None if it stays inside.
    The planner's own last look before it accepts a fitted flight."""
    worst: tuple[float, XY] | None = None
    for (pa, za), (qa, zb) in itertools.pairwise(points):
        if pa == qa:
            continue
        f, g = ground.profile(pa, qa, ground.spacing_m / 2)
        z = za + (zb - za) * f
        bad = _violation(z, g, band)
        k = int(np.argmax(bad))
        if bad[k] > 0.5 and (worst is None or bad[k] > worst[0]):
            t = float(f[k])
            worst = (float(bad[k]), (pa[0] + (qa[0] - pa[0]) * t, pa[1] + (qa[1] - pa[1]) * t))
    return worst


class Heights:
    """Waypoint heights for one take-off pad over a terrain (or level ground without one).

    Patrols and transit ask for heights above the ground; waypoints carry heights above
    the take-off pad (what the sortie's profile and energy use), and mission items
    heights above sea level (`pad_amsl` + the waypoint's). With no terrain model the
    ground is level with the pad, as the planner assumed before it knew the hills.
    """

    def __init__(self, ground: Ground | None, band: Band, pad_amsl: float, pad_xy: XY) -> None:
        self.ground = ground
        self.band = band
        self.pad_amsl = pad_amsl
        self.pad_xy = pad_xy

    def ground_at(self, xy: XY) -> float:
        """The ground above mean sea level; OffTerrain outside the model."""
        if self.ground is None:
            return self.pad_amsl
        g = self.ground.height(xy)
        if math.isnan(g):
            raise OffTerrain(f"the flight leaves the terrain model ({self.ground.label})")
        return g

    def lift(self, xy: XY, agl: float) -> float:
        """Height above the take-off pad of a point `agl` metres above the ground."""
        return self.ground_at(xy) + agl - self.pad_amsl

    def over_pad(self, pad_xy: XY, pad_amsl: float, agl: float) -> float:
        """Transit height over a pad (above the take-off pad): `agl` above the ground
        there, and at least 10 m above the pad itself (a pad on a roof)."""
        if self.ground is None:
            return agl + pad_amsl - self.pad_amsl
        return max(self.lift(pad_xy, agl), pad_amsl - self.pad_amsl + 10.0)

    def over_circle(self, centre: XY, radius_m: float, agl: float) -> float:
        """A height to orbit at: `agl` above the highest ground on and inside the circle."""
        if self.ground is None:
            return agl
        pts = [centre] + [
            (centre[0] + r * math.cos(a), centre[1] + r * math.sin(a))
            for r in (radius_m / 2, radius_m)
            for a in np.linspace(0, 2 * math.pi, 16, endpoint=False)
        ]
        return max(self.ground_at(p) for p in pts) + agl - self.pad_amsl

    def between(self, a: Waypoint, b: Waypoint) -> list[Waypoint]:
        """Waypoints to add between a and b to keep the leg inside the band."""
        if self.ground is None or a.xy == b.xy:
            return []
        za, zb = a.alt_m + self.pad_amsl, b.alt_m + self.pad_amsl
        agl = (za - self.ground_at(a.xy), zb - self.ground_at(b.xy))
        role = b.role if b.role is Role.WORK else Role.TRANSIT
        return [
            Waypoint(xy, z - self.pad_amsl, b.speed_ms, role)
            for xy, z in fit_leg(a.xy, za, b.xy, zb, self.ground, self.band, agl)
        ]

    def chain(self, wps: list[Waypoint]) -> list[Waypoint]:
        """The waypoints with every leg fitted to the ground."""
        out = wps[:1]
        for a, b in itertools.pairwise(wps):
            out += self.between(a, b)
            out.append(b)
        return out

    def breach(self, wps: list[Waypoint]) -> tuple[float, XY] | None:
        """`worst_breach` of a flight's waypoints (None without a terrain model)."""
        if self.ground is None:
            return None
        return worst_breach([(w.xy, w.alt_m + self.pad_amsl) for w in wps], self.ground, self.band)


FENCE_MARGIN_M = 20.0
"""Room above the highest planned height before the drone's altitude fence trips."""
RTL_MIN_M = 30.0


def flight_limits(points: list[XY], alts: list[float], heights: Heights, ceiling_m: float) -> dict[str, float]:
    """ArduCopter parameters a flight needs over the ground it crosses, heights above home.

    RTL_ALT (cm): ArduCopter's RTL climbs to it where it is lower, then flies straight
    home. It is the height at which the straight line home from every waypoint (and every
    leg's middle) clears the ground by the clearance. It may exceed the ceiling near home
    when a hill stands between: in a failsafe, clearing the hill comes first.
    FENCE_ALT_MAX (m): the altitude fence is measured from home, so over a 400 m hill a
    fence at 120 m would turn every forest sortie home: it is set above the highest planned
    height or RTL height, whichever is higher, with a margin.
    """
    home = heights.pad_xy
    rtl = RTL_MIN_M
    if heights.ground is not None:
        probes = list(points) + [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in itertools.pairwise(points)]
        for p in probes:
            if p == home:
                continue
            _, g = heights.ground.profile(p, home)
            top = float(np.nanmax(g)) + heights.band.clearance_m - heights.pad_amsl
            rtl = max(rtl, top)
    highest = max([*alts, ceiling_m])
    return {"RTL_ALT": round(rtl * 100.0), "FENCE_ALT_MAX": round(max(highest, rtl) + FENCE_MARGIN_M)}
