from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from missions.recurrence import Cron, RecurrenceError, Season

TZ = timezone(timedelta(hours=8))
DAY = datetime(2026, 12, 2, tzinfo=TZ)  # a Wednesday


def test_every_two_hours_in_the_day() -> None:
    times = Cron.parse("0 8-18/2 * * *").times_between(DAY, DAY + timedelta(days=1))
    assert [t.hour for t in times] == [8, 10, 12, 14, 16, 18]
    assert all(t.tzinfo == TZ for t in times)


def test_rush_hours_on_weekdays_only() -> None:
    c = Cron.parse("30 7,17 * * 1-5")
    week = c.times_between(DAY, DAY + timedelta(days=7))
    assert len(week) == 10
    assert all(t.isoweekday() <= 5 for t in week)
    assert Cron.parse("0 11 * * 0,6").times_between(DAY, DAY + timedelta(days=7))[0].date() == date(2026, 12, 5)


def test_day_of_month_or_day_of_week_like_vixie_cron() -> None:
    c = Cron.parse("0 0 1 * 3")  # the 1st, or any Wednesday
    days = {t.date() for t in c.times_between(DAY, DAY + timedelta(days=31))}
    assert date(2027, 1, 1) in days and date(2026, 12, 9) in days and date(2026, 12, 10) not in days


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("0 25 * * *", "outside 0-23"),
        ("0 8 * *", "5 fields"),
        ("0 0 31 2 *", "none of its months"),
        ("*/0 * * * *", "bad step"),
        ("a * * * *", "not a number"),
        ("5-1 * * * *", "outside"),
    ],
)
def test_impossible_or_malformed_rules_are_refused(expr: str, fragment: str) -> None:
    with pytest.raises(RecurrenceError, match=fragment):
        Cron.parse(expr)


def test_fire_season_wraps_over_the_new_year() -> None:
    s = Season.parse("10-01..04-30")
    assert s.contains(date(2026, 12, 2)) and s.contains(date(2027, 4, 30)) and s.contains(date(2026, 10, 1))
    assert not s.contains(date(2026, 7, 1)) and not s.contains(date(2026, 9, 30))
    with pytest.raises(RecurrenceError):
        Season.parse("02-30..03-01")
