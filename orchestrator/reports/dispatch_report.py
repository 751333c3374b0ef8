"""A dispatch decision as a table for the operator and as JSON."""

from __future__ import annotations

from typing import Any

from missions.dispatch import Decision


def dispatch_json(d: Decision) -> dict[str, Any]:
    choice = None
    if d.choice is not None:
        choice = {"airport": d.choice.airport_id, "eta_s": round(d.choice.eta_s or 0.0, 1), "reason": d.reason}
    return {
        "target": {"lon": d.lon, "lat": d.lat},
        "at": d.at.isoformat(),
        "choice": choice,
        "reason": d.reason,
        "candidates": [
            {
                "airport": c.airport_id,
                "status": str(c.status),
                "eta_s": None if c.eta_s is None else round(c.eta_s, 1),
                "distance_m": None if c.distance_m is None else round(c.distance_m, 1),
                "battery_at_home": None if c.soc_at_home is None else round(c.soc_at_home, 3),
                "note": c.note,
            }
            for c in d.candidates
        ],
    }


def dispatch_text(d: Decision) -> str:
    lines = [f"Alert at {d.lat:.5f}, {d.lon:.5f} (lat, lon), {d.at:%Y-%m-%d %H:%M %z}", ""]
    lines.append(f"  {'airport':<10} {'ETA':>9}  {'km':>5}  note")
    for c in d.candidates:
        eta = f"{int(c.eta_s // 60)}:{round(c.eta_s % 60):02d}" if c.eta_s is not None else "-"
        km = f"{c.distance_m / 1000:.1f}" if c.distance_m is not None else "-"
        mark = "*" if d.choice is not None and c.airport_id == d.choice.airport_id else " "
        lines.append(f"{mark} {c.airport_id:<10} {eta:>9}  {km:>5}  {c.note}")
    lines += ["", f"Choice: {d.reason}"]
    return "\n".join(lines)
