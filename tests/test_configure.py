"""``clawtrace.configure``: real OTel SDK spans into a real DuckDB store, or over real OTLP/HTTP.

No mocks: spans go through the SDK, clawtrace's processor, the one ingest pipeline and a
DuckDB file (or an HTTP server on 127.0.0.1); a locked store is locked by another process.
"""

from __future__ import annotations

import glob
import http.server
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import clawtrace._configure as cfg
from benchmarks.bench_sdk import EncodingCountingExporter, burst  # the benchmark's burst and counting exporter
from clawtrace import semconv as sc
from clawtrace._configure import ClawtraceHandle, configure
from clawtrace.ingest.otlp import OtlpSpan, decode_request, read_otlp_file, spans_to_batch
from clawtrace.semconv import EventKind
from clawtrace.store import Store, ingest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fresh_configuration() -> Iterator[None]:
    yield
    current = cfg._current
    if current is not None:
        current.shutdown(timeout=10)


def _counts(db: Path) -> dict[str, int]:
    with Store.open(db, read_only=True) as store:
        out = {}
        for table in ("events", "edges", "fingerprints"):
            row = store.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert row is not None
            out[table] = int(row[0])
        return out


def _assert_healthy(h: ClawtraceHandle) -> None:
    st = h.stats()
    assert st.errors == 0, st.last_error
    assert st.lost == 0 and st.failed == 0, st


def _emit_tool_call_with_read(tp: TracerProvider, marker: str, session: str = "sess-1") -> None:
    t = tp.get_tracer("test")
    content = f"line one\nthe secret marker {marker} is here\n" * 20
    with (
        t.start_as_current_span(
            sc.span_name(EventKind.TOOL_CALL),
            attributes={
                sc.SESSION_ID: session,
                sc.AGENT_ID: "main",
                sc.TOOL_NAME: "read",
                sc.TOOL_CALL_ID: "call-1",
                sc.CONTENT_TEXT: '{"path": "/srv/agent/notes.txt"}',
            },
        ),
        t.start_as_current_span(
            sc.span_name(EventKind.FILE_READ),
            attributes={
                sc.FILE_PATH: "/srv/agent/notes.txt",
                sc.CONTENT_TEXT: content,
                sc.CONTENT_SIZE: len(content),
                sc.TRUST: sc.Trust.UNTRUSTED.value,
            },
        ),
    ):
        pass


# --------------------------------------------------------------------------- store path


def test_spans_reach_the_store_with_edges_and_fingerprints_and_no_raw_content(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    tp = TracerProvider()
    h = configure(db=str(db), tracer_provider=tp, capture=False)
    marker = "MARKER-7f3c9e1d-never-stored"
    _emit_tool_call_with_read(tp, marker)
    assert h.flush(30)
    st = h.stats()
    assert (st.received, st.exported, st.pending, st.queued) == (2, 2, 0, 0)
    _assert_healthy(h)

    with Store.open(db, read_only=True) as store:
        events = store.con.execute(
            "SELECT kind, session_id, tool_call_id, artifact, source, trust FROM events ORDER BY seq"
        ).fetchall()
        edges = store.con.execute(
            "SELECT s.kind, d.kind, e.kind FROM edges e JOIN events s ON s.seq = e.src JOIN events d ON d.seq = e.dst"
        ).fetchall()
        fps = store.con.execute("SELECT count(*) FROM fingerprints").fetchone()
    assert events == [
        ("tool.call", "sess-1", "call-1", None, "sdk", "unknown"),
        ("file.read", "sess-1", "call-1", "file:///srv/agent/notes.txt", "sdk", "untrusted"),
    ] or [e[0] for e in events] == ["tool.call", "file.read"]
    assert ("tool.call", "file.read", "effect") in edges
    assert fps is not None and fps[0] > 0
    h.shutdown()

    for path in glob.glob(str(db) + "*"):
        if os.path.isfile(path):
            assert marker.encode() not in Path(path).read_bytes(), path


def test_keep_content_stores_text(tmp_path: Path) -> None:
    db = tmp_path / "t.duckdb"
    tp = TracerProvider()
    h = configure(db=str(db), tracer_provider=tp, capture=False, keep_content=True)
    _emit_tool_call_with_read(tp, "KEEPME-123")
    assert h.flush(30)
    h.shutdown()
    with Store.open(db, read_only=True) as store:
        row = store.con.execute("SELECT count(*) FROM events WHERE content LIKE '%KEEPME-123%'").fetchone()
    assert row == (1,)


# --------------------------------------------------------------------------- bursts


@pytest.mark.slow
def test_100k_burst_loses_nothing_while_the_default_batch_processor_drops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    total = 100_000
    # The default BatchSpanProcessor, default settings, an exporter that does the minimum real work.
    counting = EncodingCountingExporter()
    tp0 = TracerProvider()
    tp0.add_span_processor(BatchSpanProcessor(counting))
    logging.getLogger("opentelemetry").setLevel(logging.CRITICAL)  # its one-line-per-drop warnings
    burst(tp0, total)
    tp0.force_flush()
    tp0.shutdown()
    dropped = total - counting.n
    print(f"\ndefault BatchSpanProcessor: {dropped} of {total} spans dropped ({100 * dropped / total:.1f} %)")
    assert dropped > 0

    db = tmp_path / "burst.duckdb"
    tp = TracerProvider()
    h = configure(db=str(db), tracer_provider=tp, capture=False, max_queue=1000)
    produce_s = burst(tp, total)
    t0 = time.perf_counter()
    assert h.flush(300), h.stats()
    st = h.stats()
    print(f"clawtrace: produced in {produce_s:.1f} s, drained in {time.perf_counter() - t0:.1f} s, {st}")
    assert st.received == total and st.exported == total and st.pending == 0
    assert st.spilled > 0
    _assert_healthy(h)
    h.shutdown()
    assert _counts(db)["events"] == total
    assert not glob.glob(os.path.join(h.spill_dir, "clawtrace-*"))


def test_small_queue_spills_and_replays(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    tp = TracerProvider()
    h = configure(db=str(db), tracer_provider=tp, capture=False, max_queue=10)
    burst(tp, 3000, threads=3)
    assert h.flush(120)
    st = h.stats()
    assert st.received == 3000 == st.exported and st.spilled > 0
    _assert_healthy(h)
    h.shutdown()
    assert _counts(db)["events"] == 3000


# --------------------------------------------------------------------------- OTLP path


class _Collector(http.server.BaseHTTPRequestHandler):
    spans: ClassVar[list[OtlpSpan]] = []
    paths: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).paths.append(self.path)
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        type(self).spans.extend(decode_request(body, self.headers.get("Content-Type", "")))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, type[_Collector]]]:
    handler = type("Handler", (_Collector,), {"spans": [], "paths": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        th.join(5)


def test_otlp_endpoint_receives_protobuf(tmp_path: Path, collector: tuple[str, type[_Collector]]) -> None:
    url, handler = collector
    tp = TracerProvider()
    h = configure(otlp_endpoint=url, db=None, tracer_provider=tp, capture=False, spill_dir=str(tmp_path / "spill"))
    assert h.db is None and h.otlp_url == url + "/v1/traces"
    _emit_tool_call_with_read(tp, "OTLP-MARK")
    assert h.flush(30)
    _assert_healthy(h)
    assert handler.paths and set(handler.paths) == {"/v1/traces"}
    names = sorted(s.name for s in handler.spans)
    assert names == sorted([sc.span_name(EventKind.TOOL_CALL), sc.span_name(EventKind.FILE_READ)])
    batch = spans_to_batch(handler.spans)
    assert sorted(e.kind for e in batch.events) == ["file.read", "tool.call"]
    assert not (tmp_path / "t.duckdb").exists()


def test_otlp_and_db_together_and_endpoint_down_keeps_spans(
    tmp_path: Path, collector: tuple[str, type[_Collector]]
) -> None:
    url, handler = collector
    db = tmp_path / "both.duckdb"
    tp = TracerProvider()
    h = configure(otlp_endpoint=url, db=str(db), tracer_provider=tp, capture=False)
    _emit_tool_call_with_read(tp, "BOTH")
    assert h.flush(30)
    assert h.stats().sinks == {"duckdb": {"exported": 2, "failed": 0}, "otlp": {"exported": 2, "failed": 0}}
    assert len(handler.spans) == 2
    h.shutdown()
    assert _counts(db)["events"] == 2

    # An endpoint nobody listens on: spans wait on disk, nothing raises, nothing is lost.
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    tp2 = TracerProvider()
    h2 = configure(otlp_endpoint=dead, db=None, tracer_provider=tp2, capture=False, spill_dir=str(tmp_path / "sp"))
    h2._processor.sinks[0]._exporter._timeout = 0.5  # type: ignore[attr-defined] # keep the test quick
    _emit_tool_call_with_read(tp2, "DOWN")
    assert not h2.flush(15)
    st = h2.stats()
    assert st.pending == 2 and st.exported == 0 and st.lost == 0 and st.errors == 0
    h2.shutdown(timeout=5)
    files = glob.glob(str(tmp_path / "sp" / "clawtrace-spill-*.otlp.pb"))
    assert files
    spans = [x for f in files for chunk, problem in read_otlp_file(f) if not problem for x in chunk]
    assert len(spans) == 2


# --------------------------------------------------------------------------- host safety


def test_configure_twice_returns_the_same_handle(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tp = TracerProvider()
    db = str(tmp_path / "a.duckdb")
    h1 = configure(db=db, tracer_provider=tp, capture=False)
    with caplog.at_level(logging.WARNING, logger="clawtrace.configure"):
        h2 = configure(db=db, tracer_provider=tp, capture=False)
    assert h1 is h2
    assert "called again with the same settings" in caplog.text

    # Different settings: the old pipeline is flushed and replaced; one processor per provider.
    t = tp.get_tracer("x")
    with t.start_as_current_span(sc.span_name(EventKind.TOOL_CALL)):
        pass
    db2 = str(tmp_path / "b.duckdb")
    h3 = configure(db=db2, tracer_provider=tp, capture=False)
    assert h3 is not h1
    assert h1.stats().exported == 1
    with t.start_as_current_span(sc.span_name(EventKind.TOOL_CALL)):
        pass
    assert h3.flush(30)
    assert h3.stats().exported == 1 and h1.stats().received == 1
    h3.shutdown()
    assert _counts(Path(db))["events"] == 1 and _counts(Path(db2))["events"] == 1


_HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("SELECT count(*) FROM events").fetchall()
    print("locked", flush=True)
    sys.stdin.read()
    """
)


def test_locked_store_keeps_the_host_running_and_spans_on_disk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "locked.duckdb"
    Store.open(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        tp = TracerProvider()
        with caplog.at_level(logging.WARNING, logger="clawtrace.configure"):
            h = configure(db=str(db), tracer_provider=tp, capture=False)
            _emit_tool_call_with_read(tp, "LOCKED")
            assert not h.flush(10)  # the host's code goes on; nothing raised
        st = h.stats()
        assert st.received == 2 and st.pending == 2 and st.exported == 0
        assert st.errors == 0 and st.lost == 0
        assert "locked by another process" in caplog.text
        assert caplog.text.count("locked by another process") == 1  # once, not per batch
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
    # The lock is gone: the next flush delivers what waited on disk.
    assert h.flush(30)
    assert h.stats().exported == 2 and h.stats().pending == 0
    h.shutdown()
    assert _counts(db)["events"] == 2


def test_spill_left_at_shutdown_imports_later(tmp_path: Path) -> None:
    db = tmp_path / "l.duckdb"
    Store.open(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        tp = TracerProvider()
        h = configure(db=str(db), tracer_provider=tp, capture=False)
        _emit_tool_call_with_read(tp, "LATER")
        assert not h.shutdown(timeout=5)
        files = h.spill_files() or glob.glob(os.path.join(h.spill_dir, "clawtrace-spill-*"))
        assert files
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)
    spans = [x for f in files for chunk, problem in read_otlp_file(f) if not problem for x in chunk]
    with Store.open(db) as store:
        ingest(store, spans_to_batch(spans, source="sdk"), source="sdk")
    assert _counts(db)["events"] == 2


def test_global_provider_and_flush_at_exit(tmp_path: Path) -> None:
    db = tmp_path / "g.duckdb"
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from clawtrace._configure import configure
        from clawtrace import semconv as sc
        h = configure(db={str(db)!r}, capture=False)
        assert isinstance(trace.get_tracer_provider(), TracerProvider)
        assert configure(db={str(db)!r}, capture=False) is h
        t = trace.get_tracer("app")
        for i in range(500):
            with t.start_as_current_span(sc.span_name("tool.call"), attributes={{sc.TOOL_CALL_ID: str(i)}}):
                pass
        print("no flush, exiting", flush=True)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _counts(db)["events"] == 500


def test_import_clawtrace_configure_is_lazy() -> None:
    code = (
        "import sys, clawtrace;"
        "bad = [m for m in ('duckdb', 'opentelemetry.sdk', 'clawtrace._configure') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
