"""Every benchmark runs at its quick size and returns the figures it promises.

No wall-clock thresholds: the machine is shared and noisy. The figures themselves come
from ``python benchmarks/run.py``.
"""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

MODULES = sorted(p.stem for p in BENCH.glob("bench_*.py"))

EXPECTED: dict[str, tuple[str, ...]] = {
    "bench_why": (
        "n_events",
        "n_edges",
        "queries",
        "why_p50_ms",
        "why_p95_ms",
        "why_peak_rss_mb",
        "cte_p50_ms",
        "cte_p95_ms",
        "cte_peak_rss_mb",
        "why_vs_cte_p50",
        "why_vs_cte_p95",
        "why_answer_events_p50",
        "cte_answer_events_p50",
    ),
    "bench_ingest": (
        "n_events",
        "raw_events_s",
        "ingest_events_s",
        "ingest_vs_raw",
        "reingest_events_s",
        "reingest_vs_raw",
        "stored_edges",
        "data_flow_edges",
        "fingerprint_rows",
        "events_with_secrets",
    ),
    "bench_fingerprint": ("sha256_mb_s", "fingerprint_decode_mb_s", "fingerprint_decode_vs_sha256", "redact_mb_s"),
    "bench_hunt": (
        "n_events",
        "detections",
        "anchor_ms",
        "hunt_total_ms",
        "hunt_total_vs_anchor",
        "findings",
        "secret_then_egress_ms",
        "secret_then_egress_findings",
        "untrusted_then_action_vs_anchor",
    ),
    "bench_openclaw_import": (
        "transcript_mb",
        "json_anchor_mb_s",
        "map_mb_s",
        "import_mb_s",
        "import_vs_json",
        "reimport_vs_json",
        "import_peak_rss_mb",
        "import_base_rss_mb",
    ),
    "bench_receiver": (
        "bare_spans_s",
        "ack_spans_s",
        "ack_vs_bare",
        "stored_spans_s",
        "replay_bare_spans_s",
        "replay_ack_spans_s",
        "replay_ack_vs_bare",
    ),
}
"""Keys that must hold positive numbers; other modules must return some positive numbers."""

ZERO_OK = {"reingest_added", "why_truncated", "store_cached"}


def test_every_benchmark_is_known() -> None:
    assert {"bench_why", "bench_ingest", "bench_fingerprint", "bench_hunt"} <= set(MODULES)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODULES)
def test_quick_run_returns_positive_figures(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import synth

    # A private cache, so a test never reuses (or races with) a developer's cached store.
    monkeypatch.setattr(synth, "CACHE_DIR", tmp_path / "cache")
    mod = importlib.import_module(name)
    res: dict[str, Any] = mod.run(quick=True)
    assert isinstance(res, dict) and res
    numbers = {k: v for k, v in res.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for key in EXPECTED.get(name, ()):
        assert key in res, f"{name}.run() lacks {key}"
        v = res[key]
        assert isinstance(v, (int, float)) and not isinstance(v, bool), f"{name}: {key}={v!r}"
        assert math.isfinite(v) and v > 0, f"{name}: {key}={v!r}"
    for key, v in numbers.items():
        assert math.isfinite(v), f"{name}: {key}={v!r}"
        if key not in ZERO_OK:
            assert v >= 0, f"{name}: {key}={v!r}"
    if name == "bench_ingest":
        assert res["reingest_added"] == 0
    if name == "bench_openclaw_import":
        assert res["reimport_added"] == 0 and res["sessions"] > 1
        one = mod.run(quick=True, single_session=True)
        assert one["sessions"] == 1 and one["import_mb_s"] > 0 and one["reimport_added"] == 0
    if name == "bench_receiver":
        assert res["lost"] == res["replay_lost"] == 0 and res["failed_batches"] == res["replay_failed_batches"] == 0
    if name == "bench_hunt":
        from clawtrace import hunt

        assert res["detections"] == len(hunt.detections())
        for d in hunt.detections():
            assert res[f"{d}_ms"] > 0 and f"{d}_vs_anchor" in res


def test_runner_discovers_and_formats(tmp_path: Path) -> None:
    import run as runner

    assert set(runner.discover()) == set(MODULES)
    assert runner.plans("bench_why", quick=True) == [{"quick": True}]
    assert [p["n_events"] for p in runner.plans("bench_why", quick=False)] == [1_000_000, 10_000_000]
    assert [p["n_events"] for p in runner.plans("bench_hunt", quick=False)] == [10_000_000]
    entries = [
        {"bench": "bench_x", "args": {"quick": True}, "wall_s": 0.1, "result": {"a_s": 1.5, "a_vs_b": 0.25, "n": 3}}
    ]
    import io

    buf = io.StringIO()
    runner.print_table(entries, buf)
    assert "a_vs_b" in buf.getvalue() and "0.250" in buf.getvalue()
