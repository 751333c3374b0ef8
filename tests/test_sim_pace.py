"""The simulation slows down to what a busy machine holds, says so, and climbs back."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from sim.pace import PaceGovernor, keep_pace


def test_a_window_behind_pace_slows_to_a_little_under_what_was_held() -> None:
    g = PaceGovernor(60.0, floor=5.0)
    assert g.window(sim_s=300.0, wall_s=5.0, max_lag_s=0.05) is None, "on pace: unchanged"
    assert g.window(sim_s=150.0, wall_s=5.0, max_lag_s=0.05) == 30.0  # held half: at most halved
    assert g.window(sim_s=120.0, wall_s=5.0, max_lag_s=0.05) == 21.6  # held 24x of 30x: 0.8 x 0.9
    assert g.window(sim_s=108.0, wall_s=5.0, max_lag_s=0.9) == 17.5, "a late loop slows it too (0.9 x 0.9)"
    for _ in range(20):
        g.window(sim_s=1.0, wall_s=5.0, max_lag_s=2.0)
    assert g.speedup == 5.0, "never under the floor"


def test_calm_windows_bring_it_back_up_but_never_past_the_target() -> None:
    g = PaceGovernor(60.0, floor=5.0, calm_windows=3)
    g.window(150.0, 5.0, 0.0)
    assert g.speedup == 30.0
    changes = []
    for _ in range(30):
        new = g.window(sim_s=g.speedup * 5.0, wall_s=5.0, max_lag_s=0.01)
        if new is not None:
            changes.append(new)
    assert changes == [37.5, 46.9, 58.6, 60.0] and g.speedup == 60.0
    assert g.window(sim_s=g.speedup * 5.0, wall_s=5.0, max_lag_s=0.3) is None, "a little lag: no climb"
    with pytest.raises(ValueError):
        PaceGovernor(10.0, floor=20.0)


class _Clock:
    """A simulated clock that advances only as far as the machine lets it (10x here)."""

    def __init__(self, speedup: float) -> None:
        self.speedup, self.elapsed = speedup, 0.0
        self.anchor = time.monotonic()

    def set_speedup(self, speedup: float) -> None:
        self.speedup = speedup

    async def run(self, stop: asyncio.Event) -> None:
        last = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):  # a tick of the clock, or the stop
                await asyncio.wait_for(stop.wait(), 0.01)
            now = time.monotonic()
            self.elapsed += (now - last) * min(self.speedup, 10.0)
            last = now


def test_keep_pace_lowers_a_clock_that_cannot_keep_up_and_says_so() -> None:
    said: list[str] = []

    async def run() -> float:
        clock, stop, slowed = _Clock(60.0), asyncio.Event(), asyncio.Event()

        def say(message: str) -> None:
            said.append(message)
            if clock.speedup <= 12:
                slowed.set()

        tasks = [
            asyncio.create_task(clock.run(stop)),
            asyncio.create_task(keep_pace(clock, PaceGovernor(60.0, floor=2.0), stop, say, window_s=0.5)),
        ]
        await slowed.wait()
        stop.set()
        await asyncio.gather(*tasks)
        return clock.speedup

    assert asyncio.run(asyncio.wait_for(run(), 30)) <= 12
    assert said and "the machine is behind" in said[0] and "running at 30x" in said[0], said
