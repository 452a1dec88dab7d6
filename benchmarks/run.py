"""Run every ``benchmarks/bench_*.py`` and print their figures and ratios.

    python benchmarks/run.py [--quick] [--only NAME] [--json out.json]

Each module's ``run(quick=...)`` returns a flat dict of numbers. A module may define
``FULL_RUNS`` (a list of keyword dicts) to be run several times without ``--quick``
(``bench_why`` runs at 1 M and 10 M events). Results go to
``benchmarks/results/<UTC time>.json`` (gitignored) and to ``--json`` if given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

RESULTS = HERE / "results"


def discover() -> list[str]:
    """Names of the benchmark modules (``bench_*.py`` next to this file), sorted."""
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def plans(name: str, quick: bool) -> list[dict[str, Any]]:
    """The keyword sets to call ``name.run`` with."""
    mod = importlib.import_module(name)
    if quick:
        return [{"quick": True}]
    return [dict(kw) for kw in getattr(mod, "FULL_RUNS", [{}])]


def run_one(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    mod = importlib.import_module(name)
    t0 = time.perf_counter()
    res = mod.run(**kwargs)
    return {"bench": name, "args": kwargs, "wall_s": time.perf_counter() - t0, "result": res}


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if math.isnan(v):
        return "nan"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.3f}"


def print_table(entries: list[dict[str, Any]], out: Any = sys.stdout) -> None:
    for e in entries:
        args = ", ".join(f"{k}={v}" for k, v in e["args"].items())
        print(f"\n== {e['bench']}({args})  [{e['wall_s']:.1f} s]", file=out)
        if "error" in e:
            print(f"   ERROR: {e['error']}", file=out)
            continue
        res = e["result"]
        ratios = {k: v for k, v in res.items() if "_vs_" in k}
        for k, v in res.items():
            if k in ratios or isinstance(v, (dict, list)):
                continue
            print(f"   {k:32s} {_fmt(v):>14s}", file=out)
        if ratios:
            print("   -- ratios (same run) --", file=out)
            for k, v in ratios.items():
                print(f"   {k:32s} {_fmt(v):>14s}", file=out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the clawtrace benchmarks (DESIGN.md section 10).")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run, seconds)")
    ap.add_argument(
        "--only", action="append", metavar="NAME", help="run only this benchmark (why, bench_why, ...); repeatable"
    )
    ap.add_argument("--json", metavar="FILE", help="also write the results here")
    a = ap.parse_args(argv)

    names = discover()
    if a.only:
        want = {n if n.startswith("bench_") else f"bench_{n}" for n in a.only}
        unknown = want - set(names)
        if unknown:
            ap.error(f"no benchmark {', '.join(sorted(unknown))}; have: {', '.join(names)}")
        names = [n for n in names if n in want]

    entries: list[dict[str, Any]] = []
    failed = False
    for name in names:
        for kw in plans(name, a.quick):
            print(f"running {name}({', '.join(f'{k}={v}' for k, v in kw.items())}) ...", file=sys.stderr, flush=True)
            try:
                entries.append(run_one(name, kw))
            except Exception as e:  # noqa: BLE001 - report and go on with the others
                failed = True
                traceback.print_exc()
                entries.append({"bench": name, "args": kw, "wall_s": 0.0, "error": f"{type(e).__name__}: {e}"})

    print_table(entries)
    doc = {
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": a.quick,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "benchmarks": entries,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"{stamp}{'-quick' if a.quick else ''}.json"
    text = json.dumps(doc, indent=1, default=str)
    out.write_text(text)
    if a.json:
        Path(a.json).write_text(text)
    print(f"\nresults: {out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
