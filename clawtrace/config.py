"""Settings, declared once: environment variable, default, meaning (stdlib only).

``clawtrace config show`` prints each resolved value and where it came from.
"""

from __future__ import annotations

import dataclasses
import os

__all__ = ["Setting", "SETTINGS", "resolve", "default_db_path", "memory_hint"]


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its environment variable, default and meaning."""

    name: str
    env: str
    default: str
    doc: str


SETTINGS: tuple[Setting, ...] = (
    Setting("db", "CLAWTRACE_DB", "./clawtrace.duckdb", "The DuckDB store every command reads and writes."),
    Setting(
        "memory_limit",
        "CLAWTRACE_MEMORY_LIMIT",
        "2GB",
        "Memory DuckDB may use for the store (e.g. 512MB, 4GB; 0: DuckDB's own default, 80% of RAM)."
        " Past it, large queries spill to a temp dir beside the store: clawtrace runs next to the"
        " agent it watches, and a long import would otherwise cache up to most of the machine's RAM.",
    ),
    Setting(
        "keep_content",
        "CLAWTRACE_KEEP_CONTENT",
        "0",
        "Store redacted content text as well as fingerprints (1 to enable). Off: only hashes are kept.",
    ),
)


def resolve(name: str) -> tuple[str, str]:
    """(value, origin) of a setting; origin is the env var name or ``default``."""
    for s in SETTINGS:
        if s.name == name:
            if s.env in os.environ and os.environ[s.env] != "":
                return os.environ[s.env], s.env
            return s.default, "default"
    raise KeyError(name)


def default_db_path() -> str:
    """The store path from ``CLAWTRACE_DB`` or ``./clawtrace.duckdb``."""
    return resolve("db")[0]


def memory_hint(message: str) -> str:
    """For a DuckDB error that says it ran out of memory: what to do about it (else "")."""
    if "Out of Memory Error" not in message:
        return ""
    value, _ = resolve("memory_limit")
    return (
        f"; DuckDB reached its memory limit (CLAWTRACE_MEMORY_LIMIT={value}): raise it, "
        "e.g. CLAWTRACE_MEMORY_LIMIT=8GB, or 0 for DuckDB's own default (80% of RAM)"
    )
