"""OTLP decoding (every file layout, request bodies) and the span -> event mapping on the sample."""

from __future__ import annotations

import base64
import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import zstandard
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode, set_span_in_context

from clawtrace import model
from clawtrace import semconv as sc
from clawtrace.errors import InputError
from clawtrace.ingest.otlp import OtlpSpan, decode_request, read_otlp_file, spans_to_batch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "otlp"
SAMPLE = ROOT / "clawtrace" / "samples" / "incident.otlp.jsonl"
EVIL = "host:collect.evil-metrics.test:443"
CREDS = "file:///home/dev/.aws/credentials"


def _read(path: Path) -> list[OtlpSpan]:
    out: list[OtlpSpan] = []
    for spans, problem in read_otlp_file(path):
        assert problem is None, problem
        out.extend(spans)
    return out


@pytest.fixture(scope="module")
def sample_spans() -> list[OtlpSpan]:
    return _read(SAMPLE)


@pytest.fixture(scope="module")
def batch(sample_spans: list[OtlpSpan]) -> model.Batch:
    return spans_to_batch(sample_spans)


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("name", ["incident.pb", "incident.json", "incident.pb.framed", "incident.jsonl.gz"])
def test_every_fixture_format_decodes_to_the_same_spans(name: str, sample_spans: list[OtlpSpan]) -> None:
    assert _read(DATA / name) == sample_spans


def test_sample_spans_are_flattened(sample_spans: list[OtlpSpan]) -> None:
    assert len(sample_spans) == 57
    s = next(s for s in sample_spans if s.name == sc.span_name(sc.EventKind.PROCESS_EXEC) and s.events)
    assert len(s.trace_id) == 32 and len(s.span_id) == 16 and s.parent_span_id and len(s.parent_span_id) == 16
    assert s.trace_id == s.trace_id.lower()
    assert s.resource["service.name"] == "openclaw-gateway" and s.scope == "clawtrace.instrument"
    assert s.attrs[sc.PROCESS_PID] == 48213 and isinstance(s.attrs[sc.PROCESS_PID], int)
    assert s.events == [{"name": "process.exit", "ts": s.events[0]["ts"], "attrs": {"process.exit.code": 0}}]
    assert 0 < s.start_ns < s.events[0]["ts"] < s.end_ns
    turns = [s for s in sample_spans if s.name == sc.span_name(sc.EventKind.MODEL_TURN) and s.links]
    assert turns and all(la == {sc.LINK_KIND: "consumed"} for t in turns for _, _, la in t.links)


@pytest.mark.parametrize("compress", ["gzip", "zstd-file", "zstd-frames"])
def test_compressed_layouts(tmp_path: Path, compress: str, sample_spans: list[OtlpSpan]) -> None:
    jsonl = SAMPLE.read_bytes()
    p = tmp_path / "traces.out"
    if compress == "gzip":
        p.write_bytes(gzip.compress(jsonl))
    elif compress == "zstd-file":  # the Collector's native compression: one zstd stream of JSON lines
        cctx = zstandard.ZstdCompressor()
        p.write_bytes(b"".join(cctx.compress(line) for line in jsonl.splitlines(keepends=True)))
    else:  # legacy `compression: zstd`: each message compressed, then length-prefixed
        cctx = zstandard.ZstdCompressor()
        out = b""
        for line in jsonl.splitlines():
            z = cctx.compress(line)
            out += len(z).to_bytes(4, "big") + z
        p.write_bytes(out)
    assert _read(p) == sample_spans


def test_varint_delimited_protobuf(tmp_path: Path, sample_spans: list[OtlpSpan]) -> None:
    framed = (DATA / "incident.pb.framed").read_bytes()
    out, off = b"", 0
    while off < len(framed):
        n = int.from_bytes(framed[off : off + 4], "big")
        msg = framed[off + 4 : off + 4 + n]
        off += 4 + n
        varint, m = b"", len(msg)
        while True:
            b, m = m & 0x7F, m >> 7
            varint += bytes([b | (0x80 if m else 0)])
            if not m:
                break
        out += varint + msg
    p = tmp_path / "delimited.pb"
    p.write_bytes(out)
    assert _read(p) == sample_spans


def test_mixed_bad_reports_file_and_line_and_goes_on() -> None:
    path = DATA / "mixed_bad.jsonl"
    records = list(read_otlp_file(path))
    assert len(records) == 5
    problems = [p for _, p in records if p]
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}:2: ") and problems[1].startswith(f"{path}:3: ")
    assert [len(s) for s, _ in records] == [13, 0, 0, 1, 20]
    b = spans_to_batch([s for chunk, _ in records for s in chunk])
    assert {e.session_id for e in b.events} == {"s-incident-2", "s-benign"}
    assert "GET /health" in {s["name"] for s in b.spans}


def test_bad_files_become_problems_not_exceptions(tmp_path: Path) -> None:
    cases = {
        "garbage.bin": b"\x13\x37 not otlp at all \xff\xfe",
        "truncated.pb.framed": (DATA / "incident.pb.framed").read_bytes()[:-100],
        "truncated.json": (DATA / "incident.json").read_bytes()[:5000],
        "truncated.gz": (DATA / "incident.jsonl.gz").read_bytes()[:1000],
        "list.json": b"[1, 2, 3]\n",
        "badid.jsonl": b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"00","name":"x"}]}]}]}\n',
    }
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        records = list(read_otlp_file(p))
        problems = [prob for _, prob in records if prob]
        assert problems, name
        assert all(prob.startswith(f"{p}:") for prob in problems), problems
    framed = list(read_otlp_file(tmp_path / "truncated.pb.framed"))
    assert [len(s) for s, _ in framed[:2]] == [24, 13] and framed[2][1] and "truncated" in framed[2][1]
    assert len(list(read_otlp_file(tmp_path / "truncated.json"))) == 1
    missing = list(read_otlp_file(tmp_path / "nope.jsonl"))
    assert missing[0][0] == [] and "cannot open" in (missing[0][1] or "")
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert list(read_otlp_file(tmp_path / "empty.jsonl")) == []


def _sdk_request() -> ExportTraceServiceRequest:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "t", sc.SESSION_ID: "s-req"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    turn = tracer.start_span(sc.span_name(sc.EventKind.MODEL_TURN), attributes={sc.REQUEST_MODEL: "m"})
    call = tracer.start_span(
        "execute_tool web_fetch",
        context=set_span_in_context(turn),
        attributes={
            sc.OPERATION_NAME: "execute_tool",
            sc.TOOL_NAME: "web_fetch",
            "tags": ["a", "b"],
            "n": 3,
            "f": 0.5,
            "ok": True,
            "raw": b"\x00\xff",
        },
        links=[Link(turn.get_span_context(), {sc.LINK_KIND: "data_flow"})],
    )
    call.add_event("retry", {"attempt": 2})
    call.set_status(Status(StatusCode.ERROR, "boom"))
    call.end()
    turn.end()
    req = encode_spans(exporter.get_finished_spans())
    provider.shutdown()
    return req


def test_decode_request_protobuf_and_json_round_trip() -> None:
    req = _sdk_request()
    spans = decode_request(req.SerializeToString(), "application/x-protobuf")
    assert len(spans) == 2
    call = next(s for s in spans if s.name.startswith("execute_tool"))
    assert (
        call.attrs["tags"] == ["a", "b"]
        and call.attrs["n"] == 3
        and call.attrs["f"] == 0.5
        and call.attrs["ok"] is True
    )
    assert call.attrs["raw"] == "AP8=" and (call.status_code, call.status_message) == (2, "boom")
    assert call.events[0]["name"] == "retry" and call.links[0][2] == {sc.LINK_KIND: "data_flow"}
    # protobuf's canonical JSON (base64 ids, string int64s, enum names) and OTLP JSON (hex ids) agree.
    canonical = json_format.MessageToJson(req).encode()
    assert b'"STATUS_CODE_ERROR"' in canonical and b'"SPAN_KIND_INTERNAL"' in canonical
    assert decode_request(canonical, "application/json; charset=utf-8") == spans
    otlp = json_format.MessageToDict(req, use_integers_for_enums=True, preserving_proto_field_name=True)
    for rs in otlp["resource_spans"]:
        for ss in rs["scope_spans"]:
            for s in ss["spans"]:
                for k in ("trace_id", "span_id", "parent_span_id"):
                    if k in s:
                        s[k] = base64.b64decode(s[k]).hex()
                for ev in s.get("events", []):
                    ev["time_unix_nano"] = int(ev["time_unix_nano"])  # numbers are accepted as well as strings
                for link in s.get("links", []):
                    for k in ("trace_id", "span_id"):
                        link[k] = base64.b64decode(link[k]).hex().upper()
    assert decode_request(json.dumps(otlp).encode(), "application/json") == spans
    b = spans_to_batch(spans)
    assert {e.kind for e in b.events} == {"model.turn", "tool.call"}
    assert next(e for e in b.events if e.kind == "tool.call").attrs["otel.status_code"] == 2
    assert {e.session_id for e in b.events} == {"s-req"}
    turn = next(e for e in b.events if e.kind == "model.turn")
    tool = next(e for e in b.events if e.kind == "tool.call")
    assert {(x.src, x.dst, x.kind) for x in b.edges} == {
        (turn.event_id, tool.event_id, "emitted"),
        (turn.event_id, tool.event_id, "data_flow"),
    }


@pytest.mark.parametrize(
    "body, ctype",
    [
        (b"not a protobuf", "application/x-protobuf"),
        (b"\x0a\xff\xff\xff\xff\x0f", "application/x-protobuf"),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"resourceSpans": 5}', "application/json"),
        (b"{}", "text/plain"),
    ],
)
def test_decode_request_garbage_raises_input_error(body: bytes, ctype: str) -> None:
    with pytest.raises(InputError):
        decode_request(body, ctype)


# --------------------------------------------------------------------------- mapping the sample


def _one(b: model.Batch, session: str, kind: str, tool: str | None = None, *, nth: int = 0) -> model.Event:
    found = sorted(
        (e for e in b.events if e.session_id == session and e.kind == kind and (tool is None or e.tool_name == tool)),
        key=lambda e: e.ts,
    )
    assert len(found) > nth, (session, kind, tool)
    return found[nth]


def _edges(b: model.Batch) -> set[tuple[str, str, str]]:
    return {(e.src, e.dst, e.kind) for e in b.edges}


def test_sample_event_kinds_per_session(batch: model.Batch) -> None:
    counts = {
        sid: Counter(e.kind for e in batch.events if e.session_id == sid)
        for sid in ("s-incident-1", "s-incident-2", "s-benign")
    }
    assert counts["s-incident-1"] == {
        "input.message": 1, "model.turn": 6, "tool.call": 5, "tool.result": 5,
        "file.read": 2, "net.fetch": 1, "process.exec": 1, "net.egress": 1, "memory.write": 1,
    }  # fmt: skip
    assert counts["s-incident-2"] == {
        "input.message": 1, "model.turn": 3, "tool.call": 2, "tool.result": 2,
        "memory.read": 1, "process.exec": 1, "file.read": 1, "net.egress": 1,
    }  # fmt: skip
    assert counts["s-benign"] == {
        "input.message": 1, "model.turn": 4, "tool.call": 4, "tool.result": 4,
        "file.read": 1, "net.fetch": 1, "file.write": 1, "process.exec": 1, "net.egress": 1,
    }  # fmt: skip
    assert all(e.agent_id == "main" and e.source == "otlp" for e in batch.events)
    assert len({e.event_id for e in batch.events}) == len(batch.events)
    assert batch.problems == []


def test_sample_artifacts(batch: model.Batch) -> None:
    arts = {a.uri: a for a in batch.artifacts}
    assert set(arts) == {
        "file:///home/dev/project/README.md",
        "http://docs.acme.test/setup",
        CREDS,
        EVIL,
        "memory://main/MEMORY.md",
        "file:///home/dev/project/CHANGELOG.md",
        "http://docs.acme.test/changelog",
        "host:api.github.test:443",
    }
    assert arts[CREDS].kind == "file" and arts[CREDS].sensitivity == "credential"
    assert (
        arts["http://docs.acme.test/setup"].kind == "url" and arts["http://docs.acme.test/setup"].trust == "untrusted"
    )
    assert arts[EVIL].kind == "host" and arts["memory://main/MEMORY.md"].kind == "memory"


def test_sample_trust_sensitivity_and_content(batch: model.Batch) -> None:
    fetch = _one(batch, "s-incident-1", "net.fetch")
    assert fetch.trust == "untrusted" and fetch.artifact == "http://docs.acme.test/setup"
    assert fetch.content is not None and b"~/.aws/credentials" in fetch.content
    msg = _one(batch, "s-incident-1", "input.message")
    assert msg.trust == "trusted" and msg.summary.startswith("message from owner")
    for sid in ("s-incident-1", "s-incident-2"):
        reads = [e for e in batch.events if e.session_id == sid and e.kind == "file.read" and e.artifact == CREDS]
        assert len(reads) == 1 and reads[0].sensitivity == "credential"
        assert reads[0].content is not None and b"aws_secret_access_key" in reads[0].content
    egress = _one(batch, "s-incident-1", "net.egress")
    assert (
        egress.artifact == EVIL
        and egress.summary == f"POST https://collect.evil-metrics.test/v1/ingest ({egress.content_size} B)"
    )
    assert base64.b64decode(egress.content or b"").startswith(b"[default]")
    assert egress.attrs[sc.URL_FULL] == "https://collect.evil-metrics.test/v1/ingest"
    assert sc.CONTENT_TEXT not in egress.attrs and sc.SESSION_ID not in egress.attrs
    assert egress.attrs["otel.span.name"] == "clawtrace.net.egress" and egress.attrs["otel.duration_ns"] > 0
    assert egress.attrs["resource"]["service.name"] == "openclaw-gateway"
    assert _one(batch, "s-incident-1", "process.exec").attrs["otel.events"][0]["name"] == "process.exit"
    assert _one(batch, "s-benign", "net.egress").sensitivity == "none"
    call = _one(batch, "s-incident-1", "tool.call", "read")
    assert call.tool_call_id and call.event_id == model.event_id_for(
        "tool.call", session_id="s-incident-1", tool_call_id=call.tool_call_id, fallback=()
    )


def test_sample_edges(batch: model.Batch) -> None:
    ed = _edges(batch)
    s1 = "s-incident-1"
    msg = _one(batch, s1, "input.message")
    fetch_call, fetch = _one(batch, s1, "tool.call", "web_fetch"), _one(batch, s1, "net.fetch")
    fetch_res = _one(batch, s1, "tool.result", "web_fetch")
    readme_res = _one(batch, s1, "tool.result", "read")
    creds_call, creds_read = _one(batch, s1, "tool.call", "read", nth=1), _one(batch, s1, "file.read", nth=1)
    creds_res = _one(batch, s1, "tool.result", "read", nth=1)
    exec_call, proc, egress = (
        _one(batch, s1, "tool.call", "exec"),
        _one(batch, s1, "process.exec"),
        _one(batch, s1, "net.egress"),
    )
    turns = [_one(batch, s1, "model.turn", nth=i) for i in range(5)]
    assert creds_read.artifact == CREDS
    expected = {
        (msg.event_id, turns[0].event_id, "consumed"),
        (readme_res.event_id, turns[1].event_id, "consumed"),
        (msg.event_id, turns[1].event_id, "consumed"),
        (turns[1].event_id, fetch_call.event_id, "emitted"),
        (fetch_call.event_id, fetch.event_id, "effect"),
        (fetch_call.event_id, fetch_res.event_id, "returned"),
        (fetch_res.event_id, turns[2].event_id, "consumed"),
        (turns[2].event_id, creds_call.event_id, "emitted"),
        (creds_call.event_id, creds_read.event_id, "effect"),
        (creds_call.event_id, creds_res.event_id, "returned"),
        (creds_res.event_id, turns[3].event_id, "consumed"),
        (fetch_res.event_id, turns[3].event_id, "consumed"),
        (turns[3].event_id, exec_call.event_id, "emitted"),
        (exec_call.event_id, proc.event_id, "effect"),
        (proc.event_id, egress.event_id, "effect"),
        (_one(batch, s1, "tool.call", "write").event_id, _one(batch, s1, "memory.write").event_id, "effect"),
    }
    assert expected <= ed
    links = [e for e in batch.edges if e.kind == "consumed"]
    assert links and all(e.evidence == {"via": "span_link"} and e.confidence == 1.0 for e in links)
    # Every edge joins two events of this batch: the sample has no dangling parents or links.
    ids = {e.event_id for e in batch.events}
    assert all(e.src in ids and e.dst in ids for e in batch.edges)
    # Session 2: the exec reads the credentials and sends them, both effects of the process.
    s2 = "s-incident-2"
    proc2 = _one(batch, s2, "process.exec")
    assert (proc2.event_id, _one(batch, s2, "file.read").event_id, "effect") in ed
    assert (proc2.event_id, _one(batch, s2, "net.egress").event_id, "effect") in ed
    assert (
        _one(batch, s2, "tool.result", "memory_get").event_id,
        _one(batch, s2, "model.turn", nth=1).event_id,
        "consumed",
    ) in ed
    # Benign: parentage walks through the unmapped HTTP client span.
    assert (
        _one(batch, "s-benign", "tool.call", "web_fetch").event_id,
        _one(batch, "s-benign", "net.fetch").event_id,
        "effect",
    ) in ed


def test_unmapped_spans_are_kept_raw(batch: model.Batch) -> None:
    names = Counter(s["name"] for s in batch.spans)
    assert names == {"invoke_agent main": 3, "GET": 1}
    get = next(s for s in batch.spans if s["name"] == "GET")
    assert set(get) == {
        "trace_id",
        "span_id",
        "parent_span_id",
        "name",
        "start_ns",
        "end_ns",
        "attrs",
        "resource",
        "scope",
        "status_code",
    }
    assert get["scope"] == "opentelemetry.instrumentation.httpx" and get["attrs"][sc.HTTP_METHOD] == "GET"


# --------------------------------------------------------------------------- mapping rules on hand-made spans


def _span(name: str, span_id: str, parent: str | None = None, attrs: dict[str, Any] | None = None) -> OtlpSpan:
    return OtlpSpan(
        trace_id="ab" * 16,
        span_id=span_id * 8 if len(span_id) == 2 else span_id,
        parent_span_id=(parent * 8 if parent and len(parent) == 2 else parent),
        name=name,
        start_ns=1_000 + int(span_id[:2], 16),
        end_ns=2_000,
        attrs=dict(attrs or {}),
        resource={},
        scope="t",
    )


def test_inheritance_parents_outside_the_input_and_foreign_genai_spans() -> None:
    root = _span("invoke_agent", "01", None, {sc.SESSION_ID: "s9", sc.AGENT_ID: "a9", sc.RUN_ID: "r9"})
    chat = _span("chat gpt", "02", "01", {sc.OPERATION_NAME: "chat"})
    tool = _span("execute_tool x", "03", "02", {sc.OPERATION_NAME: "execute_tool", sc.TOOL_NAME: "x"})
    orphan = _span(
        sc.span_name("file.read"), "04", "ee", {sc.FILE_PATH: "notes/a.txt", "process.working_directory": "/w"}
    )
    b = spans_to_batch([root, chat, tool, orphan])
    by_kind = {e.kind: e for e in b.events}
    assert (
        by_kind["model.turn"].session_id == "s9"
        and by_kind["tool.call"].agent_id == "a9"
        and by_kind["tool.call"].run_id == "r9"
    )
    assert by_kind["file.read"].artifact == "file:///w/notes/a.txt" and by_kind["file.read"].session_id is None
    assert (by_kind["model.turn"].event_id, by_kind["tool.call"].event_id, "emitted") in _edges(b)
    assert (model.span_ref("ab" * 16, "ee" * 8), by_kind["file.read"].event_id, model.PARENT_EDGE) in _edges(b)
    assert [s["name"] for s in b.spans] == ["invoke_agent"]


def test_artifact_rules_and_odd_values_never_raise() -> None:
    spans = [
        _span(sc.span_name("net.egress"), "10", None, {sc.URL_FULL: "http://h.test/x?q=1"}),
        _span(sc.span_name("net.egress"), "11", None, {sc.DNS_QUESTION_NAME: "leak.h.test"}),
        _span(sc.span_name("memory.write"), "12", None, {sc.AGENT_ID: "bot", sc.FILE_PATH: "/ws/memory/2025-03-14.md"}),
        _span(sc.span_name("skill.load"), "13", None, {sc.SKILL_NAME: "pdf", sc.SKILL_SHA256: "ab12"}),
        _span(
            "whatever",
            "14",
            None,
            {sc.EVENT_KIND: "file.write", sc.FILE_PATH: "/etc/.env", sc.TRUST: "bogus", sc.CONTENT_SIZE: "12"},
        ),
        _span(
            sc.span_name("net.fetch"),
            "15",
            None,
            {
                sc.CONTENT_TEXT: "aGVsbG8=",
                sc.CONTENT_ENCODING: "base64",
                sc.EVENT_ID: "fixed-id",
                sc.SUMMARY: "given",
            },
        ),
        _span(sc.span_name("tool.call"), "16", None, {sc.TOOL_NAME: ["not", "a", "string"], sc.CONTENT_TEXT: {"a": 1}}),
        _span(sc.span_name("net.egress"), "17", None, {sc.URL_FULL: "http://[bad", sc.SERVER_PORT: "nope"}),
    ]
    b = spans_to_batch(spans)
    got = {(e.span_id or "")[:2]: e for e in b.events}
    assert got["10"].artifact == "host:h.test:80" and got["10"].summary == "send http://h.test/x?q=1"
    assert got["11"].artifact == "host:leak.h.test:?" and got["11"].summary == "dns leak.h.test"
    assert got["12"].artifact == "memory://bot/memory/2025-03-14.md"
    assert got["13"].artifact == "skill://pdf@sha256:ab12"
    assert got["14"].kind == "file.write" and got["14"].sensitivity == "credential" and got["14"].trust == "unknown"
    assert got["14"].content_size == 12
    assert got["15"].event_id == "fixed-id" and got["15"].content == b"hello" and got["15"].summary == "given"
    assert got["16"].tool_name is None and got["16"].content == b'{"a": 1}'
    assert "17" in got
