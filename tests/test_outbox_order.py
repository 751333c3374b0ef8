"""An incident's events reach a receiver in the order they happened, even when the first
one is waiting for a retry and the later ones are due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrator.alerts.outbox import in_order
from orchestrator.store.records import OutboxItem

T = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


def _item(i: int, key: str, target: str = "http://alerts/in", next_in_s: float = 0) -> OutboxItem:
    return OutboxItem(key, "webhook", target, "application/json", "{}", T, T + timedelta(seconds=next_in_s), id=i)


def test_a_later_event_waits_for_an_earlier_one_of_the_same_incident_and_target() -> None:
    opened = _item(1, "inc.a/opened/x", next_in_s=60)  # failed once: retried in a minute
    grown = _item(2, "inc.a/grown/y")
    resolved = _item(3, "inc.a/resolved/z")
    other = _item(4, "inc.b/opened/w")  # another incident is not held up
    mqtt = _item(5, "inc.a/grown/y", target="dronepatrol/v1/incidents/inc.a")
    pending = [opened, grown, resolved, other, mqtt]
    due_now = [grown, resolved, other, mqtt]
    assert [i.id for i in in_order(due_now, pending)] == [4, 5]
    assert [i.id for i in in_order([opened, grown, resolved], pending)] == [1]
    assert [i.id for i in in_order([grown, resolved], [grown, resolved])] == [2]
