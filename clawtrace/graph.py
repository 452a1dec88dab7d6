"""Causal traversal over stored edges: ``why`` (backward), ``impact`` (forward), ``egress``.

Edges are derived at ingest (``clawtrace.store``); nothing here rebuilds the graph. A
traversal walks level by level through index lookups, so it costs in proportion to what
it returns, not to the size of the store (DESIGN.md section 4).

Ranking: every reached event gets a score, the best product of per-edge weights along a
path from the target. Evidence edges (data_flow, effect, emitted, returned, wrote_read,
spawned) keep most of the score; context edges (consumed) halve it. That is how the
dependency explosion of "everything before a turn is its ancestor" is kept readable.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from clawtrace import semconv as sc
from clawtrace.errors import NotFoundError
from clawtrace.semconv import EdgeKind, EventKind, Sensitivity, Trust
from clawtrace.store import Store, iso

__all__ = ["Chain", "why", "impact", "egress", "sessions", "public_event", "EDGE_WEIGHT"]

EDGE_WEIGHT: dict[str, float] = {
    EdgeKind.DATA_FLOW.value: 0.95,
    EdgeKind.EFFECT.value: 0.9,
    EdgeKind.RETURNED.value: 0.9,
    EdgeKind.EMITTED.value: 0.9,
    EdgeKind.WROTE_READ.value: 0.9,
    EdgeKind.SPAWNED.value: 0.8,
    EdgeKind.CONSUMED.value: 0.5,
}
"""Score kept when a traversal crosses an edge of each kind."""

_MIN_SCORE = 0.02
_SENSITIVE = (Sensitivity.SECRET.value, Sensitivity.CREDENTIAL.value)
_READ_KINDS = (
    EventKind.FILE_READ.value,
    EventKind.MEMORY_READ.value,
    EventKind.TOOL_RESULT.value,
    EventKind.NET_FETCH.value,
    EventKind.INPUT_MESSAGE.value,
)


def public_event(e: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The EVENT of the JSON contract (DESIGN.md section 8)."""
    out = {
        "event_id": e["event_id"],
        "kind": e["kind"],
        "ts": e["ts"],
        "session_id": e.get("session_id"),
        "agent_id": e.get("agent_id"),
        "tool_name": e.get("tool_name"),
        "artifact": e.get("artifact"),
        "trust": e.get("trust"),
        "sensitivity": e.get("sensitivity"),
        "source": e.get("source"),
        "summary": e.get("summary"),
    }
    out.update(extra)
    return out


@dataclasses.dataclass(slots=True)
class Chain:
    """A traversal result: the JSON contract of ``why`` and ``impact``."""

    target: dict[str, Any]
    events: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    root_causes: list[dict[str, Any]]
    sensitive_sources: list[dict[str, Any]]
    containment: dict[str, list[Any]] | None = None
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the stable contract)."""
        d: dict[str, Any] = {
            "target": self.target,
            "events": self.events,
            "edges": self.edges,
            "root_causes": self.root_causes,
            "sensitive_sources": self.sensitive_sources,
        }
        if self.containment is not None:
            d["containment"] = self.containment
        if self.truncated:
            d["truncated"] = True
        return d


def _evidence(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _walk(
    store: Store, start: dict[int, float], *, direction: str, max_nodes: int, kinds: frozenset[str] | None = None
) -> tuple[dict[int, float], list[dict[str, Any]], bool]:
    """Level-by-level traversal from ``start`` (seq -> score); returns scores, edges, truncated."""
    scores = dict(start)
    edges: list[dict[str, Any]] = []
    seen_edges: set[tuple[int, int, str]] = set()
    frontier = set(start)
    truncated = False
    while frontier:
        rows = store.edges_touching(frontier, direction="in" if direction == "back" else "out")
        nxt: set[int] = set()
        for r in rows:
            if kinds is not None and r["kind"] not in kinds:
                continue
            here, there = (r["dst"], r["src"]) if direction == "back" else (r["src"], r["dst"])
            key = (r["src"], r["dst"], r["kind"])
            if key in seen_edges:
                continue
            s = scores[here] * EDGE_WEIGHT.get(r["kind"], 0.5) * float(r["confidence"] or 1.0)
            if s < _MIN_SCORE and there not in scores:
                continue
            seen_edges.add(key)
            edges.append(r)
            if s > scores.get(there, 0.0):
                if there not in scores and len(scores) >= max_nodes:
                    truncated = True
                    continue
                scores[there] = s
                nxt.add(there)
        frontier = nxt
    return scores, edges, truncated


def _edge_out(r: dict[str, Any], events: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "src": events[r["src"]]["event_id"],
        "dst": events[r["dst"]]["event_id"],
        "kind": r["kind"],
        "confidence": round(float(r["confidence"]), 3),
        "evidence": _evidence(r["evidence"]),
    }


def _is_untrusted_origin(e: dict[str, Any]) -> bool:
    if e["trust"] == Trust.UNTRUSTED.value:
        return True
    if e["kind"] in (EventKind.SKILL_LOAD.value, EventKind.SKILL_INSTALL.value) and e["trust"] != Trust.TRUSTED.value:
        return True
    return False


def why(store: Store, ref: str, *, max_nodes: int = 2000) -> Chain:
    """The ranked backward causal chain of an event, with root causes and sensitive sources."""
    target = store.resolve_event(ref)
    seq = int(target["seq"])
    scores, raw_edges, truncated = _walk(store, {seq: 1.0}, direction="back", max_nodes=max_nodes)
    events = store.events_by_seq(scores)
    # Memory written under untrusted influence is itself a root cause for whoever reads it.
    tainted_writes = _tainted_memory_writes(store, events, raw_edges)
    ranked = sorted((s for s in scores if s != seq), key=lambda s: (-scores[s], events[s]["ts"] or ""))
    out_events = [public_event(events[s], score=round(scores[s], 3)) for s in ranked]
    roots = [
        public_event(events[s], score=round(scores[s], 3))
        for s in ranked
        if _is_untrusted_origin(events[s]) or s in tainted_writes
    ]
    if not roots:
        # Nothing untrusted explains it: the user's own request does.
        roots = [
            public_event(events[s], score=round(scores[s], 3))
            for s in ranked
            if events[s]["kind"] == EventKind.INPUT_MESSAGE.value
        ][:1]
    flow_reached = _reached_by_data(seq, raw_edges)
    sensitive = [
        public_event(events[s], score=round(scores[s], 3), carried=s in flow_reached)
        for s in ranked
        if events[s]["sensitivity"] in _SENSITIVE and events[s]["kind"] in _READ_KINDS
    ]
    sensitive.sort(key=lambda e: (not e["carried"], -e["score"]))
    return Chain(
        target=public_event(target),
        events=out_events,
        edges=[_edge_out(r, events) for r in raw_edges if r["src"] in events and r["dst"] in events],
        root_causes=roots,
        sensitive_sources=sensitive,
        truncated=truncated,
    )


def _reached_by_data(target: int, edges: list[dict[str, Any]]) -> set[int]:
    """Events whose content reached ``target`` through data_flow (and the effect/returned plumbing)."""
    into: dict[int, list[dict[str, Any]]] = {}
    for r in edges:
        into.setdefault(r["dst"], []).append(r)
    out: set[int] = set()
    stack = [(target, False)]
    seen: set[tuple[int, bool]] = set()
    while stack:
        node, via_flow = stack.pop()
        if (node, via_flow) in seen:
            continue
        seen.add((node, via_flow))
        if via_flow:
            out.add(node)
        for r in into.get(node, []):
            if r["kind"] == EdgeKind.DATA_FLOW.value:
                stack.append((r["src"], True))
            elif (
                r["kind"] in (EdgeKind.EFFECT.value, EdgeKind.RETURNED.value, EdgeKind.WROTE_READ.value)
                and not via_flow
            ):
                stack.append((r["src"], False))
            elif r["kind"] in (EdgeKind.WROTE_READ.value,) and via_flow:
                stack.append((r["src"], True))
    return out


def _tainted_memory_writes(store: Store, events: dict[int, dict[str, Any]], edges: list[dict[str, Any]]) -> set[int]:
    writes = [s for s, e in events.items() if e["kind"] in (EventKind.MEMORY_WRITE.value, EventKind.FILE_WRITE.value)]
    tainted: set[int] = set()
    for w in writes:
        if not any(r["dst"] == w for r in edges) and not any(
            r["src"] == w and r["kind"] == "wrote_read" for r in edges
        ):
            continue
        scores, _, _ = _walk(store, {w: 1.0}, direction="back", max_nodes=300)
        if any(_is_untrusted_origin(e) for e in store.events_by_seq(scores).values()):
            tainted.add(w)
    return tainted


def _start_for_impact(store: Store, ref: str) -> tuple[dict[str, Any], list[int]]:
    if "://" in ref or ref.startswith(("host:", "secret:")):
        _, rows = store.sql(
            "SELECT seq FROM events WHERE artifact = $a OR artifact LIKE $p ORDER BY seq LIMIT 1000",
            {"a": ref, "p": ref.rstrip("/") + "/%"},
        )
        seqs = [int(r[0]) for r in rows]
        if ref.startswith("secret:"):
            typ, _, digest = ref[len("secret://") :].partition("/")
            _, rows = store.sql(
                "SELECT DISTINCT seq FROM secrets WHERE type = $t AND digest = $d", {"t": typ, "d": digest}
            )
            seqs += [int(r[0]) for r in rows]
        if not seqs:
            raise NotFoundError(
                f'no event touches artifact {ref}; list artifacts: clawtrace query "SELECT uri FROM artifacts"'
            )
        target = {"artifact": ref, "events": len(seqs)}
        return target, seqs
    e = store.resolve_event(ref)
    return public_event(e), [int(e["seq"])]


def impact(store: Store, ref: str, *, max_nodes: int = 5000) -> Chain:
    """Everything downstream of an event or artifact, ending in a containment list."""
    target, seqs = _start_for_impact(store, ref)
    scores, raw_edges, truncated = _walk(store, {s: 1.0 for s in seqs}, direction="fwd", max_nodes=max_nodes)
    events = store.events_by_seq(scores)
    ranked = sorted((s for s in scores if s not in seqs), key=lambda s: (-scores[s], events[s]["ts"] or ""))
    start_set = set(seqs)
    down = [events[s] for s in scores if s not in start_set]
    # What the start itself wrote, or the skill it loaded, is the bad artifact: quarantined
    # with what it wrote downstream (a credential it read is rotated instead, below).
    start = [events[s] for s in seqs if s in events]
    made = down + [e for e in start if e["kind"] in ("file.write", "memory.write", "skill.load", "skill.install")]
    files = sorted(
        {
            e["artifact"]
            for e in made
            if e["kind"] in ("file.write", "file.delete", "skill.load", "skill.install") and e["artifact"]
        }
    )
    memory = sorted({e["artifact"] for e in made if e["kind"] == "memory.write" and e["artifact"]})
    sessions = sorted({e["session_id"] for e in events.values() if e["session_id"]})
    creds_events = [
        e for e in down if e["sensitivity"] in _SENSITIVE and e["kind"] in ("file.read", "memory.read", "tool.result")
    ]
    rotate = {e["artifact"] for e in creds_events if e["artifact"]}
    # ... and a credential asked about is rotated itself.
    rotate |= {
        e["artifact"]
        for e in start
        if e["sensitivity"] in _SENSITIVE and e["kind"] in ("file.read", "memory.read") and e["artifact"]
    }
    for s in store.secrets_of(int(e["seq"]) for e in creds_events + [events[x] for x in scores]):
        rotate.add(f"secret://{s['type']}/{s['digest']}")
    egress_dest = sorted({e["artifact"] for e in down if e["kind"] == "net.egress" and e["artifact"]})
    origins = [events[s] for s in seqs if s in events]
    roots = [public_event(e) for e in origins if _is_untrusted_origin(e)]
    return Chain(
        target=target,
        events=[public_event(events[s], score=round(scores[s], 3)) for s in ranked],
        edges=[_edge_out(r, events) for r in raw_edges if r["src"] in events and r["dst"] in events],
        root_causes=roots,
        sensitive_sources=[public_event(e) for e in creds_events],
        containment={
            "files": files,
            "memory": memory,
            "sessions": sessions,
            "credentials": sorted(rotate),
            "egress_destinations": egress_dest,
        },
        truncated=truncated,
    )


_LARGE_PAYLOAD = 65536
"""Bytes above which an egress to a host never seen before is suspicious on its own."""

_FLOW_KINDS = frozenset(
    {EdgeKind.DATA_FLOW.value, EdgeKind.EFFECT.value, EdgeKind.RETURNED.value, EdgeKind.WROTE_READ.value}
)


def sessions(store: Store, *, agent: str | None = None, ids: list[str] | None = None) -> list[dict[str, Any]]:
    """The stored sessions (of one ``agent``, or those of ``ids``) in start order, with their
    times as ISO-8601: agent, start, end, event count, sources, parent and flags."""
    cols, rows = store.sql(
        "SELECT session_id, agent_id, started, ended, events, source, parent_session, flags FROM sessions "
        "WHERE ($agent IS NULL OR agent_id = $agent) AND ($ids IS NULL OR list_contains($ids::VARCHAR[], session_id)) "
        "ORDER BY started",
        {"agent": agent, "ids": ids},
    )
    out = [dict(zip(cols, r)) for r in rows]
    for r in out:
        r["started"], r["ended"] = iso(r["started"]), iso(r["ended"])
    return out


def egress(store: Store, *, session: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
    """Every egress with destination, bytes, the sensitive data it carried and a verdict."""
    where = ["kind = 'net.egress'"]
    params: dict[str, Any] = {}
    if session:
        where.append("session_id = $session")
        params["session"] = session
    if since:
        where.append("ts >= CAST($since AS TIMESTAMP)")
        params["since"] = since
    _, rows = store.sql(f"SELECT seq FROM events WHERE {' AND '.join(where)} ORDER BY ts, seq", params)
    seqs = [int(r[0]) for r in rows]
    egress_events = store.events_by_seq(seqs)
    seen_hosts: set[str] = set()
    out: list[dict[str, Any]] = []
    for s in seqs:
        e = egress_events[s]
        attrs = e.get("attrs") or {}
        scores, edges, _ = _walk(store, {s: 1.0}, direction="back", max_nodes=200, kinds=_FLOW_KINDS)
        reached = _reached_by_data(s, edges)
        anc = store.events_by_seq(reached)
        sightings = store.secrets_of(list(reached) + [s])
        carried: list[dict[str, Any]] = []
        for a in sorted(anc.values(), key=lambda x: x["ts"] or ""):
            secrets = sorted({f"secret://{x['type']}/{x['digest']}" for x in sightings if x["seq"] == a["seq"]})
            if a["sensitivity"] in _SENSITIVE or secrets:
                ev = [_evidence(r["evidence"]) for r in edges if r["src"] == a["seq"] and r["kind"] == "data_flow"]
                carried.append(
                    {
                        "event_id": a["event_id"],
                        "kind": a["kind"],
                        "artifact": a["artifact"],
                        "sensitivity": a["sensitivity"],
                        "secrets": secrets,
                        "evidence": ev[0] if ev else {"via": "tool call output"},
                    }
                )
        own = sorted({f"secret://{x['type']}/{x['digest']}" for x in sightings if x["seq"] == s})
        if own and not any(set(own) <= set(c["secrets"]) for c in carried):
            carried.append(
                {
                    "event_id": e["event_id"],
                    "kind": e["kind"],
                    "artifact": None,
                    "sensitivity": "secret",
                    "secrets": own,
                    "evidence": {"via": "secret in payload"},
                }
            )
        dest = (e["artifact"] or "").removeprefix("host:")
        host = dest.rsplit(":", 1)[0]
        bytes_out = attrs.get(sc.NET_BYTES_OUT) or attrs.get(sc.HTTP_BODY_SIZE) or e.get("content_size")
        encoded = any(
            isinstance(c["evidence"], dict) and c["evidence"].get("encoding") not in (None, "raw") for c in carried
        )
        steered = [a for a in anc.values() if _is_untrusted_origin(a)]
        blocked = attrs.get(sc.POLICY_VERDICT) == "block"
        if blocked:
            # A policy gate stopped the call: the data never left (what it would have carried
            # is still listed).
            verdict = "blocked"
        elif carried:
            verdict = "exfiltration"
        elif steered or (host and host not in seen_hosts and bool(bytes_out and int(bytes_out) > _LARGE_PAYLOAD)):
            # Untrusted content reached the request (its URL, command or body), or a large
            # payload went to a host never seen before.
            verdict = "suspicious"
        else:
            verdict = "ok"
        if not blocked:
            seen_hosts.add(host)
        out.append(
            public_event(
                e,
                destination=dest or None,
                url=attrs.get(sc.URL_FULL),
                bytes_out=int(bytes_out) if bytes_out is not None else None,
                carried=carried,
                encoded=encoded,
                steered_by=[a["event_id"] for a in steered],
                verdict=verdict,
                policy=attrs.get(sc.POLICY_VERDICT),
            )
        )
    return out
