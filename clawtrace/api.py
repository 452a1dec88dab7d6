"""The analyst API: ``clawtrace.open(db)`` returns an Investigation whose answers are DataFrames."""

from __future__ import annotations

from typing import Any

from clawtrace import config
from clawtrace import graph as _graph
from clawtrace import queries as _queries
from clawtrace.store import Store

__all__ = ["Investigation"]


class Investigation:
    """A store opened for analysis (read-only by default)."""

    def __init__(self, path: str | None = None, *, read_only: bool = True) -> None:
        self.path = path or config.default_db_path()
        self.store = Store.open(self.path, read_only=read_only)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Investigation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, sql: str, **params: Any) -> Any:
        """Raw SQL (``$name`` parameters) as a DataFrame."""
        return self.store.df(sql, params or None)

    def events(self, session: str | None = None) -> Any:
        """Events, optionally of one session, in time order."""
        return self.store.df(
            "SELECT * EXCLUDE (row_hash) FROM events WHERE $s IS NULL OR session_id = $s ORDER BY ts, seq",
            {"s": session},
        )

    def edges(self) -> Any:
        """Edges with the event ids of both ends."""
        return self.store.df(
            "SELECT s.event_id AS src, d.event_id AS dst, e.kind, e.confidence, e.evidence "
            "FROM edges e JOIN events s ON s.seq = e.src JOIN events d ON d.seq = e.dst ORDER BY e.edge_seq"
        )

    def why(self, event: str) -> Any:
        """The ranked backward chain of an event."""
        import pandas as pd

        return pd.DataFrame(_graph.why(self.store, event).events)

    def impact(self, target: str) -> Any:
        """Everything downstream of an event or artifact."""
        import pandas as pd

        return pd.DataFrame(_graph.impact(self.store, target).events)

    def egress(self, *, session: str | None = None, since: str | None = None) -> Any:
        """Every egress with destination, bytes, carried data and verdict."""
        import pandas as pd

        return pd.DataFrame(_graph.egress(self.store, session=session, since=since))

    def hunt(self, *names: str, since: str | None = None, session: str | None = None, agent: str | None = None) -> Any:
        """Findings of the detections (all, or those named), most severe first, then by time.

        One row per finding: ``detection``, ``severity``, ``event_id`` (pass it to ``why``),
        ``kind``, ``ts``, ``session_id``, ``agent_id``, ``summary``, ``related`` (event ids)
        and ``references``. ``since`` is ISO-8601 or a duration back from now (``24h``).
        """
        import pandas as pd

        from clawtrace import hunt as _hunt

        found = _hunt.hunt(self.store, names, since=since, session=session, agent=agent)
        cols = ["detection", "severity", "event_id", "kind", "ts", "session_id", "agent_id", "summary", "related"]
        cols.append("references")
        df = pd.DataFrame([{c: getattr(f, c) for c in cols} for f in found], columns=cols)
        df["related"] = df["related"].map(list)
        df["ts"] = pd.to_datetime(df["ts"], utc=True)
        return df

    def named(self, name: str, **params: Any) -> Any:
        """A named query from ``queries/`` as a DataFrame."""
        import pandas as pd

        cols, rows = _queries.run(self.store, name, **params)
        return pd.DataFrame(rows, columns=cols)

    def chain(self, ref: str, *, direction: str = "why") -> dict[str, Any]:
        """The whole ``why`` (or ``impact``) answer as the JSON contract of DESIGN.md section 8.

        ``target``, ranked ``events``, ``edges`` with their evidence, ``root_causes``,
        ``sensitive_sources`` and, for ``impact``, the ``containment`` list (files and memory to
        quarantine, sessions to review, credentials to rotate, destinations reached).
        """
        if direction not in ("why", "impact"):
            raise ValueError(f"direction {direction!r}: use 'why' (what led to it) or 'impact' (what it led to)")
        walk = _graph.why if direction == "why" else _graph.impact
        return walk(self.store, ref).as_dict()

    def graph(self, ref: str, *, format: str = "html", direction: str = "why") -> str:
        """The causal graph of ``ref`` as a self-contained HTML page, Mermaid or DOT text."""
        from clawtrace.report import graphs, html_graph

        if format not in ("html", "mermaid", "dot"):
            raise ValueError(f"graph format {format!r}: use 'html', 'mermaid' or 'dot'")
        c = self.chain(ref, direction=direction)
        if format == "html":
            return html_graph.graph_page(self.store, c)
        return graphs.to_mermaid(c) if format == "mermaid" else graphs.to_dot(c)

    def report(self, ref: str | None = None, *, format: str = "markdown") -> str:
        """The incident report (``clawtrace report``) over the store, one session or one event."""
        from clawtrace.report import incident

        if format not in ("markdown", "html"):
            raise ValueError(f"report format {format!r}: use 'markdown' or 'html'")
        r = incident.build(self.store, ref, db=self.path)
        return incident.to_html(r) if format == "html" else incident.to_markdown(r)

    def verify(self) -> dict[str, Any]:
        """Recompute the tamper-evident hash chain: ``ok``, counts, ``head`` and any ``findings``."""
        from clawtrace.store import verify

        rep = verify(self.store)
        return {
            "ok": rep.ok,
            "batches": rep.batches,
            "events": rep.events,
            "edges": rep.edges,
            "head": rep.head,
            "findings": [f.as_dict() for f in rep.findings],
        }
