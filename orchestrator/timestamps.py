"""Times as the API, the event stream and the alert system read them."""

from __future__ import annotations

from datetime import datetime, tzinfo


def iso(t: datetime | None, tz: tzinfo | None = None) -> str | None:
    """ISO 8601 in `tz` (the district's zone for the API), or as stored; None stays None."""
    if t is None:
        return None
    return (t.astimezone(tz) if tz is not None else t).isoformat()
