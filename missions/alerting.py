"""Alerts and incidents as rules: which alert kinds exist and what each gets, when two
reports are the same event, how a false alarm weighs on later ones, and the figures an
alert's timeline is judged by.

Pure: the caller passes every time, place and earlier mark; nothing here keeps state.

The false-alarm rule (what an operator's "false alarm" does to later reports):
every mark within `FEEDBACK_RADIUS_M` of a new report of the same class multiplies its
confidence by `FEEDBACK_FACTOR`, the mark's weight halving every
`FEEDBACK_HALF_LIFE_DAYS`; a report whose confidence falls below `PUBLISH_MIN_CONFIDENCE`
is kept as an incident but not pushed to the alert system until a later sighting raises
it. Three fresh marks at a steam vent take a 0.70 "smoke" to 0.36: kept, not pushed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from missions.geo import haversine_m


class AlertAction(StrEnum):
    LAUNCH = "launch"
    """Dispatch the earliest-arriving drone at once."""
    PROPOSE = "propose"
    """Record it and let an operator decide."""


@dataclass(frozen=True)
class KindRule:
    kind: str
    action: AlertAction
    default_priority: int
    """1 most urgent .. 5; an alert may say its own."""
    merge_radius_m: float
    """Two reports of this kind closer than this ..."""
    merge_window_s: float
    """... and less than this apart in time are one event."""
    finding_kinds: tuple[str, ...] = ()
    """What vision reports that answers an alert of this kind."""
    family: str = ""
    """Alerts of one family at one place are one event (a smoke sensor and a caller
    reporting flames); empty: the kind itself."""

    @property
    def event_family(self) -> str:
        return self.family or self.kind


ALERT_RULES: dict[str, KindRule] = {
    r.kind: r
    for r in (
        KindRule("fire", AlertAction.LAUNCH, 1, 300.0, 3600.0, ("fire", "smoke"), "fire"),
        KindRule("smoke", AlertAction.LAUNCH, 1, 300.0, 3600.0, ("smoke", "fire"), "fire"),
        KindRule("hazmat", AlertAction.LAUNCH, 1, 300.0, 3600.0, ("fire", "smoke")),
        KindRule("flood", AlertAction.LAUNCH, 2, 300.0, 7200.0, ()),
        KindRule("illegal_parking", AlertAction.PROPOSE, 3, 60.0, 1800.0, ("illegal_parking",)),
    )
}
"""Inbound alert kinds. A smoke sensor and a caller are both answered in minutes; a
parking complaint waits for an operator (a patrol may be passing anyway)."""

FINDING_RULES: dict[str, KindRule] = {
    r.kind: r
    for r in (
        KindRule("fire", AlertAction.LAUNCH, 1, 200.0, 1800.0, family="fire"),
        KindRule("smoke", AlertAction.LAUNCH, 1, 200.0, 1800.0, family="fire"),
        KindRule("illegal_parking", AlertAction.PROPOSE, 3, 30.0, 1200.0),
    )
}
"""How vision's findings merge into incidents: a fire's sightings drift as it grows and
as the camera's geolocation errs (10-20 m); a parked vehicle does not move. Fire and
smoke are one family: the flames and the plume of one fire (its smoke placed up to a
couple of hundred metres downwind) are one incident and one public alert, not two."""

GRAVITY = {"fire": 2, "smoke": 1}
"""Within a family, the kind an incident is called by: the gravest seen."""


def graver(a: str, b: str) -> str:
    """Of two kinds of one family, the one an incident takes (fire over smoke)."""
    return b if GRAVITY.get(b, 0) > GRAVITY.get(a, 0) else a


FEEDBACK_RADIUS_M = 300.0
FEEDBACK_FACTOR = 0.8
FEEDBACK_HALF_LIFE_DAYS = 30.0
PUBLISH_MIN_CONFIDENCE = 0.4
ANSWER_RADIUS_M = 300.0
"""A finding this close to an alert's point, after it was received, answers it."""


class AlertError(ValueError):
    """An alert that cannot be taken: the reason is meant for the sender."""


@dataclass(frozen=True)
class Sighting:
    """Something open with a kind, a place and a last time: an incident or an alert."""

    id: str
    kind: str
    lat: float
    lon: float
    last: datetime


def same_event(
    kind: str, lat: float, lon: float, at: datetime, open_items: Iterable[Sighting], rule: KindRule
) -> Sighting | None:
    """The nearest open item of the same kind within the rule's radius and window."""
    best: tuple[float, Sighting] | None = None
    for s in open_items:
        if s.kind != kind or abs((at - s.last).total_seconds()) > rule.merge_window_s:
            continue
        d = haversine_m(lon, lat, s.lon, s.lat)
        if d <= rule.merge_radius_m and (best is None or d < best[0]):
            best = (d, s)
    return best[1] if best else None


@dataclass(frozen=True)
class FalseAlarmMark:
    kind: str
    lat: float
    lon: float
    at: datetime


def feedback_factor(kind: str, lat: float, lon: float, at: datetime, marks: Iterable[FalseAlarmMark]) -> float:
    """What earlier false alarms of this class nearby multiply a new report's confidence by."""
    weight = 0.0
    for m in marks:
        if m.kind != kind or m.at > at or haversine_m(lon, lat, m.lon, m.lat) > FEEDBACK_RADIUS_M:
            continue
        age_days = (at - m.at).total_seconds() / 86400
        weight += 0.5 ** (age_days / FEEDBACK_HALF_LIFE_DAYS)
    return float(FEEDBACK_FACTOR**weight)


class IncidentState(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    """Ground units sent."""
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"


INCIDENT_STEPS: dict[IncidentState, frozenset[IncidentState]] = {
    IncidentState.NEW: frozenset(
        {IncidentState.ACKNOWLEDGED, IncidentState.DISPATCHED, IncidentState.RESOLVED, IncidentState.FALSE_ALARM}
    ),
    IncidentState.ACKNOWLEDGED: frozenset(
        {IncidentState.DISPATCHED, IncidentState.RESOLVED, IncidentState.FALSE_ALARM}
    ),
    IncidentState.DISPATCHED: frozenset({IncidentState.RESOLVED, IncidentState.FALSE_ALARM}),
    IncidentState.RESOLVED: frozenset(),
    IncidentState.FALSE_ALARM: frozenset(),
}
"""Monitor -> warn -> dispatch -> handle -> feedback. A ground unit may find it a false
alarm after it was dispatched; a closed incident stays closed (a new sighting opens a
new one)."""

OPEN_INCIDENT_STATES = frozenset({IncidentState.NEW, IncidentState.ACKNOWLEDGED, IncidentState.DISPATCHED})


def check_step(old: str, new: str) -> IncidentState:
    """The new state, or AlertError saying why an incident cannot go there."""
    try:
        target = IncidentState(new)
    except ValueError:
        known = ", ".join(s.value for s in IncidentState if s is not IncidentState.NEW)
        raise AlertError(f"unknown incident state {new!r} (one of {known})") from None
    if target not in INCIDENT_STEPS[IncidentState(old)]:
        if IncidentState(old) not in OPEN_INCIDENT_STATES:
            raise AlertError(f"the incident is {old}: closed incidents do not change")
        raise AlertError(f"an incident that is {old} cannot become {new}")
    return target


ALERT_STAGES = ("launch_ordered", "airborne", "on_scene", "first_finding")
"""An alert's timeline after receipt: the launch ordered (the take-off command to dock
and drone), the drone in the air, over the spot, and vision's first finding there."""


def percentiles(values: Sequence[float], points: Sequence[int] = (50, 90, 95)) -> dict[str, float | int | None]:
    """Nearest-rank percentiles (a value that happened, not an interpolation), plus n and max."""
    out: dict[str, float | int | None] = {"n": len(values)}
    ordered = sorted(values)
    for p in points:
        out[f"p{p}"] = ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else None
    out["max"] = ordered[-1] if ordered else None
    return out
