"""The DuckDB store: opening, migrating, reading. The only place duckdb errors are caught."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import duckdb

from clawtrace import config
from clawtrace.errors import (
    AmbiguousIdError,
    InputError,
    NotFoundError,
    QueryError,
    SchemaTooNewError,
    SchemaTooOldError,
    StoreCorruptError,
    StoreError,
    StoreLockedError,
)
from clawtrace.store._migrations import MIGRATIONS, SCHEMA_VERSION

__all__ = ["Store", "EVENT_COLUMNS", "iso"]

log = logging.getLogger(__name__)

STORED_EVENT_COLUMNS = (
    "seq",
    "event_id",
    "kind",
    "ts",
    "session_id",
    "agent_id",
    "run_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "tool_call_id",
    "tool_name",
    "artifact",
    "trust",
    "sensitivity",
    "source",
    "summary",
    "content_sha256",
    "content_size",
    "content",
    "attrs",
    "batch_id",
)
"""The ``events`` table's columns in table order, but for ``row_hash`` (m001)."""

EVENT_COLUMNS = tuple(c for c in STORED_EVENT_COLUMNS if c not in ("content", "batch_id"))
"""What readers select for an event."""
_EVENT_SELECT = ", ".join(EVENT_COLUMNS)


def iso(ts: Any) -> str | None:
    """ISO-8601 UTC text of a stored timestamp."""
    if ts is None:
        return None
    if isinstance(ts, dt.datetime):
        aware: dt.datetime = ts if ts.tzinfo is not None else ts.replace(tzinfo=dt.timezone.utc)
        return aware.isoformat().replace("+00:00", "Z")
    return str(ts)


def _wrap(path: str, e: duckdb.Error) -> StoreError:
    msg = str(e)
    if "Could not set lock" in msg or "Conflicting lock" in msg:
        pid = re.search(r"PID (\d+)", msg)
        who = f" (pid {pid.group(1)})" if pid else ""
        return StoreLockedError(
            f"store {path} is locked by another process{who}, probably `clawtrace serve` or an import; "
            f"wait for it to finish, or investigate a copy: cp {path} /tmp/snapshot.duckdb && "
            f"clawtrace --db /tmp/snapshot.duckdb sessions"
        )
    if "not a valid DuckDB database" in msg or "Corrupt" in msg or "corrupt" in msg or "checksum" in msg.lower():
        return StoreCorruptError(
            f"{path} is not a clawtrace store (not a valid DuckDB database file); "
            f"point --db at the right file, or start a new store: clawtrace --db new.duckdb import otlp FILE"
        )
    if "Could not read enough bytes" in msg or "IO Error: Could not read" in msg:
        return StoreCorruptError(
            f"store {path} is damaged: {msg.splitlines()[0]} (the file is shorter than DuckDB expects, "
            "truncated by a copy or a full disk); restore it from a copy, check it with "
            f"`clawtrace --db COPY verify`, or re-import the evidence into a new store with --db"
        )
    return StoreError(f"store {path}: {msg.splitlines()[0]}{config.memory_hint(msg)}")


_SIZE = re.compile(r"\d+(\.\d+)?\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)", re.IGNORECASE)


def _connection_settings(con: duckdb.DuckDBPyConnection) -> None:
    """Cap DuckDB's memory at the ``memory_limit`` setting (``CLAWTRACE_MEMORY_LIMIT``), and
    turn off DuckDB's progress bar: it draws on stderr, terminal or not, whenever a statement
    runs past two seconds (a commit late in a large import), right through clawtrace's own
    progress lines."""
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:
        pass  # under Jupyter without ipywidgets DuckDB refuses to touch the setting, and draws no bar
    value, origin = config.resolve("memory_limit")
    value = value.strip()
    if value in ("0", ""):
        return
    if not _SIZE.fullmatch(value):
        raise InputError(
            f"{origin}={value!r} is not a memory size; use a number and a unit, e.g. "
            f"{origin}=4GB (or 0 for DuckDB's default)"
        )
    con.execute(f"SET memory_limit = '{value}'")


class Store:
    """A clawtrace store in one DuckDB file.

    Open with ``Store.open(path)``; writers migrate the schema forward, readers refuse a
    store whose schema is older or newer than this clawtrace.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False, migrate: bool = True) -> Store:
        """Open (or, for writers, create) the store at ``path``."""
        p = os.fspath(path)
        if read_only and not os.path.exists(p):
            raise NotFoundError(
                f"no store at {p}; import evidence first: clawtrace --db {p} import otlp FILE "
                f"(or run `clawtrace demo`), or point --db / CLAWTRACE_DB at an existing store"
            )
        if os.path.isdir(p):
            raise StoreCorruptError(f"{p} is a directory, not a store file; pass --db path/to/clawtrace.duckdb")
        try:
            con = duckdb.connect(p, read_only=read_only)
        except duckdb.Error as e:
            err = _wrap(p, e)
            snap = p + ".snapshot"  # written by `clawtrace serve` (clawtrace.receiver.snapshot_path)
            if not (read_only and isinstance(err, StoreLockedError) and os.path.exists(snap)):
                raise err from e
            try:
                con = duckdb.connect(snap, read_only=True)
            except duckdb.Error:
                raise err from e
            when = dt.datetime.fromtimestamp(os.path.getmtime(snap)).strftime("%H:%M:%S")
            log.warning("store is locked by clawtrace serve; reading the snapshot of %s", when)
            p = snap
        store = cls(con, p, read_only)
        try:
            _connection_settings(con)
            store._check_schema(migrate=migrate and not read_only)
        except BaseException:
            con.close()
            raise
        return store

    def close(self) -> None:
        """Close the connection (checkpointing a writer's WAL into the file)."""
        try:
            if not self.read_only:
                self.con.execute("CHECKPOINT")
        except duckdb.Error:  # pragma: no cover - best effort
            pass
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        """Number of migrations applied; 0 for an empty file."""
        try:
            row = self.con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = '_clawtrace_migrations'"
            ).fetchone()
            if not row or row[0] == 0:
                tables = self.con.execute("SELECT count(*) FROM information_schema.tables").fetchone()
                if tables and tables[0]:
                    raise StoreCorruptError(
                        f"{self.path} is a DuckDB file but not a clawtrace store (no _clawtrace_migrations table); "
                        f"use another --db path"
                    )
                return 0
            names = [r[0] for r in self.con.execute("SELECT name FROM _clawtrace_migrations").fetchall()]
        except duckdb.Error as e:
            raise _wrap(self.path, e) from e
        known = [n for n, _ in MIGRATIONS]
        for n in names:
            if n not in known:
                raise SchemaTooNewError(
                    f"store {self.path} has migration {n}, made by a newer clawtrace; upgrade: pip install -U clawtrace"
                )
        return len(names)

    def _check_schema(self, *, migrate: bool) -> None:
        version = self.schema_version()
        if version == SCHEMA_VERSION:
            return
        if migrate:
            self.migrate()
            return
        if version == 0:
            raise NotFoundError(
                f"store {self.path} is empty; import evidence first: clawtrace --db {self.path} import otlp FILE"
            )
        raise SchemaTooOldError(
            f"store {self.path} has schema version {version}, this clawtrace needs {SCHEMA_VERSION}; "
            f"upgrade it: clawtrace --db {self.path} migrate"
        )

    def migrate(self) -> list[str]:
        """Apply every migration not yet applied, each in its own transaction."""
        applied: list[str] = []
        try:
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS _clawtrace_migrations (name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
            )
            done = {r[0] for r in self.con.execute("SELECT name FROM _clawtrace_migrations").fetchall()}
            for name, sql in MIGRATIONS:
                if name in done:
                    continue
                self.con.execute("BEGIN TRANSACTION")
                try:
                    self.con.execute(sql)
                    self.con.execute("INSERT INTO _clawtrace_migrations VALUES (?, now()::TIMESTAMP)", [name])
                    self.con.execute("COMMIT")
                except BaseException:
                    self.con.execute("ROLLBACK")
                    raise
                applied.append(name)
                log.info("applied migration %s to %s", name, self.path)
        except duckdb.Error as e:
            raise _wrap(self.path, e) from e
        return applied

    # ------------------------------------------------------------------ raw SQL

    def sql(
        self, query: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run SQL; return (column names, rows). Errors become QueryError."""
        try:
            cur = self.con.execute(query, params) if params is not None else self.con.execute(query)
            cols = [d[0] for d in cur.description] if cur.description else []
            return cols, cur.fetchall()
        except duckdb.Error as e:
            raise QueryError(f"query failed: {str(e).splitlines()[0]}{config.memory_hint(str(e))}") from e

    def df(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        """Run SQL and return a pandas DataFrame."""
        try:
            cur = self.con.execute(query, params) if params is not None else self.con.execute(query)
            return cur.df()
        except duckdb.Error as e:
            raise QueryError(f"query failed: {str(e).splitlines()[0]}{config.memory_hint(str(e))}") from e

    def explain(self, query: str, params: dict[str, Any]) -> None:
        """EXPLAIN a query with parameters (raises QueryError when it does not bind)."""
        self.sql("EXPLAIN " + query, params)

    # ------------------------------------------------------------------ events

    def _rows(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cols, rows = self.sql(query, params)
        return [dict(zip(cols, r)) for r in rows]

    def resolve_event(self, ref: str) -> dict[str, Any]:
        """An event by id, unique id prefix, or ``SESSION:N`` (the Nth event of a session, from 1)."""
        ref = ref.strip()
        m = re.fullmatch(r"(.+):(\d+)", ref)
        if m and not re.fullmatch(r"[0-9a-f]+", ref):
            rows = self._rows(
                f"SELECT {_EVENT_SELECT} FROM events WHERE session_id = $s ORDER BY ts, seq LIMIT 1 OFFSET $n",
                {"s": m.group(1), "n": max(int(m.group(2)) - 1, 0)},
            )
            if rows:
                return _decode(rows[0])
            raise NotFoundError(
                f"no event {ref}: session {m.group(1)} has fewer events or does not exist; "
                f"list them: clawtrace timeline {m.group(1)}"
            )
        if not re.fullmatch(r"[0-9a-fA-F]{4,64}", ref):
            raise NotFoundError(
                f"no event {ref!r}: an event is an id, a unique id prefix (4+ hex chars) or SESSION:N; "
                f"find one: clawtrace sessions, then clawtrace timeline SESSION"
            )
        rows = self._rows(f"SELECT {_EVENT_SELECT} FROM events WHERE event_id = $p", {"p": ref.lower()})
        if not rows:  # a prefix: scans the ids, still well under a second at 10 M events
            rows = self._rows(
                f"SELECT {_EVENT_SELECT} FROM events WHERE starts_with(event_id, $p) ORDER BY seq LIMIT 6",
                {"p": ref.lower()},
            )
        if not rows:
            raise NotFoundError(
                f"no event {ref} in {self.path}; find one: clawtrace sessions, then clawtrace timeline SESSION"
            )
        if len(rows) > 1:
            ids = ", ".join(r["event_id"] for r in rows[:5])
            raise AmbiguousIdError(f"event prefix {ref} matches several events ({ids}, ...); give more characters")
        return _decode(rows[0])

    def events_by_seq(self, seqs: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Events keyed by seq."""
        seqs = sorted(set(seqs))
        if not seqs:
            return {}
        # A literal list of integers (never user text) lets DuckDB prune row groups by their
        # min/max seq: events are stored in seq order, so this reads only what it returns.
        ids = ",".join(str(int(s)) for s in seqs)
        rows = self._rows(f"SELECT {_EVENT_SELECT} FROM events WHERE seq IN ({ids})")
        return {r["seq"]: _decode(r) for r in rows}

    def edges_touching(self, seqs: Iterable[int], *, direction: str) -> list[dict[str, Any]]:
        """Edges into (``direction='in'``) or out of (``'out'``) the given events."""
        seqs = sorted(set(seqs))
        if not seqs:
            return []
        col = "dst" if direction == "in" else "src"
        ids = ",".join(str(int(s)) for s in seqs)
        # A literal IN list lets DuckDB use the ART index (m002); a subquery would scan.
        return self._rows(f"SELECT src, dst, kind, confidence, evidence FROM edges WHERE {col} IN ({ids})")

    def secrets_of(self, seqs: Iterable[int]) -> list[dict[str, Any]]:
        """Secret sightings (type, digest, role) of the given events."""
        seqs = sorted(set(seqs))
        if not seqs:
            return []
        ids = ",".join(str(int(s)) for s in seqs)
        return self._rows(f"SELECT DISTINCT seq, role, type, digest FROM secrets WHERE seq IN ({ids})")

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables."""
        out: dict[str, int] = {}
        for t in ("events", "edges", "artifacts", "sessions", "spans", "ingest_log"):
            out[t] = int(self.sql(f"SELECT count(*) FROM {t}")[1][0][0])
        return out


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["ts"] = iso(row.get("ts"))
    a = row.get("attrs")
    if isinstance(a, str):
        try:
            row["attrs"] = json.loads(a)
        except ValueError:
            pass
    return row
