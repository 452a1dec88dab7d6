"""The one ingest pipeline: normalise, fingerprint, redact, derive edges, hash-chain, write.

Every source (OTLP files, the receiver, the SDK exporter, OpenClaw importers) builds a
``model.Batch`` and calls ``ingest``. One call is one transaction: either the whole batch
is stored with its ``ingest_log`` row, or nothing is.
"""

from __future__ import annotations

import base64
import bisect
import dataclasses
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable
from typing import Any, Final

import duckdb
import numpy as np
import pyarrow as pa

from clawtrace import fingerprint as fp
from clawtrace import redact as rd
from clawtrace import semconv as sc
from clawtrace.model import Batch, Edge, Event, artifact_kind, parent_edge_kind
from clawtrace.semconv import ContentRole, Sensitivity, content_role
from clawtrace.store._store import STORED_EVENT_COLUMNS, Store, _wrap

__all__ = ["EDGE_HASH_SQL", "EVENT_HASH_SQL", "IngestResult", "ingest"]

log = logging.getLogger(__name__)

_ENC_NAMES = {int(e): e.name.lower() for e in fp.Enc}
_MAX_FLOW_SOURCES = 8
"""A later input keeps at most this many data_flow sources (the best-matching ones)."""
_MAX_HASH_FANOUT = 64
"""A k-gram hash seen in more outputs than this is boilerplate, not evidence."""


def _hash_expr(cols: Iterable[str]) -> str:
    parts = [f"coalesce(CAST({c} AS VARCHAR), '\u2205')" for c in cols]
    return "sha256(concat_ws('\u241f', " + ", ".join(parts) + "))"


_EVENT_HASHED = tuple("epoch_ns(ts)" if c == "ts" else c for c in STORED_EVENT_COLUMNS)
EVENT_HASH_SQL = _hash_expr(_EVENT_HASHED)
"""SQL for an event row's hash; ``verify`` recomputes it."""
EDGE_HASH_SQL = _hash_expr(("edge_seq", "src", "dst", "kind", "confidence", "evidence", "batch_id"))
"""SQL for an edge row's hash; ``verify`` recomputes it."""

_STAGED_EVENT_COLS = list(STORED_EVENT_COLUMNS)
_ARROW_TYPES = {"seq": pa.int64(), "ts": pa.timestamp("ns"), "content_size": pa.int64(), "batch_id": pa.int64()}


@dataclasses.dataclass(slots=True)
class IngestResult:
    """What one ``ingest`` call added."""

    batch_id: int | None = None
    events: int = 0
    edges: int = 0
    spans: int = 0
    skipped: int = 0
    """Events already in the store (re-ingest adds nothing)."""
    pending: int = 0
    """Edges waiting for their other end to arrive."""
    problems: list[str] = dataclasses.field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        """Accumulate another result into this one."""
        self.events += other.events
        self.edges += other.edges
        self.spans += other.spans
        self.skipped += other.skipped
        self.pending = other.pending
        self.problems.extend(other.problems)
        self.batch_id = other.batch_id or self.batch_id


# ---------------------------------------------------------------------------- preparation


@dataclasses.dataclass(slots=True)
class _Prepared:
    rows: dict[str, list[Any]]
    fp_seq: list[int]
    """One entry per fingerprinted event: its seq; ``fp_out`` says whether its role is out, and
    ``fp_hash``/``fp_pos``/``fp_enc`` hold its arrays (expanded to rows in one go at write)."""
    fp_out: list[bool]
    fp_hash: list[np.ndarray]
    fp_pos: list[np.ndarray]
    fp_enc: list[np.ndarray]
    secrets: list[tuple[int, str, str, str]]
    artifacts: dict[str, tuple[str, str, str, int]]


_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX_RUN = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){16,}(?![0-9A-Fa-f])")


_B64_TABLE: Final = fp.class_table(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
_HEX_TABLE: Final = fp.class_table(b"0123456789abcdefABCDEF")


def _encoded_runs(text: str) -> list[tuple[int, int]]:
    """The spans ``_B64_RUN.finditer`` and ``_HEX_RUN.finditer`` find in ``text``, by
    ``bytes.translate`` and ``find`` (several times faster than the regex scanner): a base64
    match is a maximal class run of 24+ with up to two ``=``; a hex match a maximal hex run
    of even length 32+ (an odd one fails the regex's lookarounds at every start)."""
    view = text.encode("ascii", "replace") if not text.isascii() else text.encode("ascii")
    out: list[tuple[int, int]] = []
    for start, end in fp.class_runs(view, _B64_TABLE, 24):
        pad = 0
        while pad < 2 and view[end + pad : end + pad + 1] == b"=":
            pad += 1
        out.append((start, end + pad))
    out.extend((s, e) for s, e in fp.class_runs(view, _HEX_TABLE, 32) if (e - s) % 2 == 0)
    return out


def _decode_run(run: str) -> str | None:
    try:
        if _HEX_RUN.fullmatch(run) and len(run) % 2 == 0:
            raw = bytes.fromhex(run)
        else:
            raw = base64.b64decode(run.replace("-", "+").replace("_", "/") + "=" * (-len(run) % 4))
    except ValueError:
        return None
    return raw.decode("utf-8", "ignore")


class _Redactor:
    """Redacts with the detectors, then also every other place a secret seen in this batch
    appears: a password found in ``DB_PASSWORD=...`` is redacted in a bare URL too; and a
    base64 or hex run whose decoding holds a secret is redacted whole (an encoded secret is
    still a secret), recording the inner secret's digest so ``egress`` can follow it."""

    def __init__(self) -> None:
        self.known: dict[str, rd.SecretHit] = {}
        self._cache: dict[str, tuple[str, list[rd.SecretHit]]] = {}
        self._runs: dict[str, bool] = {}

    def learn_many(self, texts: list[str]) -> list[tuple[str, list[rd.SecretHit]]]:
        """First pass over contents: redact them and remember their secrets for the batch,
        with one detector pass over all of them (each distinct text once: a read's content is
        also its call's result)."""
        uniq = list(dict.fromkeys(texts))
        done = dict(zip(uniq, rd.redact_many(uniq)))
        for text, (_, hits) in done.items():
            for h in hits:
                value = text[h.start : h.end]
                if len(value) >= 8:
                    self.known.setdefault(value, h)
        return [(done[t][0], list(done[t][1])) for t in texts]

    def dirty(self, texts: list[str]) -> list[bool]:
        """For each text, whether ``_known`` could change it: it holds a secret seen in this
        batch or a base64/hex run that decodes to one. One pass over all texts per known
        secret and per run pattern instead of one per text (runs and needles hold no NUL,
        so none is found across two texts)."""
        flags = [False] * len(texts)
        if not texts:
            return flags
        if any("\x00" in t for t in texts) or any("\x00" in v for v in self.known):
            return [True] * len(texts)
        joined, starts = rd.join_texts(texts)
        locate = bisect.bisect_right
        for value in self.known:
            i = joined.find(value)
            while i >= 0:
                k = locate(starts, i) - 1
                flags[k] = True
                i = joined.find(value, starts[k + 1]) if k + 1 < len(starts) else -1
        runs = [(locate(starts, start) - 1, joined[start:end]) for start, end in _encoded_runs(joined)]
        self._learn_runs([run for k, run in runs if not flags[k]])
        for k, run in runs:
            if not flags[k] and self._runs[run]:
                flags[k] = True
        return flags

    def _learn_runs(self, runs: list[str]) -> None:
        """Decide for each new base64/hex run whether its decoding holds a secret, with one
        ``scan_many`` over all the decodings."""
        new = [r for r in dict.fromkeys(runs) if r not in self._runs]
        decoded = [_decode_run(r) for r in new]
        todo = [(r, d) for r, d in zip(new, decoded) if d and len(d) >= 8]
        for r in new:
            self._runs[r] = False
        for (r, _), hits in zip(todo, rd.scan_many([d for _, d in todo])):
            self._runs[r] = bool(hits)

    def finish(self, out: str, h: list[rd.SecretHit], hits: list[rd.SecretHit], dirty: bool = True) -> str:
        """Second pass over a content redacted by ``learn``: secrets seen elsewhere, encoded
        runs (skipped when ``dirty`` says neither is there)."""
        if dirty:
            out = self._known(out, h)
        hits.extend(h)
        return out

    def text(self, s: str | None, hits: list[rd.SecretHit] | None = None) -> str | None:
        if s is None or s == "":
            return s
        short = len(s) <= 512
        if short and s in self._cache:
            out, h = self._cache[s]
            if hits is not None:
                hits.extend(h)
            return out
        out, h = self._redact(s)
        if short:
            self._cache[s] = (out, h)
        if hits is not None:
            hits.extend(h)
        return out

    def _redact(self, s: str) -> tuple[str, list[rd.SecretHit]]:
        out, h = rd.redact(s)
        return self._known(out, h), h

    def _known(self, out: str, h: list[rd.SecretHit]) -> str:
        for value, hit in self.known.items():
            if value in out:
                out = out.replace(value, hit.placeholder)
                h.append(hit)
        if len(out) >= 24:
            out = self._encoded(out, h)
        return out

    def _encoded(self, text: str, hits: list[rd.SecretHit]) -> str:
        pieces: list[str] = []
        last = 0
        for rx in (_B64_RUN, _HEX_RUN):
            for m in rx.finditer(text):
                if m.start() < last or self._runs.get(m.group()) is False:
                    continue  # inside the last replacement, or a run ``dirty`` found clean
                decoded = _decode_run(m.group())
                inner = rd.scan(decoded) if decoded and len(decoded) >= 8 else []
                if not inner:
                    continue
                hits.extend(inner)
                pieces.append(text[last : m.start()])
                pieces.append(rd.placeholder("encoded_" + inner[0].type, m.group()))
                last = m.end()
            if pieces:
                break
        if not pieces:
            return text
        pieces.append(text[last:])
        return "".join(pieces)

    def obj(self, v: Any, hits: list[rd.SecretHit]) -> Any:
        """Redact a JSON-like value. One scan of its JSON text first: most attrs hold no
        secret, and one pass over the whole text is far cheaper than one per value."""
        if isinstance(v, (dict, list)):
            text = json.dumps(v, default=str, ensure_ascii=False)
            if not rd.scan(text) and not self.dirty([text])[0]:
                return v
        return self._walk(v, hits)

    def _walk(self, v: Any, hits: list[rd.SecretHit]) -> Any:
        if isinstance(v, str):
            return self.text(v, hits)
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if isinstance(x, (str, int, float)) and rd.is_secret_key(k):
                    red, h = rd.redact_obj({k: x})
                    hits.extend(h)
                    out[k] = red[k]
                else:
                    out[k] = self._walk(x, hits)
            return out
        if isinstance(v, (list, tuple)):
            return [self._walk(x, hits) for x in v]
        return v


def _prepare(events: list[Event], first_seq: int, batch_id: int, keep_content: bool) -> _Prepared:
    cols: dict[str, list[Any]] = {c: [] for c in _STAGED_EVENT_COLS}
    prep = _Prepared(cols, [], [], [], [], [], [], {})
    red = _Redactor()
    # Everything stored about an event but its content, in one text: one detector pass per
    # event instead of one per field; the common case (no secret) then stores the fields as is.
    decoded: list[str | None] = []
    probes: list[tuple[str | None, str]] = []
    for e in events:
        decoded.append(e.content.decode("utf-8", "replace") if e.content is not None else None)
        attrs_json = json.dumps(e.attrs, default=str, sort_keys=True, ensure_ascii=False) if e.attrs else None
        probe = "\x1e".join(x or "" for x in (attrs_json, e.summary, e.artifact, e.session_id, e.agent_id, e.tool_name))
        probes.append((attrs_json, probe))
    contents = [t for t in decoded if t is not None]
    learned = iter(red.learn_many(contents + [p for _, p in probes]))
    texts = [next(learned) if t is not None else None for t in decoded]
    probe_found = [bool(h) for _, h in learned]
    content_dirty = iter(red.dirty([out for out, _ in (t for t in texts if t is not None)]))
    probe_dirty = red.dirty([p for _, p in probes])
    # Every distinct (content, is input) once, in one vectorised pass: a read's content is
    # also its call's result, and one winnowing per content costs more than the bytes.
    keys = list(
        dict.fromkeys((e.content, content_role(e.kind) is ContentRole.IN) for e in events if e.content is not None)
    )
    fps = dict(zip(keys, fp.fingerprint_many([k[0] for k in keys], [k[1] for k in keys])))
    for i, e in enumerate(events):
        seq = first_seq + i
        role = content_role(e.kind)
        role_name = (role or ContentRole.IN).value
        sensitivity = e.sensitivity or Sensitivity.NONE.value
        content_text: str | None = None
        content_sha, content_size = e.content_sha256, e.content_size
        hits: list[rd.SecretHit] = []
        if e.content is not None:
            f = fps[(e.content, role is ContentRole.IN)]
            content_sha, content_size = f.sha256, f.size
            if role is not None and len(f.hashes):
                prep.fp_seq.append(seq)
                prep.fp_out.append(role is ContentRole.OUT)
                prep.fp_hash.append(f.hashes)
                prep.fp_pos.append(f.positions)
                prep.fp_enc.append(f.encodings)
            first = texts[i]
            redacted = red.finish(first[0], first[1], hits, next(content_dirty)) if first is not None else None
            if hits and sensitivity == Sensitivity.NONE.value:
                sensitivity = Sensitivity.SECRET.value
            if keep_content:
                content_text = redacted
        attrs_json, _ = probes[i]
        summary: str | None
        if not probe_found[i] and not probe_dirty[i]:
            summary, artifact, session_id, agent_id, tool_name = (
                e.summary,
                e.artifact,
                e.session_id,
                e.agent_id,
                e.tool_name,
            )
        else:
            attrs = red.obj(e.attrs, hits) if e.attrs else {}
            attrs_json = json.dumps(attrs, default=str, sort_keys=True, ensure_ascii=False) if attrs else None
            summary = red.text(e.summary, hits)
            artifact = red.text(e.artifact, hits)
            session_id, agent_id, tool_name = red.text(e.session_id), red.text(e.agent_id), red.text(e.tool_name)
        for h in {(h.type, h.digest) for h in hits}:
            prep.secrets.append((seq, role_name, h[0], h[1]))
        row = (
            seq,
            e.event_id,
            e.kind,
            e.ts,
            session_id,
            agent_id,
            e.run_id,
            e.trace_id,
            e.span_id,
            e.parent_span_id,
            e.tool_call_id,
            tool_name,
            artifact,
            e.trust,
            sensitivity,
            e.source,
            summary,
            content_sha,
            content_size,
            content_text,
            attrs_json,
            batch_id,
        )
        for c, v in zip(_STAGED_EVENT_COLS, row):
            cols[c].append(v)
        if artifact:
            prev = prep.artifacts.get(artifact)
            if prev is None or (prev[1] == Sensitivity.NONE.value and sensitivity != Sensitivity.NONE.value):
                prep.artifacts[artifact] = (artifact_kind(artifact), sensitivity, e.trust, e.ts)
    return prep


def _events_table(prep: _Prepared) -> pa.Table:
    return pa.table({c: pa.array(prep.rows[c], _ARROW_TYPES.get(c, pa.string())) for c in _STAGED_EVENT_COLS})


# ---------------------------------------------------------------------------- the pipeline


def ingest(store: Store, batch: Batch, *, keep_content: bool = False, source: str = "otlp") -> IngestResult:
    """Store one batch: new events, their fingerprints, secrets and edges, in one transaction."""
    if store.read_only:
        raise _wrap(store.path, duckdb.Error("store opened read-only"))
    try:
        return _ingest(store, batch, keep_content=keep_content, source=source)
    except duckdb.Error as e:
        try:
            store.con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise _wrap(store.path, e) from e


_INT64: Final = 1 << 63


def _sane(e: Event, problems: list[str]) -> None:
    """Numbers the store cannot hold (a timestamp past 2262, a size past 2**63, whatever a
    damaged or hostile source sent) become a problem, not a failed batch: the event is kept,
    at the ingest time, without the size."""
    if not (isinstance(e.ts, int) and 0 <= e.ts < _INT64):
        problems.append(
            f"event {e.event_id} ({e.kind}): timestamp {e.ts!r} is out of range; stored with the time of ingest"
        )
        e.ts = time.time_ns()
    if e.content_size is not None and not (isinstance(e.content_size, int) and 0 <= e.content_size < _INT64):
        problems.append(f"event {e.event_id} ({e.kind}): content size {e.content_size!r} is out of range; dropped")
        e.content_size = None


def _new_events(con: duckdb.DuckDBPyConnection, batch: Batch, problems: list[str]) -> tuple[list[Event], int]:
    """The batch's events not yet stored, in store order; and how many were skipped as
    already stored (a re-import). Numbers out of the store's range are reported to ``problems``."""
    seen: set[str] = set()
    events: list[Event] = []
    for e in batch.events:
        if e.event_id not in seen:
            seen.add(e.event_id)
            _sane(e, problems)
            events.append(e)
    skipped = 0
    if events:
        existing = {
            r[0]
            for r in con.execute(
                "SELECT event_id FROM events WHERE event_id IN (SELECT unnest($ids::VARCHAR[]))",
                {"ids": [e.event_id for e in events]},
            ).fetchall()
        }
        if existing:
            skipped = sum(1 for e in events if e.event_id in existing)
            events = [e for e in events if e.event_id not in existing]
    events.sort(key=lambda e: (e.ts, e.event_id))
    return events, skipped


def _ingest(store: Store, batch: Batch, *, keep_content: bool, source: str) -> IngestResult:
    con = store.con
    result = IngestResult(problems=list(batch.problems))
    events, result.skipped = _new_events(con, batch, result.problems)
    row = con.execute(
        "SELECT coalesce(max(batch_id), 0), coalesce(max(event_hi), -1), coalesce(max(edge_hi), -1) FROM ingest_log"
    ).fetchone()
    assert row is not None
    batch_id, first_seq, first_edge = int(row[0]) + 1, int(row[1]) + 1, int(row[2]) + 1

    prep = _prepare(events, first_seq, batch_id, keep_content)

    con.execute("BEGIN TRANSACTION")
    try:
        if events:
            staged = _events_table(prep)  # noqa: F841 - read by DuckDB's replacement scan
            con.execute(
                f"INSERT INTO events SELECT {', '.join(_STAGED_EVENT_COLS)}, {EVENT_HASH_SQL} AS row_hash FROM staged"
            )
            _write_fingerprints(con, prep)
            if prep.secrets:
                sec = pa.table(  # noqa: F841
                    {
                        "seq": pa.array([s[0] for s in prep.secrets], pa.int64()),
                        "role": [s[1] for s in prep.secrets],
                        "type": [s[2] for s in prep.secrets],
                        "digest": [s[3] for s in prep.secrets],
                    }
                )
                con.execute("INSERT INTO secrets SELECT DISTINCT * FROM sec")
            _write_artifacts(con, prep, batch)
        result.spans = _write_spans(con, batch, batch_id)

        # 2. Edges: explicit ones (span links, parentage, importer knowledge), pending ones
        # whose other end has now arrived, and derived ones (call ids, fingerprints, artifacts).
        last_seq = first_seq + len(events) - 1
        _stage_edges(con, batch.edges)
        if events:
            _derive_edges(con, first_seq, last_seq)
        n_edges, result.pending = _commit_edges(con, first_seq, first_edge, batch_id)
        result.edges = n_edges
        result.events = len(events)

        if events or n_edges:
            _touch_sessions(con, first_seq, last_seq, first_edge, n_edges)
            _log_batch(con, batch_id, source, first_seq, last_seq, first_edge, first_edge + n_edges - 1)
            result.batch_id = batch_id
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for t in ("_new_edges", "_cand_edges"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return result


def _write_fingerprints(con: duckdb.DuckDBPyConnection, prep: _Prepared) -> None:
    if not prep.fp_seq:
        return
    counts = np.fromiter(map(len, prep.fp_hash), dtype=np.int64, count=len(prep.fp_hash))
    fpt = pa.table(  # noqa: F841 - read by DuckDB's replacement scan
        {
            "seq": np.repeat(np.array(prep.fp_seq, dtype=np.int64), counts),
            # The role travels as a boolean and becomes text in SQL: a million Python strings
            # for Arrow cost more than the insert itself.
            "is_out": np.repeat(np.array(prep.fp_out, dtype=bool), counts),
            "hash": np.concatenate(prep.fp_hash).astype(np.uint64, copy=False),
            "pos": np.concatenate(prep.fp_pos).astype(np.int32, copy=False),
            "enc": np.concatenate(prep.fp_enc).astype(np.uint8, copy=False),
        }
    )
    con.execute(
        "INSERT INTO fingerprints SELECT seq, CASE WHEN is_out THEN 'out' ELSE 'in' END, hash, pos, enc FROM fpt"
    )


def _write_artifacts(con: duckdb.DuckDBPyConnection, prep: _Prepared, batch: Batch) -> None:
    arts = dict(prep.artifacts)
    extra_attrs: dict[str, str] = {}
    for a in batch.artifacts:
        uri, _ = rd.redact(a.uri)
        k, s, t, ts = arts.get(uri, (a.kind, a.sensitivity, a.trust, None))
        if a.sensitivity != Sensitivity.NONE.value:
            s = a.sensitivity
        arts[uri] = (a.kind or k, s, a.trust if a.trust != "unknown" else t, ts)  # type: ignore[assignment]
        if a.attrs:
            extra_attrs[uri] = json.dumps(rd.redact_obj(a.attrs)[0], default=str, sort_keys=True)
    if not arts:
        return
    uris = list(arts)
    art = pa.table(  # noqa: F841
        {
            "uri": uris,
            "kind": [arts[u][0] for u in uris],
            "sensitivity": [arts[u][1] for u in uris],
            "trust": [arts[u][2] for u in uris],
            "first_seen": pa.array([arts[u][3] for u in uris], pa.timestamp("ns")),
            "attrs": pa.array([extra_attrs.get(u) for u in uris], pa.string()),
        }
    )
    con.execute("INSERT INTO artifacts SELECT * FROM art WHERE uri NOT IN (SELECT uri FROM artifacts)")
    # Sensitivity only ever rises: a credential file stays a credential file.
    con.execute(
        """
        UPDATE artifacts SET sensitivity = art.sensitivity FROM art
        WHERE artifacts.uri = art.uri AND artifacts.sensitivity = 'none' AND art.sensitivity <> 'none'
        """
    )


def _write_spans(con: duckdb.DuckDBPyConnection, batch: Batch, batch_id: int) -> int:
    if not batch.spans:
        return 0
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "trace_id",
            "span_id",
            "parent_span_id",
            "name",
            "start_ts",
            "end_ts",
            "attrs",
            "resource",
            "scope",
            "status_code",
        )
    }
    for s in batch.spans:
        rows["trace_id"].append(s.get("trace_id"))
        rows["span_id"].append(s.get("span_id"))
        rows["parent_span_id"].append(s.get("parent_span_id"))
        rows["name"].append(rd.redact(str(s.get("name", "")))[0])
        for k in ("start", "end"):
            ns = s.get(f"{k}_ns")
            rows[f"{k}_ts"].append(ns if isinstance(ns, int) and 0 <= ns < _INT64 else None)
        for k in ("attrs", "resource"):
            v = s.get(k)
            rows[k].append(json.dumps(rd.redact_obj(v)[0], default=str, sort_keys=True) if v else None)
        rows["scope"].append(s.get("scope"))
        rows["status_code"].append(s.get("status_code"))
    sp = pa.table(  # noqa: F841
        {
            **{k: pa.array(rows[k], pa.string()) for k in ("trace_id", "span_id", "parent_span_id", "name")},
            "start_ts": pa.array(rows["start_ts"], pa.timestamp("ns")),
            "end_ts": pa.array(rows["end_ts"], pa.timestamp("ns")),
            "attrs": pa.array(rows["attrs"], pa.string()),
            "resource": pa.array(rows["resource"], pa.string()),
            "scope": pa.array(rows["scope"], pa.string()),
            "status_code": pa.array(rows["status_code"], pa.int32()),
        }
    )
    before = con.execute("SELECT count(*) FROM spans").fetchone()
    con.execute(
        f"""
        INSERT INTO spans SELECT DISTINCT ON (trace_id, span_id) *, {batch_id} FROM sp
        WHERE NOT EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = sp.trace_id AND s.span_id = sp.span_id)
        """
    )
    after = con.execute("SELECT count(*) FROM spans").fetchone()
    return int(after[0]) - int(before[0]) if after and before else 0


def _evidence_json(
    evidence: dict[str, Any], cache: dict[Any, str], shared: dict[int, tuple[dict[str, Any], str]]
) -> str:
    """The stored (redacted) JSON of an edge's evidence, once per distinct evidence: most
    edges of a batch carry one of a few small flat dicts, looked up by their items; a dict
    an importer shares between edges is looked up by the object itself, in ``shared``."""
    hit = shared.get(id(evidence))
    if hit is not None and hit[0] is evidence:
        return hit[1]
    out = _evidence_text(evidence, cache)
    shared[id(evidence)] = (evidence, out)
    return out


def _evidence_text(evidence: dict[str, Any], cache: dict[Any, str]) -> str:
    key: Any = tuple((k, type(v), v) for k, v in evidence.items())  # the type: 1 and True hash alike
    try:
        hash(key)
    except TypeError:  # a nested value: key on the JSON text
        key = json.dumps(evidence, default=str, sort_keys=True)
    out = cache.get(key)
    if out is None:
        out = cache[key] = json.dumps(rd.redact_obj(evidence)[0], default=str, sort_keys=True)
    return out


def _stage_edges(con: duckdb.DuckDBPyConnection, edges: list[Edge]) -> None:
    """Put explicit edges (by reference) and still-pending ones into ``_cand_edges``."""
    cache: dict[Any, str] = {}
    shared: dict[int, tuple[dict[str, Any], str]] = {}
    rows = {"src_ref": [], "dst_ref": [], "kind": [], "confidence": [], "evidence": []}  # type: dict[str, list[Any]]
    for e in edges:
        rows["src_ref"].append(e.src)
        rows["dst_ref"].append(e.dst)
        rows["kind"].append(e.kind)
        rows["confidence"].append(float(e.confidence))
        rows["evidence"].append(_evidence_json(e.evidence, cache, shared) if e.evidence else None)
    ed = pa.table(  # noqa: F841 - read by DuckDB's replacement scan
        {
            "src_ref": pa.array(rows["src_ref"], pa.string()),
            "dst_ref": pa.array(rows["dst_ref"], pa.string()),
            "kind": pa.array(rows["kind"], pa.string()),
            "confidence": pa.array(rows["confidence"], pa.float64()),
            "evidence": pa.array(rows["evidence"], pa.string()),
        }
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _cand_edges AS SELECT * FROM ed UNION ALL SELECT * FROM pending_edges")
    con.execute("DELETE FROM pending_edges")
    # Resolve references: event ids, or span:<trace>:<span> tokens. A span token that names a
    # raw (unmapped) span is walked up to its parent, so parentage skips HTTP-client spans.
    has_parentage = con.execute("SELECT count(*) FROM _cand_edges WHERE kind = 'child_of'").fetchone()
    for _ in range(8 if has_parentage and has_parentage[0] else 0):
        # The spans table holds only spans that map to no event, so a parent found there is
        # skipped over to its own parent.
        changed = con.execute(
            """
            UPDATE _cand_edges SET src_ref = 'span:' || s.trace_id || ':' || s.parent_span_id
            FROM spans s
            WHERE _cand_edges.kind = 'child_of' AND _cand_edges.src_ref LIKE 'span:%'
              AND s.trace_id = split_part(_cand_edges.src_ref, ':', 2) AND s.span_id = split_part(_cand_edges.src_ref, ':', 3)
              AND s.parent_span_id IS NOT NULL
            """
        ).fetchone()
        if not changed or not changed[0]:
            break
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _new_edges AS
        WITH refs AS (
            SELECT DISTINCT r AS ref FROM (SELECT src_ref AS r FROM _cand_edges UNION ALL SELECT dst_ref FROM _cand_edges)
        ),
        span_refs AS (
            SELECT ref, split_part(ref, ':', 2) AS t, split_part(ref, ':', 3) AS s FROM refs WHERE ref LIKE 'span:%'
        ),
        resolved AS (
            SELECT r.ref, min(e.seq) AS seq, any_value(e.kind) AS kind
            FROM refs r JOIN events e ON e.event_id = r.ref
            GROUP BY r.ref
            UNION ALL
            SELECT r.ref, min(e.seq), any_value(e.kind)
            FROM span_refs r JOIN events e ON e.trace_id = r.t AND e.span_id = r.s
            GROUP BY r.ref
        )
        SELECT s.seq AS src, d.seq AS dst,
               CASE WHEN c.kind = 'child_of' THEN NULL ELSE c.kind END AS kind,
               s.kind AS src_kind, d.kind AS dst_kind, c.confidence, c.evidence,
               c.src_ref, c.dst_ref, c.kind AS ref_kind
        FROM _cand_edges c LEFT JOIN resolved s ON s.ref = c.src_ref LEFT JOIN resolved d ON d.ref = c.dst_ref
        """
    )
    # Unresolved ends wait in pending_edges for a later batch.
    con.execute(
        """
        INSERT INTO pending_edges
        SELECT DISTINCT src_ref, dst_ref, ref_kind, confidence, evidence FROM _new_edges WHERE src IS NULL OR dst IS NULL
        """
    )
    con.execute("DELETE FROM _new_edges WHERE src IS NULL OR dst IS NULL")
    # Parentage gets its kind from the two events' kinds.
    pairs = con.execute("SELECT DISTINCT src_kind, dst_kind FROM _new_edges WHERE kind IS NULL").fetchall()
    for sk, dk in pairs:
        k = parent_edge_kind(sk, dk)
        con.execute(
            "UPDATE _new_edges SET kind = $k WHERE kind IS NULL AND src_kind = $sk AND dst_kind = $dk",
            {"k": k, "sk": sk, "dk": dk},
        )
    con.execute("DELETE FROM _new_edges WHERE kind IS NULL")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _new_edges AS SELECT src, dst, kind, confidence, evidence FROM _new_edges"
    )


def _derive_edges(con: duckdb.DuckDBPyConnection, lo: int, hi: int) -> None:
    """Add derived edges touching the new events [lo, hi] to ``_new_edges``."""
    params = {"lo": lo, "hi": hi}
    # returned and effect: same session + tool call id. One side is always a new event, so
    # the join is built on the batch and probes the store once per direction.
    effect_kinds = (
        "'file.read','file.write','file.delete','memory.read','memory.write','skill.load',"
        "'skill.install','process.exec','net.egress','net.fetch','policy.decision'"
    )
    con.execute(
        f"""
        INSERT INTO _new_edges
        WITH n AS (
            SELECT seq, kind, tool_call_id, session_id FROM events WHERE seq >= $lo AND tool_call_id IS NOT NULL
        ),
        pairs AS (
            SELECT c.seq AS call, x.seq AS other, x.kind AS other_kind
            FROM n c JOIN events x ON x.tool_call_id = c.tool_call_id AND x.session_id IS NOT DISTINCT FROM c.session_id
            WHERE c.kind = 'tool.call' AND x.seq <> c.seq
            UNION
            SELECT c.seq, x.seq, x.kind
            FROM n x JOIN events c ON c.tool_call_id = x.tool_call_id AND c.session_id IS NOT DISTINCT FROM x.session_id
            WHERE c.kind = 'tool.call' AND c.seq < $lo AND x.seq <> c.seq
        )
        SELECT call, other,
               CASE WHEN other_kind = 'tool.result' THEN 'returned' ELSE 'effect' END,
               CASE WHEN other_kind = 'tool.result' THEN 1.0 ELSE 0.9 END,
               '{{"via":"tool_call_id"}}'
        FROM pairs WHERE other_kind = 'tool.result' OR other_kind IN ({effect_kinds})
        """,
        {"lo": lo},
    )
    # wrote_read: a read of an artifact after a write of it (any session), latest write wins.
    con.execute(
        """
        INSERT INTO _new_edges
        SELECT w.seq, r.seq, 'wrote_read', 1.0,
               json_object('artifact', r.artifact, 'cross_session', w.session_id IS DISTINCT FROM r.session_id)
        FROM events r JOIN events w ON w.artifact = r.artifact AND w.ts <= r.ts AND w.seq <> r.seq
        WHERE r.kind IN ('file.read','memory.read') AND w.kind IN ('file.write','memory.write')
          AND r.artifact IN (SELECT artifact FROM events WHERE seq BETWEEN $lo AND $hi AND artifact IS NOT NULL)
          AND (r.seq >= $lo OR w.seq >= $lo)
        QUALIFY row_number() OVER (PARTITION BY r.seq ORDER BY w.ts DESC, w.seq DESC) = 1
        """,
        params,
    )
    # data_flow: an earlier output's k-gram hashes found in a later input (raw or decoded).
    con.execute(
        f"""
        INSERT INTO _new_edges
        WITH new_fp AS (SELECT * FROM fingerprints WHERE seq BETWEEN $lo AND $hi),
        pairs AS (
            SELECT o.seq AS src, i.seq AS dst, o.hash, o.pos AS out_pos, i.pos AS in_pos, i.enc
            FROM new_fp i JOIN fingerprints o ON o.hash = i.hash AND o.role = 'out'
            WHERE i.role = 'in' AND o.seq <> i.seq
            UNION ALL
            SELECT o.seq, i.seq, o.hash, o.pos, i.pos, i.enc
            FROM new_fp o JOIN fingerprints i ON i.hash = o.hash AND i.role = 'in'
            WHERE o.role = 'out' AND i.seq < $lo
        ),
        common AS (
            SELECT hash FROM pairs GROUP BY hash HAVING count(DISTINCT src) > {_MAX_HASH_FANOUT}
        ),
        agg AS (
            SELECT src, dst, count(DISTINCT hash) AS n, min(out_pos) AS out_pos, min(in_pos) AS in_pos,
                   max(enc) AS enc, max(out_pos) - min(out_pos) AS out_span
            FROM pairs WHERE hash NOT IN (SELECT hash FROM common)
            GROUP BY src, dst
        )
        SELECT a.src, a.dst, 'data_flow',
               least(1.0, 0.5 + 0.1 * a.n),
               json_object('matched_hashes', a.n,
                           'matched_bytes', least(greatest(a.out_span + {fp.K}, {fp.K + fp.W - 1}), coalesce(s.content_size, 0), coalesce(d.content_size, 0)),
                           'out_offset', a.out_pos, 'in_offset', a.in_pos,
                           'encoding', CASE a.enc {" ".join(f"WHEN {k} THEN '{v}'" for k, v in _ENC_NAMES.items())} ELSE 'raw' END,
                           'from', s.kind, 'to', d.kind)
        FROM agg a JOIN events s ON s.seq = a.src JOIN events d ON d.seq = a.dst
        WHERE s.ts <= d.ts
        QUALIFY row_number() OVER (PARTITION BY a.dst ORDER BY a.n DESC, s.ts DESC) <= {_MAX_FLOW_SOURCES}
        """,
        params,
    )


def _result_carries_reads(con: duckdb.DuckDBPyConnection) -> None:
    """A tool call's result carries what the call read: data_flow read -> result, by shared call."""
    calls = [
        r[0] for r in con.execute("SELECT DISTINCT src FROM _new_edges WHERE kind IN ('effect', 'returned')").fetchall()
    ]
    if not calls:
        return
    ids = ",".join(str(int(c)) for c in calls)
    con.execute(
        f"""
        INSERT INTO _new_edges
        WITH all_e AS (
            SELECT src, dst, kind FROM _new_edges WHERE kind IN ('effect', 'returned')
            UNION SELECT src, dst, kind FROM edges WHERE src IN ({ids}) AND kind IN ('effect', 'returned')
        )
        SELECT x.dst, r.dst, 'data_flow', 0.9, '{{"via":"tool_result","note":"the call returned what it read"}}'
        FROM all_e x JOIN all_e r ON x.src = r.src AND x.kind = 'effect' AND r.kind = 'returned'
        JOIN events xe ON xe.seq = x.dst
        WHERE xe.kind IN ('file.read', 'memory.read', 'skill.load', 'net.fetch')
        """
    )


def _commit_edges(con: duckdb.DuckDBPyConnection, lo: int, first_edge: int, batch_id: int) -> tuple[int, int]:
    """Deduplicate ``_new_edges`` against the store and append them; return (added, pending)."""
    _result_carries_reads(con)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _new_edges AS
        SELECT n.* FROM (
            SELECT src, dst, kind, max(confidence) AS confidence, any_value(evidence) AS evidence
            FROM _new_edges WHERE src <> dst GROUP BY src, dst, kind
        ) n
        WHERE (n.src >= {lo} OR n.dst >= {lo})
           OR NOT EXISTS (SELECT 1 FROM edges e WHERE e.dst = n.dst AND e.src = n.src AND e.kind = n.kind)
        """
    )
    con.execute(
        f"""
        INSERT INTO edges
        SELECT edge_seq, src, dst, kind, confidence, evidence, batch_id, {EDGE_HASH_SQL}
        FROM (
            SELECT {first_edge} + row_number() OVER (ORDER BY dst, src, kind) - 1 AS edge_seq,
                   src, dst, kind, confidence, evidence::JSON AS evidence, {batch_id} AS batch_id
            FROM _new_edges
        )
        """
    )
    n = con.execute("SELECT count(*) FROM _new_edges").fetchone()
    pending = con.execute("SELECT count(*) FROM pending_edges").fetchone()
    return int(n[0]) if n else 0, int(pending[0]) if pending else 0


def _touch_sessions(con: duckdb.DuckDBPyConnection, lo: int, hi: int, first_edge: int, n_edges: int) -> None:
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _touched AS
        SELECT DISTINCT session_id FROM events WHERE seq BETWEEN $lo AND $hi AND session_id IS NOT NULL
        """,
        {"lo": lo, "hi": hi},
    )
    con.execute("DELETE FROM sessions WHERE session_id IN (SELECT session_id FROM _touched)")
    parent = f'$."{sc.SESSION_PARENT}"'
    con.execute(
        f"""
        INSERT INTO sessions
        SELECT session_id, any_value(agent_id) FILTER (WHERE agent_id IS NOT NULL), min(ts), max(ts), count(*),
               string_agg(DISTINCT source, ',' ORDER BY source),
               any_value(json_extract_string(attrs, '{parent}'))
                   FILTER (WHERE json_extract_string(attrs, '{parent}') IS NOT NULL),
               list_filter([
                   CASE WHEN bool_or(trust = 'untrusted') THEN 'untrusted-input' END,
                   CASE WHEN bool_or(sensitivity IN ('secret', 'credential')) THEN 'sensitive-read' END,
                   CASE WHEN bool_or(kind = 'net.egress') THEN 'egress' END,
                   CASE WHEN bool_or(kind = 'process.exec') THEN 'exec' END,
                   CASE WHEN bool_or(kind = 'memory.write') THEN 'memory-write' END
               ], lambda x: x IS NOT NULL)
        FROM events WHERE session_id IN (SELECT session_id FROM _touched)
        GROUP BY session_id
        """
    )
    con.execute("DROP TABLE _touched")


def batch_digest(con: duckdb.DuckDBPyConnection, batch_id: int) -> str:
    """Digest of a batch's stored rows: sha256 over its event and edge row hashes in order."""
    row = con.execute(
        """
        SELECT (SELECT coalesce(string_agg(row_hash, '' ORDER BY seq), '') FROM events WHERE batch_id = $b),
               (SELECT coalesce(string_agg(row_hash, '' ORDER BY edge_seq), '') FROM edges WHERE batch_id = $b)
        """,
        {"b": batch_id},
    ).fetchone()
    assert row is not None
    return hashlib.sha256(f"{batch_id}|{row[0]}|{row[1]}".encode()).hexdigest()


def chain_next(prev_chain: str, digest: str) -> str:
    """``chain = sha256(prev_chain || batch_digest)``."""
    return hashlib.sha256((prev_chain + digest).encode()).hexdigest()


GENESIS = "0" * 64


def _log_batch(
    con: duckdb.DuckDBPyConnection, batch_id: int, source: str, lo: int, hi: int, elo: int, ehi: int
) -> None:
    prev = con.execute("SELECT chain FROM ingest_log ORDER BY batch_id DESC LIMIT 1").fetchone()
    prev_chain = prev[0] if prev else GENESIS
    digest = batch_digest(con, batch_id)
    con.execute(
        "INSERT INTO ingest_log VALUES ($b, make_timestamp_ns($t), $s, $lo, $hi, $elo, $ehi, $d, $p, $c)",
        {
            "b": batch_id,
            "t": time.time_ns(),
            "s": source,
            "lo": lo,
            "hi": hi,
            "elo": elo,
            "ehi": ehi,
            "d": digest,
            "p": prev_chain,
            "c": chain_next(prev_chain, digest),
        },
    )
