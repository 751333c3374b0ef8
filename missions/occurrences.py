"""Expanding recurring patrol rules into dated occurrences over a horizon."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from missions.patrols import CronRule, Patrol, TriggerRule
from missions.weather import Forecast


@dataclass(frozen=True)
class Occurrence:
    """One time a patrol should be flown: launch no earlier than release, no later than deadline."""

    patrol: Patrol
    release: datetime
    deadline: datetime
    cause: str

    @property
    def key(self) -> str:
        return f"{self.patrol.id}@{self.release:%Y-%m-%dT%H:%M}"


def expand(patrols: Iterable[Patrol], forecast: Forecast, start: datetime, end: datetime) -> list[Occurrence]:
    """Every occurrence released in [start, end), sorted by release time then priority."""
    out: list[Occurrence] = []
    for p in patrols:
        rule = p.rule
        if isinstance(rule, CronRule):
            for t in rule.cron.times_between(start, end):
                if rule.season is None or rule.season.contains(t.date()):
                    out.append(Occurrence(p, t, t + timedelta(minutes=rule.window_min), rule.describe()))
        elif isinstance(rule, TriggerRule):
            lookback = start - timedelta(days=1)
            for w in forecast.warnings:
                if w.kind != rule.event:
                    continue
                t = w.window.end + timedelta(minutes=rule.delay_min)
                if start <= t < end and w.window.start >= lookback:
                    cause = f"after {w.kind} {w.window.start:%H:%M}-{w.window.end:%H:%M}"
                    out.append(Occurrence(p, t, t + timedelta(minutes=rule.window_min), cause))
    out.sort(key=lambda o: (o.release, o.patrol.priority, o.patrol.id))
    return out
