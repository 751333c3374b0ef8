"""Log lines in the service's clock, with the wall time beside it when they differ."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from orchestrator.logclock import ClockFormatter, set_log_clock


def _line(formatter: logging.Formatter) -> str:
    record = logging.LogRecord("dronepatrol.test", logging.INFO, __file__, 1, "hello", None, None)
    return formatter.format(record)


def test_the_service_time_leads_and_the_wall_time_follows() -> None:
    formatter = ClockFormatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        assert re.fullmatch(r"\d\d:\d\d:\d\d hello", _line(formatter)), "the wall time alone without a clock"
        set_log_clock(lambda: datetime(2026, 12, 2, 11, 8, 14))
        assert _line(formatter).startswith("11:08:14 [wall ") and _line(formatter).endswith("] hello")

        def broken() -> datetime:
            raise RuntimeError("no clock yet")

        set_log_clock(broken)
        assert "hello" in _line(formatter) and "wall" not in _line(formatter), "the line is never lost"
    finally:
        set_log_clock(None)
    assert "wall" not in _line(formatter)
