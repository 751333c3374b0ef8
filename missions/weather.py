"""Weather as the planner sees it: a forecast of wind, rain and warnings over time.

A forecast is a list of hourly-or-coarser samples, each valid until the next one, plus
named warnings with their windows (e.g. a rainstorm warning). The planner asks two
things: may a drone launch and fly through a window, and if not, why not.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from missions.fleet import DroneModel
from missions.geo import XY, wind_vector
from missions.timewindow import TimeWindow


@dataclass(frozen=True)
class WeatherSample:
    """Conditions from `at` until the next sample."""

    at: datetime
    wind_ms: float
    wind_from_deg: float
    gust_ms: float
    rain_mm_h: float
    temp_c: float

    @property
    def wind(self) -> XY:
        return wind_vector(self.wind_ms, self.wind_from_deg)


@dataclass(frozen=True)
class Warning:
    """A weather warning in force over a window (rainstorm, typhoon, gale...)."""

    kind: str
    window: TimeWindow
    level: str = ""


CALM = WeatherSample(datetime.fromisoformat("2000-01-01T00:00:00+00:00"), 0.0, 0.0, 0.0, 0.0, 20.0)


@dataclass
class _Spell:
    """A run of consecutive samples breaking the same limit."""

    kind: str
    start: datetime
    until: datetime | None
    worst: float
    why: str

    def describe(self) -> str:
        span = f"{self.start:%H:%M}-{self.until:%H:%M}" if self.until is not None else f"from {self.start:%H:%M}"
        return f"{self.kind} {self.worst:.1f} {self.why}, {span}"


def _limits_broken(drone: DroneModel, s: WeatherSample) -> dict[str, tuple[float, str]]:
    found: dict[str, tuple[float, str]] = {}
    if s.wind_ms > drone.max_wind_ms:
        found["wind"] = (s.wind_ms, f"m/s above the {drone.max_wind_ms:.0f} m/s limit")
    if s.rain_mm_h > drone.max_rain_mm_h:
        found["rain"] = (s.rain_mm_h, f"mm/h above the {drone.max_rain_mm_h:.0f} mm/h limit")
    if s.rain_mm_h > 0 and s.temp_c <= 0:
        found["freezing rain at"] = (s.temp_c, "C")
    if s.temp_c < drone.min_temp_c:
        found["temperature"] = (s.temp_c, f"C below the {drone.min_temp_c:.0f} C limit")
    return found


@dataclass(frozen=True)
class Forecast:
    """Samples sorted by time and the warnings; conditions before the first sample are calm."""

    samples: tuple[WeatherSample, ...] = ()
    warnings: tuple[Warning, ...] = ()
    _times: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", tuple(sorted(self.samples, key=lambda s: s.at)))
        object.__setattr__(self, "_times", tuple(s.at for s in self.samples))

    def at(self, t: datetime) -> WeatherSample:
        i = bisect.bisect_right(self._times, t) - 1
        return self.samples[i] if i >= 0 else CALM

    def during(self, start: datetime, end: datetime) -> list[WeatherSample]:
        """The samples in force at any time in [start, end]."""
        i = max(bisect.bisect_right(self._times, start) - 1, 0)
        j = bisect.bisect_right(self._times, end)
        picked = list(self.samples[i:j]) if self.samples else []
        return picked or [self.at(start)]

    def blockers(self, drone: DroneModel, start: datetime, end: datetime) -> list[str]:
        """Reasons the drone may not fly in [start, end], one per spell; empty when it may."""
        samples = self.during(start, end)
        spells: list[_Spell] = []
        running: dict[str, _Spell] = {}
        for k, s in enumerate(samples):
            until = samples[k + 1].at if k + 1 < len(samples) else self._next_after(s.at)
            found = _limits_broken(drone, s)
            for kind in [k for k in running if k not in found]:
                del running[kind]
            for kind, (value, why) in found.items():
                spell = running.get(kind)
                if spell is None:
                    spell = _Spell(kind, s.at, until, value, why)
                    spells.append(spell)
                    running[kind] = spell
                else:
                    spell.until = until
                    spell.worst = max(spell.worst, value)
        return [sp.describe() for sp in spells]

    def next_change(self, t: datetime) -> datetime | None:
        """The time of the first sample after t (when conditions may change)."""
        return self._next_after(t)

    def _next_after(self, t: datetime) -> datetime | None:
        i = bisect.bisect_right(self._times, t)
        return self._times[i] if i < len(self._times) else None


@dataclass(frozen=True)
class HourlyNorm:
    """Typical conditions at an hour of the day (the scenario's daily profile)."""

    hour: int
    wind_ms: float
    wind_from_deg: float
    gust_ms: float
    rain_mm_h: float
    temp_c: float


@dataclass(frozen=True)
class WeatherEvent:
    """Dated conditions that replace the daily profile over a window (a front, a storm)."""

    window: TimeWindow
    wind_ms: float | None = None
    wind_from_deg: float | None = None
    gust_ms: float | None = None
    rain_mm_h: float | None = None
    temp_c: float | None = None


@dataclass(frozen=True)
class WeatherScript:
    """A scenario's weather: a daily profile, dated events and warnings."""

    daily: tuple[HourlyNorm, ...]
    events: tuple[WeatherEvent, ...] = ()
    warnings: tuple[Warning, ...] = ()

    def forecast(self, start: datetime, end: datetime) -> Forecast:
        """The forecast over [start, end): hourly samples plus one at each event edge."""
        tz = start.tzinfo
        by_hour = {n.hour: n for n in self.daily}
        first = start.replace(minute=0, second=0, microsecond=0)
        times: set[datetime] = set()
        t = first
        while t < end:
            times.add(t)
            t += timedelta(hours=1)
        for ev in self.events:
            for edge in (ev.window.start, ev.window.end):
                if first <= edge < end:
                    times.add(edge.astimezone(tz))
        samples: list[WeatherSample] = []
        for t in sorted(times):
            norm = by_hour.get(t.hour) or min(self.daily, key=lambda n: abs(n.hour - t.hour))
            values = {
                "wind_ms": norm.wind_ms,
                "wind_from_deg": norm.wind_from_deg,
                "gust_ms": norm.gust_ms,
                "rain_mm_h": norm.rain_mm_h,
                "temp_c": norm.temp_c,
            }
            for ev in self.events:
                if ev.window.contains(t):
                    for key in values:
                        override = getattr(ev, key)
                        if override is not None:
                            values[key] = override
            samples.append(WeatherSample(t, **values))
        return Forecast(tuple(samples), self.warnings)
