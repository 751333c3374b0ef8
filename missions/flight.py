"""A planned flight as waypoints, and its time and energy under the energy model.

A flight starts on the dock pad and ends on a pad (the same one, or another airport's).
Its profile is computed leg by leg: launch overhead, vertical climb over the pad,
transit and work legs at their ground speeds in the forecast wind, holds, descent over
the pad and the recovery overhead. Every planner figure (sortie length, battery at
landing) comes from here, so the sortie splitter and the checks agree by construction.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from enum import StrEnum

from missions.energy import hover_energy_wh, leg_energy_wh
from missions.fleet import DockModel, DroneModel
from missions.geo import XY

SPOOL_S = 10.0
"""Motors run this long on the pad at launch and at touchdown (self-check, settle)."""


class Role(StrEnum):
    PAD = "pad"
    TRANSIT = "transit"
    WORK = "work"


@dataclass(frozen=True)
class Waypoint:
    """One point of a planned flight, local frame, altitude above the take-off pad."""

    xy: XY
    alt_m: float
    speed_ms: float
    """Ground speed on the leg that ends here."""
    role: Role
    hold_s: float = 0.0
    roi: XY | None = None


@dataclass(frozen=True)
class Profile:
    """Cumulative time (s from the launch order) and energy (Wh) at each waypoint."""

    arrive_s: tuple[float, ...]
    depart_s: tuple[float, ...]
    energy_wh: tuple[float, ...]
    total_s: float
    total_wh: float
    airborne_s: float
    distance_m: float


def leg_cost(drone: DroneModel, a: Waypoint, b: Waypoint, wind: XY) -> tuple[float, float, float]:
    """(seconds, Wh, metres) to fly from a to b, then hold at b."""
    length = math.dist(a.xy, b.xy)
    heading = ((b.xy[0] - a.xy[0]) / length, (b.xy[1] - a.xy[1]) / length) if length > 0 else (0.0, 0.0)
    climb = b.alt_m - a.alt_m
    speed = max(b.speed_ms, 0.5)
    seconds, wh = leg_energy_wh(
        drone.power, length, speed, heading, wind, climb, drone.climb_rate_ms, drone.descent_rate_ms
    )
    if b.hold_s > 0:
        seconds += b.hold_s
        wh += hover_energy_wh(drone.power, b.hold_s, wind)
    return seconds, wh, length


def profile(drone: DroneModel, dock: DockModel, waypoints: tuple[Waypoint, ...], wind: XY) -> Profile:
    """Time and energy along a flight whose first and last waypoints are on pads."""
    t = dock.launch_s
    e = hover_energy_wh(drone.power, SPOOL_S, (0.0, 0.0))
    arrive, depart, energy = [t], [t], [e]
    dist = 0.0
    for a, b in itertools.pairwise(waypoints):
        s, wh, m = leg_cost(drone, a, b, wind)
        arrive.append(t + s - b.hold_s)
        t += s
        e += wh
        dist += m
        depart.append(t)
        energy.append(e)
    airborne = t - dock.launch_s
    e += hover_energy_wh(drone.power, SPOOL_S, (0.0, 0.0))
    t += dock.land_s
    return Profile(tuple(arrive), tuple(depart), tuple(energy), t, e, airborne, dist)
