"""``clawtrace report``: an incident report in Markdown or self-contained HTML.

What an investigator hands on: a summary written from the data, the sessions, a timeline of
notable events, every egress worst first, the causal chain of the worst egress (or of the
EVENT asked about) with its evidence, the root causes, what to contain, and whether the
store's hash chain still verifies.

Containment follows the evidence, not guesses: files and memory written downstream of an
untrusted root cause (``impact`` of each), credentials whose content reached a flagged
egress or that were read under a root cause's influence, the sessions involved, and the
destinations data reached. A store with no flagged egress and no untrusted root cause has
nothing to contain. Secrets only ever appear as their redaction placeholders: the store
never holds them raw.

The report is built once (:func:`build`) as a small document of blocks, rendered by
:func:`to_markdown` or :func:`to_html`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

from clawtrace import __version__, graph, queries
from clawtrace.errors import NotFoundError
from clawtrace.report import html_graph
from clawtrace.report.render import to_jsonable
from clawtrace.store import Store, iso, verify

__all__ = ["IncidentReport", "build", "describe_evidence", "placeholder", "to_html", "to_markdown"]

_VERDICT_RANK = {"exfiltration": 0, "suspicious": 1, "ok": 2}
_MAX_CHAINS = 20
"""Flagged egress events whose chains are walked for root causes and containment."""
_TIMELINE_ROWS = 200
_TABLE_ROWS = 100
"""Sessions and egress rows shown; the rest are counted, with the command that lists them."""
_CHAIN_ROWS = 25
_EVIDENCE_ROWS = 40
_EVIDENCE_KINDS = ("data_flow", "effect", "wrote_read", "spawned", "returned", "emitted")


@dataclasses.dataclass(slots=True)
class IncidentReport:
    """Everything a report shows, JSON-ready."""

    db: str
    scope: str
    """``store``, ``session`` or ``event``."""
    ref: str | None
    generated: str
    sessions: list[dict[str, Any]]
    summary: list[str]
    timeline: list[dict[str, Any]]
    timeline_total: int
    egress: list[dict[str, Any]]
    focus: dict[str, Any] | None
    """The event the causal chain explains (the worst flagged egress, or EVENT)."""
    chain: dict[str, Any] | None
    root_causes: list[dict[str, Any]]
    """Untrusted root causes over every chain examined."""
    chains_examined: int
    containment: dict[str, list[str]]
    verify: dict[str, Any]
    graph_details: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = dataclasses.asdict(self)
        d.pop("graph_details")
        return dict(to_jsonable(d))


# ----------------------------------------------------------------------------- building


def _is_real_root(e: dict[str, Any]) -> bool:
    """A root cause that is an untrusted origin, not ``why``'s fallback to the user's own request."""
    return not (e["kind"] == "input.message" and e.get("trust") != "untrusted")


def _secret_refs(details: dict[str, dict[str, Any]], ids: list[str]) -> set[str]:
    return {s for i in ids for s in details.get(i, {}).get("secrets", [])}


def placeholder(secret_ref: str) -> str:
    """``secret://type/digest`` as the placeholder redaction wrote in its place."""
    typ, _, digest = secret_ref.removeprefix("secret://").partition("/")
    return f"[REDACTED:{typ}:{digest}]"


def build(store: Store, ref: str | None = None, *, db: str | None = None) -> IncidentReport:
    """Gather a report over the whole store, one SESSION, or the chain of one EVENT."""
    db = db or store.path
    focus: dict[str, Any] | None = None
    if ref is None:
        scope, session_ids = "store", None
    elif graph.sessions(store, ids=[ref]):
        scope, session_ids = "session", [ref]
    else:
        try:
            focus = graph.public_event(store.resolve_event(ref))
        except NotFoundError as e:
            raise NotFoundError(
                f"no session or event {ref!r} in {db}: a report takes a SESSION id, an EVENT id (or unique prefix) or "
                f"SESSION:N; list sessions: clawtrace sessions"
            ) from e
        scope, session_ids = "event", None

    chains: list[dict[str, Any]] = []
    if focus is not None:
        asked = graph.why(store, focus["event_id"]).as_dict()
        chains.append(asked)
        session_ids = sorted({e["session_id"] for e in [focus, *asked["events"]] if e.get("session_id")})

    sessions = graph.sessions(store, ids=session_ids)
    egress_rows: list[dict[str, Any]] = []
    if session_ids is None:
        egress_rows = graph.egress(store)
    else:
        for sid in session_ids:
            egress_rows += graph.egress(store, session=sid)
    egress_rows.sort(key=lambda r: (_VERDICT_RANK.get(r["verdict"], 3), -_secret_count(r), r["ts"] or ""))
    flagged = [r for r in egress_rows if r["verdict"] != "ok"]
    if focus is None:
        for r in flagged[:_MAX_CHAINS]:
            chains.append(graph.why(store, r["event_id"]).as_dict())
        if flagged:
            focus = dict(chains[0]["target"])
    chain = chains[0] if chains else None

    roots: dict[str, dict[str, Any]] = {}
    for c in chains:
        for r in c["root_causes"]:
            if _is_real_root(r):
                roots.setdefault(r["event_id"], r)

    containment = _containment(store, chains, list(roots.values()), flagged)
    ids = [e["event_id"] for e in (chain["events"] if chain else [])] + ([focus["event_id"]] if focus else [])
    details = html_graph.node_details(store, ids)

    cols, rows = queries.run(store, "incident_timeline", sessions=session_ids, max_rows=_TIMELINE_ROWS)
    timeline = [dict(zip(cols, r)) for r in rows]
    total = int(timeline[0]["total"]) if timeline else 0
    for t in timeline:
        t.pop("total")
        t["ts"] = iso(t["ts"])

    rep = verify(store)
    verify_doc = {
        "ok": rep.ok,
        "batches": rep.batches,
        "events": rep.events,
        "edges": rep.edges,
        "head": rep.head,
        "findings": [f.as_dict() for f in rep.findings[:50]],
        "findings_total": len(rep.findings),
    }
    report = IncidentReport(
        db=str(db),
        scope=scope,
        ref=ref,
        generated=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        sessions=sessions,
        summary=[],
        timeline=timeline,
        timeline_total=total,
        egress=egress_rows,
        focus=focus,
        chain=chain,
        root_causes=list(roots.values()),
        chains_examined=len(chains),
        containment=containment,
        verify=verify_doc,
        graph_details=details,
    )
    report.summary = _summary(report)
    return report


def _ts(ts: str | None) -> str:
    """An ISO timestamp, shorter for tables: ``2026-03-14 11:00:00.014``."""
    return (ts or "")[:23].replace("T", " ")


def _secret_count(r: dict[str, Any]) -> int:
    return len({s for c in r["carried"] for s in c["secrets"]})


def _containment(
    store: Store, chains: list[dict[str, Any]], roots: list[dict[str, Any]], flagged: list[dict[str, Any]]
) -> dict[str, list[str]]:
    files: set[str] = set()
    memory: set[str] = set()
    sessions: set[str] = set()
    creds: set[str] = set()
    dests: set[str] = set()
    for r in roots:
        imp = graph.impact(store, r["event_id"]).as_dict()["containment"]
        files.update(imp["files"])
        memory.update(imp["memory"])
        sessions.update(imp["sessions"])
        creds.update(imp["credentials"])  # a root's own write is in its impact
    for r in flagged:
        if r.get("session_id"):
            sessions.add(r["session_id"])
        if r.get("destination"):
            dests.add(r["destination"])
        for c in r["carried"]:
            if c.get("artifact"):
                creds.add(c["artifact"])
            creds.update(c["secrets"])
    # A sensitive source whose content reached an egress that was asked about is spent too.
    carried_ids = [
        s["event_id"]
        for c in chains
        if c["target"].get("kind") == "net.egress"
        for s in c["sensitive_sources"]
        if s.get("carried")
    ]
    if carried_ids:
        details = html_graph.node_details(store, carried_ids)
        creds.update(_secret_refs(details, carried_ids))
        for c in chains:
            for s in c["sensitive_sources"]:
                if s["event_id"] in carried_ids and s.get("artifact"):
                    creds.add(s["artifact"])
        sessions.update(c["target"]["session_id"] for c in chains if c["target"].get("session_id"))
    return {
        "files": sorted(files),
        "memory": sorted(memory),
        "credentials": sorted(creds),
        "sessions": sorted(sessions),
        "destinations": sorted(dests),
    }


# ----------------------------------------------------------------------------- summary


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _short(text: str | None, n: int = 80) -> str:
    s = " ".join((text or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _carried_names(r: dict[str, Any]) -> list[str]:
    arts = sorted({c["artifact"].removeprefix("file://") for c in r["carried"] if c.get("artifact")})
    secrets = sorted({placeholder(s) for c in r["carried"] for s in c["secrets"]})
    return arts + secrets


def _summary(r: IncidentReport) -> list[str]:
    out: list[str] = []
    n_events = sum(int(s["events"] or 0) for s in r.sessions)
    agents = sorted({s["agent_id"] for s in r.sessions if s.get("agent_id")})
    if r.scope == "event" and r.focus:
        f = r.focus
        out.append(
            f"This report explains {f['kind']} {f['event_id'][:12]} ({_short(f.get('summary'), 70)}) in session "
            f"{f.get('session_id')}; its causal chain spans {_plural(len(r.sessions), 'session')} with {n_events} events."
        )
    elif r.scope == "session" and r.sessions:
        s0 = r.sessions[0]
        out.append(
            f"Session {s0['session_id']}"
            + (f" of agent {s0['agent_id']}" if s0.get("agent_id") else "")
            + f" holds {n_events} events, from {s0['started']} to {s0['ended']}."
        )
    elif r.sessions:
        names = ", ".join(s["session_id"] for s in r.sessions[:3]) + (", …" if len(r.sessions) > 3 else "")
        start = min(s["started"] for s in r.sessions if s["started"]) if any(s["started"] for s in r.sessions) else "?"
        end = max(s["ended"] for s in r.sessions if s["ended"]) if any(s["ended"] for s in r.sessions) else "?"
        out.append(
            f"The store holds {n_events} events in {_plural(len(r.sessions), 'session')} ({names})"
            + (f" of agent {', '.join(agents)}" if agents else "")
            + f", from {start} to {end}."
        )
    else:
        out.append("The store holds no sessions yet.")
    ex = [e for e in r.egress if e["verdict"] == "exfiltration"]
    sus = [e for e in r.egress if e["verdict"] == "suspicious"]
    if not r.egress:
        out.append("No egress was recorded: no data is known to have left the box.")
    elif ex or sus:
        dests = sorted({e["destination"] or "?" for e in ex + sus})
        out.append(
            f"Of {_plural(len(r.egress), 'egress event')}, {len(ex)} {'was an exfiltration' if len(ex) == 1 else 'were exfiltrations'}"
            + (f" and {len(sus)} {'was' if len(sus) == 1 else 'were'} suspicious" if sus else "")
            + f"; data went to {', '.join(dests)}."
        )
        w = (ex or sus)[0]
        carried = _carried_names(w)
        enc = " (encoded)" if w.get("encoded") else ""
        out.append(
            f"The worst, {w['event_id'][:12]} at {w['ts']} in session {w['session_id']}, sent "
            f"{str(w['bytes_out']) + ' bytes' if w['bytes_out'] is not None else 'data'} to {w['destination']}"
            + (f", carrying {', '.join(carried[:4])}{enc}" if carried else ", steered by untrusted content")
            + "."
        )
    else:
        out.append(
            ("The only egress event looks" if len(r.egress) == 1 else f"All {len(r.egress)} egress events look")
            + " ok: none carried a secret or credential, and none was steered by untrusted content."
        )
    if r.root_causes:
        rc = r.root_causes[0]
        what = rc.get("artifact") or _short(rc.get("summary"), 70)
        more = f", and {len(r.root_causes) - 1} more" if len(r.root_causes) > 1 else ""
        out.append(f"Probable root cause: {rc['kind']} {what} ({rc.get('trust')}, event {rc['event_id'][:12]}){more}.")
    elif r.chain and r.chain["root_causes"]:
        rc = r.chain["root_causes"][0]
        out.append(
            f"Nothing untrusted explains it: it follows the user's own request ({_short(rc.get('summary'), 70)})."
        )
    c = r.containment
    if any(c.values()):
        out.append(
            f"Contain: {_plural(len(c['files']), 'file')} and {_plural(len(c['memory']), 'memory entry', 'memory entries')} "
            f"to quarantine, {_plural(len(c['credentials']), 'credential')} to rotate, "
            f"{_plural(len(c['sessions']), 'session')} to review, {_plural(len(c['destinations']), 'destination')} to block."
        )
    else:
        out.append("Nothing to contain: no egress was flagged and no untrusted input led to one.")
    v = r.verify
    if v["ok"]:
        out.append(
            f"The hash chain verifies: {_plural(v['batches'], 'batch', 'batches')}, {_plural(v['events'], 'event')} and "
            f"{_plural(v['edges'], 'edge')} are as ingested."
        )
    else:
        out.append(
            f"TAMPERING: verify found {v['findings_total']} finding(s); rows were changed after ingest, so treat this evidence with care."
        )
    return out


# ----------------------------------------------------------------------------- document

Inline = str | tuple[str, str]
"""Plain text, or (style, text) with style ``code``, ``b`` or a flag name (``flag-...``)."""


@dataclasses.dataclass(slots=True)
class _Block:
    kind: str  # h2, h3, p, table, list, graph, note
    text: list[Inline] = dataclasses.field(default_factory=list)
    headers: list[str] = dataclasses.field(default_factory=list)
    rows: list[list[list[Inline]]] = dataclasses.field(default_factory=list)
    data: dict[str, Any] | None = None


def describe_evidence(ev: Any) -> str:
    """One line for an edge's evidence."""
    if isinstance(ev, dict):
        parts = []
        if "matched_bytes" in ev:
            enc = ev.get("encoding") or "raw"
            parts.append(f"~{ev['matched_bytes']} bytes matched" + (f" after {enc} decoding" if enc != "raw" else ""))
            if ev.get("from") or ev.get("to"):
                parts.append(f"{ev.get('from')} → {ev.get('to')}")
        if ev.get("via"):
            parts.append(f"via {ev['via']}")
        if ev.get("note"):
            parts.append(str(ev["note"]))
        if ev.get("artifact"):
            parts.append(str(ev["artifact"]))
        return "; ".join(parts) or ", ".join(f"{k}={v}" for k, v in ev.items())
    return "" if ev is None else str(ev)


def _event_list(events: list[dict[str, Any]], tail: Callable[[dict[str, Any]], list[Inline]], empty: str) -> _Block:
    """One event a row: its kind, short id and summary, then ``tail(event)``; ``empty`` when none."""
    if not events:
        return _Block("p", [empty])
    rows = [
        [[("b", e["kind"]), " ", ("code", e["event_id"][:12]), " ", _short(e.get("summary"), 100), *tail(e)]]
        for e in events
    ]
    return _Block("list", rows=rows)


def _artifact(e: dict[str, Any]) -> list[Inline]:
    return [" — ", ("code", str(e["artifact"]))] if e.get("artifact") else []


def _origin(e: dict[str, Any]) -> str:
    if e.get("trust") == "untrusted":
        return "untrusted"
    if e["kind"] in ("memory.write", "file.write"):
        return "written under untrusted influence"
    if e["kind"].startswith("skill."):
        return "skill not pinned as trusted"
    return str(e.get("trust"))


def _flags(e: dict[str, Any], roots: set[str], sens: set[str]) -> list[Inline]:
    out: list[Inline] = []
    if e["event_id"] in roots:
        out.append(("flag-root", "ROOT CAUSE"))
    if e.get("trust") == "untrusted":
        out.append(("flag-untrusted", "UNTRUSTED"))
    if e.get("sensitivity") not in (None, "none"):
        out.append(("flag-sensitive", str(e["sensitivity"]).upper()))
    if e["event_id"] in sens and e.get("sensitivity") in (None, "none"):
        out.append(("flag-sensitive", "SENSITIVE"))
    if e.get("verdict") in ("exfiltration", "suspicious"):
        out.append((f"flag-{e['verdict']}", str(e["verdict"]).upper()))
    return out


def _doc(r: IncidentReport, *, graph_in_html: bool) -> tuple[str, list[_Block]]:
    if r.scope == "store":
        title = "Incident report: " + (f"{_plural(len(r.sessions), 'session')}" if r.sessions else "empty store")
    elif r.scope == "session":
        title = f"Incident report: session {r.ref}"
    else:
        assert r.focus is not None
        title = f"Incident report: {r.focus['kind']} {r.focus['event_id'][:12]}"
    chain = r.chain
    root_ids = {e["event_id"] for e in r.root_causes}
    sens_ids = {e["event_id"] for e in (chain["sensitive_sources"] if chain else [])}
    flagged = {e["event_id"]: e for e in r.egress}
    b: list[_Block] = []
    b.append(
        _Block(
            "meta",
            [
                f"Generated by clawtrace {__version__} at {r.generated} from ",
                ("code", r.db),
                f"; scope: {r.scope}" + (f" {r.ref}" if r.ref else "") + ".",
            ],
        )
    )
    b.append(_Block("h2", ["Summary"]))
    b.append(_Block("p", [" ".join(r.summary)]))

    b.append(_Block("h2", ["Sessions"]))
    involved = {e["session_id"] for e in r.egress if e["verdict"] != "ok"} | set(r.containment["sessions"])
    shown_sessions = sorted(r.sessions, key=lambda s: s["session_id"] not in involved)[:_TABLE_ROWS]
    b.append(
        _Block(
            "table",
            headers=["session", "agent", "started", "ended", "events", "flags"],
            rows=[
                [
                    [("code", s["session_id"])],
                    [s.get("agent_id") or ""],
                    [s.get("started") or ""],
                    [s.get("ended") or ""],
                    [str(s.get("events") or 0)],
                    [", ".join(s.get("flags") or [])],
                ]
                for s in shown_sessions
            ],
        )
        if r.sessions
        else _Block("p", ["No sessions."])
    )
    if len(r.sessions) > len(shown_sessions):
        b.append(
            _Block(
                "note",
                [
                    f"{len(r.sessions) - len(shown_sessions)} more (no flagged egress): ",
                    ("code", "clawtrace sessions"),
                    ".",
                ],
            )
        )

    b.append(_Block("h2", ["Timeline"]))
    shown = len(r.timeline)
    _more: list[Inline] = [("code", "clawtrace timeline SESSION"), ")."]
    b.append(
        _Block(
            "note",
            [
                f"Notable events in order: messages, fetches, reads, calls, writes, processes and egress ({shown} of {r.timeline_total}"
                + ("; the rest: " if shown < r.timeline_total else ")."),
                *(_more if shown < r.timeline_total else []),
            ],
        )
    )
    if r.timeline:
        b.append(
            _Block(
                "table",
                headers=["time", "session", "kind", "event", "flags", "summary"],
                rows=[
                    [
                        [_ts(t["ts"])],
                        [t.get("session_id") or ""],
                        [t["kind"] + (f" · {t['tool_name']}" if t.get("tool_name") else "")],
                        [("code", t["event_id"][:12])],
                        _flags({**t, "verdict": flagged.get(t["event_id"], {}).get("verdict")}, root_ids, sens_ids),
                        [_short(t.get("summary"), 110)],
                    ]
                    for t in r.timeline
                ],
            )
        )

    b.append(_Block("h2", ["Egress"]))
    if r.egress:
        b.append(
            _Block(
                "table",
                headers=["verdict", "time", "session", "destination", "bytes", "carried", "event"],
                rows=[
                    [
                        [(f"flag-{e['verdict']}", e["verdict"].upper())],
                        [_ts(e["ts"])],
                        [e.get("session_id") or ""],
                        [("code", e.get("destination") or "?")],
                        [str(e["bytes_out"]) if e.get("bytes_out") is not None else ""],
                        [", ".join(_carried_names(e)) + (" (encoded)" if e.get("encoded") else "")],
                        [("code", e["event_id"][:12])],
                    ]
                    for e in r.egress[:_TABLE_ROWS]
                ],
            )
        )
        if len(r.egress) > _TABLE_ROWS:
            b.append(
                _Block(
                    "note",
                    [
                        f"{len(r.egress) - _TABLE_ROWS} more, less severe or later; all of them: ",
                        ("code", "clawtrace egress"),
                        ".",
                    ],
                )
            )
    else:
        b.append(_Block("p", ["No egress recorded."]))

    b.append(_Block("h2", ["Causal chain"]))
    if chain is None or r.focus is None:
        b.append(
            _Block(
                "p",
                [
                    "No flagged egress to explain. Explain any event with ",
                    ("code", "clawtrace report EVENT"),
                    " or ",
                    ("code", "clawtrace why EVENT"),
                    ".",
                ],
            )
        )
    else:
        f = r.focus
        b.append(
            _Block(
                "p",
                [
                    "Why ",
                    ("b", f["kind"]),
                    " ",
                    ("code", f["event_id"]),
                    f" ({_short(f.get('summary'), 100)}) happened: {len(chain['events'])} earlier events, ranked; evidence edges count more than context. ",
                    "Full chain: ",
                    ("code", f"clawtrace why {f['event_id']}"),
                    (
                        f"; {_plural(r.chains_examined - 1, 'more flagged egress event')} examined for root causes and containment."
                        if r.chains_examined > 1
                        else "."
                    ),
                ],
            )
        )
        if graph_in_html:
            b.append(_Block("graph", data=html_graph.graph_data(chain, r.graph_details)))
        else:
            b.append(
                _Block(
                    "note",
                    [
                        "Interactive graph: ",
                        ("code", f"clawtrace graph {f['event_id']} --format html -o chain.html"),
                        ".",
                    ],
                )
            )
        b.append(_Block("h3", ["Root causes"]))
        rc_list = r.root_causes or chain["root_causes"]
        b.append(_event_list(rc_list, lambda e: [*_artifact(e), f" ({_origin(e)})"], "None found."))
        if not r.root_causes and rc_list:
            b.append(_Block("note", ["Nothing untrusted in the chain: the user's own request explains it."]))
        b.append(_Block("h3", ["Sensitive sources"]))
        b.append(
            _event_list(
                chain["sensitive_sources"],
                lambda e: [
                    f" [{str(e.get('sensitivity')).upper()}]",
                    " — its content reached the target" if e.get("carried") else "",
                ],
                "No secret or credential reached it.",
            )
        )
        b.append(_Block("h3", ["Chain, ranked"]))
        b.append(
            _Block(
                "table",
                headers=["score", "time", "kind", "event", "flags", "summary"],
                rows=[
                    [
                        [f"{e.get('score', 0):.2f}"],
                        [_ts(e["ts"])],
                        [e["kind"]],
                        [("code", e["event_id"][:12])],
                        _flags(e, root_ids | {x["event_id"] for x in chain["root_causes"]}, sens_ids),
                        [_short(e.get("summary"), 100)],
                    ]
                    for e in chain["events"][:_CHAIN_ROWS]
                ],
            )
        )
        if len(chain["events"]) > _CHAIN_ROWS:
            b.append(
                _Block(
                    "note",
                    [
                        f"{len(chain['events']) - _CHAIN_ROWS} more in ",
                        ("code", f"clawtrace why {f['event_id']} --format json"),
                        ".",
                    ],
                )
            )
        by_id = {e["event_id"]: e for e in [f, *chain["events"]]}
        ev_edges = [e for e in chain["edges"] if e["kind"] in _EVIDENCE_KINDS]
        ev_edges.sort(key=lambda e: (_EVIDENCE_KINDS.index(e["kind"]), -(e.get("confidence") or 0)))
        b.append(_Block("h3", ["Evidence"]))
        b.append(
            _Block(
                "table",
                headers=["from", "edge", "to", "confidence", "evidence"],
                rows=[
                    [
                        [by_id.get(e["src"], {}).get("kind", "?"), " ", ("code", e["src"][:12])],
                        [e["kind"]],
                        [by_id.get(e["dst"], {}).get("kind", "?"), " ", ("code", e["dst"][:12])],
                        [f"{e.get('confidence') or 0:.2f}"],
                        [describe_evidence(e.get("evidence"))],
                    ]
                    for e in ev_edges[:_EVIDENCE_ROWS]
                ],
            )
        )

    b.append(_Block("h2", ["Containment"]))
    c = r.containment
    if not any(c.values()):
        b.append(_Block("p", ["Nothing to contain: no egress was flagged and no untrusted input led to one."]))
    for key, label in (
        ("files", "Files to quarantine"),
        ("memory", "Memory to quarantine"),
        ("credentials", "Credentials to rotate"),
        ("sessions", "Sessions to review"),
        ("destinations", "Destinations to block"),
    ):
        if not c[key]:
            continue
        b.append(_Block("h3", [f"{label} ({len(c[key])})"]))
        rows: list[list[list[Inline]]] = []
        for v in c[key]:
            if v.startswith("secret://"):
                rows.append([[("code", v), " — seen only as ", ("code", placeholder(v))]])
            else:
                rows.append([[("code", v)]])
        b.append(_Block("list", rows=rows))

    b.append(_Block("h2", ["Tamper evidence"]))
    vd = r.verify
    counts = f"{_plural(vd['batches'], 'batch', 'batches')}, {_plural(vd['events'], 'event')} and {_plural(vd['edges'], 'edge')}"
    if vd["ok"]:
        b.append(
            _Block(
                "p",
                [("flag-ok", "VERIFIED"), counts + " match the hash chain (head ", ("code", vd["head"][:16]), ")."],
            )
        )
    else:
        b.append(
            _Block(
                "p",
                [
                    ("flag-exfiltration", "TAMPERED"),
                    f"{vd['findings_total']} finding(s): rows were edited, inserted or deleted after ingest.",
                ],
            )
        )
        b.append(
            _Block(
                "table",
                headers=["problem", "table", "batch", "ref", "detail"],
                rows=[
                    [[x["problem"]], [x["table"]], [str(x["batch_id"])], [("code", x["ref"])], [x["detail"]]]
                    for x in vd["findings"]
                ],
            )
        )

    b.append(_Block("h2", ["Next commands"]))
    cmds = ["clawtrace egress", "clawtrace verify"]
    if r.focus:
        cmds[1:1] = [
            f"clawtrace why {r.focus['event_id']}",
            f"clawtrace graph {r.focus['event_id']} --format html -o chain.html",
        ]
    for e in r.root_causes[:3]:
        cmds.append(f"clawtrace impact {e.get('artifact') or e['event_id']}")
    for s in r.sessions[:3]:
        cmds.append(f"clawtrace timeline {s['session_id']}")
    b.append(_Block("list", rows=[[[("code", x)]] for x in cmds]))
    return title, b


# ----------------------------------------------------------------------------- markdown

_MD_SPECIAL = re.compile(r"([\\`*|])")


def _md_text(s: str) -> str:
    """Plain text that Markdown shows as it is: no emphasis, code, table cells, HTML or links."""
    s = re.sub(r"\s+", " ", s)
    s = _MD_SPECIAL.sub(r"\\\1", s).replace("](", "]\\(")
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _md_inline(parts: list[Inline], *, in_table: bool = False) -> str:
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(_md_text(p))
            continue
        style, text = p
        text = " ".join(text.split())
        if style == "code":
            code = text.replace("`", "'")
            out.append(f"`{code.replace('|', chr(92) + '|') if in_table else code}`")
        elif style == "b":
            out.append(f"**{_md_text(text)}**")
        else:  # a flag
            out.append(f"**{_md_text(text)}** ")
    return "".join(out).strip()


def to_markdown(r: IncidentReport) -> str:
    """The report as GitHub-flavoured Markdown."""
    title, blocks = _doc(r, graph_in_html=False)
    out = [f"# {_md_text(title)}", ""]
    for bl in blocks:
        if bl.kind in ("h2", "h3"):
            out += [("## " if bl.kind == "h2" else "### ") + _md_inline(bl.text), ""]
        elif bl.kind in ("p",):
            out += [_md_inline(bl.text), ""]
        elif bl.kind in ("note", "meta"):
            out += ["*" + _md_inline(bl.text) + "*", ""]
        elif bl.kind == "list":
            out += ["- " + _md_inline(row[0]) for row in bl.rows] + [""]
        elif bl.kind == "table":
            out.append("| " + " | ".join(bl.headers) + " |")
            out.append("|" + "|".join("---" for _ in bl.headers) + "|")
            for row in bl.rows:
                out.append("| " + " | ".join(_md_inline(cell, in_table=True) for cell in row) + " |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


# ----------------------------------------------------------------------------- html

_REPORT_CSS = """
body.ct-report { margin: 0; background: #f6f8fa; color: #1f2328;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.ct-report main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; min-height: 100vh; }
.ct-report h1 { font-size: 24px; margin: 0 0 4px; }
.ct-report h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
.ct-report h3 { font-size: 15px; margin: 18px 0 6px; }
.ct-report .meta, .ct-report .note { color: #57606a; font-size: 12.5px; }
.ct-report .summary { font-size: 15px; background: #fff8f0; border-left: 4px solid #cf222e; padding: 10px 14px; border-radius: 4px; }
.ct-report table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 4px 0 8px; }
.ct-report th { text-align: left; background: #f6f8fa; border-bottom: 2px solid #d0d7de; padding: 4px 6px; white-space: nowrap; }
.ct-report td { border-bottom: 1px solid #eaeef2; padding: 3px 6px; vertical-align: top; word-break: break-word; }
.ct-report code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f6f8fa; padding: 0 3px; border-radius: 3px; word-break: break-all; }
.ct-report td code { word-break: normal; white-space: nowrap; }
.ct-report ul { margin: 4px 0 8px; padding-left: 22px; }
.ct-report .flag { display: inline-block; font-size: 10.5px; font-weight: 700; padding: 0 6px; border-radius: 8px; color: #fff; margin-right: 3px; white-space: nowrap; }
.ct-report .flag-root, .ct-report .flag-exfiltration { background: #cf222e; }
.ct-report .flag-untrusted { background: #8250df; }
.ct-report .flag-sensitive { background: #bf8700; }
.ct-report .flag-suspicious { background: #d4740c; }
.ct-report .flag-ok { background: #1a7f37; }
.ct-report .ct-graph { margin: 10px 0; height: 640px; }
@media print { .ct-report .ct-graph { display: none; } body.ct-report { background: #fff; } }
"""


def _html_inline(parts: list[Inline]) -> str:
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(html.escape(p))
            continue
        style, text = p
        if style == "code":
            out.append(f"<code>{html.escape(text)}</code>")
        elif style == "b":
            out.append(f"<strong>{html.escape(text)}</strong>")
        else:
            out.append(f'<span class="flag {html.escape(style)}">{html.escape(text)}</span> ')
    return "".join(out)


def to_html(r: IncidentReport) -> str:
    """The report as one self-contained HTML page, with the interactive graph of the chain."""
    title, blocks = _doc(r, graph_in_html=True)
    body = ["<main>", f"<h1>{html.escape(title)}</h1>"]
    n_graph = 0
    for bl in blocks:
        if bl.kind in ("h2", "h3"):
            body.append(f"<{bl.kind}>{_html_inline(bl.text)}</{bl.kind}>")
        elif bl.kind == "p":
            cls = ' class="summary"' if body[-1] == "<h2>Summary</h2>" else ""
            body.append(f"<p{cls}>{_html_inline(bl.text)}</p>")
        elif bl.kind in ("note", "meta"):
            body.append(f'<p class="{bl.kind}">{_html_inline(bl.text)}</p>')
        elif bl.kind == "list":
            body.append("<ul>" + "".join(f"<li>{_html_inline(row[0])}</li>" for row in bl.rows) + "</ul>")
        elif bl.kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in bl.headers)
            rows = "".join("<tr>" + "".join(f"<td>{_html_inline(c)}</td>" for c in row) + "</tr>" for row in bl.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif bl.kind == "graph" and bl.data is not None:
            n_graph += 1
            body.append(html_graph.fragment(bl.data, f"ct-graph-{n_graph}"))
    body.append("</main>\n")
    return html_graph.page(title, "\n".join(body), extra_css=_REPORT_CSS, body_class="ct-report")
