"""The compiled scenario: everything the planner needs, in the local metric frame."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from shapely.geometry.base import BaseGeometry

from missions.airspace import Airspace, Approval
from missions.clearance import Band
from missions.errors import PlanningError
from missions.fleet import Airport
from missions.geo import XY, LocalFrame
from missions.incidents import Incidents
from missions.patrols import Patrol
from missions.terrain import Ground
from missions.weather import WeatherScript


@dataclass(frozen=True)
class Scenario:
    """A district with its airports, airspace, approvals, patrols and weather."""

    name: str
    folder: Path
    tz: timezone
    day: date
    frame: LocalFrame
    district_lonlat: BaseGeometry
    """The whole district (mainland and islands), WGS84."""
    airspace: Airspace
    approvals: tuple[Approval, ...]
    airports: dict[str, Airport]
    patrols: dict[str, Patrol]
    weather: WeatherScript
    outlying: tuple[BaseGeometry, ...] = field(default=())
    """Islands and other parts of the district outside the operating area (local frame)."""
    faults: tuple[tuple[datetime, str, str, float, float], ...] = field(default=())
    """(at, airport, fault, value, duration_s) for the simulator to inject."""
    incidents: Incidents = field(default_factory=lambda: Incidents())
    ground: Ground | None = None
    """The terrain on the local grid; None: level ground at every pad (no terrain model)."""
    clearance_m: float = 30.0
    """Lowest height above the ground in flight."""

    @property
    def band(self) -> Band:
        """Heights a drone may fly above the ground: the clearance up to the ceiling."""
        return Band(self.clearance_m, self.airspace.ceiling_m)

    def day_start(self) -> datetime:
        """Midnight, local time, of the scenario's default day."""
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=self.tz)

    def airport(self, airport_id: str) -> Airport:
        try:
            return self.airports[airport_id]
        except KeyError:
            known = ", ".join(sorted(self.airports))
            raise PlanningError(f"unknown airport '{airport_id}' (known: {known})") from None

    def to_xy(self, lon: float, lat: float) -> XY:
        return self.frame.to_xy(lon, lat)

    def localize(self, t: datetime) -> datetime:
        """Naive times are read as the scenario's local time."""
        return t.replace(tzinfo=self.tz) if t.tzinfo is None else t.astimezone(self.tz)

    def horizon(self, start: datetime, hours: float) -> tuple[datetime, datetime]:
        start = self.localize(start)
        return start, start + timedelta(hours=hours)
