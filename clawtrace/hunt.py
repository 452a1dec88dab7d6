"""Hunting: run the detections of ``queries/`` and rank what they find.

A detection is a named query whose header says ``-- kind: detection`` and gives a
``severity`` (critical, high, medium, low, info) and ``references`` (MITRE ATT&CK / ATLAS,
OWASP LLM Top 10 ids). Every detection takes the ``since``, ``session`` and ``agent``
parameters (filters on the finding's key event) and returns the columns of
``FINDING_COLUMNS``: the key event (the one to run ``clawtrace why`` / ``clawtrace graph``
on), a one-line summary and ``related``, the ids of the other events that make the finding.

Findings are ranked by severity, then time, then detection name. ``docs/detections.md`` is
generated from the headers (``python -m clawtrace.hunt > docs/detections.md``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

from clawtrace import queries
from clawtrace.errors import ClawtraceError, NotFoundError, QueryError
from clawtrace.queries import NamedQuery
from clawtrace.store import Store, iso

__all__ = [
    "FILTER_PARAMS",
    "FINDING_COLUMNS",
    "SEVERITIES",
    "BadFilterError",
    "Finding",
    "UnknownDetectionError",
    "detections",
    "hunt",
    "parse_since",
    "render_markdown",
    "run_detection",
    "select",
]

SEVERITIES = ("critical", "high", "medium", "low", "info")
"""Severities from the most to the least urgent; findings are ranked in this order."""

FINDING_COLUMNS = ("event_id", "kind", "ts", "session_id", "agent_id", "summary", "related")
"""Columns every detection returns (more are allowed and ignored by ``hunt``)."""

FILTER_PARAMS = ("since", "session", "agent")
"""Parameters every detection takes: filters on the key event of a finding."""

_RANK = {s: i for i, s in enumerate(SEVERITIES)}


class UnknownDetectionError(NotFoundError):
    """A detection name that is not in ``queries/``."""


class BadFilterError(ClawtraceError):
    """A hunt filter (``--since``) that cannot be understood."""


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One finding: which detection, how severe, the key event and the related events."""

    detection: str
    severity: str
    event_id: str
    kind: str
    ts: dt.datetime | None
    session_id: str | None
    agent_id: str | None
    summary: str
    related: tuple[str, ...]
    references: str | None

    def as_dict(self) -> dict[str, Any]:
        """The JSON row of ``clawtrace hunt --format json`` (``ts`` in ISO-8601 UTC)."""
        return {
            "detection": self.detection,
            "severity": self.severity,
            "event_id": self.event_id,
            "kind": self.kind,
            "ts": iso(self.ts),
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "summary": self.summary,
            "related": list(self.related),
            "references": self.references,
        }

    def sort_key(self) -> tuple[int, dt.datetime, str, str]:
        """Severity first (critical first), then time, then detection and event id."""
        return (_RANK.get(self.severity, len(SEVERITIES)), self.ts or dt.datetime.min, self.detection, self.event_id)


def detections() -> dict[str, NamedQuery]:
    """Every detection of ``queries/``, by name, most severe first."""
    found = [q for q in queries.load_all().values() if q.is_detection]
    found.sort(key=lambda q: (_RANK.get(q.severity or "", len(SEVERITIES)), q.name))
    return {q.name: q for q in found}


def select(names: Iterable[str] = ()) -> list[NamedQuery]:
    """The detections called ``names`` (all of them when empty), in ``detections()`` order."""
    known = detections()
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return list(known.values())
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise UnknownDetectionError(
            f"no detection {', '.join(repr(n) for n in unknown)}; the detections are: {', '.join(known)} "
            f"(list them: clawtrace hunt --list)"
        )
    return [known[n] for n in known if n in wanted]


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, *, now: dt.datetime | None = None) -> str:
    """``--since`` as the UTC timestamp text the detections compare with.

    Accepts ISO-8601 (``2026-01-31``, ``2026-01-31T12:00:00Z``, with any UTC offset) or a
    duration back from ``now`` (``90m``, ``24h``, ``7d``, ``2w``).
    """
    m = _RELATIVE.match(text)
    if m:
        now = now or dt.datetime.now(dt.UTC)
        when = now - dt.timedelta(seconds=float(m.group(1)) * _UNIT_S[m.group(2).lower()])
    else:
        raw = text.strip()
        try:
            when = dt.datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw)
        except ValueError:
            raise BadFilterError(
                f"--since {text!r} is neither an ISO-8601 time (2026-01-31, 2026-01-31T12:00:00Z) "
                f"nor a duration back from now (90m, 24h, 7d, 2w); try: clawtrace hunt --since 24h"
            ) from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when.isoformat(sep=" ")


def _check_shape(q: NamedQuery, cols: Sequence[str]) -> None:
    missing = [c for c in FINDING_COLUMNS if c not in cols]
    if missing:
        raise QueryError(
            f"detection {q.name} ({q.path}) returns no {', '.join(missing)}; a detection returns "
            f"{', '.join(FINDING_COLUMNS)}"
        )


def run_detection(
    store: Store,
    q: NamedQuery,
    *,
    since: str | None = None,
    session: str | None = None,
    agent: str | None = None,
) -> list[Finding]:
    """Run one detection; ``since`` is a ``parse_since`` result (or None)."""
    params: dict[str, Any] = {p: None for p in q.params}
    for name, value in (("since", since), ("session", session), ("agent", agent)):
        if name not in params:
            raise QueryError(
                f"detection {q.name} ({q.path}) takes no {name} parameter; every detection takes {', '.join(FILTER_PARAMS)}"
            )
        params[name] = value
    try:
        cols, rows = store.sql(q.sql, params)
    except QueryError as e:
        raise QueryError(f"detection {q.name}: {e}") from e
    _check_shape(q, cols)
    ix = {c: cols.index(c) for c in FINDING_COLUMNS}
    severity = q.severity or "info"
    out: list[Finding] = []
    for r in rows:
        related = r[ix["related"]] or []
        out.append(
            Finding(
                detection=q.name,
                severity=severity,
                event_id=r[ix["event_id"]],
                kind=r[ix["kind"]],
                ts=r[ix["ts"]],
                session_id=r[ix["session_id"]],
                agent_id=r[ix["agent_id"]],
                summary=r[ix["summary"]] or "",
                related=tuple(x for x in dict.fromkeys(related) if x and x != r[ix["event_id"]]),
                references=q.references,
            )
        )
    return out


def hunt(
    store: Store,
    names: Iterable[str] = (),
    *,
    since: str | None = None,
    session: str | None = None,
    agent: str | None = None,
    timings: dict[str, float] | None = None,
) -> list[Finding]:
    """Run detections (all when ``names`` is empty) and return their findings, ranked.

    ``since`` is ISO-8601 or a duration back from now (see ``parse_since``). When
    ``timings`` is given, it receives each detection's wall time in seconds.
    """
    chosen = select(names)
    cutoff = parse_since(since) if since else None
    found: list[Finding] = []
    for q in chosen:
        t0 = time.perf_counter()
        found.extend(run_detection(store, q, since=cutoff, session=session, agent=agent))
        if timings is not None:
            timings[q.name] = time.perf_counter() - t0
    found.sort(key=Finding.sort_key)
    return found


def render_markdown() -> str:
    """The text of ``docs/detections.md``, generated from the detections' headers."""
    out = [
        "# clawtrace detections",
        "",
        "Generated from the headers of `queries/*.sql` by `python -m clawtrace.hunt > docs/detections.md`;",
        "a test fails when this page and the queries disagree. `clawtrace hunt` runs them all (or the",
        "ones named), ranks the findings by severity then time, and prints the key event of each",
        "finding for `clawtrace why EVENT` and `clawtrace graph EVENT`. Every detection takes the",
        "`since`, `session` and `agent` filters and returns",
        f"{', '.join(f'`{c}`' for c in FINDING_COLUMNS)}; run one with its other parameters through",
        "`clawtrace query NAME -p PARAM=VALUE`.",
        "",
        "| detection | severity | parameters | references |",
        "|---|---|---|---|",
    ]
    ds = detections()
    for q in ds.values():
        extra = [p for p in q.params if p not in FILTER_PARAMS]
        out.append(
            f"| [`{q.name}`](#{q.name}) | {q.severity} | {', '.join(f'`{p}`' for p in extra) or '-'} | {q.references or '-'} |"
        )
    for q in ds.values():
        out += ["", f"## {q.name}", "", f"**{q.severity}**. {q.description}", ""]
        if q.references:
            out.append(f"References: {q.references}.")
            out.append("")
        out.append(f"Source: `queries/{q.path.replace(chr(92), '/').rsplit('/', 1)[-1]}`")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
