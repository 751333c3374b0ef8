"""From the planner's schedule to what the executor flies: a `SortieOrder` per sortie.

The mission items are the planner's own (`missions.formats.items.sortie_items`, item 0
the dock pad); the battery the sortie needs is the planner's energy estimate (start
minus landing state of charge); the reserve, weather limits and cruise speed are the
airport's drone model's.
"""

from __future__ import annotations

from missions.formats.items import sortie_items
from missions.planner import ScheduledSortie
from missions.scenario import Scenario
from orchestrator.executor.sortie import SortieOrder


def order_for(scenario: Scenario, scheduled: ScheduledSortie) -> SortieOrder:
    sortie = scheduled.sortie
    airport = scenario.airports[scheduled.airport_id]
    drone = airport.drone
    items = sortie_items(sortie, scenario.frame, airport.lon, airport.lat, airport.elevation_m)
    first_alt = next((w.alt_m for w in sortie.waypoints if w.alt_m > 0), drone.transit_alt_m)
    return SortieOrder(
        id=f"{scheduled.occurrence}/{sortie.number}",
        airport=airport.id,
        items=items,
        takeoff_alt_m=first_alt,
        needed_pct=max(0.0, (sortie.start_soc - sortie.land_soc) * 100),
        reserve_pct=drone.reserve * 100,
        max_wind_ms=drone.max_wind_ms,
        max_rain_mm_h=drone.max_rain_mm_h,
        cruise_ms=drone.cruise_speed_ms,
    )
