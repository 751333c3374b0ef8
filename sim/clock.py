"""One simulated clock for every vehicle, dock and timer of a run.

Simulated time runs `speedup` times faster than the wall. The loop that steps the world
asks `due()` how much simulated time has passed since its last step; tests that need
exact determinism drive the world by hand with fixed steps instead.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta


class SimClock:
    """Simulated time anchored at a start datetime."""

    def __init__(self, start: datetime, speedup: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware start")
        if speedup <= 0:
            raise ValueError("speed-up must be positive")
        self.start = start
        self.speedup = speedup
        self.elapsed = 0.0
        """Simulated seconds since start, as stepped."""
        self._wall_anchor = time.monotonic()
        self._sim_anchor = 0.0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def advance(self, dt: float) -> None:
        self.elapsed += dt

    def due(self) -> float:
        """Simulated seconds owed by the wall clock since the last step."""
        target = self._sim_anchor + (time.monotonic() - self._wall_anchor) * self.speedup
        return max(0.0, target - self.elapsed)

    def set_speedup(self, speedup: float) -> None:
        self._sim_anchor = self.elapsed
        self._wall_anchor = time.monotonic()
        self.speedup = speedup

    def wall_seconds(self, sim_seconds: float) -> float:
        return sim_seconds / self.speedup
