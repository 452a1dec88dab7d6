"""The DuckDB store: the only package that imports duckdb."""

from clawtrace.store._ingest import IngestResult, ingest
from clawtrace.store._migrations import MIGRATIONS, SCHEMA_VERSION
from clawtrace.store._store import EVENT_COLUMNS, Store, iso
from clawtrace.store._verify import Finding, VerifyReport, verify

__all__ = [
    "EVENT_COLUMNS",
    "Finding",
    "IngestResult",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Store",
    "VerifyReport",
    "ingest",
    "iso",
    "verify",
]
