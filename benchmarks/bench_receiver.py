"""Throughput of ``clawtrace serve`` over loopback (DESIGN.md section 10: >= 20 k spans/s, none lost).

    python benchmarks/bench_receiver.py [--quick]

Spans are made with the OpenTelemetry SDK before the clock starts (agent-like attributes:
tool name, command, path, about 200 bytes of text) and cut into batches of 512, the
``BatchSpanProcessor`` default. Several client threads, each with its own
``OTLPSpanExporter`` (protobuf over HTTP, encoding inside the timed region as in real use),
call ``export`` on them against:

- the anchor: a bare ``ThreadingHTTPServer`` subprocess that reads the body and answers 200
  (no check, no disk), measured in the same run;
- ``clawtrace serve`` (subprocess): every 200 means the body is fsynced in the spool.

Then the same batches, encoded to protobuf before the clock starts, are replayed over
keep-alive connections against a fresh bare server and a fresh ``clawtrace serve``
(``replay_*``): the receiver's own capacity, without the SDK's encoding cost competing for
the same two cores (the SDK clients alone top out near 20 k spans/s here).

``ack_spans_s`` counts spans acknowledged per second; ``stored_spans_s`` counts spans per
second from the first request until the writer has committed the last one to the store
(ingest may lag the acknowledgements; the spool absorbs the difference). ``lost`` is
acknowledged minus stored, read back from the store after a clean stop: the target is 0.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

_BARE = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print("listening on http://127.0.0.1:%d" % s.server_address[1], file=sys.stderr, flush=True)
s.serve_forever()
"""


class _Collect(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def _make_spans(n: int) -> list[ReadableSpan]:
    sink = _Collect()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(sink))
    tracer = provider.get_tracer("bench")
    text = "ls -la /workspace/src && grep -rn TODO . | head -50 # " * 4
    for i in range(n):
        with tracer.start_as_current_span(f"tool {i % 7}") as sp:
            sp.set_attribute("gen_ai.tool.name", f"exec{i % 7}")
            sp.set_attribute("process.command_line", text[: 120 + i % 80])
            sp.set_attribute("file.path", f"/workspace/src/module_{i % 300}.py")
            sp.set_attribute("bench.index", i)
    provider.shutdown()
    return sink.spans


def _start(cmd: list[str], log: Path) -> tuple[subprocess.Popen[bytes], int, Any]:
    err = open(log, "wb")  # noqa: SIM115 - closed by _stop
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=log.parent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
        if m:
            return proc, int(m.group(1)), err
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    err.close()
    raise RuntimeError(f"server did not start: {log.read_text(errors='replace')[-2000:]}")


def _stop(proc: subprocess.Popen[bytes], err: Any) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    err.close()


def _run_clients(client: Any, threads: int) -> float:
    """Run ``client(k)`` in ``threads`` threads; the seconds until all are done."""
    ts = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def _blast(port: int, batches: list[list[ReadableSpan]], threads: int) -> tuple[float, int, int]:
    """Export every batch from ``threads`` clients; (seconds, spans acknowledged, failed batches)."""
    acked = [0] * threads
    failed = [0] * threads

    def client(k: int) -> None:
        exp = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=60)
        for b in batches[k::threads]:
            if exp.export(b) == SpanExportResult.SUCCESS:
                acked[k] += len(b)
            else:
                failed[k] += 1
        exp.shutdown()

    return _run_clients(client, threads), sum(acked), sum(failed)


def _encode(batches: list[list[ReadableSpan]]) -> list[tuple[bytes, int]]:
    """Each batch as the OTLP/HTTP protobuf body the SDK exporter would send."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return [(encode_spans(b).SerializePartialToString(), len(b)) for b in batches]


def _replay(port: int, bodies: list[tuple[bytes, int]], threads: int) -> tuple[float, int, int]:
    """POST pre-encoded bodies over keep-alive connections from ``threads`` clients: the
    receiver's own capacity, without the SDK's encoding cost on the same two cores."""
    import http.client

    acked = [0] * threads
    failed = [0] * threads

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for body, n in bodies[k::threads]:
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            r = conn.getresponse()
            r.read()
            if r.status == 200:
                acked[k] += n
            else:
                failed[k] += 1
        conn.close()

    return _run_clients(client, threads), sum(acked), sum(failed)


def _health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
        doc: dict[str, Any] = json.loads(r.read())
    return doc


def _wait_stored(port: int) -> None:
    """Until the receiver has stored all it acknowledged and its spool is empty."""
    while True:
        h = _health(port)
        if h["spans_stored"] >= h["spans_received"] and h["spool_bytes"] == 0:
            return
        time.sleep(0.02)


def run(quick: bool = False) -> dict[str, Any]:
    """Spans/s acknowledged and stored by ``clawtrace serve`` versus a bare HTTP server."""
    n = 4_000 if quick else 200_000
    threads = 2 if quick else 4
    spans = _make_spans(n)
    batches = [spans[i : i + 512] for i in range(0, n, 512)]
    with tempfile.TemporaryDirectory(prefix="clawtrace-bench-receiver-") as tmp:
        d = Path(tmp)
        proc, port, err = _start([sys.executable, "-c", _BARE], d / "bare.log")
        try:
            bare_s, bare_acked, _ = _blast(port, batches, threads)
        finally:
            _stop(proc, err)

        db = d / "bench.duckdb"
        proc, port, err = _start(
            [sys.executable, "-m", "clawtrace", "--db", str(db), "serve", "--port", "0", "--snapshot-interval", "5"],
            d / "serve.log",
        )
        try:
            t0 = time.perf_counter()
            ack_s, acked, failed = _blast(port, batches, threads)
            _wait_stored(port)
            stored_s = time.perf_counter() - t0
        finally:
            _stop(proc, err)
        from clawtrace.store import Store

        with Store.open(db, read_only=True) as store:
            in_store = store.counts()["spans"] + store.counts()["events"]

        # The same batches, encoded before the clock starts and replayed: what the receiver
        # itself acknowledges when the client costs little (anchor: the bare server again).
        bodies = _encode(batches)
        proc, port, err = _start([sys.executable, "-c", _BARE], d / "bare2.log")
        try:
            rb_s, rb_acked, _ = _replay(port, bodies, threads)
        finally:
            _stop(proc, err)
        proc, port, err = _start(
            [sys.executable, "-m", "clawtrace", "--db", str(d / "replay.duckdb"), "serve", "--port", "0"],
            d / "serve2.log",
        )
        try:
            ra_s, ra_acked, ra_failed = _replay(port, bodies, threads)
            _wait_stored(port)
        finally:
            _stop(proc, err)
        with Store.open(d / "replay.duckdb", read_only=True) as store:
            replay_stored = store.counts()["spans"] + store.counts()["events"]
    return {
        "replay_bare_spans_s": round(rb_acked / rb_s),
        "replay_ack_spans_s": round(ra_acked / ra_s),
        "replay_ack_vs_bare": round((ra_acked / ra_s) / (rb_acked / rb_s), 3),
        "replay_failed_batches": ra_failed,
        "replay_lost": ra_acked - min(replay_stored, ra_acked),
        "spans": n,
        "client_threads": threads,
        "bare_spans_s": round(bare_acked / bare_s),
        "ack_spans_s": round(acked / ack_s),
        "ack_vs_bare": round((acked / ack_s) / (bare_acked / bare_s), 3),
        "stored_spans_s": round(acked / stored_s),
        "acked": acked,
        "failed_batches": failed,
        "stored": in_store,
        "lost": acked - min(in_store, acked),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
