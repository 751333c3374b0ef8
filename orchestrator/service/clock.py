"""The service's idea of now.

Against real drones it is the wall clock. Against a simulator running at a speed-up it
is the simulator's: the docks stamp every state message with their time, and between
two messages the clock runs on at the configured speed-up. It never runs backwards."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, tzinfo

from missions.vocabulary import DockOsd
from orchestrator.bus.docks import DockClient


class DockClock:
    def __init__(self, speedup: float, tz: tzinfo) -> None:
        self.speedup = speedup
        self.tz = tz
        self._ref: tuple[datetime, float] | None = None
        self._last: datetime | None = None

    def attach(self, docks: DockClient) -> None:
        docks.on_state(self._osd)

    @property
    def synced(self) -> bool:
        return self._ref is not None

    def _osd(self, osd: DockOsd) -> None:
        try:
            t = datetime.fromisoformat(osd.time)
        except ValueError:
            return
        if t.tzinfo is None:
            return
        if self._ref is None or t > self._ref[0]:
            self._ref = (t, time.monotonic())

    def __call__(self) -> datetime:
        if self._ref is None:
            now = datetime.now(self.tz)
        else:
            t, mono = self._ref
            now = t + timedelta(seconds=(time.monotonic() - mono) * self.speedup)
        if self._last is not None and now < self._last:
            return self._last
        self._last = now
        return now


def iso(t: datetime | None, tz: tzinfo | None = None) -> str | None:
    """ISO 8601 in `tz` (the district's zone for the API), or as stored; None stays None."""
    if t is None:
        return None
    return (t.astimezone(tz) if tz is not None else t).isoformat()
