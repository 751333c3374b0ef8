"""A finding as the rest of the system receives it: where, what, how sure, and the proof."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class FindingReport:
    id: str
    """Stable per stream and track: `<stream>-<kind>-<track>`, so a repeat is recognisable."""
    kind: str
    """fire, smoke or illegal_parking."""
    lon: float
    lat: float
    sigma_m: float
    confidence: float
    first_seen: datetime
    last_seen: datetime
    stream: str
    """The airport (drone) whose video showed it."""
    sortie: str | None
    zone: str | None
    dwell_s: float | None
    frame_seq: int
    crop_jpeg: bytes
    frame_jpeg: bytes
    reported_at: datetime

    def to_message(self, evidence: bool = True) -> dict[str, object]:
        msg: dict[str, object] = {
            "v": 1,
            "type": "finding",
            "id": self.id,
            "kind": self.kind,
            "lon": round(self.lon, 7),
            "lat": round(self.lat, 7),
            "sigma_m": round(self.sigma_m, 1),
            "confidence": round(self.confidence, 3),
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "airport": self.stream,
            "sortie": self.sortie,
            "zone": self.zone,
            "dwell_s": None if self.dwell_s is None else round(self.dwell_s, 1),
            "frame_seq": self.frame_seq,
            "reported_at": self.reported_at.isoformat(),
        }
        if evidence:
            msg["evidence"] = {
                "crop_jpeg_b64": base64.b64encode(self.crop_jpeg).decode(),
                "frame_jpeg_b64": base64.b64encode(self.frame_jpeg).decode(),
            }
        return msg

    def to_json(self, evidence: bool = True) -> str:
        return json.dumps(self.to_message(evidence), separators=(",", ":"), ensure_ascii=False)

    def line(self) -> str:
        """One line an operator can read."""
        extra = f" in {self.zone} for {self.dwell_s:.0f} s" if self.zone and self.dwell_s is not None else ""
        return (
            f"{self.reported_at:%H:%M:%S} {self.kind.upper():<16} {self.lat:.6f},{self.lon:.6f} "
            f"±{self.sigma_m:.0f} m  conf {self.confidence:.2f}  {self.stream}{extra}"
        )


def finding_id(stream: str, kind: str, first_seen: datetime, track_id: int) -> str:
    """A finding's id: its stream, kind, when its track was first seen (capture time, UTC)
    and the track's number. Track numbers start again with every pipeline (each flight),
    so the time keeps a later flight's findings from taking an earlier one's id (and
    overwriting its evidence). Only letters, digits, '.', '_' and '-': the id becomes an
    MQTT topic level, a file name and a URL path segment."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in stream) or "stream"
    return f"{safe}-{kind}-{first_seen.astimezone(UTC):%Y%m%dT%H%M%S}-{track_id}"
