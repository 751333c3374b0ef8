"""The flight an alert gets: out along dispatch's route at dash speed with the camera on
the spot from the start (it may be seen on the way), round it, then home the open way.

Pure: a candidate from `missions.dispatch` and the route home in, mission items out
(item 0 the airport's pad, as every sortie). An airborne drone that diverts flies the
same items from `FIRST_LEG` on: the take-off is skipped by setting the current item.
"""

from __future__ import annotations

from dataclasses import dataclass

from missions.autopilot import ARDUCOPTER_DEFAULTS, CopterLimits
from missions.clearance import Band, Heights, flight_limits
from missions.dispatch import ON_SCENE_S, Candidate
from missions.fleet import Airport
from missions.flight import Role, Waypoint
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
    """Take-off height above the pad (the first item's)."""
    orbit_turns: int
    needed_pct: float
    """Battery the flight takes (reserve excluded), from dispatch's energy estimate."""
    orbit_s: float
    """Planned time round the spot, at the drone's own orbit speed."""
    flight_params: dict[str, float]
    """RTL_ALT and FENCE_ALT_MAX for the ground this flight crosses (`flight_limits`)."""


def response_flight(
    airport: Airport,
    frame: LocalFrame,
    candidate: Candidate,
    home: Route,
    target: XY,
    on_scene_s: float = ON_SCENE_S,
    limits: CopterLimits = ARDUCOPTER_DEFAULTS,
    heights: Heights | None = None,
) -> ResponseFlight:
    """Mission items for `candidate` to reach `target`, orbit it for about `on_scene_s`, and
    return to `airport` along `home`. The orbit's turns are counted at the speed the drone
    will fly round it (`limits`, read from the drone; ArduCopter's defaults otherwise).

    Over a terrain model (`heights`) the flight keeps its transit height above the ground,
    climbs over what lies between (legs fitted as a sortie's are), orbits above the
    highest ground round the spot, and comes back over its pad before the RTL, so that
    the RTL descends straight onto it. Heights go out above mean sea level."""
    if candidate.route is None:
        raise ValueError(f"{candidate.airport_id} has no route to the alert: {candidate.note}")
    d = airport.drone
    hts = heights or Heights(None, Band(), airport.elevation_m, airport.xy)
    agl = min(d.transit_alt_m, hts.band.ceiling_m)
    amsl = Frame.GLOBAL
    pad = airport.elevation_m
    lon_t, lat_t = frame.to_lonlat(*target)
    orbit_alt = hts.over_circle(target, ORBIT_RADIUS_M, agl)
    up = Waypoint(airport.xy, hts.over_pad(airport.xy, pad, agl), d.dash_speed_ms, Role.PAD)
    out = hts.chain(
        [
            up,
            *(Waypoint(p, hts.lift(p, agl), d.dash_speed_ms, Role.TRANSIT) for p in candidate.route.points[1:-1]),
            Waypoint(target, orbit_alt, d.dash_speed_ms, Role.WORK),
        ]
    )
    back = hts.chain(
        [
            out[-1],
            *(Waypoint(p, hts.lift(p, agl), d.cruise_speed_ms, Role.TRANSIT) for p in home.points[1:-1]),
            Waypoint(airport.xy, up.alt_m, d.cruise_speed_ms, Role.TRANSIT),
        ]
    )

    def wp(w: Waypoint) -> MissionItem:
        lon, lat = frame.to_lonlat(*w.xy)
        return MissionItem(0, amsl, Cmd.NAV_WAYPOINT, x=lat, y=lon, z=w.alt_m + pad)

    turns = limits.turns_for(ORBIT_RADIUS_M, on_scene_s)
    items = [
        MissionItem(0, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=airport.lat, y=airport.lon, z=pad),
        MissionItem(0, amsl, Cmd.NAV_TAKEOFF, x=airport.lat, y=airport.lon, z=up.alt_m + pad),
        MissionItem(0, Frame.MISSION, Cmd.DO_CHANGE_SPEED, 1, d.dash_speed_ms, -1),
        MissionItem(0, Frame.GLOBAL_RELATIVE_ALT, Cmd.DO_SET_ROI_LOCATION, x=lat_t, y=lon_t, z=0.0),
        # Up to the spot itself at the dash speed: the speed a leg is flown at is the one in
        # force when its waypoint becomes current, so the orbit (cruise) must come after it.
        *(wp(w) for w in out[1:]),
        MissionItem(0, Frame.MISSION, Cmd.DO_CHANGE_SPEED, 1, d.cruise_speed_ms, -1),
        MissionItem(
            0, amsl, Cmd.NAV_LOITER_TURNS, float(turns), 0.0, ORBIT_RADIUS_M, x=lat_t, y=lon_t, z=orbit_alt + pad
        ),
        MissionItem(0, Frame.MISSION, Cmd.DO_SET_ROI_NONE),
        *(wp(w) for w in back[1:]),
        MissionItem(0, Frame.GLOBAL_RELATIVE_ALT, Cmd.NAV_RETURN_TO_LAUNCH),
    ]
    needed = (candidate.trip_soc or 0.0) * 100
    path = [*out, *back[1:]]
    params = flight_limits([w.xy for w in path], [w.alt_m for w in path], hts, hts.band.ceiling_m)
    return ResponseFlight(renumber(items), up.alt_m, turns, needed, limits.orbit_s(ORBIT_RADIUS_M, turns), params)
