"""Shared fixtures: isolated environment, a fresh store path, a store with the sample incident."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "clawtrace" / "samples" / "incident.otlp.jsonl"


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAWTRACE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLAWTRACE_DB", raising=False)
    monkeypatch.delenv("CLAWTRACE_KEEP_CONTENT", raising=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Path of a store that does not exist yet."""
    return tmp_path / "t.duckdb"


@pytest.fixture
def sample_db(tmp_path: Path) -> Path:
    """A store holding the shipped sample incident, imported through the real CLI path."""
    from clawtrace.ingest.otlp import read_otlp_file, spans_to_batch
    from clawtrace.store import Store, ingest

    path = tmp_path / "sample.duckdb"
    spans = [s for chunk, problem in read_otlp_file(SAMPLE) if not problem for s in chunk]
    with Store.open(path) as store:
        ingest(store, spans_to_batch(spans))
    return path
