"""Log lines stamped with the service's clock.

In `demo` (and against a simulator at a speed-up) the service lives in simulated time: a
log saying 19:04 while the dashboard says 11:08 sends an operator looking in the wrong
place. Once a clock is set, every line starts with the service's time and gives the wall
time beside it (`11:08:14 [wall 19:04:02]`); without one, the wall time alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

_clock: Callable[[], datetime] | None = None


def set_log_clock(clock: Callable[[], datetime] | None) -> None:
    """Stamp log lines with this clock from now on (None: the wall clock again)."""
    global _clock
    _clock = clock


class ClockFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        wall = time.strftime(datefmt or "%H:%M:%S", time.localtime(record.created))
        clock = _clock
        if clock is None:
            return wall
        try:
            service = clock().strftime(datefmt or "%H:%M:%S")
        except Exception:  # a clock that cannot answer must not lose the line
            return wall
        return service if service == wall else f"{service} [wall {wall}]"
