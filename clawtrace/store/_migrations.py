"""Append-only schema migrations. A shipped migration is never edited; add a new one.

Each runs in its own transaction and is recorded in ``_clawtrace_migrations``.
"""

from __future__ import annotations

import textwrap
from typing import Final

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

# Why: the tables of DESIGN.md section 4, plus ``pending_edges``: span links and parentage
# whose other end has not arrived yet (OTLP exports children before parents). ``seq`` is a dense ingest-order number used by
# edges (integers join and index far faster than 24-char ids) and by ``verify`` to
# spot inserted or deleted rows; ``row_hash`` lets ``verify`` name the edited row.
m001_initial: Final = textwrap.dedent(
    """
    CREATE TABLE events (
        seq BIGINT NOT NULL,
        event_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        ts TIMESTAMP_NS NOT NULL,
        session_id VARCHAR,
        agent_id VARCHAR,
        run_id VARCHAR,
        trace_id VARCHAR,
        span_id VARCHAR,
        parent_span_id VARCHAR,
        tool_call_id VARCHAR,
        tool_name VARCHAR,
        artifact VARCHAR,
        trust VARCHAR NOT NULL,
        sensitivity VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        summary VARCHAR,
        content_sha256 VARCHAR,
        content_size BIGINT,
        content VARCHAR,
        attrs JSON,
        batch_id BIGINT NOT NULL,
        row_hash VARCHAR NOT NULL
    );
    CREATE TABLE edges (
        edge_seq BIGINT NOT NULL,
        src BIGINT NOT NULL,
        dst BIGINT NOT NULL,
        kind VARCHAR NOT NULL,
        confidence DOUBLE NOT NULL,
        evidence JSON,
        batch_id BIGINT NOT NULL,
        row_hash VARCHAR NOT NULL
    );
    CREATE TABLE artifacts (
        uri VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        sensitivity VARCHAR NOT NULL,
        trust VARCHAR NOT NULL,
        first_seen TIMESTAMP_NS,
        attrs JSON
    );
    CREATE TABLE fingerprints (
        seq BIGINT NOT NULL,
        role VARCHAR NOT NULL,
        hash UBIGINT NOT NULL,
        pos INTEGER NOT NULL,
        enc UTINYINT NOT NULL
    );
    CREATE TABLE sessions (
        session_id VARCHAR NOT NULL,
        agent_id VARCHAR,
        started TIMESTAMP_NS,
        ended TIMESTAMP_NS,
        events BIGINT,
        source VARCHAR,
        parent_session VARCHAR,
        flags VARCHAR[]
    );
    CREATE TABLE spans (
        trace_id VARCHAR,
        span_id VARCHAR,
        parent_span_id VARCHAR,
        name VARCHAR,
        start_ts TIMESTAMP_NS,
        end_ts TIMESTAMP_NS,
        attrs JSON,
        resource JSON,
        scope VARCHAR,
        status_code INTEGER,
        batch_id BIGINT NOT NULL
    );
    CREATE TABLE pending_edges (
        src_ref VARCHAR NOT NULL,
        dst_ref VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        confidence DOUBLE NOT NULL,
        evidence JSON
    );
    CREATE TABLE ingest_log (
        batch_id BIGINT NOT NULL,
        ts TIMESTAMP_NS NOT NULL,
        source VARCHAR NOT NULL,
        event_lo BIGINT NOT NULL,
        event_hi BIGINT NOT NULL,
        edge_lo BIGINT NOT NULL,
        edge_hi BIGINT NOT NULL,
        digest VARCHAR NOT NULL,
        prev_chain VARCHAR NOT NULL,
        chain VARCHAR NOT NULL
    );
    """
)

# Why: `why`/`impact` must cost in proportion to the answer (DESIGN.md section 4). A
# traversal step looks edges up by src or dst; ART indexes make that a point lookup
# instead of a scan of every edge. Secret sightings (type + digest, never the value) make
# "which secret went where" a join instead of a re-scan.
m002_traversal_indexes: Final = textwrap.dedent(
    """
    CREATE INDEX edges_dst ON edges (dst);
    CREATE INDEX edges_src ON edges (src);
    CREATE TABLE secrets (
        seq BIGINT NOT NULL,
        role VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        digest VARCHAR NOT NULL
    );
    """
)

# Why: every investigation starts by resolving an event id, and ingest checks each batch's
# ids against the store; without an index both scan every event (230 ms at 10 M events).
m003_event_id_index: Final = textwrap.dedent(
    """
    CREATE INDEX events_event_id ON events (event_id);
    """
)

# Why: a traversal fetches the events it reached by seq. Those are scattered over the store
# (sessions interleave), so without an index each fetch reads one row group per event:
# 30-100 ms at 1-10 M events; with it, a few ms.
m004_event_seq_index: Final = textwrap.dedent(
    """
    CREATE INDEX events_seq ON events (seq);
    """
)

MIGRATIONS: Final[tuple[tuple[str, str], ...]] = (
    ("m001_initial", m001_initial),
    ("m002_traversal_indexes", m002_traversal_indexes),
    ("m003_event_id_index", m003_event_id_index),
    ("m004_event_seq_index", m004_event_seq_index),
)

SCHEMA_VERSION: Final = len(MIGRATIONS)
