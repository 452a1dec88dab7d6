"""Domain errors. Library code raises these; only ``cli.py`` turns them into exit codes.

Every message names the thing (path, event id, query name), states the cause and
ends with the next command to try.
"""

from __future__ import annotations

__all__ = [
    "ClawtraceError",
    "StoreError",
    "StoreLockedError",
    "StoreCorruptError",
    "SchemaTooOldError",
    "SchemaTooNewError",
    "NotFoundError",
    "AmbiguousIdError",
    "InputError",
    "QueryError",
]


class ClawtraceError(Exception):
    """Base class of every error clawtrace raises on purpose."""


class StoreError(ClawtraceError):
    """The DuckDB store could not be opened, read or written."""


class StoreLockedError(StoreError):
    """Another process holds the store's write lock."""


class StoreCorruptError(StoreError):
    """The file is not a DuckDB database, or is damaged."""


class SchemaTooOldError(StoreError):
    """The store was made by an older clawtrace and must be migrated first."""


class SchemaTooNewError(StoreError):
    """The store was made by a newer clawtrace than this one."""


class NotFoundError(ClawtraceError):
    """An event, session, artifact or query does not exist."""


class AmbiguousIdError(ClawtraceError):
    """An id prefix matches more than one event."""


class InputError(ClawtraceError):
    """An input file (OTLP, transcript, ...) could not be read at some place."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class QueryError(ClawtraceError):
    """A named query or raw SQL failed."""
