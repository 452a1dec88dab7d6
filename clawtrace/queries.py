"""Named queries: one ``.sql`` file per query in ``queries/``, with a header.

Header lines at the top of the file, ``-- key: value``: ``name``, ``description``,
``kind`` (``view``, the default, or ``detection``), ``severity`` (detections: critical,
high, medium, low or info), ``params`` (comma separated), ``references``. Values are bound
as ``$name``; never formatted into the SQL. Detections are what ``clawtrace hunt`` runs
(``clawtrace.hunt``); every one returns the finding columns listed there.
"""

from __future__ import annotations

import dataclasses
import re
from importlib import resources
from pathlib import Path
from typing import Any

from clawtrace.errors import NotFoundError, QueryError
from clawtrace.store import Store

__all__ = ["NamedQuery", "get", "load_all", "queries_dir", "run"]

_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*)$")
_PARAM = re.compile(r"(?<![:$\w])\$([A-Za-z_]\w*)")


@dataclasses.dataclass(frozen=True, slots=True)
class NamedQuery:
    """A query loaded from ``queries/NAME.sql``."""

    name: str
    description: str
    sql: str
    params: tuple[str, ...]
    severity: str | None
    references: str | None
    path: str
    kind: str = "view"
    """``view`` (a listing) or ``detection`` (run by ``clawtrace hunt``)."""

    @property
    def is_detection(self) -> bool:
        """True for a detection (header ``-- kind: detection``)."""
        return self.kind == "detection"

    def used_params(self) -> set[str]:
        """The ``$names`` the SQL actually uses (outside string literals)."""
        body = re.sub(r"'(?:[^']|'')*'", "''", self.sql)
        body = re.sub(r"--[^\n]*", "", body)
        return set(_PARAM.findall(body))


def queries_dir() -> Path:
    """Where the shipped queries live: inside the wheel, or ``queries/`` of a source checkout."""
    shipped = Path(str(resources.files("clawtrace"))) / "_queries"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parent.parent / "queries"


def _parse(path: Path) -> NamedQuery:
    meta: dict[str, str] = {}
    body: list[str] = []
    in_header = True
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _HEADER.match(line) if in_header else None
        if m:
            meta[m.group(1)] = m.group(2).strip()
            continue
        if in_header and line.startswith("--"):
            continue
        in_header = False
        body.append(line)
    name = meta.get("name", path.stem)
    params = tuple(p.strip() for p in meta.get("params", "").split(",") if p.strip())
    return NamedQuery(
        name=name,
        description=meta.get("description", ""),
        sql="\n".join(body).strip().rstrip(";"),
        params=params,
        severity=meta.get("severity"),
        references=meta.get("references"),
        path=str(path),
        kind=meta.get("kind", "view"),
    )


def load_all() -> dict[str, NamedQuery]:
    """Every named query, by name."""
    out: dict[str, NamedQuery] = {}
    d = queries_dir()
    for p in sorted(d.glob("*.sql")) if d.is_dir() else []:
        q = _parse(p)
        out[q.name] = q
    return out


def get(name: str) -> NamedQuery:
    """One named query; NotFoundError lists what exists."""
    qs = load_all()
    if name not in qs:
        raise NotFoundError(f"no named query {name!r}; list them: clawtrace query --list")
    return qs[name]


def run(store: Store, name: str, **params: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run a named query with its parameters (missing ones are bound to NULL)."""
    q = get(name)
    unknown = set(params) - set(q.params)
    if unknown:
        raise QueryError(
            f"query {name} takes no parameter {', '.join(sorted(unknown))}; it takes: {', '.join(q.params) or 'none'}"
        )
    bound = {p: params.get(p) for p in q.params}
    return store.sql(q.sql, bound if bound else None)
