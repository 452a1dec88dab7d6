"""``clawtrace serve`` as a real subprocess on 127.0.0.1, against real DuckDB files.

Every server a test starts is stopped by that test (the ``serve`` fixture's teardown).
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from clawtrace.errors import StoreLockedError
from clawtrace.store import Store
from tests.helpers import lock_held

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "clawtrace" / "samples" / "incident.otlp.jsonl"


class Server:
    """One ``python -m clawtrace serve`` subprocess."""

    def __init__(self, db: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.db = db
        self.log = db.parent / f"serve-{time.monotonic_ns()}.log"
        self._err = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clawtrace", "--db", str(db), "serve", "--port", "0", *args],
            stdout=subprocess.DEVNULL,
            stderr=self._err,
            cwd=db.parent,
            env={**os.environ, **(env or {})},
        )
        self.port = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.stderr())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"serve did not start: {self.stderr()}")

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            con.request(method, path, body=body if method == "POST" else None, headers=headers or {})
            r = con.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            con.close()

    def post(
        self, body: bytes, ctype: str = "application/x-protobuf", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        return self.request("POST", "/v1/traces", body, {"Content-Type": ctype, **headers})

    def health(self) -> dict[str, Any]:
        status, _, body = self.request("GET", "/healthz")
        assert status == 200
        doc: dict[str, Any] = json.loads(body)
        return doc

    def wait_drained(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            h = self.health()
            if h["spool_bytes"] == 0 and h["backlog_spans"] == 0:
                return h
            assert time.monotonic() < deadline, h
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._err.close()
        return self.proc.returncode


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(db: Path, *args: str, env: dict[str, str] | None = None) -> Server:
        s = Server(db, *args, env=env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop(signal.SIGKILL)


def _request(n: int, tag: int) -> tuple[bytes, list[tuple[str, str]]]:
    """A protobuf ExportTraceServiceRequest of ``n`` plain spans with ids derived from ``tag``."""
    trace = (tag + 1).to_bytes(16, "big")
    spans = []
    ids = []
    for i in range(n):
        sid = ((tag << 20) + i + 1).to_bytes(8, "big")
        spans.append(
            Span(
                trace_id=trace,
                span_id=sid,
                name=f"work {i}",
                start_time_unix_nano=10**18 + i,
                end_time_unix_nano=10**18 + i + 5,
            )
        )
        ids.append((trace.hex(), sid.hex()))
    req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=spans)])])
    return req.SerializeToString(), ids


def _stored_ids(db: Path) -> set[tuple[str, str]]:
    with Store.open(db, read_only=True) as store:
        _, rows = store.sql("SELECT trace_id, span_id FROM spans UNION SELECT trace_id, span_id FROM events")
    return {(r[0], r[1]) for r in rows}


def _egress(db: Path) -> tuple[list[dict[str, Any]], str]:
    r = subprocess.run(
        [sys.executable, "-m", "clawtrace", "--db", str(db), "egress", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=db.parent,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    rows: list[dict[str, Any]] = json.loads(r.stdout)
    return rows, r.stderr


# ----------------------------------------------------------------------------- end to end


def test_sdk_and_json_exports_are_stored_and_readable_while_serving(db: Path, serve: Callable[..., Server]) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    srv = serve(db, "--snapshot-interval", "0")
    provider = TracerProvider(resource=Resource.create({"service.name": "receiver-test"}))
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{srv.port}/v1/traces", timeout=10)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    sdk_ids = set()
    for i in range(5):
        with tracer.start_as_current_span(f"sdk span {i}") as sp:
            ctx = sp.get_span_context()
            sdk_ids.add((f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"))
    provider.shutdown()

    for line in SAMPLE.read_bytes().splitlines():
        status, headers, body = srv.post(line, "application/json")
        assert (status, body, headers["content-type"]) == (200, b"{}", "application/json")

    h = srv.wait_drained()
    assert h["spans_received"] == h["spans_stored"] > 5
    deadline = time.monotonic() + 20
    while True:  # the snapshot follows the last batch
        rows, err = _egress(db)
        if any(r["verdict"] == "exfiltration" for r in rows) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "store is locked by clawtrace serve; reading the snapshot of" in err
    exfil = [r for r in rows if r["verdict"] == "exfiltration"]
    assert {r["destination"] for r in exfil} == {"collect.evil-metrics.test:443"}

    assert srv.stop() == 0
    assert "stopped:" in srv.stderr()
    assert sdk_ids <= _stored_ids(db)
    rows_after, err_after = _egress(db)  # the lock is released: the store itself
    assert "snapshot" not in err_after
    assert [r["event_id"] for r in rows_after if r["verdict"] == "exfiltration"] == [r["event_id"] for r in exfil]


def test_gzip_bad_bodies_health_and_metrics(db: Path, serve: Callable[..., Server]) -> None:
    srv = serve(db)
    body, ids = _request(3, 7)
    status, headers, resp = srv.post(gzip.compress(body), **{"Content-Encoding": "gzip"})
    assert (status, resp, headers["content-type"]) == (200, b"", "application/x-protobuf")

    for bad, ctype, enc, code in [
        (b"\xff\xff garbage", "application/x-protobuf", None, 400),
        (b'{"resourceSpans": 5}', "application/json", None, 400),
        (b"not json", "application/json", None, 400),
        (b"\x1f\x8b broken gzip", "application/x-protobuf", "gzip", 400),
        (body, "text/plain", None, 415),
        (body, "application/x-protobuf", "br", 415),
    ]:
        hdrs = {"Content-Encoding": enc} if enc else {}
        status, _, resp = srv.post(bad, ctype, **hdrs)
        assert status == code, (bad, resp)
        assert resp  # a google.rpc.Status saying why
    status, _, _ = srv.request("POST", "/v1/logs", body, {"Content-Type": "application/x-protobuf"})
    assert status == 404

    h = srv.wait_drained()
    assert h["status"] == "ok" and h["spans_received"] == 3 and h["spans_stored"] == 3
    status, headers, text = srv.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    metrics = text.decode()
    for line in [
        'clawtrace_receiver_requests_total{code="200"}',
        'clawtrace_receiver_requests_total{code="400"} 4',
        'clawtrace_receiver_rejections_total{reason="bad_request"} 4',
        "clawtrace_receiver_spans_received_total 3",
        "clawtrace_receiver_spans_stored_total 3",
        "clawtrace_receiver_spool_bytes 0",
        "clawtrace_receiver_backlog_spans 0",
    ]:
        assert line in metrics
    assert srv.stop() == 0
    assert set(ids) <= _stored_ids(db)


def test_kill_9_loses_no_acknowledged_span(db: Path, serve: Callable[..., Server]) -> None:
    srv = serve(db, "--batch-spans", "150", "--snapshot-interval", "0")
    acked: set[tuple[str, str]] = set()
    for tag in range(40):
        body, ids = _request(100, tag)
        status, _, _ = srv.post(body)
        assert status == 200
        acked.update(ids)
    srv.proc.kill()  # right after the last 200
    srv.proc.wait()
    srv.stop()

    again = serve(db, "--snapshot-interval", "0")
    again.wait_drained()
    assert again.stop() == 0
    assert acked <= _stored_ids(db)
    assert not list((db.parent / (db.name + ".spool")).glob("failed-*"))

    # A replay of everything (progress lost) adds nothing: stable ids.
    with Store.open(db, read_only=True) as store:
        before = store.counts()
    (db.parent / (db.name + ".spool") / "progress").unlink()
    third = serve(db)
    third.wait_drained()
    assert third.stop() == 0
    with Store.open(db, read_only=True) as store:
        assert store.counts() == before


# ----------------------------------------------------------------------------- auth and overload


def test_beyond_loopback_needs_a_token(db: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CLAWTRACE_TOKEN"}
    r = subprocess.run(
        [sys.executable, "-m", "clawtrace", "--db", str(db), "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert r.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a bearer token" in r.stderr
    assert not db.exists()


def test_bearer_token(db: Path, serve: Callable[..., Server]) -> None:
    srv = serve(db, env={"CLAWTRACE_TOKEN": "s3cret"})
    body, _ = _request(2, 1)
    status, headers, _ = srv.post(body)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert srv.post(body, Authorization="Bearer wrong")[0] == 401
    assert srv.post(body, Authorization="Bearer s3cret")[0] == 200
    assert srv.wait_drained()["spans_stored"] == 2
    assert srv.stop() == 0


def test_overload_answers_retry_after(db: Path, serve: Callable[..., Server]) -> None:
    srv = serve(db, "--spool-limit", "64")
    body, _ = _request(5, 2)
    status, headers, _ = srv.post(body)
    assert status == 503 and int(headers["retry-after"]) >= 1
    assert srv.health()["spans_received"] == 0
    assert srv.stop() == 0

    backlog = serve(db, "--max-backlog", "3")
    status, headers, _ = backlog.post(body)
    assert status == 429 and int(headers["retry-after"]) >= 1
    assert 'clawtrace_receiver_rejections_total{reason="backlog"} 1' in backlog.request("GET", "/metrics")[2].decode()
    assert backlog.stop() == 0


# ----------------------------------------------------------------------------- the snapshot fallback


def test_read_only_open_falls_back_to_the_snapshot(
    db: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    Store.open(db).close()
    with lock_held(db):
        with pytest.raises(StoreLockedError, match="locked by another process"):
            Store.open(db, read_only=True)  # no snapshot: the existing error
        snap = Path(str(db) + ".snapshot")
        snap.write_bytes(db.read_bytes())
        with Store.open(db, read_only=True) as store:
            assert store.path == str(snap)
            assert store.counts()["events"] == 0
        assert re.search(r"store is locked by clawtrace serve; reading the snapshot of \d\d:\d\d:\d\d", caplog.text)
        with pytest.raises(StoreLockedError):
            Store.open(db)  # writers never fall back


@pytest.mark.parametrize(("batch_bytes", "batches"), [(None, 1), ("1", 4)])
def test_a_spool_backlog_is_stored_in_batches_bounded_by_bytes(
    db: Path, serve: Callable[..., Server], batch_bytes: str | None, batches: int
) -> None:
    """A backlog (here: frames a killed receiver left in the spool) is drained in batches
    of at most --batch-spans spans and about --batch-bytes bytes: one batch when it fits,
    one per frame when every frame is past the bound. Either way every span is stored."""
    from clawtrace.receiver import Spool

    spool = Spool(str(db) + ".spool")
    ids: list[tuple[str, str]] = []
    for tag in range(4):
        body, got = _request(5, 100 + tag)
        spool.append(body)
        ids += got
    spool.close()
    srv = serve(db, *(["--batch-bytes", batch_bytes] if batch_bytes else []))
    h = srv.wait_drained()
    assert h["spans_stored"] == 20
    _, _, text = srv.request("GET", "/metrics")
    assert f"clawtrace_receiver_batches_total {batches}" in text.decode()
    assert srv.stop() == 0
    assert set(ids) <= _stored_ids(db)
