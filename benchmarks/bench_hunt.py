"""``clawtrace.hunt`` across every detection on a synthetic store, anchored on a full scan.

Run ``python benchmarks/bench_hunt.py [--quick] [--events N] [--reps R]``;
``benchmarks/run.py`` imports ``run``. The store comes from ``synth.cached_store`` (built
once per size, cached under ``benchmarks/.cache/``); it holds what the detections look for
(credential reads flowing into egress, untrusted fetches, memory written and read across
sessions, unpinned skills, pipe-to-shell command lines, new and large egress, orphaned tool
calls, subagent sessions), so every detection does real work.

The anchor is ``SELECT kind, count(*) FROM events GROUP BY kind``: one full scan of one
column of ``events``, measured in the same process just before the detections. Each
detection's time is ``clawtrace.hunt.run_detection`` end to end (SQL, fetching the rows,
building the findings), the best of ``reps`` runs after one unmeasured warm-up of the anchor.
Everything runs in a child process so that its peak RSS (``VmHWM``, DuckDB's native memory
included) is its own.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

from _proc import status_mb  # noqa: E402

FULL_RUNS = [{"n_events": 10_000_000}]
"""What ``run.py`` runs without ``--quick``."""

ANCHOR_SQL = "SELECT kind, count(*) FROM events GROUP BY kind"
"""The anchor: a full scan of ``events`` (one column), grouped."""


def _child(db: str, reps: int) -> dict[str, Any]:
    """In a fresh process: the anchor, then every detection, ``reps`` times each."""
    from clawtrace import hunt
    from clawtrace.store import Store

    store = Store.open(db, read_only=True)
    store.sql(ANCHOR_SQL)  # warm-up
    anchor: list[float] = []
    for _ in range(3):
        t0 = time.perf_counter()
        store.sql(ANCHOR_SQL)
        anchor.append(time.perf_counter() - t0)
    per: dict[str, dict[str, float]] = {}
    total = 0.0
    for q in hunt.detections().values():
        best = float("inf")
        n = 0
        for _ in range(reps):
            t0 = time.perf_counter()
            found = hunt.run_detection(store, q)
            best = min(best, time.perf_counter() - t0)
            n = len(found)
        per[q.name] = {"s": best, "findings": n}
        total += best
    # The whole hunt as `clawtrace hunt` runs it (ranking included), once.
    t0 = time.perf_counter()
    every = hunt.hunt(store)
    whole = time.perf_counter() - t0
    store.close()
    return {
        "anchor_s": statistics.median(anchor),
        "per": per,
        "sum_s": total,
        "hunt_s": whole,
        "findings": len(every),
        "peak_rss_mb": status_mb("VmHWM"),
    }


def run(n_events: int = 10_000_000, reps: int = 1, quick: bool = False) -> dict[str, Any]:
    """Per-detection and whole-hunt time on a synthetic store, as ratios to a full scan.

    ``quick`` uses ~20 k events (a smoke test).
    """
    from synth import cached_store

    if quick:
        n_events, reps = 20_000, 2
    info = cached_store(n_events, log=lambda m: print(m, file=sys.stderr, flush=True))
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", "--db", info["path"], "--reps", str(reps)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench_hunt child failed:\n{proc.stderr[-4000:]}")
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    anchor = got["anchor_s"]
    res: dict[str, Any] = {
        "n_events": info["n_events"],
        "n_edges": info["n_edges"],
        "store_cached": bool(info.get("cached")),
        "detections": len(got["per"]),
        "anchor_ms": anchor * 1e3,
        "hunt_total_ms": got["hunt_s"] * 1e3,
        "findings": got["findings"],
        "peak_rss_mb": got["peak_rss_mb"],
    }
    for name, d in got["per"].items():
        res[f"{name}_ms"] = d["s"] * 1e3
        res[f"{name}_findings"] = d["findings"]
    res["hunt_total_vs_anchor"] = got["hunt_s"] / anchor
    for name, d in got["per"].items():
        res[f"{name}_vs_anchor"] = d["s"] / anchor
    return res


def main(argv: list[str]) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(_child(a.db, a.reps)))
        return
    res = run(n_events=a.events, reps=a.reps, quick=a.quick)
    for k, v in res.items():
        print(f"{k:40s} {v:.3f}" if isinstance(v, float) else f"{k:40s} {v}")


if __name__ == "__main__":
    main(sys.argv[1:])
