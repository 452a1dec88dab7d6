"""Finding and reading OpenClaw's evidence files, read-only (reference sections 1, 3, 4, 6, 7).

Nothing here writes to OpenClaw's files: SQLite databases are read from a private copy of
the database and its WAL in a temporary directory (never ``immutable=1``, which ignores the
WAL; and not ``mode=ro`` in place, which still rewrites or creates the ``-shm`` wal-index). Readers never raise on bad input: they report ``file:line: cause;
next step`` problems and go on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import zstandard

from clawtrace.ingest.openclaw._transcript import Entry

__all__ = ["AGENT_DB_VERSION", "STATE_DB_VERSION", "Plan", "agent_db_sessions", "discover", "open_sqlite", "read_jsonl"]

AGENT_DB_VERSION = 23
"""Agent DB ``user_version`` observed in 2026.9.6."""
STATE_DB_VERSION = 18
"""State DB ``user_version`` observed in 2026.9.6."""

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclasses.dataclass(slots=True)
class Plan:
    """What one PATH holds."""

    root: Path
    kind: str
    """``state``, ``agent``, ``sessions``, ``transcript``, ``agent-db``, ``state-db`` or ``export``."""
    transcripts: list[tuple[Path, str | None]] = dataclasses.field(default_factory=list)
    """JSONL transcripts (current and archived) with their agent id."""
    trajectories: list[tuple[Path, str | None]] = dataclasses.field(default_factory=list)
    agent_dbs: list[tuple[Path, str | None]] = dataclasses.field(default_factory=list)
    indexes: list[tuple[Path, str | None]] = dataclasses.field(default_factory=list)
    """``sessions.json`` files."""
    state_dbs: list[Path] = dataclasses.field(default_factory=list)
    logs: list[Path] = dataclasses.field(default_factory=list)
    exports: list[Path] = dataclasses.field(default_factory=list)
    home: str | None = None
    problems: list[str] = dataclasses.field(default_factory=list)

    def extend(self, other: Plan) -> None:
        """Add everything ``other`` found (its lists; not its root, kind or home)."""
        for f in dataclasses.fields(self):
            mine = getattr(self, f.name)
            if isinstance(mine, list):
                mine.extend(getattr(other, f.name))


def _agent_of(p: Path) -> str | None:
    parts = p.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "agents" and i + 1 < len(parts):
            return parts[i + 1]
    return None


def _is_transcript_name(name: str) -> bool:
    return ".jsonl" in name and "trajectory" not in name and not name.endswith(".lock")


def _scan_sessions_dir(d: Path, plan: Plan, agent: str | None) -> None:
    for p in sorted(d.rglob("*")):
        if not p.is_file():
            continue
        n = p.name
        if n == "sessions.json":
            plan.indexes.append((p, agent or _agent_of(p)))
        elif n.endswith(".trajectory.jsonl"):
            plan.trajectories.append((p, agent or _agent_of(p)))
        elif _is_transcript_name(n):
            plan.transcripts.append((p, agent or _agent_of(p)))


def _scan_agent_dir(d: Path, plan: Plan, agent: str | None) -> None:
    if (d / "sessions").is_dir():
        _scan_sessions_dir(d / "sessions", plan, agent)
    db = d / "agent" / "openclaw-agent.sqlite"
    if db.is_file():
        plan.agent_dbs.append((db, agent))


def _home_of_state(state: Path) -> str | None:
    """The agent's home when the state dir is the default ``~/.openclaw`` (or a profile's)."""
    if state.name == ".openclaw" or state.name.startswith(".openclaw-"):
        return str(state.parent)
    return None


def _config_log(state: Path, plan: Plan) -> None:
    cfg = state / "openclaw.json"
    names: list[Path] = []
    if cfg.is_file():
        try:
            text = cfg.read_text("utf-8", "replace")
        except OSError:
            text = ""
        m = re.search(r'"?logging"?\s*:\s*\{[^{}]*?"?file"?\s*:\s*"([^"]+)"', text, re.DOTALL)
        if m:
            names.append(Path(m.group(1)))
    found: list[Path] = []
    for p in names:
        for cand in (p, state / "logs" / p.name, state.parent / "logs" / p.name):
            if cand.is_file():
                found.append(cand)
                break
    if not found:
        for d in (state / "logs", state.parent / "logs"):
            if d.is_dir():
                found.extend(sorted(x for x in d.glob("openclaw*.log") if x.is_file()))
                if found:
                    break
    plan.logs.extend(found)


def discover(path: Path) -> Plan:
    """What PATH holds: a state (or profile) dir, an agent dir, a sessions dir, one file, an export."""
    p = path.expanduser()
    if p.is_file():
        n = p.name
        if n.endswith(".sqlite"):
            kind = (
                "agent-db" if n == "openclaw-agent.sqlite" else "state-db" if n == "openclaw.sqlite" else _sniff_db(p)
            )
            plan = Plan(p, kind)
            if kind == "state-db":
                plan.state_dbs.append(p)
            else:
                plan.agent_dbs.append((p, _agent_of(p)))
            return plan
        if n.endswith(".trajectory.jsonl"):
            plan = Plan(p, "transcript")
            plan.trajectories.append((p, _agent_of(p)))
            return plan
        if n == "events.jsonl" and (p.parent / "manifest.json").is_file():
            plan = Plan(p.parent, "export")
            plan.exports.append(p.parent)
            return plan
        if n == "sessions.json":
            plan = Plan(p, "sessions")
            plan.indexes.append((p, _agent_of(p)))
            return plan
        plan = Plan(p, "transcript")
        plan.transcripts.append((p, _agent_of(p)))
        return plan
    if (p / "manifest.json").is_file() and (p / "events.jsonl").is_file():
        plan = Plan(p, "export")
        plan.exports.append(p)
        return plan
    if (p / "agents").is_dir() or (p / "openclaw.json").is_file() or (p / "state" / "openclaw.sqlite").is_file():
        plan = Plan(p, "state", home=_home_of_state(p))
        if (p / "agents").is_dir():
            for a in sorted(x for x in (p / "agents").iterdir() if x.is_dir()):
                _scan_agent_dir(a, plan, a.name)
        if (p / "state" / "openclaw.sqlite").is_file():
            plan.state_dbs.append(p / "state" / "openclaw.sqlite")
        _config_log(p, plan)
        for bundle in sorted(p.glob("workspace*/.openclaw/trajectory-exports/*/manifest.json")):
            plan.exports.append(bundle.parent)
        return plan
    if (p / "sessions").is_dir() or (p / "agent" / "openclaw-agent.sqlite").is_file():
        plan = Plan(p, "agent")
        _scan_agent_dir(p, plan, p.name if p.parent.name == "agents" else _agent_of(p / "x"))
        return plan
    nested = nested_state_dirs(p, limit=64)
    if nested:
        # A folder holding state dirs (an evidence copy, a backup of several hosts): each
        # read as the state dir it is, with its databases, logs and ledger.
        plan = Plan(p, "state")
        subs = [discover(d) for d in nested]
        for sub in subs:
            plan.extend(sub)
        homes = {sub.home for sub in subs}
        plan.home = homes.pop() if len(homes) == 1 else None
        return plan
    plan = Plan(p, "sessions")
    _scan_sessions_dir(p, plan, _agent_of(p / "x"))
    return plan


def nested_state_dirs(p: Path, limit: int = 3) -> list[Path]:
    """Up to ``limit`` OpenClaw state dirs one or two levels below ``p`` (a backup or
    evidence folder holding one), for the "did you mean" of an empty import."""
    if not p.is_dir():
        return []
    found: list[Path] = []
    for pattern in ("*/agents", "*/*/agents", "*/openclaw.json", "*/*/openclaw.json"):
        for hit in sorted(p.glob(pattern)):
            d = hit.parent
            if d not in found and (d / "agents").is_dir():
                found.append(d)
            if len(found) >= limit:
                return found
    return found


def _sniff_db(p: Path) -> str:
    try:
        with open_sqlite(p) as con:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except (sqlite3.Error, OSError):
        return "agent-db"
    return "state-db" if "audit_events" in names and "transcript_events" not in names else "agent-db"


@contextlib.contextmanager
def open_sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection that sees the WAL and never writes next to ``path``."""
    tmp: str | None = None
    try:
        # Even a mode=ro open of a WAL database writes its -shm wal-index (or creates -shm and
        # -wal when absent), and the evidence must stay byte-identical: always read a private
        # copy of the database and its WAL (the wal-index is rebuilt from the copied WAL).
        tmp = tempfile.mkdtemp(prefix="clawtrace-oc-")
        dst = os.path.join(tmp, path.name)
        shutil.copyfile(path, dst)
        if os.path.exists(str(path) + "-wal"):
            shutil.copyfile(str(path) + "-wal", dst + "-wal")
        con = sqlite3.connect(dst, check_same_thread=False)
        try:
            yield con
        finally:
            con.close()
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def _decompress_file(p: Path, data: bytes) -> bytes:
    if data.startswith(_ZSTD_MAGIC):
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as r:
            return r.read()
    return data


def read_jsonl(p: Path, problems: list[str], *, what: str = "line") -> tuple[list[Entry], int]:
    """Parsed JSON objects of a JSONL file (zstd archives too), and its size in bytes."""
    try:
        raw = p.read_bytes()
    except OSError as e:
        problems.append(
            f"{p}: cannot read ({e.strerror or e}); check permissions (files are mode 0600: run as the owner)"
        )
        return [], 0
    size = len(raw)
    try:
        data = _decompress_file(p, raw)
    except zstandard.ZstdError as e:
        problems.append(f"{p}: damaged zstd archive ({e}); nothing imported from it")
        return [], size
    out: list[Entry] = []
    lines = data.split(b"\n")
    last = len(lines) - 1
    loads = json.loads
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            d = loads(line)
        except ValueError as e:
            if i == last:
                problems.append(
                    f"{p}:{i + 1}: truncated last {what} (OpenClaw may still be writing it); skipped, re-import later to get it"
                )
            else:
                problems.append(f"{p}:{i + 1}: not JSON ({str(e)[:80]}); {what} skipped, the rest imported")
            continue
        if not isinstance(d, dict):
            problems.append(f"{p}:{i + 1}: not a JSON object; {what} skipped, the rest imported")
            continue
        out.append(Entry(d, f"{p}:{i + 1}"))
    return out, size


def agent_db_sessions(
    con: sqlite3.Connection, label: str, problems: list[str], sessions: Sequence[str] | None = None
) -> Iterator[tuple[str, list[Entry], int]]:
    """(session id, its transcript entries in seq order, bytes) for each session of an agent DB;
    with ``sessions``, only those, each read through the primary key (not a scan of the rest)."""
    dec = zstandard.ZstdDecompressor()
    select = "SELECT session_id, seq, event_json, event_zstd, created_at FROM transcript_events"
    reads: list[tuple[str, tuple[str, ...]]] = (
        [(select + " ORDER BY session_id, seq", ())]
        if sessions is None
        else [(select + " WHERE session_id = ? ORDER BY seq", (s,)) for s in sessions]
    )
    sid: str | None = None
    entries: list[Entry] = []
    size = 0
    loads = json.loads
    for rows in _fetch(con, reads, label, problems, lambda: sid):
        for session_id, seq, ej, ez, created in rows:
            if session_id != sid:
                if sid is not None:
                    yield sid, entries, size
                sid, entries, size = session_id, [], 0
            where = f"{label}:{session_id}:{seq}"
            if ej is None and ez is not None:
                try:
                    text = dec.decompress(bytes(ez))
                except zstandard.ZstdError as e:
                    problems.append(f"{where}: bad zstd frame ({e}); row skipped, the rest imported")
                    continue
                size += len(text)
            elif ej is not None:
                text = ej.encode("utf-8", "surrogatepass") if isinstance(ej, str) else bytes(ej)
                size += len(text)
            else:
                problems.append(f"{where}: row has neither event_json nor event_zstd; skipped")
                continue
            try:
                d = loads(text)
            except ValueError as e:
                problems.append(f"{where}: not JSON ({str(e)[:80]}); row skipped, the rest imported")
                continue
            if isinstance(d, dict):
                entries.append(Entry(d, where, created if isinstance(created, int) else None))
    if sid is not None:
        yield sid, entries, size


def _fetch(
    con: sqlite3.Connection,
    reads: list[tuple[str, tuple[str, ...]]],
    label: str,
    problems: list[str],
    last: Callable[[], str | None],
) -> Iterator[list[Any]]:
    """The rows of each read, 5 000 at a time; a damaged database ends them all with a problem
    naming the last session read (``last()``), what was read before is kept."""
    for sql, params in reads:
        try:
            cur = con.execute(sql, params)
            while rows := cur.fetchmany(5000):
                yield rows
        except sqlite3.DatabaseError as e:
            problems.append(
                f"{label}: transcript_events unreadable after session {last()} ({e}); the database is damaged, "
                "rows up to here imported; try `sqlite3 DB .recover` on a copy"
            )
            return


def table_rows(con: sqlite3.Connection, table: str, label: str, problems: list[str]) -> list[dict[str, Any]]:
    """All rows of a table as dicts, or [] (with a problem) when it is missing or damaged."""
    try:
        cur = con.execute(f'SELECT * FROM "{table}"')
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        problems.append(f"{label}: cannot read {table} ({e}); skipped")
        return []
    except sqlite3.DatabaseError as e:
        problems.append(f"{label}: cannot read {table} ({e}); the database is damaged, skipped")
        return []
