"""``verify``: recompute the ingest_log hash chain and name what was changed afterwards."""

from __future__ import annotations

import dataclasses
from typing import Any

import duckdb

from clawtrace.store._ingest import EDGE_HASH_SQL, EVENT_HASH_SQL, GENESIS, batch_digest, chain_next
from clawtrace.store._store import Store, _wrap

__all__ = ["Finding", "VerifyReport", "verify"]


@dataclasses.dataclass(slots=True)
class Finding:
    """One tampering finding: what, which batch, which row."""

    problem: str
    """``edited`` | ``inserted`` | ``deleted`` | ``log-edited`` | ``chain-broken``."""
    table: str
    batch_id: int | None
    ref: str
    """The event id, edge ``src->dst kind`` or seq that is affected."""
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(slots=True)
class VerifyReport:
    """The result of ``verify``: ok when no findings."""

    batches: int
    events: int
    edges: int
    head: str
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """True when the store matches its hash chain."""
        return not self.findings


def verify(store: Store) -> VerifyReport:
    """Recompute row hashes, batch digests and the chain; report every discrepancy."""
    try:
        return _verify(store.con)
    except duckdb.Error as e:
        raise _wrap(store.path, e) from e


def _verify(con: duckdb.DuckDBPyConnection) -> VerifyReport:
    findings: list[Finding] = []
    log = con.execute(
        "SELECT batch_id, event_lo, event_hi, edge_lo, edge_hi, digest, prev_chain, chain FROM ingest_log ORDER BY batch_id"
    ).fetchall()
    prev = GENESIS
    for b, _lo, _hi, _elo, _ehi, digest, prev_chain, chain in log:
        if prev_chain != prev or chain != chain_next(prev_chain, digest):
            findings.append(
                Finding(
                    "chain-broken",
                    "ingest_log",
                    b,
                    f"batch {b}",
                    "the ingest_log row was edited, or a batch before it was removed",
                )
            )
        prev = chain
    # Rows edited in place: the stored row hash no longer matches the row.
    for table, key, expr, ref in (
        ("events", "seq", EVENT_HASH_SQL, "event_id"),
        ("edges", "edge_seq", EDGE_HASH_SQL, "src::VARCHAR || '->' || dst::VARCHAR || ' ' || kind"),
    ):
        for b, r, k in con.execute(
            f"SELECT batch_id, {ref}, {key} FROM {table} WHERE row_hash <> {expr} ORDER BY {key}"
        ).fetchall():
            findings.append(Finding("edited", table, b, str(r), f"{table[:-1]} #{k} no longer matches its hash"))
    # Rows inserted or deleted: compare each batch's seq range with what is there (in SQL,
    # so a 10 M-event store is checked without pulling rows into Python).
    for table, key, ref, lo_c, hi_c in (
        ("events", "seq", "t.event_id", "event_lo", "event_hi"),
        ("edges", "edge_seq", "t.src::VARCHAR || '->' || t.dst::VARCHAR || ' ' || t.kind", "edge_lo", "edge_hi"),
    ):
        inserted = con.execute(
            f"""
            SELECT t.batch_id, {ref}, t.{key} FROM {table} t LEFT JOIN ingest_log l ON l.batch_id = t.batch_id
            WHERE l.batch_id IS NULL OR t.{key} NOT BETWEEN l.{lo_c} AND l.{hi_c}
               OR t.{key} IN (SELECT {key} FROM {table} GROUP BY {key} HAVING count(*) > 1)
            ORDER BY t.{key}
            """
        ).fetchall()
        for b, r, k in inserted:
            findings.append(
                Finding("inserted", table, b, str(r), f"{table[:-1]} #{k} is not in the ingest log of batch {b}")
            )
        missing = con.execute(
            f"""
            WITH expected AS (
                SELECT batch_id, unnest(range({lo_c}, {hi_c} + 1)) AS k FROM ingest_log
                WHERE batch_id IN (
                    SELECT l.batch_id FROM ingest_log l LEFT JOIN {table} t
                      ON t.batch_id = l.batch_id AND t.{key} BETWEEN l.{lo_c} AND l.{hi_c}
                    GROUP BY l.batch_id, l.{lo_c}, l.{hi_c}
                    HAVING count(DISTINCT t.{key}) <> l.{hi_c} - l.{lo_c} + 1
                )
            )
            SELECT e.batch_id, e.k FROM expected e
            WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = e.k)
            ORDER BY e.k
            """
        ).fetchall()
        for b, k in missing:
            findings.append(Finding("deleted", table, b, f"#{k}", f"{table[:-1]} #{k} of batch {b} is missing"))
    # Batch digests: catches a row hash rewritten to hide an edit.
    flagged = {(f.batch_id) for f in findings}
    for b, _lo, _hi, _elo, _ehi, digest, *_ in log:
        if b not in flagged and batch_digest(con, b) != digest:
            findings.append(
                Finding(
                    "edited",
                    "batch",
                    b,
                    f"batch {b}",
                    "rows of this batch differ from what was logged (row hashes rewritten?)",
                )
            )
    counts = con.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM edges)").fetchone()
    assert counts is not None
    return VerifyReport(len(log), int(counts[0]), int(counts[1]), prev, findings)
