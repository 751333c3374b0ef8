"""Keeping a simulation at a pace the machine can hold.

A simulator at 60x on a busy machine falls behind: the world forgets the steps it had no
time for, the event loop answers late, and a service sharing it sees heartbeats arrive
late in simulated time, failsafes trip and sorties fail for no reason of their own. The
governor watches what was achieved (simulated seconds per wall second against the
speed-up asked for) and how late the loop wakes, and lowers the speed-up to what the
machine holds, saying so; when the machine is calm again it climbs back towards the
speed-up asked for. A pure core (`PaceGovernor.window`) and a small async shell
(`keep_pace`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class PacedClock(Protocol):
    speedup: float
    elapsed: float

    def set_speedup(self, speedup: float) -> None: ...


@dataclass
class PaceGovernor:
    target: float
    """The speed-up asked for: never exceeded."""
    floor: float = 1.0
    """Never slower than this."""
    slow_below: float = 0.85
    """Slow down when less than this share of the speed-up was achieved over a window..."""
    max_lag_s: float = 0.5
    """...or when the event loop woke this late (half of the 1 s the demo's drones allow
    between two of the service's heartbeats)."""
    calm_windows: int = 6
    """Windows in a row at full pace, with a loop on time, before speeding up again."""
    speedup: float = field(init=False)
    _calm: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if not 0 < self.floor <= self.target:
            raise ValueError("the floor must be positive and at most the target")
        self.speedup = self.target

    def window(self, sim_s: float, wall_s: float, max_lag_s: float) -> float | None:
        """What one window showed; returns the new speed-up when it changes."""
        if wall_s <= 0:
            return None
        achieved = sim_s / (wall_s * self.speedup)
        if achieved < self.slow_below or max_lag_s > self.max_lag_s:
            self._calm = 0
            # Down to a little under what was held (at most halving at a time).
            new = max(self.floor, self.speedup * max(0.5, min(achieved, 0.9) * 0.9))
            return self._set(new)
        if achieved >= 0.97 and max_lag_s < self.max_lag_s / 4 and self.speedup < self.target:
            self._calm += 1
            if self._calm >= self.calm_windows:
                self._calm = 0
                return self._set(min(self.target, self.speedup * 1.25))
        else:
            self._calm = 0
        return None

    def _set(self, new: float) -> float | None:
        new = round(new, 1)
        if abs(new - self.speedup) < 0.05:
            return None
        self.speedup = new
        return new


async def keep_pace(
    clock: PacedClock,
    governor: PaceGovernor,
    stop: asyncio.Event,
    say: Callable[[str], None],
    window_s: float = 3.0,
    tick_s: float = 0.2,
) -> None:
    """Until stopped: every `window_s` wall seconds (3 s: 3 simulated minutes at 60x), ask
    the governor and apply its answer."""
    while not stop.is_set():
        start_wall, start_sim, lag = time.monotonic(), clock.elapsed, 0.0
        while time.monotonic() - start_wall < window_s and not stop.is_set():
            before = time.monotonic()
            try:
                await asyncio.wait_for(stop.wait(), tick_s)
                return
            except TimeoutError:
                pass
            lag = max(lag, time.monotonic() - before - tick_s)
        wall = time.monotonic() - start_wall
        sim = clock.elapsed - start_sim
        was = clock.speedup
        new = governor.window(sim, wall, lag)
        if new is None:
            continue
        clock.set_speedup(new)
        held = sim / wall if wall > 0 else 0.0
        if new < was:
            say(
                f"the machine is behind (held {held:.0f}x of {was:g}x, event loop up to {lag:.1f} s late): "
                f"running at {new:g}x"
            )
        else:
            say(f"the machine keeps up again: running at {new:g}x (asked for {governor.target:g}x)")
