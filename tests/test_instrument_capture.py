"""Automatic capture through the audit hook: real files, sockets, HTTP, processes and threads."""

from __future__ import annotations

import http.server
import os
import socketserver
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import clawtrace.instrument as ct
from clawtrace import semconv as sc
from clawtrace.instrument._convert import readable_spans_to_otlp
from tests.helpers import attrs_of, by_name

_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()
_PROVIDER.add_span_processor(SimpleSpanProcessor(_EXPORTER))
SECRET = "[default]\naws_access_key_id = AKIAQ3EGT5JXKW7LM2PA\naws_secret_access_key = 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\n"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    ct.use_tracer_provider(_PROVIDER)
    _EXPORTER.clear()
    ct.enable_capture()
    yield _EXPORTER
    ct.disable_capture()
    ct.use_tracer_provider(None)
    _EXPORTER.clear()


def only_call(exp: InMemorySpanExporter) -> ReadableSpan:
    (c,) = by_name(exp, "tool.call")
    return c


class _Sink(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while self.request.recv(65536):
            pass


@pytest.fixture
def tcp_server() -> Iterator[tuple[str, int]]:
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Sink)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "127.0.0.1", srv.server_address[1]
    srv.shutdown()
    srv.server_close()


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[int]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_files_read_and_written_inside_a_tool_call(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("hello provenance\n")
    with ct.session("s"), ct.tool_call("copy", {"src": str(src)}) as call:
        for _ in range(3):  # deduplicated per call
            text = src.read_text()
        (tmp_path / "out.txt").write_text(text.upper())
        import email.mime.text  # noqa: F401 - an import is not a file read

        call.result("ok")
    reads = by_name(spans, "file.read")
    writes = by_name(spans, "file.write")
    assert [attrs_of(r)[sc.FILE_PATH] for r in reads] == [str(src)]
    assert attrs_of(reads[0])[sc.CONTENT_TEXT] == "hello provenance\n"
    assert attrs_of(reads[0])[sc.CONTENT_SIZE] == 17
    assert [attrs_of(w)[sc.FILE_PATH] for w in writes] == [str(tmp_path / "out.txt")]
    assert attrs_of(writes[0])[sc.CONTENT_TEXT] == "HELLO PROVENANCE\n"
    c = only_call(spans)
    for s in reads + writes:
        assert s.parent is not None and s.parent.span_id == c.context.span_id
        assert attrs_of(s)[sc.TOOL_CALL_ID] == call.call_id and attrs_of(s)[sc.SESSION_ID] == "s"


def test_nothing_is_recorded_outside_a_tool_call(
    spans: InMemorySpanExporter, tmp_path: Path, tcp_server: tuple[str, int]
) -> None:
    (tmp_path / "x").write_text("x")
    with ct.session("s"), ct.turn():
        (tmp_path / "x").read_text()
        subprocess.run(["true"], check=True)
        import socket

        with socket.create_connection(tcp_server) as sock:
            sock.sendall(b"outside")
    kinds = {s.name for s in spans.get_finished_spans()}
    assert kinds == {sc.span_name("model.turn"), "invoke_agent"}


def test_tcp_sendall_is_an_egress_with_destination_and_bytes(
    spans: InMemorySpanExporter, tcp_server: tuple[str, int]
) -> None:
    import socket

    host, port = tcp_server
    with ct.tool_call("send") as call:
        with socket.create_connection((host, port)) as sock:
            sock.sendall(b"A" * 3000)
            sock.send(b"tail")
        call.result("sent")
    (eg,) = by_name(spans, "net.egress")
    assert attrs_of(eg)[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs_of(eg)[sc.SERVER_PORT] == port
    assert attrs_of(eg)[sc.NET_BYTES_OUT] == 3004
    assert attrs_of(eg)[sc.CONTENT_TEXT] == "A" * 3000 + "tail"


def test_urllib_post_is_an_egress_with_url_and_body(spans: InMemorySpanExporter, http_server: int) -> None:
    url = f"http://127.0.0.1:{http_server}/upload?x=1"
    with ct.tool_call("post") as call:
        with urllib.request.urlopen(urllib.request.Request(url, data=b"the-body-bytes", method="POST")) as r:
            assert r.read() == b"the-body-bytes"
        call.result("posted")
    (eg,) = by_name(spans, "net.egress")
    assert attrs_of(eg)[sc.URL_FULL] == url
    assert attrs_of(eg)[sc.HTTP_METHOD] == "POST"
    assert attrs_of(eg)[sc.SERVER_PORT] == http_server
    assert attrs_of(eg)[sc.HTTP_BODY_SIZE] == len(b"the-body-bytes")
    assert attrs_of(eg)[sc.NET_BYTES_OUT] > len(b"the-body-bytes")  # headers too
    assert "the-body-bytes" in attrs_of(eg)[sc.CONTENT_TEXT]


def test_subprocess_is_a_process_exec(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    with ct.tool_call("exec", {"cmd": "echo hi"}) as call:
        out = subprocess.run(["echo", "hi"], capture_output=True, text=True, cwd=tmp_path, check=True).stdout
        call.result(out)
    (p,) = by_name(spans, "process.exec")
    assert attrs_of(p)[sc.PROCESS_COMMAND_LINE] == "echo hi"
    assert attrs_of(p)[sc.CONTENT_TEXT] == "echo hi"
    assert attrs_of(p)[sc.PROCESS_WORKING_DIRECTORY] == str(tmp_path)
    assert p.parent is not None and p.parent.span_id == only_call(spans).context.span_id


def test_dns_lookup_is_recorded(spans: InMemorySpanExporter) -> None:
    import socket

    with ct.tool_call("resolve"):
        try:
            socket.getaddrinfo("localhost", 80)
        except OSError:
            pass
    (d,) = by_name(spans, "net.egress")
    assert attrs_of(d)[sc.DNS_QUESTION_NAME] == "localhost"


def test_thread_started_in_a_tool_call_is_attributed_to_it(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    f = tmp_path / "threaded.txt"
    f.write_text("from a thread")
    with ct.tool_call("bg") as call:
        t = threading.Thread(target=f.read_text)
        t.start()
        t.join()
    (r,) = by_name(spans, "file.read")
    assert attrs_of(r)[sc.FILE_PATH] == str(f)
    assert attrs_of(r)[sc.TOOL_CALL_ID] == call.call_id
    assert r.parent is not None and r.parent.span_id == only_call(spans).context.span_id


def test_disable_restores_and_stops(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    import socket

    assert "sendall" in socket.socket.__dict__
    ct.disable_capture()
    assert "sendall" not in socket.socket.__dict__ and not ct.capture_enabled()
    (tmp_path / "y").write_text("y")
    with ct.tool_call("quiet"):
        (tmp_path / "y").read_text()
    assert by_name(spans, "file.read") == []
    ct.enable_capture()
    ct.enable_capture()  # idempotent


def test_credential_read_then_sent_is_a_carried_sensitive_source(
    spans: InMemorySpanExporter, tmp_path: Path, http_server: int
) -> None:
    from clawtrace import graph
    from clawtrace.ingest.otlp import spans_to_batch
    from clawtrace.store import Store, ingest

    creds = tmp_path / ".aws" / "credentials"
    creds.parent.mkdir()
    creds.write_text(SECRET)
    with ct.session("exfil", agent_id="main"):
        ct.input_message("set up my cloud config", sender="owner")
        with ct.turn(), ct.tool_call("read", {"path": str(creds)}) as c1:
            c1.result(creds.read_text())
        with ct.turn(), ct.tool_call("upload") as c2:
            body = creds.read_bytes()
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{http_server}/u", data=body)).read()
            c2.result("uploaded")
    batch = spans_to_batch(readable_spans_to_otlp(spans.get_finished_spans()))
    assert batch.problems == []
    (eg,) = [e for e in batch.events if e.kind == "net.egress"]
    with Store.open(tmp_path / "t.duckdb") as store:
        ingest(store, batch)
        chain = graph.why(store, eg.event_id)
    assert chain.sensitive_sources, chain.as_dict()
    top = chain.sensitive_sources[0]
    assert top["kind"] == "file.read" and top["artifact"] == f"file://{creds}"
    assert top["sensitivity"] == "credential" and top["carried"] is True


def test_hook_cost_outside_a_tool_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Measures (prints, never asserts) the per-open() cost of the hook outside a tool call."""
    code = f"""
import os, sys, time
p = {str(tmp_path / "small.txt")!r}
open(p, 'w').write('x')
def bench(n=100_000):
    best = 1e9
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            open(p).close()
        best = min(best, (time.perf_counter() - t) / n)
    return best
import clawtrace.instrument as ct  # imported first: only the hook differs between the two runs
base = bench()
ct.enable_capture()
hooked = bench()
import timeit
from clawtrace.instrument import _audit
args = (p, "r", 0)
body = min(timeit.repeat(lambda: _audit._hook("open", args), number=200_000, repeat=5)) / 200_000
empty = min(timeit.repeat(lambda: None, number=200_000, repeat=5)) / 200_000
print(f"{{base * 1e6:.3f}} {{hooked * 1e6:.3f}} {{(body - empty) * 1e6:.3f}}")
"""
    import sys

    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    base, hooked, body = (float(x) for x in out.stdout.split())
    with capsys.disabled():
        print(
            f"\nopen() outside a tool call: {base:.3f} us without the hook, {hooked:.3f} us with it "
            f"(+{hooked - base:.3f} us per call); the hook's body alone: {body:.3f} us"
        )
    assert hooked > 0 and body >= -1


def test_asyncio_to_thread_carries_the_call(spans: InMemorySpanExporter, tmp_path: Path) -> None:
    import asyncio

    f = tmp_path / "async.txt"
    f.write_text("async")

    @ct.tool_call("aread")
    async def aread(path: str) -> str:
        return await asyncio.to_thread(Path(path).read_text)

    assert asyncio.run(aread(str(f))) == "async"
    (r,) = by_name(spans, "file.read")
    assert attrs_of(r)[sc.FILE_PATH] == str(f)
    assert attrs_of(r)[sc.TOOL_CALL_ID] == attrs_of(only_call(spans))[sc.TOOL_CALL_ID]
