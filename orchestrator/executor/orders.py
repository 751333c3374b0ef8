"""From the planner's schedule to what the executor flies: a `SortieOrder` per sortie.

The mission items are the planner's own (`missions.formats.items.sortie_items`, item 0
the dock pad); the battery the sortie needs is the planner's energy estimate (start
minus landing state of charge); the reserve, weather limits and cruise speed are the
airport's drone model's.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from missions.clearance import Heights, flight_limits
from missions.formats.items import MissionItem, sortie_items
from missions.planner import ScheduledSortie
from missions.scenario import Scenario
from orchestrator.executor.sortie import SortieOrder


def order_for(scenario: Scenario, scheduled: ScheduledSortie, order_id: str | None = None) -> SortieOrder:
    sortie = scheduled.sortie
    airport = scenario.airports[scheduled.airport_id]
    drone = airport.drone
    items = sortie_items(sortie, scenario.frame, airport.lon, airport.lat, airport.elevation_m)
    first_alt = next((w.alt_m for w in sortie.waypoints if w.alt_m > 0), drone.transit_alt_m)
    heights = Heights(scenario.ground, scenario.band, airport.elevation_m, airport.xy)
    wps = sortie.waypoints
    limits = flight_limits([w.xy for w in wps], [w.alt_m for w in wps], heights, scenario.airspace.ceiling_m)
    return SortieOrder(
        id=order_id or sortie_id(scheduled),
        airport=airport.id,
        items=items,
        takeoff_alt_m=first_alt,
        needed_pct=max(0.0, (sortie.start_soc - sortie.land_soc) * 100),
        reserve_pct=drone.reserve * 100,
        max_wind_ms=drone.max_wind_ms,
        max_rain_mm_h=drone.max_rain_mm_h,
        cruise_ms=drone.cruise_speed_ms,
        land_airport=sortie.land_airport_id,
        flight_params=limits,
    )


def order_to_json(order: SortieOrder) -> dict[str, Any]:
    """What the store keeps, so a restarted service flies (or watches) the same order."""
    data = asdict(order)
    data["items"] = [asdict(i) for i in order.items]
    return data


def order_from_json(data: dict[str, Any]) -> SortieOrder:
    items = [MissionItem(**i) for i in data["items"]]
    return SortieOrder(**{**data, "items": items})


def sortie_id(scheduled: ScheduledSortie, suffix: str = "") -> str:
    """Stable and URL-safe: patrol, release time, sortie number (a restart plans the same ids)."""
    release = scheduled.occurrence.rsplit("@", 1)[-1].replace("-", "").replace(":", "")
    return f"{scheduled.patrol_id}.{release}.{scheduled.sortie.number}{suffix}"
