"""Render rows as table, json, jsonl or csv; and chains for humans."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["FORMATS", "write_rows", "write_json", "chain_text", "to_jsonable", "terminal_width"]

FORMATS = ("table", "json", "jsonl", "csv")


def to_jsonable(v: Any) -> Any:
    """Make DuckDB values (timestamps, decimals, UUIDs) JSON-ready."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.timezone.utc)
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: to_jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_jsonable(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


def write_json(obj: Any, out: TextIO) -> None:
    """Pretty JSON with a trailing newline."""
    out.write(json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False) + "\n")


def _cell(v: Any, width: int) -> str:
    if v is None:
        return ""
    if isinstance(v, list) and all(isinstance(x, (str, int, float)) for x in v):
        s = ", ".join(str(x) for x in v)
    elif isinstance(v, (list, dict)):
        s = json.dumps(to_jsonable(v), ensure_ascii=False)
    else:
        s = str(to_jsonable(v))
    s = " ".join(s.split())
    return s if len(s) <= width else s[: width - 1] + "…"


def write_rows(
    rows: Sequence[dict[str, Any]], fmt: str, out: TextIO, columns: Sequence[str] | None = None, *, max_width: int = 60
) -> None:
    """Write rows (dicts) to ``out`` in one of FORMATS."""
    cols = list(columns) if columns else (list(rows[0].keys()) if rows else [])
    if fmt == "json":
        write_json([{c: r.get(c) for c in cols} if columns else r for r in rows], out)
    elif fmt == "jsonl":
        for r in rows:
            out.write(json.dumps(to_jsonable({c: r.get(c) for c in cols} if columns else r), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow(
                [
                    ""
                    if r.get(c) is None
                    else (
                        json.dumps(to_jsonable(r.get(c)))
                        if isinstance(r.get(c), (list, dict))
                        else to_jsonable(r.get(c))
                    )
                    for c in cols
                ]
            )
    else:
        if not rows:
            out.write("(no rows)\n")
            return
        cells = [[_cell(r.get(c), max_width) for c in cols] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
        buf = io.StringIO()
        buf.write("  ".join(c.ljust(widths[i]) for i, c in enumerate(cols)).rstrip() + "\n")
        buf.write("  ".join("─" * widths[i] for i in range(len(cols))) + "\n")
        for row in cells:
            buf.write("  ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip() + "\n")
        out.write(buf.getvalue())


def terminal_width(out: TextIO) -> int | None:
    """The width to fit lines to: the terminal's when ``out`` is one, else None (no clipping:
    a pipe or a file gets whole lines)."""
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size().columns if tty else None


def _ev(e: dict[str, Any], room: int | None = None, extra: tuple[str, ...] = ()) -> str:
    """One event on one line: id, time, kind, summary, flags (then ``extra`` flags). With
    ``room`` (the characters left on the line), the summary is clipped so the line fits and
    the flags stay visible; on a narrow terminal the time loses its date first."""
    short = e["event_id"][:10]
    ts = (e.get("ts") or "")[:23].replace("T", " ")
    flags = []
    if e.get("trust") == "untrusted":
        flags.append("UNTRUSTED")
    if e.get("sensitivity") not in (None, "none"):
        flags.append(str(e["sensitivity"]).upper())
    flags += extra
    f = f" [{', '.join(flags)}]" if flags else ""
    summary = e.get("summary") or ""
    head = f"{short}  {ts}  {e['kind']:<14} "
    if room is not None:
        if room - len(head) - len(f) < 16 and len(ts) > 11:
            head = f"{short}  {ts[11:]}  {e['kind']:<14} "
        fit = max(room - len(head) - len(f), 12)
        if len(summary) > fit:
            summary = summary[: fit - 1] + "…"
    return f"{head}{summary}{f}"


def chain_text(chain: dict[str, Any], *, limit: int = 25, forward: bool = False, width: int | None = None) -> str:
    """A readable rendering of a ``why``/``impact`` result; with ``width``, every event line
    fits in that many columns (summaries clipped, flags kept)."""

    def ev(e: dict[str, Any], used: int, extra: tuple[str, ...] = ()) -> str:
        return _ev(e, None if width is None else width - used, extra)

    lines: list[str] = []
    t = chain["target"]
    if "event_id" in t:
        lead = "Impact of " if forward else "Why "
        lines.append(lead + ev(t, len(lead)))
    else:
        lines.append(f"Impact of artifact {t.get('artifact')} ({t.get('events')} events touch it)")
    if chain["root_causes"]:
        lines.append("")
        lines.append("Probable root causes:" if not forward else "Untrusted origins:")
        lines += ["  " + ev(e, 2) for e in chain["root_causes"]]
    if chain["sensitive_sources"]:
        lines.append("")
        carried = any(e.get("carried") for e in chain["sensitive_sources"])
        lines.append(
            ("Sensitive sources" if not forward else "Sensitive data read downstream")
            + (" (CARRIED: its content reached the target):" if carried else ":")
        )
        for e in chain["sensitive_sources"]:
            lines.append("  " + ev(e, 2, ("CARRIED",) if e.get("carried") else ()))
    by_dst: dict[str, list[dict[str, Any]]] = {}
    for ed in chain["edges"]:
        by_dst.setdefault(ed["src"] if forward else ed["dst"], []).append(ed)
    lines.append("")
    lines.append(f"Chain ({len(chain['events'])} events, ranked; evidence edges before context):")
    for e in chain["events"][:limit]:
        lines.append(f"  {e.get('score', 0):.2f}  " + ev(e, 8))
    if len(chain["events"]) > limit:
        lines.append(f"  ... {len(chain['events']) - limit} more (use --format json for all)")
    flows = [
        ed
        for ed in chain["edges"]
        if ed["kind"] == "data_flow" and isinstance(ed.get("evidence"), dict) and "matched_bytes" in ed["evidence"]
    ]
    if flows:
        lines.append("")
        lines.append("Data-flow evidence:")
        for ed in flows[:10]:
            ev = ed["evidence"]
            lines.append(
                f"  {ed['src'][:10]} -> {ed['dst'][:10]}  ~{ev.get('matched_bytes')} B {ev.get('encoding', 'raw')}"
                f"  ({ev.get('from')} -> {ev.get('to')})"
            )
    c = chain.get("containment")
    if c:
        lines.append("")
        lines.append("Containment:")
        for k, label in (
            ("files", "files to quarantine"),
            ("memory", "memory to quarantine"),
            ("sessions", "sessions to review"),
            ("credentials", "credentials to rotate"),
            ("egress_destinations", "destinations data reached"),
        ):
            vals = c.get(k) or []
            lines.append(f"  {label}: {len(vals)}")
            lines += [f"    {v}" for v in vals[:20]]
    if width is not None:  # whatever is still too long (a long path to quarantine) is clipped too
        lines = [ln if len(ln) <= width else ln[: width - 1] + "…" for ln in lines]
    return "\n".join(lines) + "\n"
