"""Errors raised by the domain.

    MissionsError
    ├── ScenarioError      a scenario file or item is malformed or inconsistent
    └── PlanningError      a request cannot be planned (point outside the district, ...)

Each carries enough context (file, item, reason) for an operator to fix the input
without reading a traceback.
"""

from __future__ import annotations


class MissionsError(Exception):
    """Base of every error the domain raises on purpose."""


class ScenarioError(MissionsError):
    """A scenario input is invalid; names the file and the item that is wrong."""

    def __init__(self, reason: str, *, file: str | None = None, item: str | None = None) -> None:
        self.reason = reason
        self.file = file
        self.item = item
        super().__init__(self.describe())

    def describe(self) -> str:
        where = ": ".join(part for part in (self.file, self.item) if part)
        return f"{where}: {self.reason}" if where else self.reason


class PlanningError(MissionsError):
    """A planning request is impossible as asked (bad point, unknown airport, ...)."""
