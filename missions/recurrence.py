"""Recurring patrol rules: cron expressions, seasons, and event triggers.

A rule answers one question: at which local times in [start, end) should a patrol
begin? Cron follows the classic five fields (minute hour day-of-month month
day-of-week, Sunday = 0 or 7, with `*`, lists, ranges and steps); when both day fields
are restricted a day matches either, as Vixie cron does. A season (e.g. the forest-fire
season, 1 Oct - 30 Apr) limits the dates and may wrap over the new year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class RecurrenceError(ValueError):
    """A rule that cannot be parsed or can never fire."""


def _parse_field(text: str, name: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise RecurrenceError(f"empty item in the {name} field")
        rng, _, step_txt = part.partition("/")
        step = 1
        if step_txt:
            if not step_txt.isdigit() or int(step_txt) == 0:
                raise RecurrenceError(f"bad step '{step_txt}' in the {name} field")
            step = int(step_txt)
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a_txt, _, b_txt = rng.partition("-")
            if not (a_txt.isdigit() and b_txt.isdigit()):
                raise RecurrenceError(f"bad range '{rng}' in the {name} field")
            a, b = int(a_txt), int(b_txt)
        elif rng.isdigit():
            a = int(rng)
            b = hi if step_txt else a
        else:
            raise RecurrenceError(f"'{rng}' is not a number in the {name} field")
        if not (lo <= a <= hi and lo <= b <= hi) or a > b:
            raise RecurrenceError(f"'{part}' is outside {lo}-{hi} in the {name} field")
        values.update(range(a, b + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A parsed five-field cron expression."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        parts = expression.split()
        if len(parts) != 5:
            raise RecurrenceError(
                f"cron '{expression}' needs 5 fields (minute hour day month weekday), got {len(parts)}"
            )
        sets = [_parse_field(p, n, lo, hi) for p, (n, lo, hi) in zip(parts, _FIELDS, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])
        cron = cls(expression, sets[0], sets[1], sets[2], sets[3], weekdays, parts[2] != "*", parts[4] != "*")
        if not cron.days_restricted or cron.weekdays_restricted:
            return cron
        if not any(d <= _MONTH_DAYS[m - 1] for m in cron.months for d in cron.days):
            raise RecurrenceError(f"cron '{expression}' names a day that none of its months has")
        return cron

    def matches_date(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def times_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Every firing time t with start <= t < end, in start's timezone."""
        out: list[datetime] = []
        tz = start.tzinfo
        day = start.date()
        clock = sorted((h, m) for h in self.hours for m in self.minutes)
        while True:
            midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
            if midnight >= end:
                break
            if self.matches_date(day):
                for h, m in clock:
                    t = midnight + timedelta(hours=h, minutes=m)
                    if start <= t < end:
                        out.append(t)
            day += timedelta(days=1)
        return out


@dataclass(frozen=True)
class Season:
    """A yearly span of dates, inclusive, e.g. 10-01..04-30 (may wrap over the year end)."""

    first: tuple[int, int]
    last: tuple[int, int]

    @classmethod
    def parse(cls, text: str) -> Season:
        try:
            a, b = text.split("..")
            first = tuple(int(x) for x in a.split("-"))
            last = tuple(int(x) for x in b.split("-"))
            if len(first) != 2 or len(last) != 2:
                raise ValueError
            for m, d in (first, last):
                date(2024, m, d)  # a leap year accepts every real month-day
        except ValueError as exc:
            raise RecurrenceError(f"season '{text}' is not MM-DD..MM-DD with real dates") from exc
        return cls((first[0], first[1]), (last[0], last[1]))

    def contains(self, d: date) -> bool:
        md = (d.month, d.day)
        if self.first <= self.last:
            return self.first <= md <= self.last
        return md >= self.first or md <= self.last
