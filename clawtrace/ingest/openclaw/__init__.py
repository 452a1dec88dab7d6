"""Import OpenClaw's on-disk evidence (reference: OpenClaw evidence reference; DESIGN.md 6).

``import_openclaw(path, sink)`` reads a state dir (default ``$OPENCLAW_STATE_DIR`` or
``~/.openclaw``; also a profile dir, one agent dir, one ``.jsonl`` transcript, one
``openclaw-agent.sqlite`` or a ``sessions export-trajectory`` bundle) read-only, maps every
source to the same events and edges as live capture, and hands ``model.Batch`` es to
``sink`` (``store.ingest``). This package never imports the store: the caller wires it.

What comes from where:

- **Transcripts** (JSONL v3 files, archives, and SQLite ``transcript_events`` rows, zstd or
  not): ``input.message``, ``model.turn``, ``tool.call``, ``tool.result`` and the effects of
  each call (``_tools``); ``emitted`` edges turn -> call; ``consumed`` edges from the results
  and messages on the turn's own branch since the last compaction (the latest 50) and from
  the workspace files OpenClaw injects into the system prompt. Entries off the active branch
  carry ``openclaw.branch.abandoned``; calls without a result ``openclaw.tool.orphan``.
- **Sessions index** (``sessions.json``, ``session_nodes``, ``session_windows``): session key,
  channel, skills, injected files, and ``spawned`` edges for spawn/fork/reset lineage.
- **Trajectory** (``*.trajectory.jsonl``, ``trajectory_runtime_events``): tool calls and
  results the transcript lacks (reported: the transcript lost or rewrote them).
- **Gateway log**: trace and span ids of tool calls (``embedded run tool start`` lines).
- **Audit ledger** (``state/openclaw.sqlite`` ``audit_events``): joined to tool calls through
  ``sha256(toolCallId)`` and attached as ``openclaw.audit.rows``. A ledger row with no
  transcript counterpart becomes a ``tool.call`` (source ``openclaw-audit``) with
  ``openclaw.audit.orphan: true`` and a problem line: the transcript lost or rewrote it.
- **Execution receipts** (``state/openclaw.sqlite`` ``execution_decision_facts``, written even
  by ``--local`` runs, which leave the ledger empty): no tool call id, so each run's tool-action
  receipts are paired with its tool calls in time order (``openclaw.receipt``); a receipt whose
  outcome is not ``allowed`` is a ``policy.decision`` of its call; receipts beyond the run's
  calls are reported as tampering or loss.
- **Export bundles** (``sessions export-trajectory``): the transcript and runtime events of one
  session; ``$WORKSPACE_DIR`` is restored when the bundle sits in its workspace.

Idempotent: event ids are stable (``model.event_id_for``), so re-import adds nothing and an
import after OpenClaw wrote more adds only the new rows (the store skips known ids).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clawtrace import _gc, model
from clawtrace import semconv as sc
from clawtrace.errors import InputError
from clawtrace.ingest.openclaw._sources import (
    AGENT_DB_VERSION,
    STATE_DB_VERSION,
    Plan,
    agent_db_sessions,
    discover,
    nested_state_dirs,
    open_sqlite,
    read_jsonl,
    table_rows,
)
from clawtrace.ingest.openclaw._transcript import Entry, SessionMeta, SessionRecords, map_transcript, parse_ts
from clawtrace.semconv import EdgeKind, EventKind, Source

__all__ = ["ImportSummary", "default_state_dir", "import_openclaw", "read_openclaw", "size_text"]

BATCH_EVENTS = 20000
"""Sessions are handed to the sink in batches of about this many events (one transaction each)."""
BATCH_BYTES = model.BATCH_BYTES
"""...or of about this many bytes of content, whichever comes first (see ``model.BATCH_BYTES``)."""

_TOOL_START = re.compile(r"embedded run tool start: runId=(\S+) tool=(\S+) toolCallId=(\S+)")


@dataclasses.dataclass(slots=True)
class ImportSummary:
    """What one import read and stored."""

    sessions: int = 0
    events: int = 0
    """Events the store added (events already stored are ``skipped``)."""
    read_events: int = 0
    """Events mapped from the evidence."""
    skipped: int = 0
    edges: int = 0
    tool_calls: int = 0
    egress: int = 0
    transcript_bytes: int = 0
    seconds: float = 0.0
    older: int = 0
    """Transcript files, bundles and DB sessions left out as last written before ``since``."""
    sources: dict[str, int] = dataclasses.field(default_factory=dict)
    """Files or databases read, by kind."""
    problems: list[str] = dataclasses.field(default_factory=list)

    def add_result(self, r: Any) -> None:
        """Count what a sink call stored (an ``IngestResult``, or None when it stored nothing yet)."""
        if r is None:
            return
        self.events += int(getattr(r, "events", 0) or 0)
        self.edges += int(getattr(r, "edges", 0) or 0)
        self.skipped += int(getattr(r, "skipped", 0) or 0)
        for p in getattr(r, "problems", None) or []:
            if p not in self.problems:
                self.problems.append(p)


def default_state_dir() -> Path:
    """``$OPENCLAW_STATE_DIR``, else ``~/.openclaw-<profile>`` for ``$OPENCLAW_PROFILE``, else ``~/.openclaw``."""
    env = os.environ.get("OPENCLAW_STATE_DIR")
    if env:
        return Path(env).expanduser()
    profile = os.environ.get("OPENCLAW_PROFILE")
    return Path(f"~/.openclaw-{profile}" if profile else "~/.openclaw").expanduser()


Sink = Callable[[model.Batch], Any]
Progress = Callable[[str], None]
KnownSessions = Callable[[str], list[str]]
"""Session ids already stored that start with a prefix (to place a bundle with a masked id)."""


def size_text(n: int) -> str:
    """``n`` bytes for a person: ``0 B``, ``24 KB``, ``3.2 MB`` (a small import read 0.0 MB)."""
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.0f} KB"
    return f"{n / 1e6:.1f} MB"


def _split(b: model.Batch, content: int, max_events: int, max_bytes: int) -> list[model.Batch]:
    """``b`` (holding ``content`` bytes of content) as batches of at most ``max_events`` events
    and about ``max_bytes`` of content.

    Batches hold whole sessions, but one session can outgrow any bound (OpenClaw's main
    session is one transcript that grows for months). Its events are then cut in order; an
    edge rides with the part that holds the later of its two ends (a turn's ``consumed`` edges
    with the turn: half a million of them in a 10 000-turn session), an edge naming an event
    outside the batch with the last part, and so do artifacts and raw spans (an edge whose
    end is stored later waits in the store, as across sessions). Only a batch past twice a
    bound is cut: the session that tips a batch over stays whole.
    """
    if len(b.events) <= 2 * max_events and content <= 2 * max_bytes:
        return [b]
    parts: list[model.Batch] = [model.Batch()]
    size = 0
    for e in b.events:
        n = len(e.content) if e.content is not None else 0
        cur = parts[-1]
        if cur.events and (len(cur.events) >= max_events or size + n > max_bytes):
            parts.append(model.Batch())
            size = 0
        parts[-1].events.append(e)
        size += n
    part_of = {e.event_id: k for k, part in enumerate(parts) for e in part.events}
    last = len(parts) - 1
    for edge in b.edges:
        parts[max(part_of.get(edge.src, last), part_of.get(edge.dst, last))].edges.append(edge)
    parts[-1].artifacts, parts[-1].spans, parts[-1].problems = b.artifacts, b.spans, b.problems
    return parts


class _Importer:
    def __init__(
        self,
        plan: Plan,
        sink: Sink,
        progress: Progress | None,
        home: str | None,
        batch_events: int,
        known_sessions: KnownSessions | None = None,
        since_ms: int | None = None,
        batch_bytes: int = BATCH_BYTES,
    ) -> None:
        self.plan = plan
        self.known_sessions = known_sessions
        self.since_ms = since_ms
        self.sink = sink
        self.progress = progress or (lambda _m: None)
        self.home = home or plan.home
        self.batch_events = batch_events
        self.batch_bytes = batch_bytes
        self.s = ImportSummary(problems=list(plan.problems))
        self.pending = model.Batch()
        self.pending_bytes = 0
        self.index: dict[str, dict[str, Any]] = {}
        self.key_sid: dict[str, str] = {}
        self.log_spans: dict[tuple[str | None, str], tuple[str, str]] = {}
        self.audit: list[dict[str, Any]] = []
        self.matched: set[str] = set()
        self.receipts: dict[str, list[dict[str, Any]]] = {}
        """run id -> its ``execution_decision_facts`` tool-action rows, in time order."""
        self.receipted: set[str] = set()
        self.seen_sessions: set[str] = set()
        self.run_ids: set[str] = set()
        self.timelines: dict[str, list[tuple[int, str]]] = {}
        self.entry_events: dict[str, dict[str, str]] = {}
        self.header_parent: dict[str, str] = {}
        self.trajectory: dict[str, list[dict[str, Any]]] = {}
        self.sources_total = len(plan.transcripts) + len(plan.agent_dbs) + len(plan.exports)
        self.sources_done = 0
        self.started = self.last_tick = time.monotonic()

    # ---------------------------------------------------------------- plumbing

    def count(self, kind: str) -> None:
        self.s.sources[kind] = self.s.sources.get(kind, 0) + 1

    def flush(self, force: bool = False) -> None:
        b = self.pending
        if not b.events and not b.edges:
            return
        if not force and len(b.events) < self.batch_events and self.pending_bytes < self.batch_bytes:
            return
        parts = _split(b, self.pending_bytes, self.batch_events, self.batch_bytes)
        self.pending = model.Batch()
        self.pending_bytes = 0
        for part in parts:
            self.s.read_events += len(part.events)
            self.s.add_result(self.sink(part))
            self.tick(force=True)

    def tick(self, force: bool = False) -> None:
        """A progress line: at every stored batch, else at most one a second."""
        now = time.monotonic()
        if not force and now - self.last_tick < 1.0:
            return
        self.last_tick = now
        done = self.s.transcript_bytes
        rate = f" ({done / 1e6 / max(now - self.started, 1e-6):.1f} MB/s)" if done >= 1_000_000 else ""
        self.progress(
            f"  {self.sources_done}/{self.sources_total} transcript files and databases read, {size_text(done)}"
            f"{rate}, {self.s.sessions} session{'' if self.s.sessions == 1 else 's'}; {self.s.events} events stored"
            + (f", {self.s.skipped} already stored" if self.s.skipped else "")
        )

    def older(self, p: Path, count: bool = False) -> bool:
        """With ``since``: whether file ``p`` was last written before it (then it is left out)."""
        if self.since_ms is None:
            return False
        try:
            old = p.stat().st_mtime * 1000 < self.since_ms
        except OSError:
            return False  # reading it will report the problem
        if old and count:
            self.s.older += 1
        return old

    # ---------------------------------------------------------------- the run

    def run(self) -> ImportSummary:
        t0 = time.perf_counter()
        for db in self.plan.state_dbs:
            self.read_state_db(db)
        for log in self.plan.logs:
            self.read_log(log)
        for p, agent in self.plan.indexes:
            self.read_index_json(p, agent)
        for p, _agent in self.plan.trajectories:
            if not self.older(p):
                self.read_trajectory_file(p)
        for p, agent in self.plan.transcripts:
            if self.older(p, count=True):
                self.sources_done += 1
                continue
            self.read_transcript_file(p, agent)
            self.sources_done += 1
        for p, agent in self.plan.agent_dbs:
            self.read_agent_db(p, agent)
            self.sources_done += 1
        for p in self.plan.exports:
            if not self.older(p / "events.jsonl", count=True):
                self.read_export(p)
            self.sources_done += 1
        self.lineage()
        self.audit_orphans()
        self.receipt_orphans()
        self.flush(force=True)
        self.s.seconds = time.perf_counter() - t0
        return self.s

    # ---------------------------------------------------------------- sessions

    def meta_for(self, sid: str, agent: str | None, header: dict[str, Any] | None) -> SessionMeta:
        info = self.index.get(sid, {})
        m = SessionMeta(session_id=sid, agent_id=agent or info.get("agent"), home=self.home)
        m.session_key = info.get("key")
        cwd = (header or {}).get("cwd") or info.get("cwd")
        m.cwd = cwd if isinstance(cwd, str) else None  # a damaged header must not break every path
        m.channel = info.get("channel")
        m.injected_files = list(info.get("injected", []))
        m.started_ms = info.get("started_ms")
        m.external_source = info.get("external")
        m.extra = dict(info.get("extra", {}))
        m.log_spans = self.log_spans
        par = self.parent_of(sid)
        m.parent_session = par[0] if par else None
        if par is None and header and isinstance(header.get("parentSession"), str):
            m.parent_session = re.sub(r"\.jsonl.*$", "", os.path.basename(header["parentSession"]))
            self.header_parent[sid] = m.parent_session
        return m

    def parent_of(self, sid: str) -> tuple[str, str, str | None] | None:
        """(parent session id, why, fork entry id) from the index."""
        info = self.index.get(sid, {})
        if info.get("fork_sid"):
            return info["fork_sid"], "fork", info.get("fork_entry")
        for k in ("spawned_by", "parent_key", "fork_key"):
            key = info.get(k)
            if key and self.key_sid.get(key) and self.key_sid[key] != sid:
                return self.key_sid[key], k, info.get("fork_entry") if k == "fork_key" else None
        if info.get("prev_sid"):
            return info["prev_sid"], info.get("reason") or "reset", None
        return None

    def add_session(
        self,
        sid: str,
        agent: str | None,
        header: dict[str, Any] | None,
        entries: list[Entry],
        size: int,
        source: str = Source.OPENCLAW_TRANSCRIPT.value,
    ) -> None:
        meta = self.meta_for(sid, agent, header)
        meta.source = source
        try:
            rec = map_transcript(meta, entries, header)
        except Exception as e:  # noqa: BLE001 - one session must not stop the import
            where = entries[0].where if entries else sid
            self.s.problems.append(
                f"{where}: session {sid} unusable ({type(e).__name__}: {e}); skipped, the rest imported"
            )
            return
        # The parsed lines are spent: free them before the session's batches are stored (a
        # months-long main session holds hundreds of MB of them). Callers pass their own list.
        entries.clear()
        self.add_trajectory(rec, meta)
        self.join_audit(rec)
        self.join_receipts(rec)
        if sid not in self.seen_sessions:
            self.seen_sessions.add(sid)
            self.s.sessions += 1
        self.run_ids |= rec.run_ids
        self.timelines.setdefault(sid, []).extend(rec.timeline)
        self.entry_events.setdefault(sid, {}).update(rec.entry_events)
        self.s.tool_calls += rec.tool_calls
        self.s.egress += rec.egress
        self.s.transcript_bytes += size
        self.s.problems.extend(rec.batch.problems)
        rec.batch.problems = []
        self.pending.extend(rec.batch)
        self.pending_bytes += sum(len(e.content) for e in rec.batch.events if e.content is not None)
        self.flush()
        self.tick()

    def read_transcript_file(self, p: Path, agent: str | None) -> None:
        self.count("transcript")
        entries, size = read_jsonl(p, self.s.problems)
        if not entries:
            if size:
                self.s.problems.append(f"{p}: no readable entries; nothing imported from it")
            return
        header = entries[0].data if entries[0].data.get("type") == "session" else None
        sid = header.get("id") if header else None
        if not isinstance(sid, str):
            sid = p.name.split(".jsonl", 1)[0]
            self.s.problems.append(
                f"{entries[0].where}: no session header; session id taken from the file name ({sid})"
            )
        if header:
            del entries[0]
        self.add_session(sid, agent, header, entries, size)

    def read_agent_db(self, p: Path, agent: str | None) -> None:
        self.count("agent-db")
        label = str(p)
        self.progress(f"reading {p}")
        try:
            with open_sqlite(p) as con:
                try:
                    uv = con.execute("PRAGMA user_version").fetchone()[0]
                except sqlite3.DatabaseError as e:
                    self.s.problems.append(
                        f"{label}: not a readable SQLite database ({e}); nothing imported from it; "
                        "check the file, or import a backup copy"
                    )
                    return
                if uv > AGENT_DB_VERSION:
                    self.s.problems.append(
                        f"{label}: agent database schema {uv} is newer than {AGENT_DB_VERSION}; "
                        "read the known columns; upgrade clawtrace for full fidelity"
                    )
                for row in table_rows(con, "schema_meta", label, self.s.problems):
                    if row.get("role") == "agent" and row.get("agent_id") and not agent:
                        agent = str(row["agent_id"])
                self.read_index_db(con, label, agent)
                recent: list[str] | None = None
                if self.since_ms is not None:
                    # One pass for each session's last write (created_at has no index); the
                    # recent sessions are then read through the primary key.
                    latest = con.execute(
                        "SELECT session_id, max(created_at) FROM transcript_events GROUP BY session_id ORDER BY 1"
                    ).fetchall()
                    recent = [sid for sid, t in latest if t is not None and t >= self.since_ms]
                    self.s.older += sum(1 for _, t in latest if t is not None and t < self.since_ms)
                for sid, entries, size in agent_db_sessions(con, label, self.s.problems, recent):
                    header = entries[0].data if entries and entries[0].data.get("type") == "session" else None
                    if header:
                        del entries[0]
                    self.load_db_trajectory(con, sid, label)
                    self.add_session(sid, agent, header, entries, size)
        except (sqlite3.Error, OSError) as e:
            self.s.problems.append(
                f"{label}: not a readable SQLite database ({e}); nothing imported from it; "
                "check the file, or import a backup copy"
            )

    def read_export(self, d: Path) -> None:
        self.count("export")
        try:
            manifest = json.loads((d / "manifest.json").read_text("utf-8"))
        except (OSError, ValueError) as e:
            self.s.problems.append(f"{d / 'manifest.json'}: unreadable ({e}); bundle skipped")
            return
        entries, size = read_jsonl(d / "events.jsonl", self.s.problems)
        sid = manifest.get("sessionId") if isinstance(manifest, dict) else None
        masked = sid if isinstance(sid, str) and _masked_prefix(sid) else None
        if masked:
            sid = self.unmask(d, masked)
        workspace = _bundle_workspace(d)
        transcript: list[Entry] = []
        header = None
        for ent in entries:
            if ent.data.get("traceSchema"):
                tsid = ent.data.get("sessionId") or sid
                if masked and tsid == masked:
                    tsid = sid
                if ent.data.get("source") == "transcript":
                    conv = _bundle_transcript_entry(ent.data, workspace)
                    if conv is not None:
                        transcript.append(Entry(conv, ent.where))
                elif isinstance(tsid, str):
                    self.trajectory.setdefault(tsid, []).append(ent.data | {"__where": ent.where})
                sid = sid or tsid
            elif ent.data.get("type") == "session" and header is None:
                header = ent.data
                sid = sid or ent.data.get("id")
            else:
                transcript.append(ent)
        if not isinstance(sid, str):
            self.s.problems.append(f"{d}: export bundle names no session id; skipped")
            return
        if header is None:
            # Bundles carry no session header: the workspace they were exported from (when
            # the bundle still sits in it) stands in for the cwd of relative paths.
            header = {"type": "session", "id": sid}
            listed = manifest.get("workspaceDir") if isinstance(manifest, dict) else None
            if workspace or isinstance(listed, str):
                header["cwd"] = workspace or listed
            ts = manifest.get("generatedAt") if isinstance(manifest, dict) else None
            first = next((e.data.get("timestamp") for e in transcript if e.data.get("timestamp")), ts)
            if first:
                header["timestamp"] = first
        key = manifest.get("sessionKey") if isinstance(manifest, dict) else None
        agent = None
        if isinstance(key, str):
            self.index.setdefault(sid, {}).setdefault("key", key)
            parts = key.split(":")
            if len(parts) >= 3 and parts[0] == "agent" and parts[1]:
                agent = parts[1]  # "agent:<agent id>:<rest>", as OpenClaw spells session keys
        self.add_session(sid, agent, header, transcript, size)

    def unmask(self, d: Path, masked: str) -> str:
        """The session a bundle whose session id OpenClaw's export masked (``f1ac780e-...-86***``)
        belongs to: the one session seen in this import, or known to the store, that the
        visible prefix matches; else the masked id as written."""
        prefix = _masked_prefix(masked) or masked
        seen = {s for s in (*self.seen_sessions, *self.index) if s.startswith(prefix) and not _masked_prefix(s)}
        if len(seen) != 1 and self.known_sessions is not None:
            try:
                seen |= {s for s in self.known_sessions(prefix) if s.startswith(prefix)}
            except Exception as e:  # noqa: BLE001 - a lookup failure only costs the match
                self.s.problems.append(f"{d}: could not look up sessions starting {prefix!r} ({e})")
        if len(seen) == 1:
            real = seen.pop()
            self.s.problems.append(
                f"{d / 'manifest.json'}: OpenClaw's export masked the session id as {masked!r}; "
                f"matched to session {real}, the only one it can be"
            )
            return real
        self.s.problems.append(
            f"{d / 'manifest.json'}: OpenClaw's export masked the session id as {masked!r}"
            + (f" and {len(seen)} known sessions match it" if seen else "")
            + "; imported under the masked id (import the state dir first, or with it, to merge them)"
        )
        return masked

    # ---------------------------------------------------------------- index

    def _index_entry(self, sid: str, key: str | None, entry: dict[str, Any], agent: str | None) -> None:
        info = self.index.setdefault(sid, {})
        if key:
            info.setdefault("key", key)
            self.key_sid.setdefault(key, sid)
        if agent:
            info.setdefault("agent", agent)
        extra = info.setdefault("extra", {})
        if isinstance(entry.get("sessionStartedAt"), (int, float)):
            info.setdefault("started_ms", int(entry["sessionStartedAt"]))
        for k, ik in (("spawnedBy", "spawned_by"), ("parentSessionKey", "parent_key")):
            if isinstance(entry.get(k), str):
                info.setdefault(ik, entry[k])
        if entry.get("createdVia"):
            extra["openclaw.session.created_via"] = entry["createdVia"]
        for k in ("channel", "lastChannel"):
            if isinstance(entry.get(k), str):
                info.setdefault("channel", entry[k])
        snap = entry.get("skillsSnapshot")
        if isinstance(snap, dict) and isinstance(snap.get("skills"), list):
            extra["openclaw.skills"] = [s.get("name") for s in snap["skills"] if isinstance(s, dict)]
        rep = entry.get("systemPromptReport")
        if isinstance(rep, dict):
            if isinstance(rep.get("workspaceDir"), str):
                info.setdefault("cwd", rep["workspaceDir"])
            files = rep.get("injectedWorkspaceFiles")
            if isinstance(files, list):
                info["injected"] = [
                    f["path"]
                    for f in files
                    if isinstance(f, dict) and isinstance(f.get("path"), str) and not f.get("missing")
                ]
            sp = rep.get("systemPrompt")
            if isinstance(sp, dict) and sp.get("hash"):
                extra["openclaw.system_prompt.sha256"] = sp["hash"]

    def read_index_json(self, p: Path, agent: str | None) -> None:
        self.count("sessions-index")
        try:
            doc = json.loads(p.read_bytes())
        except (OSError, ValueError) as e:
            self.s.problems.append(f"{p}: unreadable sessions index ({e}); sessions imported without keys or lineage")
            return
        if not isinstance(doc, dict):
            self.s.problems.append(f"{p}: sessions index is not a JSON object; skipped")
            return
        for key, entry in doc.items():
            if isinstance(entry, dict) and isinstance(entry.get("sessionId"), str):
                self._index_entry(entry["sessionId"], key, entry, agent)

    def read_index_db(self, con: sqlite3.Connection, label: str, agent: str | None) -> None:
        for row in table_rows(con, "session_nodes", label, self.s.problems):
            sid, key = row.get("current_session_id"), row.get("session_key")
            if not isinstance(sid, str):
                continue
            try:
                entry = json.loads(row.get("entry_json") or "{}")
            except ValueError:
                entry = {}
                self.s.problems.append(f"{label}: session_nodes {key}: entry_json is not JSON; keys and lineage kept")
            self._index_entry(sid, key, entry if isinstance(entry, dict) else {}, agent)
            info = self.index[sid]
            for col, ik in (
                ("parent_session_key", "parent_key"),
                ("spawned_by", "spawned_by"),
                ("fork_source_session_key", "fork_key"),
                ("fork_source_session_id", "fork_sid"),
                ("fork_source_entry_id", "fork_entry"),
            ):
                if row.get(col):
                    info[ik] = row[col]
            if row.get("created_via"):
                info["extra"]["openclaw.session.created_via"] = row["created_via"]
        for row in table_rows(con, "session_windows", label, self.s.problems):
            sid = row.get("session_id")
            if not isinstance(sid, str):
                continue
            info = self.index.setdefault(sid, {"extra": {}})
            key = row.get("session_key")
            if key:
                info.setdefault("key", key)
                self.key_sid.setdefault(key, sid)
            if agent:
                info.setdefault("agent", agent)
            for col, ik in (
                ("previous_session_id", "prev_sid"),
                ("reason", "reason"),
                ("channel", "channel"),
                ("parent_session_key", "parent_key"),
                ("spawned_by", "spawned_by"),
                ("hook_external_content_source", "external"),
            ):
                if row.get(col):
                    info.setdefault(ik, row[col])
            if row.get("hook_external_content_source"):
                info.setdefault("extra", {})["openclaw.session.external_content"] = row["hook_external_content_source"]
            if isinstance(row.get("started_at"), int):
                info.setdefault("started_ms", row["started_at"])

    # ---------------------------------------------------------------- trajectory

    def read_trajectory_file(self, p: Path) -> None:
        self.count("trajectory")
        entries, _ = read_jsonl(p, self.s.problems, what="trajectory event")
        for e in entries:
            sid = e.data.get("sessionId") or e.data.get("traceId")
            if isinstance(sid, str):
                self.trajectory.setdefault(sid, []).append(e.data | {"__where": e.where})

    def load_db_trajectory(self, con: sqlite3.Connection, sid: str, label: str) -> None:
        try:
            rows = con.execute(
                "SELECT seq, event_json FROM trajectory_runtime_events WHERE session_id = ? ORDER BY seq", (sid,)
            ).fetchall()
        except sqlite3.Error:
            return
        for seq, ej in rows:
            try:
                d = json.loads(ej)
            except (ValueError, TypeError):
                self.s.problems.append(f"{label}:trajectory_runtime_events:{sid}:{seq}: not JSON; skipped")
                continue
            if isinstance(d, dict):
                self.trajectory.setdefault(sid, []).append(d | {"__where": f"{label}:trajectory:{sid}:{seq}"})

    def add_trajectory(self, rec: SessionRecords, meta: SessionMeta) -> None:
        """Tool calls and results the trajectory saw but the transcript does not hold."""
        evs = self.trajectory.pop(rec.session_id, [])
        src = Source.OPENCLAW_TRAJECTORY.value
        for d in evs:
            t = d.get("type")
            data: dict[str, Any] = d["data"] if isinstance(d.get("data"), dict) else {}
            tcid = data.get("toolCallId")
            if t not in ("tool.call", "tool.result") or not isinstance(tcid, str) or tcid in rec.call_ids:
                continue
            kind = EventKind.TOOL_CALL.value if t == "tool.call" else EventKind.TOOL_RESULT.value
            name = str(data.get("name") or "?")
            ts = parse_ts(d.get("ts")) or 0
            where = d.get("__where", rec.session_id)
            payload = data.get("args") if t == "tool.call" else data.get("result")
            text = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str) if payload is not None else None
            attrs: dict[str, Any] = {"openclaw.trajectory.only": True}
            if meta.session_key:
                attrs[sc.OPENCLAW_SESSION_KEY] = meta.session_key
            eid = model.event_id_for(
                kind, session_id=rec.session_id, tool_call_id=tcid, fallback=("openclaw-traj", where)
            )
            rec.batch.events.append(
                model.Event(
                    eid,
                    kind,
                    ts,
                    src,
                    rec.session_id,
                    meta.agent_id,
                    run_id=d.get("runId") if isinstance(d.get("runId"), str) else None,
                    tool_call_id=tcid,
                    tool_name=name,
                    summary=f"{'tool' if t == 'tool.call' else 'result of'} {name} (trajectory only)",
                    attrs=attrs,
                    content=text.encode("utf-8", "surrogatepass") if text else None,
                )
            )
            rec.timeline.append((ts, eid))
            if t == "tool.call":
                rec.batch.problems.append(
                    f"{where}: tool call {tcid} ({name}) is in the trajectory but not in the transcript (rewritten or lost); "
                    "imported from the trajectory (arguments may be redacted)"
                )

    # ---------------------------------------------------------------- log

    def read_log(self, p: Path) -> None:
        self.count("log")
        entries, _ = read_jsonl(p, self.s.problems, what="log line")
        counts: dict[str, int] = {}
        for e in entries:
            d = e.data
            msg = d.get("message") if isinstance(d.get("message"), str) else d.get("1")
            if not isinstance(msg, str) or "tool start" not in msg:
                continue
            m = _TOOL_START.search(msg)
            tr, sp = d.get("traceId"), d.get("spanId")
            if m and isinstance(tr, str) and isinstance(sp, str):
                run, tcid = m.group(1), m.group(3)
                self.log_spans[(run, tcid)] = (tr, sp)
                counts[tcid] = counts.get(tcid, 0) + 1
                self.log_spans[(None, tcid)] = (tr, sp)
        for tcid, n in counts.items():
            if n > 1:
                self.log_spans.pop((None, tcid), None)

    # ---------------------------------------------------------------- audit ledger

    def read_state_db(self, p: Path) -> None:
        self.count("state-db")
        label = str(p)
        try:
            with open_sqlite(p) as con:
                try:
                    uv = con.execute("PRAGMA user_version").fetchone()[0]
                except sqlite3.DatabaseError as e:
                    self.s.problems.append(f"{label}: not a readable SQLite database ({e}); audit ledger not imported")
                    return
                if uv > STATE_DB_VERSION:
                    self.s.problems.append(
                        f"{label}: state database schema {uv} is newer than {STATE_DB_VERSION}; "
                        "read the known columns; upgrade clawtrace for full fidelity"
                    )
                self.audit = table_rows(con, "audit_events", label, self.s.problems)
                self.audit_label = label
                for row in table_rows(con, "execution_decision_facts", label, self.s.problems):
                    if row.get("owner", "tool-action") == "tool-action" and isinstance(row.get("run_id"), str):
                        self.receipts.setdefault(row["run_id"], []).append(row)
                for rows in self.receipts.values():
                    rows.sort(key=lambda r: (r.get("occurred_at") or 0, str(r.get("receipt_id"))))
        except (sqlite3.Error, OSError) as e:
            self.s.problems.append(f"{label}: not a readable SQLite database ({e}); audit ledger not imported")

    def recent(self, row: dict[str, Any]) -> bool:
        """With ``since``: whether a ledger row happened at or after it (rows without a time
        count). Older rows still join the calls they name; only recent ones without a call are
        evidence of tampering, since the older part of the transcripts was left out."""
        t = row.get("occurred_at")
        return self.since_ms is None or not isinstance(t, (int, float)) or t >= self.since_ms

    def join_audit(self, rec: SessionRecords) -> None:
        if not self.audit or not rec.call_hashes:
            return
        by_id = {e.event_id: e for e in rec.batch.events if e.kind == EventKind.TOOL_CALL.value}
        for row in self.audit:
            h = row.get("tool_call_id")
            if not isinstance(h, str) or h not in rec.call_hashes:
                continue
            if row.get("session_id") not in (None, rec.session_id):
                continue
            ev = by_id.get(rec.call_hashes[h])
            if ev is None:
                continue
            self.matched.add(f"{row.get('session_id')}\x1f{h}")
            ev.attrs.setdefault(sc.OPENCLAW_AUDIT_ROWS, []).append(
                {
                    k: row.get(k)
                    for k in ("action", "status", "occurred_at", "duration_ms", "error_code", "event_id")
                    if row.get(k) is not None
                }
            )

    def join_receipts(self, rec: SessionRecords) -> None:
        """Pair OpenClaw's execution receipts of each run with the run's tool calls, in order."""
        if not self.receipts:
            return
        calls: dict[str, list[model.Event]] = {}
        for e in rec.batch.events:
            if e.kind == EventKind.TOOL_CALL.value and e.run_id in self.receipts:
                calls.setdefault(e.run_id, []).append(e)
        label = getattr(self, "audit_label", "state/openclaw.sqlite")
        for run_id, evs in calls.items():
            rows = self.receipts[run_id]
            self.receipted.add(run_id)
            evs.sort(key=lambda e: e.ts)  # stable: transcript order within one turn
            for ev, row in zip(evs, rows):
                receipt = _receipt(row)
                ev.attrs[sc.OPENCLAW_RECEIPT] = receipt
                if receipt.get("outcome") not in (None, "allowed"):
                    self.pending.events.append(self._decision_event(ev, receipt))
            if len(rows) > len(evs):
                self.s.problems.append(
                    f"{label}:execution_decision_facts: run {run_id} has {len(rows)} tool-action receipts but the "
                    f"transcript of session {rec.session_id} holds {len(evs)} tool calls of it: "
                    f"{len(rows) - len(evs)} missing (tampering or loss); compare with the trajectory"
                )

    def _decision_event(self, call: model.Event, receipt: dict[str, Any]) -> model.Event:
        outcome = str(receipt.get("outcome"))
        reason = receipt.get("reason_code")
        ts = int(receipt.get("occurred_at") or 0) * 1_000_000 or call.ts
        return model.Event(
            model.event_id_for(
                EventKind.POLICY_DECISION.value,
                session_id=call.session_id,
                tool_call_id=call.tool_call_id,
                fallback=("openclaw-receipt", receipt.get("receipt_id")),
                artifact=f"receipt:{receipt.get('receipt_id')}",
            ),
            EventKind.POLICY_DECISION.value,
            ts,
            Source.OPENCLAW_AUDIT.value,
            call.session_id,
            call.agent_id,
            run_id=call.run_id,
            tool_call_id=call.tool_call_id,
            tool_name=call.tool_name,
            summary=f"OpenClaw {outcome} {call.tool_name or 'tool'}" + (f": {reason}" if reason else ""),
            attrs={
                sc.POLICY_VERDICT: outcome,
                sc.POLICY_RULE: f"openclaw:{reason or 'unknown'}",
                sc.OPENCLAW_RECEIPT: receipt,
            },
        )

    def receipt_orphans(self) -> None:
        label = getattr(self, "audit_label", "state/openclaw.sqlite")
        for run_id, rows in self.receipts.items():
            if run_id not in self.receipted and any(self.recent(r) for r in rows):
                self.s.problems.append(
                    f"{label}:execution_decision_facts: run {run_id} has {len(rows)} tool-action receipts and no "
                    "transcript tool calls: the transcript lost or rewrote them (tampering or loss), or the "
                    "transcript was not part of this import"
                )

    def audit_orphans(self) -> None:
        if not self.audit:
            return
        label = getattr(self, "audit_label", "state/openclaw.sqlite")
        orphans: dict[tuple[Any, str], list[dict[str, Any]]] = {}
        for row in self.audit:
            h = row.get("tool_call_id")
            if not self.recent(row):
                continue
            if isinstance(h, str):
                if f"{row.get('session_id')}\x1f{h}" not in self.matched:
                    orphans.setdefault((row.get("session_id"), h), []).append(row)
            elif (
                str(row.get("action", "")).startswith("agent.run.")
                and row.get("run_id")
                and row["run_id"] not in self.run_ids
            ):
                self.s.problems.append(
                    f"{label}:audit_events:{row.get('sequence')}: run {row['run_id']} ({row.get('action')}) has no transcript "
                    "entries: the transcript lost or rewrote it (tampering or loss); compare with the trajectory"
                )
        src = Source.OPENCLAW_AUDIT.value
        for (sid, h), rows in orphans.items():
            first = rows[0]
            ts = int(first.get("occurred_at") or 0) * 1_000_000
            name = first.get("tool_name")
            eid = model.event_id_for(
                EventKind.TOOL_CALL.value,
                session_id=sid if isinstance(sid, str) else None,
                tool_call_id=h,
                fallback=("openclaw-audit", first.get("event_id")),
            )
            attrs: dict[str, Any] = {
                sc.OPENCLAW_AUDIT_ORPHAN: True,
                sc.OPENCLAW_AUDIT_ROWS: [
                    {
                        k: r.get(k)
                        for k in ("action", "status", "occurred_at", "duration_ms", "error_code", "event_id")
                        if r.get(k) is not None
                    }
                    for r in rows
                ],
            }
            if first.get("session_key"):
                attrs[sc.OPENCLAW_SESSION_KEY] = first["session_key"]
            self.pending.events.append(
                model.Event(
                    eid,
                    EventKind.TOOL_CALL.value,
                    ts,
                    src,
                    sid if isinstance(sid, str) else None,
                    first.get("agent_id"),
                    run_id=first.get("run_id"),
                    tool_call_id=h,
                    tool_name=name if isinstance(name, str) else None,
                    summary=f"audit ledger: tool {name or '?'} {first.get('action')} with no transcript entry (tampering or loss)",
                    attrs=attrs,
                )
            )
            self.s.problems.append(
                f"{label}:audit_events:{first.get('sequence')}: tool call {h} ({name}) in session {sid} has no transcript "
                "counterpart: the transcript lost or rewrote it (tampering or loss); imported as a tool.call with "
                "openclaw.audit.orphan; compare with the trajectory and the gateway log"
            )

    # ---------------------------------------------------------------- lineage

    def lineage(self) -> None:
        """``spawned`` edges from the parent session's event at the fork point to the child's first event."""
        for sid in sorted(self.seen_sessions):
            par = self.parent_of(sid)
            if par is None and sid in self.header_parent:
                par = (self.header_parent[sid], "header", None)
            if par is None:
                continue
            psid, why, entry = par
            child = sorted(self.timelines.get(sid, []))
            if not child or psid == sid:
                continue
            src = self.entry_events.get(psid, {}).get(entry) if entry else None
            if src is None:
                ptl = sorted(self.timelines.get(psid, []))
                if not ptl:
                    self.s.problems.append(
                        f"session {sid}: parent session {psid} ({why}) is not in this import; "
                        "import the parent's agent dir to link them"
                    )
                    continue
                before = [e for e in ptl if e[0] <= child[0][0]]
                src = (before[-1] if before else ptl[-1])[1]
            self.pending.edges.append(
                model.Edge(
                    src,
                    child[0][1],
                    EdgeKind.SPAWNED.value,
                    1.0,
                    {"via": "sessions_index", "reason": why, "parent_session": psid},
                )
            )


def read_openclaw(path: Path) -> Plan:
    """What an import of ``path`` would read (no reading yet)."""
    return discover(path)


def import_openclaw(
    path: Path | str | None,
    sink: Sink,
    *,
    progress: Progress | None = None,
    home: str | None = None,
    batch_events: int = BATCH_EVENTS,
    known_sessions: KnownSessions | None = None,
    since_ms: int | None = None,
    batch_bytes: int = BATCH_BYTES,
) -> ImportSummary:
    """Import OpenClaw evidence at ``path`` (default: ``default_state_dir()``) through ``sink``.

    ``sink`` is called with each ``model.Batch`` (whole sessions, about ``batch_events``
    events or ``batch_bytes`` bytes of content, whichever comes first) and may return an
    ``IngestResult``, whose counts are summed. ``home`` is the agent's home directory, for
    ``~`` in paths (default: the parent of a ``~/.openclaw`` state dir; otherwise ``~`` stays
    unexpanded). ``known_sessions(prefix)`` lists stored
    session ids starting with ``prefix``: an export bundle whose session id OpenClaw masked
    then joins its session (the CLI passes the store's). ``since_ms`` (epoch ms) leaves out
    transcript files and bundles last written before it, agent-DB sessions with no row since,
    and ledger rows and receipts from before it: the recent part of a large state dir first,
    the rest by a later import without it. Raises ``InputError`` only when ``path``
    holds no OpenClaw evidence at all; bad records are ``ImportSummary.problems``.
    """
    p = Path(path).expanduser() if path is not None else default_state_dir()
    if not p.exists():
        raise InputError(
            f"{p}: no such file or directory; give an OpenClaw state dir: clawtrace import openclaw ~/.openclaw",
            path=str(p),
        )
    plan = discover(p)
    if not (plan.transcripts or plan.agent_dbs or plan.state_dbs or plan.exports or plan.indexes or plan.trajectories):
        nested = nested_state_dirs(p)
        hint = (
            f"; it holds {'a state dir' if len(nested) == 1 else 'state dirs'}: "
            + ", ".join(f"clawtrace import openclaw {d}" for d in nested)
            if nested
            else "; give the state dir (default ~/.openclaw or $OPENCLAW_STATE_DIR)"
        )
        raise InputError(
            f"{p}: no OpenClaw evidence found (no agents/*/sessions/*.jsonl, agents/*/agent/openclaw-agent.sqlite or "
            f"state/openclaw.sqlite){hint}",
            path=str(p),
        )
    with _gc.paused():  # bulk work: see clawtrace._gc
        return _Importer(plan, sink, progress, home, batch_events, known_sessions, since_ms, batch_bytes).run()


_MASK_MARKS = ("***", "\u2026")


def _masked_prefix(value: str) -> str | None:
    """The visible start of an id an exporter masked (``abc-12***``, ``abc…``), if it is
    long enough to tell sessions apart; None for an id that is not masked."""
    cut = min((i for i in (value.find(m) for m in _MASK_MARKS) if i >= 0), default=-1)
    if cut < 0:
        return None
    return value[:cut] if cut >= 8 else None


_BUNDLE_WORKSPACE = "$WORKSPACE_DIR"


def _bundle_workspace(d: Path) -> str | None:
    """The workspace a bundle was exported from, when it still sits in
    ``<workspace>/.openclaw/trajectory-exports/<name>/``."""
    if d.parent.name == "trajectory-exports" and d.parent.parent.name == ".openclaw":
        return str(d.parent.parent.parent.resolve())
    return None


def _bundle_transcript_entry(d: dict[str, Any], workspace: str | None) -> dict[str, Any] | None:
    """A bundle's ``source: transcript`` event as the transcript entry it was made from.

    ``user.message``/``assistant.message``/``tool.result`` hold the entry's ``message``;
    ``session.<type>`` entries hold the entry's own fields in ``data``; ``tool.call`` only
    repeats a block of its assistant message, so it is dropped. The export writes the
    workspace as ``$WORKSPACE_DIR``: put the real one back when it is known.
    """
    t = d.get("type")
    raw = d.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if not isinstance(t, str) or t == "tool.call":
        return None
    base: dict[str, Any] = {"id": d.get("entryId"), "parentId": d.get("parentEntryId"), "timestamp": d.get("ts")}
    if t.endswith(".message") or t == "tool.result":
        out = {"type": "message", **base, "message": data.get("message")}
    elif t.startswith("session."):
        out = {**data, "type": t.removeprefix("session."), **base}
    else:
        out = {**data, "type": t, **base}
    if workspace:
        text = json.dumps(out, ensure_ascii=False)
        if _BUNDLE_WORKSPACE in text:
            out = json.loads(text.replace(_BUNDLE_WORKSPACE, json.dumps(workspace, ensure_ascii=False)[1:-1]))
    return out


def _receipt(row: dict[str, Any]) -> dict[str, Any]:
    """The parts of an ``execution_decision_facts`` row worth keeping on the call."""
    out: dict[str, Any] = {
        "receipt_id": row.get("receipt_id"),
        "outcome": row.get("decision_outcome"),
        "reason_code": row.get("reason_code"),
        "family": row.get("action_family"),
        "occurred_at": row.get("occurred_at"),
    }
    try:
        body = json.loads(row.get("receipt_json") or "{}")
    except ValueError:
        body = {}
    if isinstance(body, dict):
        for part, key, name in (
            ("action", "operation", "operation"),
            ("source", "decisionBoundary", "boundary"),
            ("enforcement", "coverageState", "coverage"),
        ):
            sub = body.get(part)
            if isinstance(sub, dict):
                out[name] = sub.get(key)
    return {k: v for k, v in out.items() if v is not None}
