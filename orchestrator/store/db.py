"""The store's one class: open (and migrate) a database by URL, read and write records.

Calls are synchronous and short (one transaction each); the service makes them between
awaits. SQLite runs in WAL mode with a busy timeout, so the API's readers never block
the writer; PostgreSQL (`postgresql+psycopg://...`) needs nothing special.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError

from orchestrator.store import schema
from orchestrator.store.alert_book import AlertBook
from orchestrator.store.records import AuditEntry, CommandRecord, FindingRecord, SortieRow, TransitionRecord

log = logging.getLogger("dronepatrol.store")

MIGRATIONS = Path(__file__).with_name("migrations")
TERMINAL_STATES = frozenset({"completed", "aborted", "failed"})
"""A sortie in one of these states is over; `held` can still be flown later."""


class StoreError(Exception):
    """The database cannot be opened, or a write broke a rule (a duplicate id)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def normalise_url(url: str) -> str:
    """A plain `postgresql://` URL uses psycopg 3, the driver we ship."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.alerts = AlertBook(engine)
        """Alerts, incidents, CAP messages and the outbox (store/alert_book.py)."""

    @classmethod
    def open(cls, url: str, migrate: bool = True) -> Store:
        url = normalise_url(url)
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(f"'{url}' is not a database URL (sqlite:///FILE or postgresql://...)") from None
        kwargs: dict[str, Any] = {"pool_pre_ping": parsed.get_backend_name() == "postgresql"}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
        elif parsed.get_backend_name() != "postgresql":
            raise StoreError(f"unsupported database '{parsed.get_backend_name()}' (SQLite or PostgreSQL)")
        # A server's connections go stale across its restarts; a file's do not.
        engine = create_engine(url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise StoreError(f"cannot open the database {self.engine.url!r}: {exc.orig}") from None

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    def close(self) -> None:
        self.engine.dispose()

    # ---- sorties ----------------------------------------------------------------------
    def add_sortie(self, row: SortieRow) -> bool:
        """Record a planned sortie; False when its id is already known (planned before a
        restart): a sortie is never recorded, or flown, twice."""
        values = {f.name: getattr(row, f.name) for f in fields(row)}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(schema.sorties).values(**values))
                self._transition(conn, "sortie", row.id, row.updated_at, None, row.state, row.reason)
        except IntegrityError:
            return False
        return True

    def set_sortie_state(
        self,
        sortie_id: str,
        state: str,
        reason: str,
        at: datetime,
        **columns: Any,
    ) -> SortieRow:
        """Move a sortie to `state` and record the transition, in one transaction."""
        with self.engine.begin() as conn:
            old = conn.execute(select(schema.sorties.c.state).where(schema.sorties.c.id == sortie_id)).scalar()
            if old is None:
                raise StoreError(f"no sortie '{sortie_id}'")
            values = {"state": state, "reason": reason, "updated_at": at, **columns}
            if state == "preflight" and "started_at" not in columns:
                values["started_at"] = at
            if state in TERMINAL_STATES and "ended_at" not in columns:
                values["ended_at"] = at
            conn.execute(update(schema.sorties).where(schema.sorties.c.id == sortie_id).values(**values))
            self._transition(conn, "sortie", sortie_id, at, old, state, reason)
            row = conn.execute(select(schema.sorties).where(schema.sorties.c.id == sortie_id)).one()
        return _sortie(row._mapping)

    def update_sortie(self, sortie_id: str, **columns: Any) -> SortieRow:
        """Change a sortie's columns other than its state (its order after a diversion)."""
        t = schema.sorties
        with self.engine.begin() as conn:
            if conn.execute(update(t).where(t.c.id == sortie_id).values(**columns)).rowcount == 0:
                raise StoreError(f"no sortie '{sortie_id}'")
            row = conn.execute(select(t).where(t.c.id == sortie_id)).one()
        return _sortie(row._mapping)

    def sortie(self, sortie_id: str) -> SortieRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.sorties).where(schema.sorties.c.id == sortie_id)).first()
        return _sortie(row._mapping) if row else None

    def sorties(
        self,
        *,
        state: Sequence[str] | None = None,
        airport: str | None = None,
        patrol: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[SortieRow]:
        t = schema.sorties
        q = select(t).order_by(t.c.planned_launch, t.c.id)
        if state:
            q = q.where(t.c.state.in_(list(state)))
        if airport:
            q = q.where(t.c.airport == airport)
        if patrol:
            q = q.where(t.c.patrol == patrol)
        if since:
            q = q.where(t.c.planned_launch >= since)
        if until:
            q = q.where(t.c.planned_launch < until)
        with self.engine.connect() as conn:
            return [_sortie(r._mapping) for r in conn.execute(q.limit(limit).offset(offset))]

    def unfinished_sorties(self) -> list[SortieRow]:
        """Sorties a restart must pick up: started (preflight, airborne, returning)."""
        return self.sorties(state=["preflight", "airborne", "returning"])

    # ---- transitions and commands -----------------------------------------------------
    def _transition(
        self, conn: Connection, subject: str, subject_id: str, at: datetime, old: str | None, new: str, reason: str
    ) -> None:
        conn.execute(
            insert(schema.transitions).values(
                subject=subject, subject_id=subject_id, at=at, old=old, new=new, reason=reason
            )
        )

    def add_transition(self, rec: TransitionRecord) -> None:
        with self.engine.begin() as conn:
            self._transition(conn, rec.subject, rec.subject_id, rec.at, rec.old, rec.new, rec.reason)

    def transitions(self, subject: str | None = None, subject_id: str | None = None) -> list[TransitionRecord]:
        t = schema.transitions
        q = select(t).order_by(t.c.id)
        if subject:
            q = q.where(t.c.subject == subject)
        if subject_id:
            q = q.where(t.c.subject_id == subject_id)
        with self.engine.connect() as conn:
            return [TransitionRecord(r.subject, r.subject_id, r.at, r.old, r.new, r.reason) for r in conn.execute(q)]

    def add_command(self, rec: CommandRecord) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(schema.commands).values(**asdict(rec)))

    def commands(self, sortie_id: str | None = None) -> list[CommandRecord]:
        t = schema.commands
        q = select(t).order_by(t.c.id)
        if sortie_id:
            q = q.where(t.c.sortie_id == sortie_id)
        with self.engine.connect() as conn:
            return [
                CommandRecord(r.at, r.target, r.command, r.params, r.result, r.detail, r.sortie_id)
                for r in conn.execute(q)
            ]

    # ---- findings -----------------------------------------------------------------------
    def add_finding(self, rec: FindingRecord) -> bool:
        """Record a finding; a repeat of a known id updates its last sighting instead
        (QoS 1 delivers at least once)."""
        values = asdict(rec)
        with self.engine.begin() as conn:
            try:
                with conn.begin_nested():
                    conn.execute(insert(schema.findings).values(**values))
                return True
            except IntegrityError:
                conn.execute(
                    update(schema.findings)
                    .where(schema.findings.c.id == rec.id)
                    .values(last_seen=rec.last_seen, confidence=rec.confidence, report=rec.report)
                )
                return False

    def findings(
        self, *, kind: str | None = None, since: datetime | None = None, limit: int = 1000, offset: int = 0
    ) -> list[FindingRecord]:
        t = schema.findings
        q = select(t).order_by(t.c.first_seen.desc(), t.c.id)
        if kind:
            q = q.where(t.c.kind == kind)
        if since:
            q = q.where(t.c.first_seen >= since)
        with self.engine.connect() as conn:
            return [_finding(r._mapping) for r in conn.execute(q.limit(limit).offset(offset))]

    def finding(self, finding_id: str) -> FindingRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.findings).where(schema.findings.c.id == finding_id)).first()
        return _finding(row._mapping) if row else None

    # ---- audit ------------------------------------------------------------------------
    def add_audit(self, entry: AuditEntry) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(schema.audit).values(**asdict(entry)))

    def audit(self, *, actor: str | None = None, limit: int = 1000, offset: int = 0) -> list[AuditEntry]:
        t = schema.audit
        q = select(t).order_by(t.c.id.desc())
        if actor:
            q = q.where(t.c.actor == actor)
        with self.engine.connect() as conn:
            return [
                AuditEntry(r.at, r.actor, r.role, r.action, r.target, r.params, r.status, r.result)
                for r in conn.execute(q.limit(limit).offset(offset))
            ]

    # ---- patrol settings and drone positions ------------------------------------------
    def set_patrol(
        self, patrol_id: str, *, at: datetime, by: str, paused: bool | None = None, spec: dict[str, Any] | None = None
    ) -> None:
        t = schema.patrol_settings
        with self.engine.begin() as conn:
            row = conn.execute(select(t).where(t.c.id == patrol_id)).first()
            if row is None:
                conn.execute(
                    insert(t).values(id=patrol_id, paused=int(bool(paused)), spec=spec, updated_at=at, updated_by=by)
                )
                return
            values: dict[str, Any] = {"updated_at": at, "updated_by": by}
            if paused is not None:
                values["paused"] = int(paused)
            if spec is not None:
                values["spec"] = spec
            conn.execute(update(t).where(t.c.id == patrol_id).values(**values))

    def patrol_settings(self) -> dict[str, tuple[bool, dict[str, Any] | None]]:
        """Patrol id -> (paused, spec of a patrol created or edited through the API)."""
        with self.engine.connect() as conn:
            return {r.id: (bool(r.paused), r.spec) for r in conn.execute(select(schema.patrol_settings))}

    def set_drone_airport(self, drone: str, airport: str, at: datetime) -> None:
        t = schema.drone_positions
        with self.engine.begin() as conn:
            if conn.execute(update(t).where(t.c.drone == drone).values(airport=airport, updated_at=at)).rowcount == 0:
                conn.execute(insert(t).values(drone=drone, airport=airport, updated_at=at))

    def drone_airports(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.drone: r.airport for r in conn.execute(select(schema.drone_positions))}

    def counts(self) -> dict[str, int]:
        """Rows per table (the demo's summary, the health check)."""
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for name in ("sorties", "transitions", "commands", "findings", "audit", "alerts", "incidents", "outbox"):
                table = schema.metadata.tables[name]
                out[name] = int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)
        return out


def _sortie(m: Any) -> SortieRow:
    return SortieRow(**{f.name: m[f.name] for f in fields(SortieRow)})


def _finding(m: Any) -> FindingRecord:
    return FindingRecord(**{f.name: m[f.name] for f in fields(FindingRecord)})
