"""Civil daylight: when a colour camera sees enough to patrol.

Civil dawn and dusk are when the sun's centre is 6 degrees below the horizon; between
them a colour camera sees the ground without lights. The sun's position comes from the
NOAA solar calculator's equations (Meeus, "Astronomical Algorithms"): its declination and
the equation of time from the fractional year, accurate to a minute or so at Shenzhen's
latitude, which is far finer than a patrol window.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, timezone

CIVIL_DEG = -6.0
"""Sun elevation of civil twilight (centre of the disc, refraction included)."""


def sun_elevation_deg(lon: float, lat: float, t: datetime) -> float:
    """The sun's elevation above the horizon at a place and an aware time, degrees."""
    u = t.astimezone(UTC)
    start = datetime(u.year, 1, 1, tzinfo=UTC)
    days = 366 if u.year % 4 == 0 and (u.year % 100 != 0 or u.year % 400 == 0) else 365
    hours = u.hour + u.minute / 60 + u.second / 3600
    gamma = 2 * math.pi / days * ((u - start).days + (hours - 12) / 24)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    true_solar_min = hours * 60 + eqtime + 4 * lon
    hour_angle = math.radians(true_solar_min / 4 - 180)
    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(hour_angle)
    return 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def is_daylight(lon: float, lat: float, t: datetime) -> bool:
    return sun_elevation_deg(lon, lat, t) >= CIVIL_DEG


def civil_daylight(lon: float, lat: float, day: date, tz: timezone) -> tuple[datetime, datetime]:
    """(civil dawn, civil dusk) of a local day, to the second (bisection on the elevation)."""
    noon = datetime.combine(day, time(12), tzinfo=tz)
    # Solar noon is within an hour of clock noon here; search each side of it.
    peak = max((noon + timedelta(minutes=m) for m in range(-90, 91, 5)), key=lambda t: sun_elevation_deg(lon, lat, t))

    def crossing(lo: datetime, hi: datetime, rising: bool) -> datetime:
        for _ in range(40):
            mid = lo + (hi - lo) / 2
            above = sun_elevation_deg(lon, lat, mid) >= CIVIL_DEG
            if above == rising:
                hi = mid
            else:
                lo = mid
        return (lo + (hi - lo) / 2).replace(microsecond=0)

    return crossing(peak - timedelta(hours=12), peak, True), crossing(peak, peak + timedelta(hours=12), False)
