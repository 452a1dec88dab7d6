"""The causal graph as one self-contained HTML page, or a fragment of the incident report.

The page loads nothing at view time: the viewer's JavaScript and CSS (``assets/``, written
for clawtrace, no third-party code) are inlined, the chain is embedded as JSON in a
``<script type="application/json">``, and a Content-Security-Policy allows only those
inline scripts (by hash) and no network at all. Event text is attacker-controlled (a
fetched page's title, a command line), so the viewer inserts it with ``textContent`` and the
JSON is escaped so that no ``</script>`` or ``<!--`` in the data can close its element.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from functools import cache
from importlib import resources
from typing import Any

from clawtrace.graph import public_event
from clawtrace.report.render import to_jsonable
from clawtrace.store import Store, iso

__all__ = ["fragment", "graph_data", "graph_page", "node_details", "page", "script_json", "to_html"]

_MAX_ATTR_CHARS = 2000
"""Longer attribute strings are cut in the embedded details (the store keeps them whole)."""


@cache
def _asset(name: str) -> str:
    return (resources.files("clawtrace.report") / "assets" / name).read_text(encoding="utf-8")


def script_json(obj: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<``, ``>``, ``&`` or line separators."""
    text = json.dumps(to_jsonable(obj), ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _cut(v: Any) -> Any:
    if isinstance(v, str) and len(v) > _MAX_ATTR_CHARS:
        return v[:_MAX_ATTR_CHARS] + f"… ({len(v)} chars)"
    if isinstance(v, dict):
        return {k: _cut(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_cut(x) for x in v]
    return v


def node_details(store: Store, event_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What the viewer shows on click beyond the chain's EVENT fields: ids, content hash, attrs, secrets."""
    if not event_ids:
        return {}
    cols, rows = store.sql(
        "SELECT seq, event_id, run_id, trace_id, span_id, tool_call_id, content_sha256, content_size, attrs "
        "FROM events WHERE event_id IN (SELECT unnest($ids::VARCHAR[]))",
        {"ids": sorted(set(event_ids))},
    )
    out: dict[str, dict[str, Any]] = {}
    by_seq: dict[int, str] = {}
    for r in rows:
        d = dict(zip(cols, r))
        attrs = d.pop("attrs")
        if isinstance(attrs, str):
            try:
                attrs = json.loads(attrs)
            except ValueError:
                pass
        by_seq[int(d.pop("seq"))] = d["event_id"]
        eid = d.pop("event_id")
        d["secrets"] = []
        d["attrs"] = _cut(attrs) if attrs else {}
        out[eid] = d
    for s in store.secrets_of(by_seq):
        ref = f"secret://{s['type']}/{s['digest']}"
        lst = out[by_seq[int(s["seq"])]]["secrets"]
        if ref not in lst:
            lst.append(ref)
    return out


def graph_data(
    chain: dict[str, Any], details: dict[str, dict[str, Any]] | None = None, *, title: str | None = None
) -> dict[str, Any]:
    """The viewer's input: nodes (EVENT + flags + details) and edges of a ``why``/``impact`` chain."""
    details = details or {}
    roots = {e["event_id"] for e in chain["root_causes"]}
    sens = {e["event_id"]: e for e in chain["sensitive_sources"]}
    target = chain["target"]
    nodes: list[dict[str, Any]] = []
    seen: set[str] = set()
    for e in ([target] if "event_id" in target else []) + list(chain["events"]):
        if e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        eid = e["event_id"]
        node = public_event({"ts": None, **e}, score=e.get("score"))
        node["id"] = node.pop("event_id")
        nodes.append(
            {
                **node,
                "root": eid in roots,
                "sensitive": eid in sens,
                "carried": bool(sens.get(eid, {}).get("carried")),
                "target": eid == target.get("event_id") or bool(e.get("origin")),
                "details": details.get(eid, {}),
            }
        )
    if title is None:
        if "event_id" in target:
            title = f"Why {target['kind']} {target['event_id'][:12]}: {target.get('summary') or ''}"
        else:
            title = f"Impact of {target.get('artifact')}"
    return {
        "title": title,
        "target": target.get("event_id"),
        "nodes": nodes,
        "edges": [
            {
                "src": ed["src"],
                "dst": ed["dst"],
                "kind": ed["kind"],
                "confidence": ed.get("confidence"),
                "evidence": ed.get("evidence"),
            }
            for ed in chain["edges"]
            if ed["src"] in seen and ed["dst"] in seen
        ],
        "truncated": bool(chain.get("truncated")),
        "direction": "impact" if "containment" in chain else "why",
    }


def fragment(data: dict[str, Any], dom_id: str = "ct-graph-1") -> str:
    """The graph's container and its data; :func:`page` around it brings the CSS and the viewer."""
    return (
        f'<div class="ct-graph" data-graph="{dom_id}-data" id="{dom_id}">'
        '<noscript><p class="ct-noscript">The graph needs JavaScript. Without it: '
        "<code>clawtrace graph EVENT --format dot</code>.</p></noscript></div>\n"
        f'<script type="application/json" id="{dom_id}-data">{script_json(data)}</script>\n'
    )


def _hash(js: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode() + "'"


def page(title: str, body: str, *, extra_css: str = "", body_class: str = "") -> str:
    """A complete HTML document with the viewer inlined and a CSP that forbids any network load."""
    js = _asset("graph.js")
    csp = f"default-src 'none'; script-src {_hash(js)}; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="clawtrace">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>\n{_asset('graph.css')}{extra_css}</style>\n"
        f"</head>\n<body{f' class={chr(34)}{body_class}{chr(34)}' if body_class else ''}>\n"
        f"{body}"
        f"<script>{js}</script>\n"
        "</body>\n</html>\n"
    )


def to_html(
    chain: dict[str, Any], details: dict[str, dict[str, Any]] | None = None, *, title: str | None = None
) -> str:
    """A full page showing one chain."""
    data = graph_data(chain, details, title=title)
    return page("clawtrace: " + data["title"], fragment(data), body_class="ct-page")


def _origins(store: Store, chain: dict[str, Any]) -> list[dict[str, Any]]:
    """The events an artifact's ``impact`` starts from: edge ends that are not among its events."""
    known = {e["event_id"] for e in chain["events"]}
    missing = sorted({x for ed in chain["edges"] for x in (ed["src"], ed["dst"])} - known)
    if not missing:
        return []
    cols, rows = store.sql(
        "SELECT event_id, kind, ts, session_id, agent_id, tool_name, artifact, trust, sensitivity, source, summary "
        "FROM events WHERE event_id IN (SELECT unnest($ids::VARCHAR[])) ORDER BY ts",
        {"ids": missing},
    )
    return [dict(zip(cols, r), ts=iso(r[2]), origin=True) for r in rows]


def graph_page(store: Store, chain: dict[str, Any], *, title: str | None = None) -> str:
    """:func:`to_html` with each event's details (attributes, ids, secrets by digest) read from the store.

    For the impact of an artifact, the events that touch it (where the traversal starts) are
    drawn too, marked as origins.
    """
    if "event_id" not in chain["target"]:
        chain = {**chain, "events": _origins(store, chain) + list(chain["events"])}
    ids = [e["event_id"] for e in chain["events"]]
    if "event_id" in chain["target"]:
        ids.append(chain["target"]["event_id"])
    return to_html(chain, node_details(store, ids), title=title)
