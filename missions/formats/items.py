"""MAVLink mission items as plain data, with ArduCopter's conventions.

Only orchestrator/ and sim/ encode these into MAVLink bytes; here they are values.
ArduCopter conventions: item 0 is home (global frame, altitude above mean sea level; it
is overwritten on upload and read back as the real home), a NAV_TAKEOFF comes first so
AUTO can start from the ground, and the last item returns (NAV_RETURN_TO_LAUNCH) or
lands (NAV_LAND).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

from missions.flight import Role
from missions.geo import LocalFrame
from missions.sorties import Sortie


class Frame(IntEnum):
    """MAV_FRAME values used in missions."""

    GLOBAL = 0
    """Altitude above mean sea level."""
    MISSION = 2
    """Non-position items (DO_ commands)."""
    GLOBAL_RELATIVE_ALT = 3
    """Altitude above home."""
    GLOBAL_TERRAIN_ALT = 10


class Cmd(IntEnum):
    """MAV_CMD values the planner writes and the importers understand."""

    NAV_WAYPOINT = 16
    NAV_LOITER_UNLIM = 17
    NAV_LOITER_TURNS = 18
    NAV_LOITER_TIME = 19
    NAV_RETURN_TO_LAUNCH = 20
    NAV_LAND = 21
    NAV_TAKEOFF = 22
    NAV_SPLINE_WAYPOINT = 82
    DO_JUMP = 177
    DO_CHANGE_SPEED = 178
    DO_SET_ROI_LOCATION = 195
    DO_SET_ROI_NONE = 197
    DO_LAND_START = 189
    DO_MOUNT_CONTROL = 205
    DO_GIMBAL_MANAGER_PITCHYAW = 1000
    DO_SET_ROI = 201


NAV_COMMANDS = frozenset({16, 17, 18, 19, 20, 21, 22, 82})
"""Commands with a position (params 5-7 are lat, lon, alt)."""


@dataclass(frozen=True)
class MissionItem:
    """One MISSION_ITEM_INT's content (lat/lon in degrees here; scaled at the wire)."""

    seq: int
    frame: int
    command: int
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: float = 0.0
    """Latitude, degrees (or param5 for non-position commands)."""
    y: float = 0.0
    """Longitude, degrees (or param6)."""
    z: float = 0.0
    """Altitude, metres in the item's frame (or param7)."""
    current: int = 0
    autocontinue: int = 1

    @property
    def params(self) -> tuple[float, float, float, float, float, float, float]:
        return (self.param1, self.param2, self.param3, self.param4, self.x, self.y, self.z)

    def same_as(self, other: MissionItem, tol_deg: float = 1e-7, tol_m: float = 0.01) -> bool:
        """Equal as an autopilot stores them (lat/lon to 1e-7 degree, altitude to 1 cm)."""

        def close(a: float, b: float, tol: float) -> bool:
            return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol

        return (
            self.seq == other.seq
            and self.frame == other.frame
            and self.command == other.command
            and all(close(a, b, 1e-4) for a, b in zip(self.params[:4], other.params[:4], strict=True))
            and close(self.x, other.x, tol_deg)
            and close(self.y, other.y, tol_deg)
            and close(self.z, other.z, tol_m)
            and self.autocontinue == other.autocontinue
        )


def renumber(items: list[MissionItem]) -> list[MissionItem]:
    return [
        MissionItem(i, it.frame, it.command, *it.params, current=1 if i == 0 else 0, autocontinue=it.autocontinue)
        for i, it in enumerate(items)
    ]


def sortie_items(
    sortie: Sortie, frame: LocalFrame, home_lon: float, home_lat: float, home_amsl: float
) -> list[MissionItem]:
    """The mission an ArduCopter flies for a sortie, item 0 = home on the dock pad.

    Heights go out above mean sea level (GLOBAL frame, QGroundControl's AltitudeMode 2):
    the planner has fitted every leg to the terrain, so the autopilot needs no terrain
    data of its own, and the independent check (`missions.terrain_check`) reads the same
    numbers the drone flies. Relative heights would depend on where home was set;
    terrain-frame items would need the drone to hold terrain tiles, and ArduCopter
    abandons a terrain mission for RTL when it lacks them.
    """
    items: list[MissionItem] = [MissionItem(0, Frame.GLOBAL, Cmd.NAV_WAYPOINT, x=home_lat, y=home_lon, z=home_amsl)]
    amsl = Frame.GLOBAL
    wps = sortie.waypoints
    first_air = next(w for w in wps if w.alt_m > 0)
    items.append(MissionItem(0, amsl, Cmd.NAV_TAKEOFF, x=home_lat, y=home_lon, z=first_air.alt_m + home_amsl))
    speed: float | None = None
    roi_on = False
    for w in wps[1:]:
        if w.role is Role.PAD:
            continue
        if w.speed_ms != speed:
            speed = w.speed_ms
            items.append(MissionItem(0, Frame.MISSION, Cmd.DO_CHANGE_SPEED, 1, speed, -1))
        if w.roi is not None:
            lon, lat = frame.to_lonlat(*w.roi)
            items.append(MissionItem(0, Frame.GLOBAL_RELATIVE_ALT, Cmd.DO_SET_ROI_LOCATION, x=lat, y=lon, z=0.0))
            roi_on = True
        elif roi_on:
            items.append(MissionItem(0, Frame.MISSION, Cmd.DO_SET_ROI_NONE))
            roi_on = False
        lon, lat = frame.to_lonlat(*w.xy)
        items.append(MissionItem(0, amsl, Cmd.NAV_WAYPOINT, w.hold_s, x=lat, y=lon, z=w.alt_m + home_amsl))
    if roi_on:
        items.append(MissionItem(0, Frame.MISSION, Cmd.DO_SET_ROI_NONE))
    if sortie.land_airport_id == sortie.airport_id:
        items.append(MissionItem(0, Frame.GLOBAL_RELATIVE_ALT, Cmd.NAV_RETURN_TO_LAUNCH))
    else:
        lon, lat = frame.to_lonlat(*wps[-1].xy)
        items.append(MissionItem(0, amsl, Cmd.NAV_LAND, x=lat, y=lon, z=wps[-1].alt_m + home_amsl))
    return renumber(items)
