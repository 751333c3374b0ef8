"""The service's clock when it follows the docks: never pinned to the wall date before
they speak, never backwards, and not pushed ahead by one airport's message."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from missions.vocabulary import DockOsd
from orchestrator.service.clock import DockClock

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 12, 2, 9, 0, tzinfo=TZ)


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _osd(airport: str, t: datetime | str) -> DockOsd:
    return DockOsd(airport, t if isinstance(t, str) else t.isoformat(), "closed", True, False, 1.0, {})


def test_reading_the_clock_before_the_docks_speak_does_not_pin_it_to_the_wall_date() -> None:
    mono = FakeMonotonic()
    clock = DockClock(10.0, TZ, monotonic=mono)
    early = clock()
    assert early.date() >= datetime.now(TZ).date() - timedelta(days=1), "wall time until the docks speak"
    clock.observe(_osd("shekou", DAY))  # a scenario day in the past: replayed, not frozen
    assert clock() == DAY
    mono.t += 3.0
    assert clock() == DAY + timedelta(seconds=30), "runs on at the speed-up"


def test_one_airport_cannot_push_the_clock_ahead_but_two_agreeing_can() -> None:
    mono = FakeMonotonic()
    clock = DockClock(10.0, TZ, max_jump_s=300, monotonic=mono)
    clock.observe(_osd("shekou", DAY))
    clock.observe(_osd("shekou", datetime(2030, 1, 1, tzinfo=TZ)))
    assert clock() == DAY and clock.refused == 1, "a forged year is refused"
    clock.observe(_osd("shekou", "not a time"))
    clock.observe(_osd("shekou", "2026-12-02T09:00:00"))  # no zone
    assert clock.refused == 3
    mono.t += 1.0
    clock.observe(_osd("shekou", DAY + timedelta(seconds=12)))  # within the bound: a sim running a bit ahead
    assert clock() == DAY + timedelta(seconds=12)
    jump = DAY + timedelta(hours=2)
    clock.observe(_osd("nanshan", jump))
    assert clock() < jump
    clock.observe(_osd("yuehai", jump + timedelta(seconds=5)))
    assert clock() == jump + timedelta(seconds=5), "a second airport agrees: the simulator really moved on"


def test_never_backwards() -> None:
    mono = FakeMonotonic()
    clock = DockClock(10.0, TZ, monotonic=mono)
    clock.observe(_osd("shekou", DAY))
    mono.t += 10.0
    ahead = clock()
    assert ahead == DAY + timedelta(seconds=100)
    clock.observe(_osd("shekou", DAY + timedelta(seconds=50)))  # the simulator ran slower than its speed-up
    assert clock() == ahead, "holds until the docks' time catches up"
    mono.t += 10.0
    assert clock() == DAY + timedelta(seconds=150)
