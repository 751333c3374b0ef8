"""The service's idea of now.

Against real drones it is the wall clock. Against a simulator running at a speed-up it
is the simulator's: the docks stamp every state message with their time, and between
two messages the clock runs on at the configured speed-up.

`DockClock` follows the docks without letting one message push it around: it never runs
backwards; after the first dock time it takes a later time only when it is within
`max_jump_s` of where the clock would be by now (a simulator that runs late catches up,
one paused for a while resumes), and a bigger jump only when a second airport reports the
same jump; everything refused is counted. Until the first dock time arrives it reads the
wall clock without remembering it, so a scenario day in the past (a replayed day) is not
pinned to today by something that read the clock early."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo

from missions.vocabulary import DockOsd
from orchestrator.bus.docks import DockClient

log = logging.getLogger("dronepatrol.clock")


class DockClock:
    def __init__(
        self,
        speedup: float,
        tz: tzinfo,
        max_jump_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.speedup = speedup
        self.tz = tz
        self.max_jump_s = max_jump_s if max_jump_s is not None else max(120.0, 30.0 * speedup)
        """Simulated seconds one airport may move the clock ahead of its own estimate."""
        self._mono = monotonic
        self._ref: tuple[datetime, float] | None = None
        self._last: datetime | None = None
        self._jump: tuple[str, datetime, float] | None = None
        self.refused = 0
        """Dock times not taken: malformed, without a zone, or a jump only one airport saw."""

    def attach(self, docks: DockClient) -> None:
        docks.on_state(self.observe)

    @property
    def synced(self) -> bool:
        return self._ref is not None

    def observe(self, osd: DockOsd) -> None:
        try:
            t = datetime.fromisoformat(osd.time)
        except (TypeError, ValueError):
            self.refused += 1
            return
        if t.tzinfo is None:
            self.refused += 1
            return
        mono = self._mono()
        if self._ref is None:
            self._ref = (t, mono)
            log.info("clock: following the docks from %s", t.isoformat())
            return
        expected = self._estimate(mono)
        if t <= self._ref[0]:
            return  # older than what we have: never backwards
        if (t - expected).total_seconds() <= self.max_jump_s:
            self._ref = (t, mono)
            self._jump = None
            return
        # A jump ahead: taken only when a second airport reports the same.
        if self._jump is not None and self._jump[0] != osd.airport:
            seen_airport, seen_t, seen_mono = self._jump
            seen_now = seen_t + timedelta(seconds=(mono - seen_mono) * self.speedup)
            if abs((t - seen_now).total_seconds()) <= self.max_jump_s:
                log.warning("clock: jumped to %s (%s and %s agree)", t.isoformat(), seen_airport, osd.airport)
                self._ref = (t, mono)
                self._jump = None
                return
        self.refused += 1
        if self._jump is None or self._jump[0] != osd.airport:
            log.warning(
                "clock: %s says %s, %.0f s ahead of the docks' time; not taken unless another airport agrees",
                osd.airport,
                t.isoformat(),
                (t - expected).total_seconds(),
            )
        self._jump = (osd.airport, t, mono)

    def _estimate(self, mono: float) -> datetime:
        assert self._ref is not None
        t, at = self._ref
        return t + timedelta(seconds=(mono - at) * self.speedup)

    def __call__(self) -> datetime:
        if self._ref is None:
            return datetime.now(self.tz)  # not remembered: the docks' time replaces it
        now = self._estimate(self._mono())
        if self._last is not None and now < self._last:
            return self._last
        self._last = now
        return now
