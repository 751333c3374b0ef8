"""The store on SQLite and on PostgreSQL: migrations, sorties with their transitions,
findings delivered twice, audit, patrol settings, drone positions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy

from orchestrator.store import AuditEntry, CommandRecord, FindingRecord, SortieRow, Store, StoreError, schema
from tests.services import database_url

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 12, 2, 8, 0, tzinfo=CST)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    for url in database_url(request.param, tmp_path):
        s = Store.open(url)
        try:
            yield s
        finally:
            s.close()


def _row(sid: str = "p.20261202T0800.1", **kw) -> SortieRow:  # type: ignore[no-untyped-def]
    base = dict(
        id=sid,
        airport="shekou",
        land_airport="shekou",
        state="planned",
        reason="on the day's plan",
        order={"id": sid, "items": []},
        updated_at=T0,
        patrol="p",
        planned_launch=T0,
        planned_land=T0 + timedelta(minutes=20),
    )
    base.update(kw)
    return SortieRow(**base)


def test_migrations_create_the_schema_once(store: Store) -> None:
    assert store.revision() == "0003"
    store.migrate()  # again: nothing to do, nothing broken
    inspector = sqlalchemy.inspect(store.engine)
    names = set(inspector.get_table_names())
    assert {"sorties", "transitions", "commands", "findings", "audit", "patrol_settings", "alerts", "outbox"} <= names
    # What the migrations built is what the code reads and writes.
    for table in schema.metadata.sorted_tables:
        built = {c["name"] for c in inspector.get_columns(table.name)}
        assert built == {c.name for c in table.columns}, table.name


def test_a_sortie_moves_through_states_and_every_transition_is_kept(store: Store) -> None:
    assert store.add_sortie(_row())
    assert not store.add_sortie(_row()), "the same sortie is never recorded twice"
    store.set_sortie_state("p.20261202T0800.1", "preflight", "checks", T0 + timedelta(minutes=1))
    store.set_sortie_state("p.20261202T0800.1", "airborne", "flying 12 items", T0 + timedelta(minutes=2))
    row = store.set_sortie_state("p.20261202T0800.1", "completed", "landed", T0 + timedelta(minutes=20))
    assert row.state == "completed" and row.reason == "landed"
    assert row.started_at == T0 + timedelta(minutes=1) and row.ended_at == T0 + timedelta(minutes=20)
    assert row.planned_launch == T0 and row.planned_launch.utcoffset() == timedelta(0), "aware, stored in UTC"
    steps = store.transitions("sortie", "p.20261202T0800.1")
    assert [(s.old, s.new) for s in steps] == [
        (None, "planned"),
        ("planned", "preflight"),
        ("preflight", "airborne"),
        ("airborne", "completed"),
    ]
    assert store.unfinished_sorties() == []


def test_unfinished_sorties_are_the_ones_a_restart_must_pick_up(store: Store) -> None:
    for i, state in enumerate(["planned", "preflight", "airborne", "returning", "completed", "held"]):
        store.add_sortie(_row(f"s{i}", state=state, planned_launch=T0 + timedelta(minutes=i)))
    assert [s.id for s in store.unfinished_sorties()] == ["s1", "s2", "s3"]
    assert [s.id for s in store.sorties(state=["planned", "held"])] == ["s0", "s5"]
    assert [s.id for s in store.sorties(since=T0 + timedelta(minutes=4))] == ["s4", "s5"]


def test_unknown_sortie_and_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="no sortie"):
        store.set_sortie_state("nope", "preflight", "checks", T0)
    with pytest.raises(sqlalchemy.exc.StatementError, match="naive datetime"):
        store.add_sortie(_row(updated_at=datetime(2026, 12, 2, 8, 0)))


def test_a_finding_delivered_twice_is_one_finding_with_its_latest_sighting(store: Store) -> None:
    rec = FindingRecord(
        "shekou-fire-3", "fire", "shekou", "s1", 22.48, 113.91, 0.7, T0, T0, T0, {"id": "shekou-fire-3"}
    )
    assert store.add_finding(rec)
    later = FindingRecord(**{**rec.__dict__, "last_seen": T0 + timedelta(seconds=30), "confidence": 0.8})
    assert not store.add_finding(later)
    (only,) = store.findings()
    assert only.last_seen == T0 + timedelta(seconds=30) and only.confidence == pytest.approx(0.8)
    assert store.finding("shekou-fire-3") == only


def test_commands_audit_patrols_and_drone_positions(store: Store) -> None:
    store.add_sortie(_row("s1"))
    store.add_command(CommandRecord(T0, "shekou", "arm", {}, "accepted", sortie_id="s1"))
    assert [c.command for c in store.commands("s1")] == ["arm"]
    store.add_audit(AuditEntry(T0, "ops", "operator", "abort", "s1", {"reason": "x"}, 202, "ordered home"))
    store.add_audit(AuditEntry(T0, "eve", "viewer", "abort", "s1", {}, 403, "viewer may not abort"))
    assert [a.status for a in store.audit()] == [403, 202], "newest first"
    store.set_patrol("p", at=T0, by="ops", paused=True)
    store.set_patrol("p", at=T0, by="ops", spec={"id": "p"})
    assert store.patrol_settings() == {"p": (True, {"id": "p"})}
    store.set_drone_airport("nanshan", "shekou", T0)
    store.set_drone_airport("nanshan", "nanshan", T0 + timedelta(hours=9))
    assert store.drone_airports() == {"nanshan": "nanshan"}
    assert store.counts()["audit"] == 2


def test_a_bad_url_says_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        Store.open("nonsense")
    with pytest.raises(StoreError, match="unsupported database"):
        Store.open("mysql://u@h/db")


def test_the_sqlite_file_keeps_everything_across_a_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'x.db'}"
    s = Store.open(url)
    s.add_sortie(_row())
    s.close()
    again = Store.open(url)
    assert again.sortie("p.20261202T0800.1") is not None
    assert again.sortie("p.20261202T0800.1").planned_launch == T0.astimezone(UTC)  # type: ignore[union-attr]
    again.close()
