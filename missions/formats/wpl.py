"""`QGC WPL 110` waypoint files (MAVProxy, Mission Planner), read and written.

First line `QGC WPL 110`, then one tab-separated row per item:
seq current frame command p1 p2 p3 p4 lat lon alt autocontinue. Row 0 is home (frame 0,
altitude above mean sea level).
"""

from __future__ import annotations

import math

from missions.formats.items import MissionItem

HEADER = "QGC WPL 110"


class WplFormatError(ValueError):
    """A waypoint file that cannot be read; the message names the line."""


def dumps(items: list[MissionItem] | tuple[MissionItem, ...]) -> str:
    lines = [HEADER]
    for it in items:
        fields = [str(it.seq), str(it.current), str(it.frame), str(it.command)]
        fields += [f"{p:.6f}" if not math.isnan(p) else "nan" for p in it.params[:4]]
        fields += [f"{it.x:.8f}", f"{it.y:.8f}", f"{it.z:.6f}", str(it.autocontinue)]
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


def loads(text: str) -> list[MissionItem]:
    rows = [ln for ln in text.splitlines() if ln.strip()]
    if not rows or not rows[0].strip().startswith("QGC WPL"):
        raise WplFormatError("line 1: expected the header 'QGC WPL 110'")
    version = rows[0].split()[-1]
    if version != "110":
        raise WplFormatError(f"line 1: version {version} is not supported (only 110)")
    items: list[MissionItem] = []
    for n, row in enumerate(rows[1:], start=2):
        parts = row.split("\t") if "\t" in row else row.split()
        if len(parts) != 12:
            raise WplFormatError(f"line {n}: expected 12 fields, found {len(parts)}")
        try:
            seq, current, frame, command = (int(p) for p in parts[:4])
            p = [float(v) for v in parts[4:11]]
            auto = int(parts[11])
        except ValueError:
            raise WplFormatError(f"line {n}: a field is not a number") from None
        if seq != len(items):
            raise WplFormatError(f"line {n}: sequence {seq} where {len(items)} was expected")
        items.append(MissionItem(seq, frame, command, p[0], p[1], p[2], p[3], p[4], p[5], p[6], current, auto))
    return items
