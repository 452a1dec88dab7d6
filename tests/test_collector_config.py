"""The fleet Collector config (collector/otel-collector.yaml) and the archive it writes.

No OpenTelemetry Collector build is installable from the registries this project uses, so:

- the config is checked structurally here (with PyYAML when present, else a small
  indentation reader that is enough for this file), and with ``otelcol-contrib validate``
  only where such a binary is on PATH;
- the archive side is checked end to end: spans made with the real OTel Python SDK are
  written in every layout the Collector's ``file`` exporter produces (JSON lines, 4-byte
  big-endian length-framed protobuf, per-message zstd as ``compression: zstd`` writes, and a
  zstd-compressed whole file) and imported with ``python -m clawtrace import otlp`` into a
  real DuckDB store.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
import zstandard

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "collector" / "otel-collector.yaml"


# --------------------------------------------------------------------------- config structure


def _mini_yaml(text: str) -> dict[str, Any]:
    """Mappings and ``- item`` lists of plain or flow-list scalars: the subset the config uses."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, Any]] = [(-1, root)]
    last_key: dict[int, tuple[dict[str, Any], str]] = {}
    for raw in text.splitlines():
        line = re.sub(r"\s+#.*$", "", raw) if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        while stack and stack[-1][0] >= indent and not body.startswith("- "):
            stack.pop()
        if body.startswith("- "):
            while stack[-1][0] > indent:
                stack.pop()
            parent, key = last_key[max(k for k in last_key if k < indent)]
            if not isinstance(parent[key], list):
                parent[key] = []
            parent[key].append(body[2:].strip())
            continue
        key, _, value = body.partition(":")
        container = stack[-1][1]
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            container[key] = [v.strip() for v in value[1:-1].split(",") if v.strip()]
        elif value:
            container[key] = value
        else:
            container[key] = {}
            stack.append((indent, container[key]))
        last_key = {k: v for k, v in last_key.items() if k < indent}
        last_key[indent] = (container, key)
    return root


def _config() -> dict[str, Any]:
    text = CONFIG.read_text(encoding="utf-8")
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        return _mini_yaml(text)
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


def _s(v: Any) -> str:
    return str(v).strip().strip("'\"")


def test_config_has_the_fleet_components() -> None:
    cfg = _config()
    ext, rec, proc, exp = cfg["extensions"], cfg["receivers"], cfg["processors"], cfg["exporters"]

    # OTLP in on both standard ports, beyond loopback.
    assert _s(rec["otlp"]["protocols"]["http"]["endpoint"]) == "0.0.0.0:4318"
    assert _s(rec["otlp"]["protocols"]["grpc"]["endpoint"]) == "0.0.0.0:4317"
    assert "batch" in proc

    # Persistent queue.
    assert "directory" in ext["file_storage/queue"]
    # Trace-id sharding over OTLP/gRPC (the only protocol the loadbalancing exporter has).
    lb = exp["loadbalancing"]
    assert _s(lb["routing_key"]) == "traceID"
    assert _s(lb["sending_queue"]["storage"]) == "file_storage/queue"
    assert "otlp" in lb["protocol"]
    hosts = [_s(h) for h in lb["resolver"]["static"]["hostnames"]]
    assert len(hosts) >= 2 and all(h.endswith(":4417") for h in hosts)
    assert _s(rec["otlp/shard"]["protocols"]["grpc"]["endpoint"]).endswith(":4417")

    # The clawtrace receiver: OTLP/HTTP with bearer auth, persistent queue.
    ct = exp["otlphttp/clawtrace"]
    assert _s(ct["auth"]["authenticator"]) == "bearertokenauth/clawtrace"
    assert _s(ct["sending_queue"]["storage"]) == "file_storage/queue"
    assert _s(ext["bearertokenauth/clawtrace"]["token"]) == "${env:CLAWTRACE_TOKEN}"
    assert _s(ext["bearertokenauth/clawtrace"]["scheme"]) == "Bearer"

    # The archive `clawtrace import otlp` reads.
    arch = exp["file/archive"]
    assert _s(arch["format"]) in ("proto", "json")
    assert _s(arch["compression"]) == "zstd"
    assert {"max_megabytes", "max_backups"} <= set(arch["rotation"])


def test_config_wiring_is_consistent() -> None:
    """Every component a pipeline names is defined, and every defined one is used."""
    cfg = _config()
    service = cfg["service"]
    used_ext = {_s(e) for e in service["extensions"]}
    assert used_ext == set(cfg["extensions"])
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for name, pipe in service["pipelines"].items():
        assert name.split("/", 1)[0] == "traces"
        for section in used:
            used[section] |= {_s(x) for x in pipe.get(section, [])}
    for section, names in used.items():
        assert names == set(cfg[section]), section
    pipes = service["pipelines"]
    assert [_s(x) for x in pipes["traces/ingress"]["exporters"]] == ["loadbalancing"]
    assert {_s(x) for x in pipes["traces/shard"]["exporters"]} == {"otlphttp/clawtrace", "file/archive"}
    assert [_s(x) for x in pipes["traces/shard"]["receivers"]] == ["otlp/shard"]
    # Every authenticator and queue storage named is a defined extension.
    text = CONFIG.read_text(encoding="utf-8")
    for ref in re.findall(r"^\s*(?:authenticator|storage):\s*(\S+)", text, re.MULTILINE):
        assert ref in cfg["extensions"], ref


def test_mini_yaml_reader_matches_pyyaml_when_available() -> None:
    yaml = pytest.importorskip("yaml")
    text = CONFIG.read_text(encoding="utf-8")
    assert _keys(_mini_yaml(text)) == _keys(yaml.safe_load(text))


def _keys(d: Any, prefix: str = "") -> set[str]:
    if not isinstance(d, dict):
        return set()
    out = set()
    for k, v in d.items():
        out.add(prefix + str(k))
        out |= _keys(v, prefix + str(k) + ".")
    return out


def test_otelcol_contrib_validates_the_config(tmp_path: Path) -> None:
    exe = shutil.which("otelcol-contrib")
    if exe is None:
        pytest.skip("otelcol-contrib is not on PATH (no registry used by this project ships a full contrib build)")
    env = {**os.environ, "CLAWTRACE_TOKEN": "t0ken", "OTELCOL_DATA": str(tmp_path)}
    r = subprocess.run(
        [exe, "validate", f"--config={CONFIG}"], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------------- archive -> clawtrace


SESSIONS = ("s-fleet-a", "s-fleet-b", "s-fleet-c")
EVENTS_PER_SESSION = 4


def _sdk_requests() -> list[Any]:
    """One ExportTraceServiceRequest per session, from spans made by the real OTel SDK."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from clawtrace import semconv as sc

    out = []
    for sid in SESSIONS:
        mem = InMemorySpanExporter()
        tp = TracerProvider(resource=Resource.create({"service.name": "openclaw-gateway", "host.name": "gw-7"}))
        tp.add_span_processor(SimpleSpanProcessor(mem))
        tracer = tp.get_tracer("fleet-test")
        with tracer.start_as_current_span("invoke_agent", attributes={sc.SESSION_ID: sid, sc.AGENT_ID: "main"}):
            with (
                tracer.start_as_current_span(
                    "clawtrace.tool.call",
                    attributes={sc.EVENT_KIND: "tool.call", sc.TOOL_NAME: "read", sc.TOOL_CALL_ID: f"{sid}-c1"},
                ),
                tracer.start_as_current_span(
                    "clawtrace.file.read",
                    attributes={sc.EVENT_KIND: "file.read", sc.FILE_PATH: "/home/u/.aws/credentials"},
                ),
            ):
                pass
            with (
                tracer.start_as_current_span(
                    "clawtrace.tool.call",
                    attributes={sc.EVENT_KIND: "tool.call", sc.TOOL_NAME: "exec", sc.TOOL_CALL_ID: f"{sid}-c2"},
                ),
                tracer.start_as_current_span(
                    "clawtrace.net.egress",
                    attributes={sc.EVENT_KIND: "net.egress", sc.SERVER_ADDRESS: "paste.example", sc.SERVER_PORT: 443},
                ),
            ):
                pass
        tp.shutdown()
        spans = mem.get_finished_spans()
        assert len(spans) == 1 + EVENTS_PER_SESSION
        out.append(encode_spans(spans))
    return out


def _collector_json(req: Any) -> bytes:
    """One line as the Collector's file exporter writes it: OTLP JSON, camelCase, hex ids."""
    from google.protobuf.json_format import MessageToDict

    doc = MessageToDict(req)

    def hexify(o: Any) -> None:
        if isinstance(o, dict):
            for k, v in o.items():
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                    o[k] = base64.b64decode(v).hex()
                else:
                    hexify(v)
        elif isinstance(o, list):
            for x in o:
                hexify(x)

    hexify(doc)
    assert re.fullmatch(r"[0-9a-f]{32}", doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"])
    return json.dumps(doc, separators=(",", ":")).encode()


def _framed(payloads: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in payloads)


def _archives(tmp_path: Path) -> dict[str, Path]:
    reqs = _sdk_requests()
    protos = [r.SerializeToString() for r in reqs]
    jsons = [_collector_json(r) for r in reqs]
    z = zstandard.ZstdCompressor()
    files = {
        # format: json
        "traces.jsonl": b"".join(j + b"\n" for j in jsons),
        # format: proto
        "traces.pb": _framed(protos),
        # format: proto + compression: zstd (each message compressed, then framed)
        "traces.pb.zst-frames": _framed([z.compress(p) for p in protos]),
        # format: json + compression: zstd (framed the same way)
        "traces.json.zst-frames": _framed([z.compress(j) for j in jsons]),
        # a rotated JSON-lines backup compressed whole afterwards
        "traces.jsonl.zst": z.compress(b"".join(j + b"\n" for j in jsons)),
    }
    out = {}
    for name, data in files.items():
        p = tmp_path / name
        p.write_bytes(data)
        out[name] = p
    return out


def _import(db: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [sys.executable, "-m", "clawtrace", "--db", str(db), "import", "otlp", *map(str, files)],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _counts(db: Path) -> tuple[int, dict[str, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        n = con.execute("select count(*) from events").fetchone()
        rows = con.execute("select session_id, count(*) from events group by 1").fetchall()
    finally:
        con.close()
    assert n is not None
    return int(n[0]), {str(s): int(c) for s, c in rows}


@pytest.mark.parametrize(
    "layout", ["traces.jsonl", "traces.pb", "traces.pb.zst-frames", "traces.json.zst-frames", "traces.jsonl.zst"]
)
def test_collector_archive_imports(tmp_path: Path, layout: str) -> None:
    files = _archives(tmp_path)
    db = tmp_path / f"{layout}.duckdb"
    _import(db, files[layout])
    total, per_session = _counts(db)
    assert total == len(SESSIONS) * EVENTS_PER_SESSION
    assert per_session == {s: EVENTS_PER_SESSION for s in SESSIONS}
    con = duckdb.connect(str(db), read_only=True)
    try:
        kinds = dict(con.execute("select kind, count(*) from events group by 1").fetchall())
    finally:
        con.close()
    assert kinds == {"tool.call": 6, "file.read": 3, "net.egress": 3}


def test_all_archive_layouts_into_one_store_do_not_double(tmp_path: Path) -> None:
    files = _archives(tmp_path)
    db = tmp_path / "all.duckdb"
    _import(db, *files.values())
    total, _ = _counts(db)
    assert total == len(SESSIONS) * EVENTS_PER_SESSION
