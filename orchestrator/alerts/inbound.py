"""What an inbound alert is, and the checks it must pass before anything is decided:
its shape (a kind, a point or a polygon, a priority), its place (inside the district, in
the drones' operating area, outside no-fly zones) and its sender's pace (a flood is
refused). Each refusal carries the HTTP status and the reason meant for the sender."""

from __future__ import annotations

import logging
import time
from collections import deque
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator
from shapely.geometry import Point, Polygon

from missions.alerting import ALERT_RULES
from missions.scenario import Scenario

log = logging.getLogger("dronepatrol.alerts")


class AlertIn(BaseModel):
    """An alert as the alert system sends it (REST body, or JSON over MQTT)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "fire",
                    "lat": 22.5582,
                    "lon": 113.9522,
                    "priority": 1,
                    "id": "SZ-119-20261202-0042",
                    "note": "smoke sensor T-17, Dashahe park",
                },
            ]
        },
    )

    kind: str = Field(description=f"one of {', '.join(sorted(ALERT_RULES))}", max_length=32)
    lat: float | None = Field(None, ge=-90, le=90, description="WGS 84; or give `polygon`")
    lon: float | None = Field(None, ge=-180, le=180)
    priority: int | None = Field(None, ge=1, le=5, description="1 most urgent; default per kind")
    polygon: list[list[float]] | None = Field(
        None, min_length=4, max_length=200, description="[[lon, lat], ...] closed ring: the area to look at"
    )
    id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]*$",
        description="the sender's own id (letters, digits and _ . : @ + -, starting with a letter or digit; no "
        "'/', spaces or markup): a repeat is refused",
    )
    note: str = Field("", max_length=1000)

    @model_validator(mode="after")
    def _where(self) -> AlertIn:
        if self.polygon is None and (self.lat is None or self.lon is None):
            raise ValueError("give lat and lon, or a polygon")
        if self.polygon is not None:
            if any(len(p) != 2 for p in self.polygon) or self.polygon[0] != self.polygon[-1]:
                raise ValueError("polygon: [lon, lat] pairs, the last the same as the first")
            ring = Polygon(self.polygon)
            if not ring.is_valid or ring.area == 0:
                raise ValueError("polygon: not a simple ring with an area")
            if self.lat is None or self.lon is None:
                centre = ring.representative_point()
                self.lon, self.lat = centre.x, centre.y
        return self


class AlertRefused(Exception):
    def __init__(self, status: int, reason: str, alert_id: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.alert_id = alert_id


class FloodGate:
    """At most `per_min` alerts a minute from one sender (wall time: senders send in it)."""

    def __init__(self, per_min: int) -> None:
        self.per_min = per_min
        self._recent: dict[str, deque[float]] = {}

    def admit(self, sender: str) -> None:
        now = time.monotonic()
        seen = self._recent.setdefault(sender, deque())
        while seen and now - seen[0] > 60:
            seen.popleft()
        if len(seen) >= self.per_min:
            log.warning("alerts from %s refused: more than %d a minute", sender, self.per_min)
            raise AlertRefused(429, f"more than {self.per_min} alerts a minute from {sender}: slow down")
        seen.append(now)


def check_place(scenario: Scenario, lat: float, lon: float, now: datetime) -> None:
    """AlertRefused (422) when no drone may be sent to (lat, lon) at all."""
    if not scenario.district_lonlat.covers(Point(lon, lat)):
        raise AlertRefused(422, f"({lat:.5f}, {lon:.5f}) is outside {scenario.name}")
    xy = Point(scenario.to_xy(lon, lat))
    if not scenario.airspace.operating_area.covers(xy):
        raise AlertRefused(422, f"({lat:.5f}, {lon:.5f}) is outside the drones' operating area (an island?)")
    blocked = scenario.airspace.blocked_zone_ids(now, now, scenario.approvals, emergency=True)
    zones = [z.id for z in scenario.airspace.zones if z.id in blocked and z.area.covers(xy)]
    if zones:
        raise AlertRefused(422, f"({lat:.5f}, {lon:.5f}) is in no-fly zone {', '.join(zones)}: no drone may go")
