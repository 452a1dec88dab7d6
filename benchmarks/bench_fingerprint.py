"""Throughput of fingerprinting and redaction, anchored on hashlib.sha256 in the same run.

Run ``python benchmarks/bench_fingerprint.py [--quick]``; ``benchmarks/run.py`` imports ``run``.
The corpus is realistic agent content: this repository's Python source (code), its
Markdown (prose), and base64 blobs (attachments, encoded payloads), shuffled in blocks.
"""

from __future__ import annotations

import base64
import hashlib
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from clawtrace.fingerprint import fingerprint, fingerprint_many, winnow  # noqa: E402
from clawtrace.redact import redact  # noqa: E402

_FALLBACK = (
    "def handle(event, context):\n    result = process(event['body'])\n    return {'status': 200, 'body': result}\n\n"
    "The agent read the configuration file, called the tool and wrote a summary to the session log.\n"
)


def _sources() -> tuple[list[str], list[str]]:
    code = [p.read_text("utf-8", "replace") for p in sorted(ROOT.glob("clawtrace/**/*.py"))]
    prose = [p.read_text("utf-8", "replace") for p in sorted(ROOT.glob("**/*.md")) if ".venv" not in p.parts]
    return code or [_FALLBACK], prose or [_FALLBACK]


def corpus(size: int, seed: int = 0) -> bytes:
    """About ``size`` bytes of mixed text: ~60% code, ~30% prose, ~10% base64 blobs."""
    rng = random.Random(seed)
    code, prose = _sources()
    parts: list[bytes] = []
    total = 0
    while total < size:
        r = rng.random()
        if r < 0.6:
            src = rng.choice(code)
        elif r < 0.9:
            src = rng.choice(prose)
        else:
            src = base64.encodebytes(rng.randbytes(rng.randint(200, 6000))).decode()
        start = rng.randrange(max(1, len(src) - 4000))
        block = src[start : start + rng.randint(500, 4000)].encode()
        parts.append(block)
        total += len(block)
    return b"".join(parts)[:size]


def _rate(fn: Any, arg: Any, nbytes: int, min_time: float) -> float:
    """Best-of MB/s of ``fn(arg)``, repeated for at least ``min_time`` seconds."""
    best = float("inf")
    spent = 0.0
    runs = 0
    while spent < min_time or runs < 2:
        t0 = time.perf_counter()
        fn(arg)
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
        runs += 1
    return nbytes / 1e6 / best


def run(size_mb: float = 64, quick: bool = False) -> dict[str, float]:
    """Measure MB/s of sha256, fingerprint(decode=True), fingerprint, winnow and redact, and of
    fingerprinting the corpus cut in 200-3000 byte contents (what an import holds), one call
    per content (``fingerprint_pieces``) and one ``fingerprint_many`` for all of them.

    ``quick`` uses 2 MB and short repeats (a smoke test). Ratios are to sha256's MB/s.
    """
    size = int((2 if quick else size_mb) * 1e6)
    min_time = 0.05 if quick else 1.0
    data = corpus(size)
    text = data.decode("utf-8", "replace")
    sha = _rate(lambda d: hashlib.sha256(d).digest(), data, len(data), min_time)
    fp_dec = _rate(lambda d: fingerprint(d, decode=True), data, len(data), min_time)
    fp_raw = _rate(fingerprint, data, len(data), min_time)
    win = _rate(winnow, data, len(data), min_time)
    red = _rate(redact, text, len(data), min_time)
    rng = random.Random(1)
    pieces: list[bytes] = []
    at = 0
    while at < len(data):
        n = rng.randint(200, 3000)
        pieces.append(data[at : at + n])
        at += n
    per_piece = _rate(lambda ps: [fingerprint(p) for p in ps], pieces, len(data), min_time)
    many = _rate(fingerprint_many, pieces, len(data), min_time)
    return {
        "size_mb": len(data) / 1e6,
        "sha256_mb_s": sha,
        "fingerprint_decode_mb_s": fp_dec,
        "fingerprint_raw_mb_s": fp_raw,
        "winnow_mb_s": win,
        "redact_mb_s": red,
        "fingerprint_pieces_mb_s": per_piece,
        "fingerprint_many_mb_s": many,
        "fingerprint_decode_vs_sha256": fp_dec / sha,
        "fingerprint_raw_vs_sha256": fp_raw / sha,
        "winnow_vs_sha256": win / sha,
        "redact_vs_sha256": red / sha,
        "fingerprint_pieces_vs_sha256": per_piece / sha,
        "fingerprint_many_vs_sha256": many / sha,
    }


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    res = run(quick=quick)
    print(f"corpus: {res['size_mb']:.1f} MB of mixed code, prose and base64")
    print(f"{'operation':28s} {'MB/s':>9s} {'vs sha256':>10s}")
    for key in (
        "sha256",
        "fingerprint_decode",
        "fingerprint_raw",
        "winnow",
        "redact",
        "fingerprint_pieces",
        "fingerprint_many",
    ):
        mbs = res[f"{key}_mb_s"]
        ratio = 1.0 if key == "sha256" else res[f"{key}_vs_sha256"]
        print(f"{key:28s} {mbs:9.1f} {ratio:10.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
