"""The service's record: sorties and their transitions, commands, findings, audit.

SQLAlchemy over a SQLite file by default, PostgreSQL by URL; the schema is migrated by
alembic when the store opens. Everything is written (committed) before it is
acknowledged, so a crash never loses what an operator, a drone or the vision pipeline
was told had been recorded.
"""

from orchestrator.store.db import Store, StoreError
from orchestrator.store.records import AuditEntry, CommandRecord, FindingRecord, SortieRow, TransitionRecord

__all__ = ["AuditEntry", "CommandRecord", "FindingRecord", "SortieRow", "Store", "StoreError", "TransitionRecord"]
