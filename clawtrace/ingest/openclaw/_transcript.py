"""One transcript (either era) -> provenance records (reference section 2).

A ``transcript_events`` row is exactly one old JSONL line, so both eras arrive here as a
list of ``Entry`` (the parsed JSON plus where it came from, for problem lines).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any, Final

from clawtrace import model
from clawtrace import semconv as sc
from clawtrace.ingest.openclaw._tools import CallCtx, effects, normalize_args, result_text
from clawtrace.semconv import EdgeKind, EventKind, Sensitivity, Source, Trust

__all__ = ["KNOWN_TRANSCRIPT_VERSION", "Entry", "SessionMeta", "SessionRecords", "map_transcript", "parse_ts"]

KNOWN_TRANSCRIPT_VERSION = 4
CONTEXT_CAP = 50
"""A turn gets ``consumed`` edges from at most this many of the latest results and messages."""

_KNOWN_TYPES = frozenset(
    {
        "session",
        "message",
        "model_change",
        "thinking_level_change",
        "compaction",
        "branch_summary",
        "custom_message",
        "custom",
        "label",
        "session_info",
    }
)
_INTERNAL_CONTEXT = "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>"
_UNTRUSTED_TOOLS = frozenset({"web_fetch", "fetch", "web_search", "browser"})
_K = EventKind


@dataclasses.dataclass(slots=True)
class Entry:
    """One transcript entry and where it came from."""

    data: dict[str, Any]
    where: str
    """``path:line`` or ``db:session:seq``, for problem lines."""
    created_ms: int | None = None


@dataclasses.dataclass(slots=True)
class SessionMeta:
    """What the sessions index and the caller know about a session."""

    session_id: str
    agent_id: str | None = None
    session_key: str | None = None
    cwd: str | None = None
    home: str | None = None
    parent_session: str | None = None
    channel: str | None = None
    source: str = Source.OPENCLAW_TRANSCRIPT.value
    injected_files: list[str] = dataclasses.field(default_factory=list)
    started_ms: int | None = None
    external_source: str | None = None
    """``hook_external_content_source`` (gmail, webhook): the session's inputs are untrusted."""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Session-level attributes put on the session's first event (skills, created_via...)."""
    log_spans: dict[tuple[str | None, str], tuple[str, str]] = dataclasses.field(default_factory=dict)
    """(runId, toolCallId) -> (traceId, spanId) from the gateway log."""


@dataclasses.dataclass(slots=True)
class SessionRecords:
    """A mapped session: its records and what later joins need."""

    batch: model.Batch
    session_id: str
    entry_events: dict[str, str] = dataclasses.field(default_factory=dict)
    """Transcript entry id -> event id (for fork points)."""
    timeline: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    """(ts, event id) of the session's events, in order."""
    call_hashes: dict[str, str] = dataclasses.field(default_factory=dict)
    """``sha256:<hex>`` of each raw toolCallId -> the tool.call event id (audit-ledger join)."""
    call_ids: set[str] = dataclasses.field(default_factory=set)
    run_ids: set[str] = dataclasses.field(default_factory=set)
    tool_calls: int = 0
    egress: int = 0


_MAX_MS: Final = 9_000_000_000_000
"""Epoch milliseconds of about 2255: nanoseconds past it do not fit the store's 64-bit timestamps."""


def parse_ts(v: Any) -> int | None:
    """Nanoseconds from an ISO-8601 string or epoch milliseconds, else None (also for a time
    the store cannot hold: before 1970 or after about 2255, NaN, infinity)."""
    if isinstance(v, str) and v:
        try:
            t = dt.datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith("Z") else v)
        except ValueError:
            return None
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        ns = int(t.timestamp() * 1_000_000) * 1000
        return ns if 0 < ns < _MAX_MS * 1_000_000 else None
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < _MAX_MS:  # NaN compares false
        return int(v * 1_000_000)
    return None


_clip = model.clip


class _Mapper:
    def __init__(self, meta: SessionMeta, entries: list[Entry], header: dict[str, Any] | None) -> None:
        self.meta = meta
        self.entries = entries
        self.header = header or {}
        self.rec = SessionRecords(model.Batch(), meta.session_id)
        self.sid = meta.session_id
        self.cwd = meta.cwd or (self.header.get("cwd") if isinstance(self.header.get("cwd"), str) else None)
        self.base_ts = parse_ts(self.header.get("timestamp")) or (meta.started_ms or 0) * 1_000_000
        self.results: dict[str, Entry] = {}
        self.context: dict[str, list[str]] = {}
        """entry id -> event ids it puts into the model's context."""
        self.turn_entry: dict[str, str] = {}
        self.compactions: dict[str, str] = {}  # compaction entry id -> its summary event
        self.turn_ids: dict[int, str] = {}
        """``id(entry)`` of an assistant message -> its ``model.turn`` id, keyed on run + rank."""
        self.prompt_runs: dict[int, str] = {}
        """``id(entry)`` of a user message -> the run it is the prompt of."""
        self.injected: list[str] = []
        self.first = True

    # ---------------------------------------------------------------- helpers

    def problem(self, where: str, cause: str, step: str) -> None:
        self.rec.batch.problems.append(f"{where}: {cause}; {step}")

    def attrs(self, d: dict[str, Any], abandoned: bool) -> dict[str, Any]:
        a: dict[str, Any] = {}
        if self.meta.session_key:
            a[sc.OPENCLAW_SESSION_KEY] = self.meta.session_key
        if self.meta.parent_session:
            a[sc.SESSION_PARENT] = self.meta.parent_session
        if d.get("id") is not None:
            a[sc.OPENCLAW_ENTRY_ID] = d.get("id")
        if d.get("parentId"):
            a[sc.OPENCLAW_ENTRY_PARENT] = d.get("parentId")
        if abandoned:
            a[sc.OPENCLAW_ABANDONED] = True
        if self.first:
            self.first = False
            a.update(self.meta.extra)
        return a

    def emit(self, e: model.Event) -> None:
        self.rec.batch.events.append(e)
        self.rec.timeline.append((e.ts, e.event_id))

    def ts_of(self, ent: Entry, msg: dict[str, Any] | None = None) -> int:
        d = ent.data
        return (
            parse_ts(d.get("timestamp"))
            or (parse_ts(msg.get("timestamp")) if msg else None)
            or parse_ts(ent.created_ms)
            or self.base_ts
        )

    # ---------------------------------------------------------------- the pass

    def run(self) -> SessionRecords:
        ids: dict[str, Entry] = {}
        order: list[str] = []
        runs: dict[int, str] = {}
        pending: list[int] = []
        unknown: set[str] = set()
        hv = self.header.get("version")
        if isinstance(hv, int) and hv > KNOWN_TRANSCRIPT_VERSION:
            self.problem(
                self.entries[0].where if self.entries else self.sid,
                f"transcript version {hv} is newer than the {KNOWN_TRANSCRIPT_VERSION} this clawtrace knows",
                "imported what is recognisable; upgrade clawtrace for full fidelity",
            )
        for i, ent in enumerate(self.entries):
            d = ent.data
            eid = d.get("id")
            t = d.get("type")
            if isinstance(eid, str):
                ids[eid] = ent
                order.append(eid)
            if isinstance(t, str) and t not in _KNOWN_TYPES and t not in unknown:
                unknown.add(t)
                self.problem(
                    ent.where,
                    f"unknown entry type {t!r} (newer OpenClaw?)",
                    "entries of this type skipped, the rest imported",
                )
            msg = d.get("message") if t == "message" else None
            if isinstance(msg, dict):
                oc = msg.get("__openclaw")
                if isinstance(oc, dict) and isinstance(oc.get("runId"), str):
                    runs[i] = oc["runId"]
                elif msg.get("role") in ("assistant", "toolResult"):
                    pending.append(i)
                if msg.get("role") == "toolResult" and isinstance(msg.get("toolCallId"), str):
                    self.results.setdefault(msg["toolCallId"], ent)
            if t == "custom" and d.get("customType") == "openclaw:bootstrap-context:full":
                rid = (d.get("data") or {}).get("runId") if isinstance(d.get("data"), dict) else None
                if isinstance(rid, str):
                    for j in pending:
                        runs[j] = rid
                    pending = []
        self.number_turns(runs)
        # The active branch: from the leaf (the last entry written) up to the root.
        active: set[str] = set()
        cur = order[-1] if order else None
        while isinstance(cur, str) and cur in ids and cur not in active:
            active.add(cur)
            p = ids[cur].data.get("parentId")
            cur = p if isinstance(p, str) else None
        self.ids = ids
        self.position = {e: i for i, e in enumerate(order)}
        self.emit_injected()
        for i, ent in enumerate(self.entries):
            d = ent.data
            t = d.get("type")
            eid = d.get("id")
            abandoned = bool(isinstance(eid, str) and active and eid not in active)
            run_id = runs.get(i)
            if run_id:
                self.rec.run_ids.add(run_id)
            if t == "message" and isinstance(d.get("message"), dict):
                try:
                    self.message(ent, d["message"], abandoned, run_id)
                except Exception as e:  # noqa: BLE001 - one odd entry must not stop the session
                    self.problem(
                        ent.where,
                        f"unusable message entry ({type(e).__name__}: {e})",
                        "entry skipped, the rest imported",
                    )
            elif t in ("branch_summary", "custom_message"):
                self.summary_entry(ent, abandoned)
            elif t == "compaction" and isinstance(eid, str):
                self.compaction_entry(ent, abandoned)
        self.consumed_edges()
        return self.rec

    def number_turns(self, runs: dict[int, str]) -> None:
        """Key model turns and run prompts as the live plugin does: the ``n``-th assistant
        message of a run is its ``n``-th model call, and the last user message before a run's
        first assistant message is the run's prompt (``model.openclaw_turn_id`` and
        ``model.openclaw_prompt_id``)."""
        counts: dict[str, int] = {}
        last_user: Entry | None = None
        for i, ent in enumerate(self.entries):
            msg = ent.data.get("message") if ent.data.get("type") == "message" else None
            if not isinstance(msg, dict):
                continue
            if msg.get("role") == "user":
                last_user = ent
            elif msg.get("role") == "assistant" and i in runs:
                r = runs[i]
                counts[r] = counts.get(r, 0) + 1
                self.turn_ids[id(ent)] = model.openclaw_turn_id(self.sid, r, counts[r])
                if counts[r] == 1 and last_user is not None:
                    self.prompt_runs[id(last_user)] = r
                last_user = None

    # ---------------------------------------------------------------- entries

    def emit_injected(self) -> None:
        """Workspace files OpenClaw injects into every turn's system prompt (no ``read``)."""
        if not self.meta.injected_files:
            return
        ts = self.base_ts
        ctx = CallCtx(
            self.sid,
            self.meta.agent_id,
            None,
            ts,
            self.cwd,
            self.meta.home,
            self.meta.source,
            None,
            {sc.OPENCLAW_SESSION_KEY: self.meta.session_key} if self.meta.session_key else {},
            ("openclaw", "injected", self.sid),
        )
        from clawtrace.ingest.openclaw._tools import _Out, read_small

        out = _Out(ctx)
        for p in self.meta.injected_files:
            e = out.path_event("read", p, content=None, derived="prompt_report", tool="system_prompt")
            e.content = read_small(e.attrs[sc.FILE_PATH])
            e.tool_name = None
            e.event_id = model.stable_id("openclaw", "injected", self.sid, e.artifact)
        for e in out.events:
            self.emit(e)
            self.injected.append(e.event_id)

    def entry_message(self, ent: Entry, abandoned: bool, text: str, attrs: dict[str, Any]) -> str:
        """An entry OpenClaw puts in the context as a message (a branch summary, a custom
        message, a compaction's summary): an ``input.message`` that later turns consume.
        Returns its event id."""
        d = ent.data
        eid = model.stable_id("openclaw", "entry", self.sid, d.get("id"), ent.where if d.get("id") is None else "")
        a = self.attrs(d, abandoned)
        a["openclaw.entry.type"] = d.get("type")
        a.update(attrs)
        self.emit(
            model.Event(
                eid,
                _K.INPUT_MESSAGE.value,
                self.ts_of(ent),
                self.meta.source,
                self.sid,
                self.meta.agent_id,
                summary=_clip(f"{d.get('type')}: {text}" if text else f"{d.get('type')} (no text)"),
                attrs=a,
                content=text.encode("utf-8", "surrogatepass") if text else None,
            )
        )
        if isinstance(d.get("id"), str):
            self.context[d["id"]] = [eid]
            self.rec.entry_events[d["id"]] = eid
        return eid

    def summary_entry(self, ent: Entry, abandoned: bool) -> None:
        d = ent.data
        text = d.get("summary") if d.get("type") == "branch_summary" else result_text(d.get("content"))
        if isinstance(text, str) and text:
            self.entry_message(
                ent, abandoned, text, {"openclaw.custom_type": d["customType"]} if d.get("customType") else {}
            )

    def compaction_entry(self, ent: Entry, abandoned: bool) -> None:
        """A compaction: the model's summary of the entries before ``firstKeptEntryId``
        replaces them in the context. Its message consumed what it summarised (see
        ``consumed_edges``) and every later turn consumes it, so a cause compacted away (a
        page's injected instruction) stays on the chain through the summary that carried it on."""
        d = ent.data
        attrs = {
            f"openclaw.compaction.{name}": d[key]
            for key, name in (("firstKeptEntryId", "first_kept_entry_id"), ("tokensBefore", "tokens_before"))
            if isinstance(d.get(key), (str, int)) and not isinstance(d.get(key), bool)
        }
        text = d.get("summary")
        self.compactions[d["id"]] = self.entry_message(ent, abandoned, text if isinstance(text, str) else "", attrs)

    def message(self, ent: Entry, msg: dict[str, Any], abandoned: bool, run_id: str | None) -> None:
        role = msg.get("role")
        d = ent.data
        entry_id = d.get("id")
        key = entry_id if isinstance(entry_id, str) else ent.where
        ts = self.ts_of(ent, msg)
        if role == "user":
            text = result_text(msg.get("content"))
            if text.startswith(_INTERNAL_CONTEXT):
                return
            oc = _dict(msg.get("__openclaw"))
            owner = oc.get("senderIsOwner")
            trust = (
                Trust.TRUSTED.value
                if owner is True
                else Trust.UNTRUSTED.value
                if owner is False
                else Trust.UNKNOWN.value
            )
            if self.meta.external_source:
                trust = Trust.UNTRUSTED.value
            a = self.attrs(d, abandoned)
            for k in ("senderId", "senderName"):
                if msg.get(k):
                    a[sc.MESSAGE_SENDER] = msg.get(k)
            if self.meta.channel:
                a[sc.MESSAGE_CHANNEL] = self.meta.channel
            if msg.get("excludeFromContext"):
                a["openclaw.exclude_from_context"] = True
            prompt_of = self.prompt_runs.get(id(ent))
            if prompt_of:
                run_id = run_id or prompt_of
                eid = model.openclaw_prompt_id(self.sid, prompt_of)
            else:
                eid = model.stable_id("openclaw", "entry", self.sid, key)
            self.emit(
                model.Event(
                    eid,
                    _K.INPUT_MESSAGE.value,
                    ts,
                    self.meta.source,
                    self.sid,
                    self.meta.agent_id,
                    run_id=run_id,
                    trust=trust,
                    summary=_clip(f"message: {text}"),
                    attrs=a,
                    content=text.encode("utf-8", "surrogatepass"),
                )
            )
            if isinstance(entry_id, str):
                self.rec.entry_events[entry_id] = eid
                if not msg.get("excludeFromContext"):
                    self.context[entry_id] = [eid]
        elif role == "assistant":
            self.assistant(ent, msg, abandoned, run_id, key, ts)
        elif role == "toolResult":
            self.tool_result(ent, msg, abandoned, run_id, ts)

    def assistant(
        self, ent: Entry, msg: dict[str, Any], abandoned: bool, run_id: str | None, key: str, ts: int
    ) -> None:
        d = ent.data
        content: list[Any] = msg["content"] if isinstance(msg.get("content"), list) else []
        calls = [b for b in content if isinstance(b, dict) and b.get("type") == "toolCall"]
        text = result_text([b for b in content if isinstance(b, dict) and b.get("type") == "text"])
        usage = _dict(msg.get("usage"))
        a = self.attrs(d, abandoned)
        for k, v in (
            (sc.PROVIDER_NAME, msg.get("provider")),
            (sc.REQUEST_MODEL, msg.get("model")),
            (sc.USAGE_INPUT_TOKENS, usage.get("input")),
            (sc.USAGE_OUTPUT_TOKENS, usage.get("output")),
            ("openclaw.stop_reason", msg.get("stopReason")),
            ("openclaw.response_id", msg.get("responseId")),
            ("openclaw.error", msg.get("errorMessage")),
        ):
            if v is not None:
                a[k] = v
        oc = _dict(msg.get("__openclaw"))
        if oc.get("turnTainted"):
            a[sc.OPENCLAW_TURN_TAINTED] = True
        if text:
            a["openclaw.text"] = _clip(text, 2000)
        names = ", ".join(str(c.get("name")) for c in calls)
        toks = f" ({usage.get('input')} in, {usage.get('output')} out)" if usage.get("input") is not None else ""
        summary = f"turn {msg.get('model') or '?'}{toks}: " + (f"calls {names}" if calls else text)
        turn_id = self.turn_ids.get(id(ent)) or model.stable_id("openclaw", "entry", self.sid, key)
        self.emit(
            model.Event(
                turn_id,
                _K.MODEL_TURN.value,
                ts,
                self.meta.source,
                self.sid,
                self.meta.agent_id,
                run_id=run_id,
                summary=_clip(summary),
                attrs=a,
            )
        )
        if isinstance(d.get("id"), str):
            self.rec.entry_events[d["id"]] = turn_id
            self.turn_entry[turn_id] = d["id"]
        for n, c in enumerate(calls):
            self.tool_call(ent, c, n, turn_id, abandoned, run_id, ts + n)

    def tool_call(
        self, ent: Entry, block: dict[str, Any], n: int, turn_id: str, abandoned: bool, run_id: str | None, ts: int
    ) -> None:
        tcid = block.get("id") if isinstance(block.get("id"), str) else None
        name = str(block.get("name") or "?")
        raw = block.get("arguments")
        if raw is None and isinstance(block.get("partialArgs"), str):
            try:
                raw = json.loads(block["partialArgs"])
            except ValueError:
                raw = None
        a = self.attrs({"id": ent.data.get("id"), "parentId": ent.data.get("parentId")}, abandoned)
        bridge = None
        if name == "tool_call" and isinstance(raw, dict) and isinstance(raw.get("id"), str):
            bridge = name
            name = raw["id"]
            raw = raw.get("args")
            a["openclaw.tool.bridge"] = bridge
        args = normalize_args(name.lower(), raw)
        args_text = json.dumps(args, ensure_ascii=False, sort_keys=True)
        a[sc.TOOL_NAME] = name
        res_ent = self.results.get(tcid) if tcid else None
        if tcid and res_ent is None:
            a[sc.OPENCLAW_ORPHAN_CALL] = True
            self.problem(
                ent.where,
                f"tool call {tcid} ({name}) has no result (crash, abort or rewritten transcript)",
                "imported without a result, flagged openclaw.tool.orphan",
            )
        trace = span = None
        if tcid:
            hit = self.meta.log_spans.get((run_id, tcid)) or self.meta.log_spans.get((None, tcid))
            if hit:
                trace, span = hit
        eid = model.event_id_for(
            _K.TOOL_CALL.value,
            session_id=self.sid,
            tool_call_id=tcid,
            fallback=("openclaw", "call", self.sid, ent.where, n),
        )
        self.emit(
            model.Event(
                eid,
                _K.TOOL_CALL.value,
                ts,
                self.meta.source,
                self.sid,
                self.meta.agent_id,
                run_id=run_id,
                trace_id=trace,
                span_id=span,
                tool_call_id=tcid,
                tool_name=name,
                summary=_clip(f"tool {name} {args_text}"),
                attrs=a,
                content=args_text.encode("utf-8", "surrogatepass"),
            )
        )
        self.rec.batch.edges.append(model.Edge(turn_id, eid, EdgeKind.EMITTED.value, 1.0, {"via": "transcript"}))
        self.rec.tool_calls += 1
        if tcid:
            self.rec.call_ids.add(tcid)
            self.rec.call_hashes["sha256:" + hashlib.sha256(tcid.encode("utf-8")).hexdigest()] = eid
        result = None
        details: Any = None
        is_error = False
        if res_ent is not None:
            rm = res_ent.data.get("message") or {}
            result = result_text(rm.get("content"))
            details = rm.get("details")
            is_error = _is_error(rm, result)
        ctx = CallCtx(
            self.sid,
            self.meta.agent_id,
            tcid,
            ts,
            self.cwd,
            self.meta.home,
            self.meta.source,
            run_id,
            {k: v for k, v in a.items() if k in (sc.OPENCLAW_SESSION_KEY, sc.OPENCLAW_ABANDONED)},
            ("openclaw", "effect", self.sid, ent.where, n),
        )
        evs, edges = effects(name, args, result, details, is_error, ctx)
        if isinstance(details, dict) and details.get("status") == "blocked":
            self.blocked(eid, tcid, name, run_id, ts, details, evs, a)
        for e in evs:
            self.emit(e)
            if e.kind == _K.NET_EGRESS.value:
                self.rec.egress += 1
        self.rec.batch.edges.extend(edges)

    def blocked(
        self,
        call_id: str,
        tcid: str | None,
        name: str,
        run_id: str | None,
        ts: int,
        details: dict[str, Any],
        evs: list[model.Event],
        base: dict[str, Any],
    ) -> None:
        """A call OpenClaw blocked before it ran (a before_tool_call hook, loop detection ...).

        Its effects are what it would have done: they get the block verdict (so ``egress`` does
        not report data that never left), and the block becomes a ``policy.decision`` event,
        the same one (same id) as the clawtrace gate's live decision when both are seen.
        """
        rule = str(details.get("deniedReason") or "blocked")
        reason = str(details.get("reason") or "")
        for e in evs:
            e.attrs[sc.POLICY_VERDICT] = "block"
            e.attrs[sc.POLICY_RULE] = rule
        did = model.event_id_for(
            EventKind.POLICY_DECISION.value,
            session_id=self.sid,
            tool_call_id=tcid,
            fallback=("openclaw", "policy", call_id),
        )
        attrs = {k: v for k, v in base.items() if k in (sc.OPENCLAW_SESSION_KEY, sc.OPENCLAW_ABANDONED)}
        attrs.update({sc.POLICY_VERDICT: "block", sc.POLICY_RULE: rule, sc.POLICY_REASON: reason})
        self.emit(
            model.Event(
                did,
                EventKind.POLICY_DECISION.value,
                ts,
                self.meta.source,
                self.sid,
                self.meta.agent_id,
                run_id=run_id,
                tool_call_id=tcid,
                tool_name=name,
                summary=_clip(f"policy block ({rule}): {name}: {reason}"),
                attrs=attrs,
            )
        )
        self.rec.batch.edges.append(model.Edge(did, call_id, EdgeKind.EFFECT.value, 1.0, {"via": "blocked_result"}))

    def tool_result(self, ent: Entry, msg: dict[str, Any], abandoned: bool, run_id: str | None, ts: int) -> None:
        d = ent.data
        tcid = msg.get("toolCallId") if isinstance(msg.get("toolCallId"), str) else None
        name = str(msg.get("toolName") or "?")
        text = result_text(msg.get("content"))
        is_error = _is_error(msg, text)
        a = self.attrs(d, abandoned)
        a[sc.TOOL_IS_ERROR] = is_error
        oc = _dict(msg.get("__openclaw"))
        untrusted = (
            oc.get("resultContentSource") == "network"
            or name in _UNTRUSTED_TOOLS
            or "<<<EXTERNAL_UNTRUSTED_CONTENT" in text
        )
        if untrusted:
            a["openclaw.result.untrusted"] = True
        sens = Sensitivity.NONE.value
        call_ent = None
        eid = model.event_id_for(
            _K.TOOL_RESULT.value,
            session_id=self.sid,
            tool_call_id=tcid,
            fallback=("openclaw", "result", self.sid, d.get("id"), ent.where),
        )
        self.emit(
            model.Event(
                eid,
                _K.TOOL_RESULT.value,
                ts,
                self.meta.source,
                self.sid,
                self.meta.agent_id,
                run_id=run_id,
                tool_call_id=tcid,
                tool_name=name,
                trust=Trust.UNTRUSTED.value if untrusted else Trust.UNKNOWN.value,
                sensitivity=sens,
                summary=_clip(f"result{' error' if is_error else ''} of {name} ({len(text)} chars): {text}"),
                attrs=a,
                content=text.encode("utf-8", "surrogatepass"),
            )
        )
        del call_ent
        if isinstance(d.get("id"), str):
            self.rec.entry_events[d["id"]] = eid
            self.context[d["id"]] = [eid]

    # ---------------------------------------------------------------- context

    def _context_of(self, eid: str, memo: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str]]:
        """(entry id, event id) in the context after entry ``eid``: its branch since the last
        compaction (from ``firstKeptEntryId`` on), oldest first, the latest ``CONTEXT_CAP``.
        Memoised per entry, so a session costs O(entries x cap), not O(turns x depth)."""
        chain: list[str] = []
        cur: str | None = eid
        seen: set[str] = set()
        while cur is not None and cur in self.ids and cur not in memo and cur not in seen:
            seen.add(cur)
            chain.append(cur)
            p = self.ids[cur].data.get("parentId")
            cur = p if isinstance(p, str) else None
        base = memo.get(cur, []) if cur is not None else []
        for e in reversed(chain):
            d = self.ids[e].data
            if d.get("type") == "compaction":
                base = base[self._kept_from(base, d.get("firstKeptEntryId")) :]
            items = self.context.get(e)
            if items:
                base = (base + [(e, x) for x in items])[-CONTEXT_CAP:]
            memo[e] = base
        return memo.get(eid, [])

    def _kept_from(self, context: list[tuple[str, str]], first_kept: Any) -> int:
        """Where a compaction cut ``context``: at the first item of an entry written at or
        after ``firstKeptEntryId`` (which may itself hold no item, e.g. a custom entry); all
        of it when the compaction kept nothing, none when the kept entry is unknown."""
        if not isinstance(first_kept, str):
            return len(context)
        at = self.position.get(first_kept)
        if at is None:
            return 0
        pos = self.position
        return next((i for i, (entry, _) in enumerate(context) if pos.get(entry, -1) >= at), len(context))

    def consumed_edges(self) -> None:
        """Each turn consumed what was in its context: results and messages on its own branch
        since the last compaction, newest first, at most ``CONTEXT_CAP``; and injected files."""
        edges = self.rec.batch.edges
        memo: dict[str, list[tuple[str, str]]] = {}
        for turn_id, entry_id in self.turn_entry.items():
            parent = self.ids[entry_id].data.get("parentId")
            got = self._context_of(parent, memo) if isinstance(parent, str) else []
            for _entry, src in got:
                edges.append(model.Edge(src, turn_id, EdgeKind.CONSUMED.value, 1.0, _VIA_CONTEXT))
            for src in self.injected:
                edges.append(model.Edge(src, turn_id, EdgeKind.CONSUMED.value, 1.0, _VIA_PROMPT))
        # A compaction's summary was written from the context it replaced.
        for entry_id, summary_id in self.compactions.items():
            parent = self.ids[entry_id].data.get("parentId")
            got = self._context_of(parent, memo) if isinstance(parent, str) else []
            cut = self._kept_from(got, self.ids[entry_id].data.get("firstKeptEntryId"))
            for _entry, src in got[:cut]:
                edges.append(model.Edge(src, summary_id, EdgeKind.CONSUMED.value, 1.0, _VIA_COMPACTION))


# The evidence of every consumed edge of a kind: one dict, shared (read-only downstream). A
# 10 000-turn session has half a million such edges; a dict each cost about 100 MB.
_VIA_CONTEXT: Final[dict[str, Any]] = {"via": "transcript_context"}
_VIA_PROMPT: Final[dict[str, Any]] = {"via": "system_prompt"}
_VIA_COMPACTION: Final[dict[str, Any]] = {"via": "compaction"}


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _is_error(msg: dict[str, Any], text: str) -> bool:
    if msg.get("isError") is True:
        return True
    if text.startswith("{") and '"status"' in text[:200] and '"error"' in text:
        try:
            doc = json.loads(text)
        except ValueError:
            return False
        return isinstance(doc, dict) and doc.get("status") == "error"
    return False


def map_transcript(meta: SessionMeta, entries: list[Entry], header: dict[str, Any] | None) -> SessionRecords:
    """Map one session's transcript entries (header excluded) to records."""
    return _Mapper(meta, entries, header).run()
