"""Render rows as table, json, jsonl or csv; and chains for humans."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
from collections.abc import Sequence
from typing import Any, Final, TextIO

__all__ = ["FORMATS", "write_rows", "write_json", "chain_text", "to_jsonable", "terminal_width", "fit_line"]

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


_ISO_TS: Final = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d(?:\.\d{1,3})?)\d*Z")


def _cell(v: Any, width: int, compact: bool = False) -> str:
    """One table cell; ``compact`` (a terminal) shows times as ``2026-11-26 08:04:19.389``."""
    if v is None:
        return ""
    if compact and isinstance(v, (str, dt.datetime)):
        text = to_jsonable(v)
        m = _ISO_TS.fullmatch(text) if isinstance(text, str) else None
        if m:
            return f"{m.group(1)} {m.group(2)}"
    if isinstance(v, list) and all(isinstance(x, (str, int, float)) for x in v):
        s = ", ".join(str(x) for x in v)
    elif isinstance(v, (list, dict)):
        s = json.dumps(to_jsonable(v), ensure_ascii=False)
    else:
        s = str(to_jsonable(v))
    s = " ".join(s.split())
    return s if len(s) <= width else s[: width - 1] + "…"


def _id_column(name: str) -> bool:
    """Columns holding event ids: shortened without an ellipsis, as a prefix is still an id
    the commands accept (``clawtrace why 3fa9c01d``)."""
    return name in ("event_id", "id", "src", "dst")


_PROSE: Final = frozenset({"summary", "carried", "flags", "artifact", "url", "detail", "sources", "note"})
"""Columns of free text: the first to give way when a table is wider than the terminal."""
_PATHS: Final = frozenset({"carried", "artifact", "url", "sources"})
"""Free text made of paths and URLs: clipped in the middle, as the file name is at the end."""
_TIMES: Final = frozenset({"ts", "time", "started", "ended", "first_seen", "last_seen", "at"})


def _column_class(name: str) -> tuple[int, int, str]:
    """(order in which it gives way, narrowest width, how it is clipped: ``end`` with an
    ellipsis, ``prefix`` without one, ``middle`` keeping both ends)."""
    if _id_column(name):
        return 0, 12, "prefix"  # 12 hex digits are as good a reference as 24
    if name in _TIMES:
        return 1, 19, "prefix"  # 2026-11-26 08:04:19: the date and the second
    if name in _PROSE:
        return 2, 16, "middle" if name in _PATHS else "end"
    return 3, max(min(len(name), 12), 6), "middle"  # session-3f2a…-next-day keeps its tail


def _fit_widths(cols: Sequence[str], widths: list[int], width: int, give_way: Sequence[int] = ()) -> dict[int, int]:
    """The columns to show and their widths (index -> width), fitting ``width`` with two
    spaces between columns. Event ids give way first, then times (from milliseconds
    straight to the second: ``10:37:07.30`` helps nobody), then free text, each down to its
    narrowest (``_column_class``), the widest column of a class a character at a time (free
    text named in ``give_way`` before the rest). If
    that is not enough, columns are hidden: those of ``give_way`` (indices) in order, then
    free-text columns, rightmost first; only then does the rest give way."""
    classes = [_column_class(c) for c in cols]
    # Free text the command lets go first also narrows first.
    rank_of = [c[0] + (0.5 if c[0] == 2 and i not in give_way else 0) for i, c in enumerate(classes)]

    def attempt(shown: list[int], ranks: tuple[float, ...]) -> tuple[dict[int, int], int]:
        out = {i: widths[i] for i in shown}
        excess = sum(out.values()) + 2 * (len(out) - 1) - width
        for rank in ranks:
            members = [i for i in shown if rank_of[i] == rank]
            while members and excess > 0:
                k = max(members, key=lambda i: out[i] - classes[i][1])
                if out[k] <= classes[k][1]:
                    break
                step = out[k] - classes[k][1] if rank == 1 else 1
                out[k] -= step
                excess -= step
        return out, excess

    shown = list(range(len(cols)))
    out, excess = attempt(shown, (0, 1, 2, 2.5))
    prose = [i for i in reversed(range(len(cols))) if classes[i][0] == 2]
    for i in [*give_way, *prose]:
        if excess <= 0:
            break
        if i in shown:
            shown.remove(i)
            out, excess = attempt(shown, (0, 1, 2, 2.5))
    if excess > 0:
        out, _ = attempt(shown, (0, 1, 2, 2.5, 3))
    return out


def _clip(cell: str, width: int, how: str) -> str:
    if len(cell) <= width:
        return cell
    if how == "prefix":
        return cell[:width].rstrip(".")
    if how == "middle" and width >= 7:
        head = (width - 1) // 2
        return cell[:head] + "…" + cell[len(cell) - (width - 1 - head) :]
    return cell[: width - 1] + "…"


def write_rows(
    rows: Sequence[dict[str, Any]],
    fmt: str,
    out: TextIO,
    columns: Sequence[str] | None = None,
    *,
    max_width: int = 60,
    width: int | None = None,
    give_way: Sequence[str] = (),
) -> None:
    """Write rows (dicts) to ``out`` in one of FORMATS. A table with ``width`` (a terminal's)
    fits it (``_fit_widths``) and shows times as ``2026-11-26 08:04:19.389``; columns that
    had to be hidden are named under it. When columns must be hidden to fit, those left
    empty in every row go first, then those of ``give_way`` in order (what the command's
    reader needs least), then free text."""
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
        cells = [[_cell(r.get(c), max_width, width is not None) for c in cols] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
        hidden: list[str] = []
        if width is not None:
            empty = [i for i, c in enumerate(cols) if not any(row[i] for row in cells)]
            order = [*empty, *(cols.index(c) for c in give_way if c in cols)]
            fitted = _fit_widths(cols, widths, width, list(dict.fromkeys(order)))
            keep = sorted(fitted)
            hidden = [c for i, c in enumerate(cols) if i not in fitted]
            how = [_column_class(c)[2] for c in cols]
            cells = [[_clip(row[i], fitted[i], how[i]) for i in keep] for row in cells]
            cols = [_clip(cols[i], fitted[i], "end") for i in keep]
            widths = [fitted[i] for i in keep]
        buf = io.StringIO()
        buf.write("  ".join(c.ljust(widths[i]) for i, c in enumerate(cols)).rstrip() + "\n")
        buf.write("  ".join("─" * widths[i] for i in range(len(cols))) + "\n")
        for row in cells:
            buf.write("  ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip() + "\n")
        if hidden:
            note = f"({', '.join(hidden)} hidden to fit the terminal: widen it, or --format json)"
            buf.write(fit_line(note, width) + "\n")
        out.write(buf.getvalue())


def fit_line(line: str, width: int | None) -> str:
    """``line`` clipped with an ellipsis to ``width`` columns (None: left whole)."""
    return line if width is None or len(line) <= width else line[: width - 1] + "…"


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

    def line(e: dict[str, Any], used: int, extra: tuple[str, ...] = ()) -> str:
        return _ev(e, None if width is None else width - used, extra)

    lines: list[str] = []
    t = chain["target"]
    if "event_id" in t:
        lead = "Impact of " if forward else "Why "
        lines.append(lead + line(t, len(lead)))
    else:
        lines.append(f"Impact of artifact {t.get('artifact')} ({t.get('events')} events touch it)")
    if chain["root_causes"]:
        lines.append("")
        lines.append("Probable root causes:" if not forward else "Untrusted origins:")
        lines += ["  " + line(e, 2) for e in chain["root_causes"]]
    if chain["sensitive_sources"]:
        lines.append("")
        carried = any(e.get("carried") for e in chain["sensitive_sources"])
        lines.append(
            ("Sensitive sources" if not forward else "Sensitive data read downstream")
            + (" (CARRIED: its content reached the target):" if carried else ":")
        )
        for e in chain["sensitive_sources"]:
            lines.append("  " + line(e, 2, ("CARRIED",) if e.get("carried") else ()))
    by_dst: dict[str, list[dict[str, Any]]] = {}
    for ed in chain["edges"]:
        by_dst.setdefault(ed["src"] if forward else ed["dst"], []).append(ed)
    lines.append("")
    lines.append(f"Chain ({len(chain['events'])} events, ranked; evidence edges before context):")
    for e in chain["events"][:limit]:
        lines.append(f"  {e.get('score', 0):.2f}  " + line(e, 8))
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
        lines = [fit_line(ln, width) for ln in lines]
    return "\n".join(lines) + "\n"
