"""Latency and peak memory of ``clawtrace.graph.why`` on a synthetic store, anchored on a
recursive CTE computing the backward closure of the same targets over the same edges.

Run ``python benchmarks/bench_why.py [--quick] [--events N] [--queries Q]``;
``benchmarks/run.py`` imports ``run``. The store comes from ``synth.cached_store`` (built
once per size, cached under ``benchmarks/.cache/``). Targets are late ``net.egress`` /
``tool.call`` events of long sessions, half of them in sessions that read memory written
by an earlier session.

Each side runs in its own subprocess so that its peak resident memory (``VmHWM``, which
includes DuckDB's native allocations; tracemalloc and ru_maxrss of the parent would not)
is its own. Both sides open the store read-only, run one unmeasured warm-up query, then
the measured ones.
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

FULL_RUNS = [{"n_events": 1_000_000}, {"n_events": 10_000_000}]
"""What ``run.py`` runs without ``--quick``: one ``run()`` per store size."""

CTE_SQL = """
WITH RECURSIVE anc(seq) AS (
    SELECT $t::BIGINT
    UNION
    SELECT e.src FROM edges e JOIN anc ON e.dst = anc.seq
)
SELECT count(*) FROM anc
"""
"""The anchor: the whole backward closure of ``$t``; UNION drops rows already found, so cycles end."""

CTE_BUDGET_S = 300.0
"""The anchor stops taking new targets after this long (its p50/p95 are over those it ran)."""


def _mem_kb(field: str) -> int:
    try:
        import psutil  # type: ignore[import-not-found]

        if field == "VmHWM":
            info = psutil.Process().memory_full_info()
            peak = getattr(info, "peak_wset", None)  # Windows only
            if peak:
                return int(peak) // 1024
        else:
            return int(psutil.Process().memory_info().rss) // 1024
    except ImportError:
        pass
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# ---------------------------------------------------------------------------- child side


def _child(mode: str, db: str, seqs: list[int]) -> dict[str, Any]:
    """Run in a fresh process: time ``why`` (mode 'why') or the CTE (mode 'cte') per target."""
    from clawtrace import graph
    from clawtrace.store import Store

    rss_base = _mem_kb("VmRSS")
    store = Store.open(db, read_only=True)
    ids = dict(store.sql("SELECT seq, event_id FROM events WHERE seq IN (SELECT unnest($s::BIGINT[]))", {"s": seqs})[1])
    times: list[float] = []
    resolve: list[float] = []
    sizes: list[int] = []
    edges: list[int] = []
    truncated = 0
    started = time.perf_counter()
    for i, seq in enumerate(seqs):
        if mode == "why":
            t0 = time.perf_counter()
            chain = graph.why(store, ids[seq])
            dt = time.perf_counter() - t0
            t0 = time.perf_counter()
            store.resolve_event(ids[seq])
            dr = time.perf_counter() - t0
            n, ne, tr = len(chain.events), len(chain.edges), chain.truncated
        else:
            t0 = time.perf_counter()
            row = store.con.execute(CTE_SQL, {"t": seq}).fetchone()
            dt = time.perf_counter() - t0
            n, ne, tr, dr = int(row[0]) - 1 if row else 0, 0, False, 0.0
        if i == 0:
            continue  # warm-up
        times.append(dt)
        resolve.append(dr)
        sizes.append(n)
        edges.append(ne)
        truncated += bool(tr)
        if mode == "cte" and time.perf_counter() - started > CTE_BUDGET_S:
            break
    store.close()
    return {
        "times_s": times,
        "resolve_s": resolve,
        "answer_events": sizes,
        "answer_edges": edges,
        "truncated": truncated,
        "rss_base_mb": rss_base / 1024,
        "peak_rss_mb": _mem_kb("VmHWM") / 1024,
    }


def _spawn(mode: str, db: str, seqs: list[int]) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            mode,
            "--db",
            db,
            "--seqs",
            ",".join(map(str, seqs)),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench_why child ({mode}) failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- parent side


def _choose(targets: list[dict[str, Any]], queries: int) -> list[int]:
    """Alternate memory-reading and plain sessions' targets; one extra for the warm-up."""
    mem = [t["seq"] for t in targets if t["memory"]]
    plain = [t["seq"] for t in targets if not t["memory"]]
    out: list[int] = []
    while len(out) < queries + 1 and (mem or plain):
        for pool in (mem, plain):
            if pool and len(out) < queries + 1:
                out.append(pool.pop(0))
    return out


def run(n_events: int = 1_000_000, queries: int = 50, quick: bool = False) -> dict[str, Any]:
    """p50/p95 latency and peak RSS of ``why`` versus the recursive-CTE anchor, at one store size.

    ``quick`` uses ~20 k events and 5 queries (a smoke test).
    """
    from synth import cached_store

    if quick:
        n_events, queries = 20_000, 5
    info = cached_store(n_events, log=lambda m: print(m, file=sys.stderr, flush=True))
    seqs = _choose(info["targets"], queries)
    why = _spawn("why", info["path"], seqs)
    cte = _spawn("cte", info["path"], seqs)
    w, c = why["times_s"], cte["times_s"]
    res = {
        "n_events": info["n_events"],
        "n_edges": info["n_edges"],
        "queries": len(w),
        "store_build_s": info["build_s"],
        "store_cached": bool(info.get("cached")),
        "why_p50_ms": _pct(w, 0.5) * 1e3,
        "why_p95_ms": _pct(w, 0.95) * 1e3,
        "why_mean_ms": statistics.fmean(w) * 1e3,
        "why_resolve_p50_ms": _pct(why["resolve_s"], 0.5) * 1e3,
        "why_peak_rss_mb": why["peak_rss_mb"],
        "why_base_rss_mb": why["rss_base_mb"],
        "why_answer_events_p50": _pct([float(x) for x in why["answer_events"]], 0.5),
        "why_truncated": why["truncated"],
        "cte_queries": len(c),
        "cte_p50_ms": _pct(c, 0.5) * 1e3,
        "cte_p95_ms": _pct(c, 0.95) * 1e3,
        "cte_peak_rss_mb": cte["peak_rss_mb"],
        "cte_answer_events_p50": _pct([float(x) for x in cte["answer_events"]], 0.5),
    }
    # Ratios: < 1 means why is faster than the anchor (p50 on the targets both ran).
    paired = len(c)
    res["why_vs_cte_p50"] = _pct(w[:paired], 0.5) / res["cte_p50_ms"] * 1e3 if paired else float("nan")
    res["why_vs_cte_p95"] = _pct(w[:paired], 0.95) / res["cte_p95_ms"] * 1e3 if paired else float("nan")
    res["why_vs_cte_peak_rss"] = why["peak_rss_mb"] / cte["peak_rss_mb"]
    return res


def main(argv: list[str]) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--child", choices=("why", "cte"), help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--seqs", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(_child(a.child, a.db, [int(s) for s in a.seqs.split(",")])))
        return
    res = run(n_events=a.events, queries=a.queries, quick=a.quick)
    for k, v in res.items():
        print(f"{k:28s} {v:.3f}" if isinstance(v, float) else f"{k:28s} {v}")


if __name__ == "__main__":
    main(sys.argv[1:])
