"""The causal graph of a chain as Graphviz DOT or Mermaid text."""

from __future__ import annotations

from typing import Any

__all__ = ["to_dot", "to_mermaid"]

_SHAPE = {
    "model.turn": "ellipse",
    "tool.call": "box",
    "tool.result": "note",
    "net.egress": "hexagon",
    "net.fetch": "invhouse",
    "input.message": "cds",
}


def _label(e: dict[str, Any]) -> str:
    s = (e.get("summary") or e["kind"]).replace('"', "'")
    if len(s) > 60:
        s = s[:59] + "…"
    return f"{e['kind']}\\n{s}"


def _nodes(chain: dict[str, Any]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = [chain["target"]] if "event_id" in chain["target"] else []
    events: list[dict[str, Any]] = chain["events"]
    return nodes + events


def to_dot(chain: dict[str, Any]) -> str:
    """Graphviz DOT: root causes red, sensitive sources orange, the target bold."""
    roots = {e["event_id"] for e in chain["root_causes"]}
    sens = {e["event_id"] for e in chain["sensitive_sources"]}
    target = chain["target"].get("event_id")
    out = ["digraph clawtrace {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for e in _nodes(chain):
        attrs = [f'label="{_label(e)}"', f"shape={_SHAPE.get(e['kind'], 'box')}"]
        if e["event_id"] in roots:
            attrs.append('color=red, style=filled, fillcolor="#ffd6d6"')
        elif e["event_id"] in sens:
            attrs.append('color=orange, style=filled, fillcolor="#ffe8c2"')
        if e["event_id"] == target:
            attrs.append("penwidth=3")
        out.append(f'  "{e["event_id"]}" [{", ".join(attrs)}];')
    for ed in chain["edges"]:
        style = "dashed" if ed["kind"] == "consumed" else "solid"
        out.append(f'  "{ed["src"]}" -> "{ed["dst"]}" [label="{ed["kind"]}", style={style}];')
    out.append("}")
    return "\n".join(out) + "\n"


def to_mermaid(chain: dict[str, Any]) -> str:
    """Mermaid flowchart text."""
    roots = {e["event_id"] for e in chain["root_causes"]}
    sens = {e["event_id"] for e in chain["sensitive_sources"]}
    out = ["flowchart LR"]
    for e in _nodes(chain):
        label = _label(e).replace("\\n", "<br/>").replace('"', "'")
        out.append(f'  n{e["event_id"]}["{label}"]')
        if e["event_id"] in roots:
            out.append(f"  class n{e['event_id']} root")
        elif e["event_id"] in sens:
            out.append(f"  class n{e['event_id']} sensitive")
    for ed in chain["edges"]:
        arrow = "-.->" if ed["kind"] == "consumed" else "-->"
        out.append(f"  n{ed['src']} {arrow}|{ed['kind']}| n{ed['dst']}")
    out.append("  classDef root fill:#ffd6d6,stroke:#c00")
    out.append("  classDef sensitive fill:#ffe8c2,stroke:#e80")
    return "\n".join(out) + "\n"
