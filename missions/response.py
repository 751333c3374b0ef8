"""The flight an alert gets: out along dispatch's route at dash speed with the camera on
the spot from the start (it may be seen on the way), round it, then home the open way.

Pure: a candidate from `missions.dispatch` and the route home in, mission items out
(item 0 the airport's pad, as every sortie). An airborne drone that diverts flies the
same items from `FIRST_LEG` on: the take-off is skipped by setting the current item.
"""

from __future__ import annotations

from dataclasses import dataclass

from missions.autopilot import ARDUCOPTER_DEFAULTS, CopterLimits
from missions.dispatch import ON_SCENE_S, Candidate
from missions.fleet import Airport
from missions.formats.items import Cmd, Frame, MissionItem, renumber
from missions.geo import XY, LocalFrame
from missions.routing import Route

ORBIT_RADIUS_M = 40.0
"""Close enough for the camera to resolve a person or a burning car at 60-80 m altitude,
far enough that a fire's plume and heat do not reach the drone."""
FIRST_LEG = 2
"""Index of the first item after the take-off (a speed change, then the dash)."""


@dataclass(frozen=True)
class ResponseFlight:
    items: list[MissionItem]
    alt_m: float
    orbit_turns: int
    needed_pct: float
    """Battery the flight takes (reserve excluded), from dispatch's energy estimate."""
    orbit_s: float
    """Planned time round the spot, at the drone's own orbit speed."""


def response_flight(
    airport: Airport,
    frame: LocalFrame,
    candidate: Candidate,
    home: Route,
    target: XY,
    on_scene_s: float = ON_SCENE_S,
    limits: CopterLimits = ARDUCOPTER_DEFAULTS,
) -> ResponseFlight:
    """Mission items for `candidate` to reach `target`, orbit it for about `on_scene_s`, and
    return to `airport` along `home`. The orbit's turns are counted at the speed the drone
    will fly round it (`limits`, read from the drone; ArduCopter's defaults otherwise)."""
    if candidate.route is None:
        raise ValueError(f"{candidate.airport_id} has no route to the alert: {candidate.note}")
    d = airport.drone
    alt = min(d.transit_alt_m, 120.0)
    rel = Frame.GLOBAL_RELATIVE_ALT

    def wp(xy: XY) -> MissionItem:
        lon, lat = frame.to_lonlat(*xy)
        return MissionItem(0, rel, Cmd.NAV_WAYPOINT, x=lat, y=lon, z=alt)

    lon_t, lat_t = frame.to_lonlat(*target)
    turns = limits.turns_for(ORBIT_RADIUS_M, on_scene_s)
    items = [
        MissionItem(0, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=airport.lat, y=airport.lon, z=airport.elevation_m),
        MissionItem(0, rel, Cmd.NAV_TAKEOFF, x=airport.lat, y=airport.lon, z=alt),
        MissionItem(0, Frame.MISSION, Cmd.DO_CHANGE_SPEED, 1, d.dash_speed_ms, -1),
        MissionItem(0, rel, Cmd.DO_SET_ROI_LOCATION, x=lat_t, y=lon_t, z=0.0),
        *(wp(p) for p in candidate.route.points[1:]),
        MissionItem(0, Frame.MISSION, Cmd.DO_CHANGE_SPEED, 1, d.cruise_speed_ms, -1),
        MissionItem(0, rel, Cmd.NAV_LOITER_TURNS, float(turns), 0.0, ORBIT_RADIUS_M, x=lat_t, y=lon_t, z=alt),
        MissionItem(0, Frame.MISSION, Cmd.DO_SET_ROI_NONE),
        *(wp(p) for p in home.points[1:-1]),
        MissionItem(0, rel, Cmd.NAV_RETURN_TO_LAUNCH),
    ]
    needed = (candidate.trip_soc or 0.0) * 100
    return ResponseFlight(renumber(items), alt, turns, needed, limits.orbit_s(ORBIT_RADIUS_M, turns))
