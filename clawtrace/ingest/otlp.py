"""OTLP traces in, provenance records out.

Two halves:

- **Decoding** (``decode_request``, ``read_otlp_file``): OTLP/HTTP request bodies and
  OTLP files (the Collector file exporter's JSON lines or length-prefixed protobuf, one
  ``ExportTraceServiceRequest`` as JSON or protobuf, any of them gzip or zstd compressed)
  become flat ``OtlpSpan`` records. File readers never raise on a bad record: they yield a
  ``"file:line: cause"`` problem and go on.
- **Mapping** (``spans_to_batch``): spans in clawtrace's conventions (``semconv``) become
  ``model.Event``/``Edge``/``Artifact`` records (DESIGN.md sections 3 and 7); spans that map
  to no event are kept as raw span dicts for the ``spans`` table.

Only the OTLP protobuf definitions are used, never the OpenTelemetry SDK.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import gzip
import io
import json
import logging
import os
import posixpath
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any, cast
from urllib.parse import urlsplit

import zstandard
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from clawtrace import model
from clawtrace import semconv as sc
from clawtrace.errors import InputError
from clawtrace.semconv import EdgeKind, EventKind, LinkKind, Sensitivity, Source, Trust

__all__ = ["OtlpSpan", "decode_request", "read_otlp_file", "spans_to_batch"]

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_STREAM_ERRORS = (OSError, EOFError, ValueError, zlib.error, zstandard.ZstdError)
"""What reading a damaged gzip or zstd stream raises."""
_MAX_FRAME = 1 << 30
"""A length prefix above this is not a Collector frame but garbage."""
_SUMMARY_MAX = 160

_CWD_ATTR = sc.PROCESS_WORKING_DIRECTORY
"""OpenTelemetry's process working directory attribute, used to resolve relative paths.
(Not yet in ``semconv``; see the closing note of this change.)"""


# --------------------------------------------------------------------------- records


@dataclasses.dataclass(slots=True)
class OtlpSpan:
    """One OTLP span, flattened: hex ids, python attribute values, its resource and scope."""

    trace_id: str
    """Lowercase hex, 32 characters."""
    span_id: str
    """Lowercase hex, 16 characters."""
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    attrs: dict[str, Any]
    """Span attributes; ``AnyValue`` flattened (bytes become base64 strings)."""
    resource: dict[str, Any]
    scope: str
    links: list[tuple[str, str, dict[str, Any]]] = dataclasses.field(default_factory=list)
    """``(trace_id, span_id, attrs)`` of each span link."""
    status_code: int = 0
    status_message: str = ""
    events: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Span events as ``{"name", "ts", "attrs"}``."""


class _BadRecord(Exception):
    """One record (line, frame, body) could not be decoded; the message says why."""


# --------------------------------------------------------------------------- protobuf -> OtlpSpan


def _any_value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        return v.string_value
    if which == "bool_value":
        return v.bool_value
    if which == "int_value":
        return v.int_value
    if which == "double_value":
        return v.double_value
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    if which == "array_value":
        return [_any_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return _kv(v.kvlist_value.values)
    return None


def _kv(items: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in items}


def _hex_id(raw: bytes, size: int, what: str, name: str) -> str:
    if len(raw) != size:
        raise _BadRecord(f"span {name!r}: {what} must be {size} bytes, got {len(raw)}")
    return raw.hex()


def _from_proto(req: ExportTraceServiceRequest) -> list[OtlpSpan]:
    out: list[OtlpSpan] = []
    for rs in req.resource_spans:
        resource = _kv(rs.resource.attributes)
        for ss in rs.scope_spans:
            scope = ss.scope.name
            for s in ss.spans:
                name = s.name
                links = []
                for link in s.links:
                    try:
                        links.append(
                            (
                                _hex_id(link.trace_id, 16, "link trace id", name),
                                _hex_id(link.span_id, 8, "link span id", name),
                                _kv(link.attributes),
                            )
                        )
                    except _BadRecord:
                        log.debug("span %r: dropping a link with malformed ids", name)
                out.append(
                    OtlpSpan(
                        trace_id=_hex_id(s.trace_id, 16, "trace id", name),
                        span_id=_hex_id(s.span_id, 8, "span id", name),
                        parent_span_id=_hex_id(s.parent_span_id, 8, "parent span id", name)
                        if s.parent_span_id
                        else None,
                        name=name,
                        start_ns=int(s.start_time_unix_nano),
                        end_ns=int(s.end_time_unix_nano),
                        attrs=_kv(s.attributes),
                        resource=resource,
                        scope=scope,
                        links=links,
                        status_code=int(s.status.code),
                        status_message=s.status.message,
                        events=[
                            {"name": e.name, "ts": int(e.time_unix_nano), "attrs": _kv(e.attributes)} for e in s.events
                        ],
                    )
                )
    return out


def _parse_proto(data: bytes) -> list[OtlpSpan]:
    req = ExportTraceServiceRequest()
    try:
        req.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise _BadRecord(f"not an OTLP protobuf message ({e})") from e
    return _from_proto(req)


# --------------------------------------------------------------------------- JSON -> OtlpSpan

_HEX = re.compile(r"[0-9a-fA-F]*")
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_MISSING = object()


def _jget(d: dict[str, Any], camel: str, snake: str) -> Any:
    v = d.get(camel, _MISSING)
    return d.get(snake) if v is _MISSING else v


def _jobj(v: Any, what: str) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise _BadRecord(f"{what} must be an object, got {type(v).__name__}")
    return v


def _jlist(d: dict[str, Any], camel: str, snake: str) -> list[Any]:
    v = _jget(d, camel, snake)
    if v is None:
        return []
    if not isinstance(v, list):
        raise _BadRecord(f"{camel} must be a list, got {type(v).__name__}")
    return v


def _jint(v: Any, what: str) -> int:
    if v is None:
        return 0
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            pass
    raise _BadRecord(f"{what} must be an integer, got {_short(repr(v), 40)}")


def _jbytes(v: Any, what: str) -> bytes:
    if not isinstance(v, str):
        raise _BadRecord(f"{what} must be a base64 string")
    text = v.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as e:
        raise _BadRecord(f"{what} is not base64") from e


def _jid(v: Any, size: int, what: str, name: str) -> str:
    """An id as lowercase hex: OTLP JSON sends hex, protobuf's JSON mapping base64. Accept both."""
    if isinstance(v, str) and len(v) == 2 * size and _HEX.fullmatch(v):
        return v.lower()
    raw = _jbytes(v, f"span {name!r}: {what}") if v not in (None, "") else b""
    if len(raw) != size:
        raise _BadRecord(f"span {name!r}: {what} must be {size} bytes, got {len(raw)}")
    return raw.hex()


def _jany(v: Any) -> Any:
    """A JSON ``AnyValue`` to python, as ``_any_value`` does for protobuf."""
    if not isinstance(v, dict):
        raise _BadRecord(f"attribute value must be an AnyValue object, got {_short(repr(v), 40)}")
    for camel, snake in (
        ("stringValue", "string_value"),
        ("boolValue", "bool_value"),
        ("intValue", "int_value"),
        ("doubleValue", "double_value"),
        ("arrayValue", "array_value"),
        ("kvlistValue", "kvlist_value"),
        ("bytesValue", "bytes_value"),
    ):
        x = _jget(v, camel, snake)
        if x is None:
            continue
        if camel == "stringValue":
            if not isinstance(x, str):
                raise _BadRecord("stringValue must be a string")
            return x
        if camel == "boolValue":
            if not isinstance(x, bool):
                raise _BadRecord("boolValue must be true or false")
            return x
        if camel == "intValue":
            return _jint(x, "intValue")
        if camel == "doubleValue":
            if isinstance(x, bool) or not isinstance(x, (int, float, str)):
                raise _BadRecord("doubleValue must be a number")
            try:
                return float(x)
            except ValueError as e:
                raise _BadRecord("doubleValue must be a number") from e
        if camel == "arrayValue":
            return [_jany(y) for y in _jlist(_jobj(x, camel), "values", "values")]
        if camel == "kvlistValue":
            return _jkv(_jlist(_jobj(x, camel), "values", "values"))
        return base64.b64encode(_jbytes(x, "bytesValue")).decode("ascii")
    return None


def _jkv(items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in items:
        kv = _jobj(kv, "attribute")
        key = kv.get("key")
        if not isinstance(key, str):
            raise _BadRecord("attribute key must be a string")
        val = kv.get("value")
        out[key] = None if val is None else _jany(val)
    return out


def _parse_json_obj(doc: Any) -> list[OtlpSpan]:
    """An ``ExportTraceServiceRequest``/``TracesData`` in OTLP JSON (camelCase or snake_case keys)."""
    if not isinstance(doc, dict):
        raise _BadRecord(f"expected a JSON object with resourceSpans, got {type(doc).__name__}")
    out: list[OtlpSpan] = []
    for rs in _jlist(doc, "resourceSpans", "resource_spans"):
        rs = _jobj(rs, "resourceSpans item")
        resource = _jkv(_jlist(_jobj(rs.get("resource"), "resource"), "attributes", "attributes"))
        scopes = _jlist(rs, "scopeSpans", "scope_spans") or _jlist(
            rs, "instrumentationLibrarySpans", "instrumentation_library_spans"
        )
        for ss in scopes:
            ss = _jobj(ss, "scopeSpans item")
            scope_obj = _jobj(
                _jget(ss, "scope", "scope") or _jget(ss, "instrumentationLibrary", "instrumentation_library"), "scope"
            )
            scope = scope_obj.get("name") or ""
            if not isinstance(scope, str):
                raise _BadRecord("scope name must be a string")
            for sp in _jlist(ss, "spans", "spans"):
                out.append(_jspan(_jobj(sp, "span"), resource, scope))
    return out


def _jspan(sp: dict[str, Any], resource: dict[str, Any], scope: str) -> OtlpSpan:
    name = sp.get("name") or ""
    if not isinstance(name, str):
        raise _BadRecord(f"span name must be a string, got {_short(repr(name), 40)}")
    links = []
    for link in _jlist(sp, "links", "links"):
        link = _jobj(link, "link")
        try:
            lt = _jid(_jget(link, "traceId", "trace_id"), 16, "link trace id", name)
            ls = _jid(_jget(link, "spanId", "span_id"), 8, "link span id", name)
        except _BadRecord:
            log.debug("span %r: dropping a link with malformed ids", name)
            continue
        links.append((lt, ls, _jkv(_jlist(link, "attributes", "attributes"))))
    parent = _jget(sp, "parentSpanId", "parent_span_id")
    status = _jobj(sp.get("status"), "status")
    code = status.get("code")
    if isinstance(code, str) and code in _STATUS_CODES:
        code = _STATUS_CODES[code]
    message = status.get("message") or ""
    events = []
    for ev in _jlist(sp, "events", "events"):
        ev = _jobj(ev, "span event")
        events.append(
            {
                "name": str(ev.get("name") or ""),
                "ts": _jint(_jget(ev, "timeUnixNano", "time_unix_nano"), "event time"),
                "attrs": _jkv(_jlist(ev, "attributes", "attributes")),
            }
        )
    return OtlpSpan(
        trace_id=_jid(_jget(sp, "traceId", "trace_id"), 16, "trace id", name),
        span_id=_jid(_jget(sp, "spanId", "span_id"), 8, "span id", name),
        parent_span_id=_jid(parent, 8, "parent span id", name) if parent else None,
        name=name,
        start_ns=_jint(_jget(sp, "startTimeUnixNano", "start_time_unix_nano"), "start time"),
        end_ns=_jint(_jget(sp, "endTimeUnixNano", "end_time_unix_nano"), "end time"),
        attrs=_jkv(_jlist(sp, "attributes", "attributes")),
        resource=resource,
        scope=scope,
        links=links,
        status_code=_jint(code, "status code"),
        status_message=message if isinstance(message, str) else str(message),
        events=events,
    )


def _parse_json_bytes(data: bytes | str) -> list[OtlpSpan]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise _BadRecord(f"invalid JSON ({e})") from e
    return _parse_json_obj(doc)


def _short(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


# --------------------------------------------------------------------------- payload sniffing


def _decompress(data: bytes) -> bytes:
    try:
        if data.startswith(_GZIP_MAGIC):
            return gzip.decompress(data)
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as r:
            return r.read()
    except _STREAM_ERRORS as e:
        raise _BadRecord(f"damaged compressed data ({e})") from e


def _decode_payload(data: bytes, depth: int = 0) -> list[OtlpSpan]:
    """One record of unknown encoding: compressed, JSON or protobuf."""
    if depth < 3 and (data.startswith((_GZIP_MAGIC, _ZSTD_MAGIC))):
        return _decode_payload(_decompress(data), depth + 1)
    if data.lstrip()[:1] == b"{":
        return _parse_json_bytes(data)
    return _parse_proto(data)


# --------------------------------------------------------------------------- public decoding


def decode_request(body: bytes, content_type: str) -> list[OtlpSpan]:
    """Decode an OTLP/HTTP ``/v1/traces`` request body (already un-gzipped).

    ``content_type`` is ``application/x-protobuf`` or ``application/json`` (parameters such as
    ``charset`` are ignored). Raises ``InputError`` when the body is not an OTLP trace request.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media in ("application/x-protobuf", "application/protobuf", "application/octet-stream"):
            return _parse_proto(body)
        if media == "application/json" or media.endswith("+json"):
            return _parse_json_bytes(body)
    except _BadRecord as e:
        raise InputError(f"OTLP request body ({media}): {e}; send an ExportTraceServiceRequest") from e
    raise InputError(
        f"OTLP request: unsupported content type {content_type!r}; use application/x-protobuf or application/json"
    )


def read_otlp_file(path: str | os.PathLike[str]) -> Iterator[tuple[list[OtlpSpan], str | None]]:
    """Read an OTLP traces file, one ``(spans, problem)`` per record.

    Formats are detected from the content: Collector file exporter JSON lines; one
    ``ExportTraceServiceRequest``/``TracesData`` JSON document (pretty-printed or not); a raw
    protobuf message; the Collector's ``format: proto`` layout (each message preceded by its
    4-byte big-endian length); varint-delimited protobuf messages. The whole file may be gzip
    or zstd compressed, and each framed record may be zstd compressed (the Collector's legacy
    ``compression: zstd``). A record that cannot be decoded yields ``([], "file:line: cause")``
    (``line`` is the record number for binary layouts) and reading goes on.
    """
    name = os.fspath(path)
    try:
        raw = open(name, "rb")  # noqa: SIM115 - closed below, generator-owned
    except OSError as e:
        yield [], f"{name}:0: cannot open ({e.strerror or e})"
        return
    with raw:
        head = raw.read(4)
        raw.seek(0)
        stream: IO[bytes]
        if head.startswith(_GZIP_MAGIC):
            stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
        elif head.startswith(_ZSTD_MAGIC):
            stream = cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
        else:
            stream = raw
        yield from _read_stream(stream, name)


def _read_stream(stream: IO[bytes], name: str) -> Iterator[tuple[list[OtlpSpan], str | None]]:
    try:
        first = stream.read(65536)
    except _STREAM_ERRORS as e:  # a damaged gzip or zstd file
        yield [], f"{name}:1: damaged compressed file ({e})"
        return
    stripped = first.lstrip()
    if not stripped:
        return
    if stripped[:1] in (b"{", b"["):
        yield from _read_json(first, stream, name)
    else:
        try:
            data = first + stream.read()
        except _STREAM_ERRORS as e:
            yield [], f"{name}:1: damaged compressed file ({e})"
            return
        yield from _read_binary(data, name)


def _iter_lines(first: bytes, stream: IO[bytes]) -> Iterator[bytes | Exception]:
    """Lines of ``first`` + the rest of ``stream``; a read failure comes out as an exception value."""
    buf = first
    while True:
        nl = buf.find(b"\n")
        if nl >= 0:
            yield buf[: nl + 1]
            buf = buf[nl + 1 :]
            continue
        try:
            more = stream.read(1 << 20)
        except _STREAM_ERRORS as e:
            if buf:
                yield buf
            yield e
            return
        if not more:
            if buf:
                yield buf
            return
        buf += more


def _read_json(first: bytes, stream: IO[bytes], name: str) -> Iterator[tuple[list[OtlpSpan], str | None]]:
    lines = _iter_lines(first, stream)
    for n, item in enumerate(lines, 1):
        if isinstance(item, Exception):
            yield [], f"{name}:{n}: damaged compressed file ({item})"
            return
        if n == 1 and not _parses(item):
            # Not JSON lines: one (pretty-printed) document, or JSON lines whose first line is bad.
            rest: list[bytes] = [item]
            for more in lines:
                if isinstance(more, Exception):
                    yield [], f"{name}:{len(rest) + 1}: damaged compressed file ({more})"
                    return
                rest.append(more)
            whole = b"".join(rest)
            try:
                yield _parse_json_bytes(whole), None
                return
            except _BadRecord as e:
                if len(rest) > 1 and item.strip() not in (b"{", b"["):
                    for i, line in enumerate(rest, 1):
                        yield _json_line(line, name, i)
                else:
                    yield [], f"{name}:1: {e}"
                return
        yield _json_line(item, name, n)


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _json_line(line: bytes, name: str, n: int) -> tuple[list[OtlpSpan], str | None]:
    if not line.strip():
        return [], None
    try:
        return _parse_json_bytes(line), None
    except _BadRecord as e:
        return [], f"{name}:{n}: {e}"


def _read_binary(data: bytes, name: str) -> Iterator[tuple[list[OtlpSpan], str | None]]:
    if data[:1] == b"\x0a":
        try:
            yield _parse_proto(data), None
            return
        except _BadRecord as e:
            first_error = str(e)
        frames = _varint_frames(data)
        if frames is None:
            yield [], f"{name}:1: {first_error}"
            return
    elif data[:1] == b"\x00" and len(data) >= 4:
        frames = _fixed_frames(data)
    else:
        frames = _varint_frames(data)
        if frames is None:
            yield [], f"{name}:1: not OTLP: neither JSON nor an OTLP protobuf message or frame sequence"
            return
    for i, (offset, payload, err) in enumerate(frames, 1):
        if err:
            yield [], f"{name}:{i}: record at byte {offset}: {err}"
            return
        try:
            yield _decode_payload(payload), None
        except _BadRecord as e:
            yield [], f"{name}:{i}: record at byte {offset}: {e}"


def _fixed_frames(data: bytes) -> list[tuple[int, bytes, str | None]]:
    """The Collector file exporter's ``format: proto``: a 4-byte big-endian length, then the message."""
    out: list[tuple[int, bytes, str | None]] = []
    off = 0
    while off < len(data):
        if off + 4 > len(data):
            out.append((off, b"", f"truncated length prefix ({len(data) - off} bytes)"))
            break
        n = int.from_bytes(data[off : off + 4], "big")
        if n > _MAX_FRAME or off + 4 + n > len(data):
            out.append((off, b"", f"truncated record: length prefix says {n} bytes, {len(data) - off - 4} left"))
            break
        out.append((off, data[off + 4 : off + 4 + n], None))
        off += 4 + n
    return out


def _varint_frames(data: bytes) -> list[tuple[int, bytes, str | None]] | None:
    """Protobuf ``writeDelimitedTo`` framing (a varint length before each message), or None."""
    out: list[tuple[int, bytes, str | None]] = []
    off = 0
    while off < len(data):
        n = shift = 0
        start = off
        while True:
            if off >= len(data) or shift > 35:
                return None
            b = data[off]
            off += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if off + n > len(data) or n == 0:
            return None
        out.append((start, data[off : off + n], None))
        off += n
    return out or None


# --------------------------------------------------------------------------- mapping to events

# Plain strings: enum attribute access is slow in the per-span path.
_K_FILE_DELETE = EventKind.FILE_DELETE.value
_K_FILE_READ = EventKind.FILE_READ.value
_K_FILE_WRITE = EventKind.FILE_WRITE.value
_K_INPUT_MESSAGE = EventKind.INPUT_MESSAGE.value
_K_MEMORY_READ = EventKind.MEMORY_READ.value
_K_MEMORY_WRITE = EventKind.MEMORY_WRITE.value
_K_MODEL_TURN = EventKind.MODEL_TURN.value
_K_NET_EGRESS = EventKind.NET_EGRESS.value
_K_NET_FETCH = EventKind.NET_FETCH.value
_K_POLICY_DECISION = EventKind.POLICY_DECISION.value
_K_PROCESS_EXEC = EventKind.PROCESS_EXEC.value
_K_SKILL_INSTALL = EventKind.SKILL_INSTALL.value
_K_SKILL_LOAD = EventKind.SKILL_LOAD.value
_K_TOOL_CALL = EventKind.TOOL_CALL.value
_K_TOOL_RESULT = EventKind.TOOL_RESULT.value
_LINKKIND_CONSUMED = LinkKind.CONSUMED.value
_SENSITIVITY_NONE = Sensitivity.NONE.value
_SOURCE_OTLP = Source.OTLP.value
_MODEL_CALL = re.compile(r"(.+):model:(\d+)")
_TRUST_UNKNOWN = Trust.UNKNOWN.value
_TRUST_UNTRUSTED = Trust.UNTRUSTED.value
_KINDS = frozenset(k.value for k in EventKind)
_TRUSTS = frozenset(t.value for t in Trust)
_SENSITIVITIES = frozenset(s.value for s in Sensitivity)
_SOURCES = frozenset(s.value for s in Source)
_EDGE_KINDS = frozenset(k.value for k in EdgeKind)
_OPERATION_KINDS = {
    "execute_tool": _K_TOOL_CALL,
    "chat": _K_MODEL_TURN,
    "text_completion": _K_MODEL_TURN,
    "generate_content": _K_MODEL_TURN,
}
_COLUMN_ATTRS = frozenset(
    {
        sc.EVENT_KIND,
        sc.EVENT_ID,
        sc.SESSION_ID,
        sc.AGENT_ID,
        sc.RUN_ID,
        sc.TOOL_NAME,
        sc.TOOL_CALL_ID,
        sc.ARTIFACT_URI,
        sc.TRUST,
        sc.SENSITIVITY,
        sc.SUMMARY,
        sc.SOURCE,
        sc.CONTENT_TEXT,
        sc.CONTENT_ENCODING,
        sc.CONTENT_SHA256,
        sc.CONTENT_SIZE,
    }
)
_DEFAULT_PORTS = {"https": 443, "http": 80, "wss": 443, "ws": 80}


def _str(v: Any) -> str | None:
    if isinstance(v, str):
        return v or None
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return str(v)
    return None


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            return None
    return None


def _kind_of(s: OtlpSpan) -> str | None:
    k = s.attrs.get(sc.EVENT_KIND)
    if isinstance(k, str) and k in _KINDS:
        return k
    k = sc.kind_from_span_name(s.name)
    if k:
        return k
    op = s.attrs.get(sc.OPERATION_NAME)
    if isinstance(op, str):
        return _OPERATION_KINDS.get(op)
    return None


def _clip(text: str, n: int = _SUMMARY_MAX) -> str:
    return model.clip(text, n)


def _size_text(n: int | None) -> str:
    return f" ({n} B)" if n is not None else ""


class _Mapper:
    """Maps one list of spans to a Batch; the spans know each other (parentage, links)."""

    def __init__(self, spans: list[OtlpSpan], source: str) -> None:
        self.source = source
        self.batch = model.Batch()
        self.spans: dict[tuple[str, str], OtlpSpan] = {}
        for s in spans:
            key = (s.trace_id, s.span_id)
            if not s.trace_id or not s.span_id:
                self.batch.problems.append(f"span {s.name!r}: no trace or span id; skipped")
                continue
            if key in self.spans:
                continue
            self.spans[key] = s
        self.kinds = {k: _kind_of(s) for k, s in self.spans.items()}
        self.event_ids: dict[tuple[str, str], str] = {}
        self._inherited: dict[tuple[tuple[str, str], str], str | None] = {}

    # -- ancestry

    def _parent(self, key: tuple[str, str]) -> tuple[str, str] | None:
        s = self.spans.get(key)
        if s is None or not s.parent_span_id:
            return None
        return (key[0], s.parent_span_id)

    def inherited(self, key: tuple[str, str], attr: str) -> str | None:
        """``attr`` from the span, its resource, or its nearest ancestor in the input."""
        memo = (key, attr)
        if memo in self._inherited:
            return self._inherited[memo]
        chain: list[tuple[str, str]] = []
        cur: tuple[str, str] | None = key
        found: str | None = None
        seen: set[tuple[str, str]] = set()
        while cur is not None and cur in self.spans and cur not in seen:
            if (cur, attr) in self._inherited:
                found = self._inherited[(cur, attr)]
                break
            seen.add(cur)
            chain.append(cur)
            s = self.spans[cur]
            found = _str(s.attrs.get(attr)) or _str(s.resource.get(attr))
            if found:
                break
            cur = self._parent(cur)
        for k in chain:
            self._inherited[(k, attr)] = found
        return found

    def mapped_ancestor(self, key: tuple[str, str]) -> tuple[tuple[str, str] | None, str | None]:
        """(nearest mapped ancestor in the input, or None; else the first missing parent span id)."""
        seen = {key}
        cur = self._parent(key)
        while cur is not None:
            if cur not in self.spans:
                return None, cur[1]
            if cur in seen:
                return None, None
            seen.add(cur)
            if self.kinds.get(cur):
                return cur, None
            cur = self._parent(cur)
        return None, None

    # -- the mapping

    def run(self) -> model.Batch:
        events: dict[tuple[str, str], model.Event] = {}
        for key, s in self.spans.items():
            kind = self.kinds[key]
            if not kind:
                self.batch.spans.append(_raw_span(s))
                continue
            try:
                ev = self._event(key, s, kind)
            except Exception as e:  # never let one odd span stop the batch
                log.debug("span %s:%s unusable", s.trace_id, s.span_id, exc_info=True)
                self.batch.problems.append(f"span {s.trace_id}:{s.span_id} ({s.name!r}): unusable ({e}); skipped")
                self.kinds[key] = None
                self.batch.spans.append(_raw_span(s))
                continue
            events[key] = ev
            self.event_ids[key] = ev.event_id
        artifacts: dict[str, model.Artifact] = {}
        for key, ev in events.items():
            self.batch.events.append(ev)
            self._edges(key, ev, events)
            if ev.artifact:
                a = artifacts.get(ev.artifact)
                if a is None:
                    artifacts[ev.artifact] = model.Artifact(
                        uri=ev.artifact,
                        kind=model.artifact_kind(ev.artifact),
                        sensitivity=ev.sensitivity,
                        trust=ev.trust,
                    )
                else:
                    if a.sensitivity == _SENSITIVITY_NONE and ev.sensitivity != _SENSITIVITY_NONE:
                        a.sensitivity = ev.sensitivity
                    if ev.trust == _TRUST_UNTRUSTED:
                        a.trust = ev.trust
        self.batch.artifacts.extend(artifacts.values())
        return self.batch

    def _edges(self, key: tuple[str, str], ev: model.Event, events: dict[tuple[str, str], model.Event]) -> None:
        anc, missing = self.mapped_ancestor(key)
        if anc is not None:
            parent = events.get(anc)
            if parent is not None:
                ek = model.parent_edge_kind(parent.kind, ev.kind)
                if ek is not None:
                    self.batch.edges.append(model.Edge(parent.event_id, ev.event_id, ek, 1.0, {"via": "span_parent"}))
        elif missing is not None:
            self.batch.edges.append(model.Edge(model.span_ref(key[0], missing), ev.event_id, model.PARENT_EDGE))
        s = self.spans[key]
        for lt, ls, la in s.links:
            lk = la.get(sc.LINK_KIND)
            kind = lk if isinstance(lk, str) and lk in _EDGE_KINDS else _LINKKIND_CONSUMED
            src = self.event_ids.get((lt, ls)) or model.span_ref(lt, ls)
            if src == ev.event_id:
                continue
            self.batch.edges.append(model.Edge(src, ev.event_id, kind, 1.0, {"via": "span_link"}))

    def _event_id(
        self,
        s: OtlpSpan,
        kind: str,
        a: dict[str, Any],
        session_id: str | None,
        run_id: str | None,
        tool_call_id: str | None,
        artifact: str | None,
    ) -> str:
        """The event id: keyed so that OpenClaw's plugin spans and its on-disk records of the
        same thing get the same id (tool calls, effects, model turns, run prompts)."""
        if session_id and not tool_call_id:
            if kind == _K_MODEL_TURN:
                m = _MODEL_CALL.fullmatch(_str(a.get(sc.OPENCLAW_MODEL_CALL)) or "")
                if m:
                    return model.openclaw_turn_id(session_id, m.group(1), int(m.group(2)))
            elif kind == _K_INPUT_MESSAGE and run_id and a.get(sc.OPENCLAW_PROMPT) is True:
                return model.openclaw_prompt_id(session_id, run_id)
        if (
            artifact is None
            and tool_call_id
            and kind not in (_K_MODEL_TURN, _K_INPUT_MESSAGE)
            and (_str(s.resource.get(sc.COLLECTOR)) or "").startswith("openclaw-plugin/")
        ):
            artifact = ""  # an OpenClaw effect with no artifact (an exec): one per call and kind
        return model.event_id_for(
            kind,
            session_id=session_id,
            tool_call_id=tool_call_id,
            fallback=(_SOURCE_OTLP, s.trace_id, s.span_id),
            artifact=artifact,
            home=_str(s.resource.get(sc.AGENT_HOME)),
        )

    def _event(self, key: tuple[str, str], s: OtlpSpan, kind: str) -> model.Event:
        a = s.attrs
        session_id = self.inherited(key, sc.SESSION_ID)
        agent_id = self.inherited(key, sc.AGENT_ID)
        run_id = self.inherited(key, sc.RUN_ID)
        tool_call_id = _str(a.get(sc.TOOL_CALL_ID))
        tool_name = _str(a.get(sc.TOOL_NAME))

        content, content_problem = _content(a)
        if content_problem:
            self.batch.problems.append(f"span {s.trace_id}:{s.span_id} ({s.name!r}): {content_problem}")
        content_sha = _str(a.get(sc.CONTENT_SHA256))
        content_size = _int(a.get(sc.CONTENT_SIZE))
        if content_size is None and content is not None:
            content_size = len(content)

        artifact = _artifact(kind, a, s.resource, agent_id)
        trust = _str(a.get(sc.TRUST))
        if trust not in _TRUSTS:
            trust = _TRUST_UNTRUSTED if kind == _K_NET_FETCH else _TRUST_UNKNOWN
        sensitivity = _str(a.get(sc.SENSITIVITY))
        if sensitivity not in _SENSITIVITIES:
            sensitivity = _SENSITIVITY_NONE
            if artifact and artifact.startswith("file://") and kind.split(".", 1)[0] in ("file", "memory"):
                sensitivity = model.classify_path(artifact)
        source = _str(a.get(sc.SOURCE))
        if source not in _SOURCES:
            source = self.source

        event_id = _str(a.get(sc.EVENT_ID)) or self._event_id(s, kind, a, session_id, run_id, tool_call_id, artifact)
        summary = _str(a.get(sc.SUMMARY)) or _summary(kind, a, artifact, tool_name, content, content_size)

        attrs: dict[str, Any] = {k: v for k, v in a.items() if k not in _COLUMN_ATTRS}
        attrs["otel.span.name"] = s.name
        if s.status_code:
            attrs["otel.status_code"] = s.status_code
            if s.status_message:
                attrs["otel.status_message"] = s.status_message
        attrs["otel.duration_ns"] = max(0, s.end_ns - s.start_ns) if s.end_ns else 0
        if s.scope:
            attrs["otel.scope.name"] = s.scope
        if s.events:
            attrs["otel.events"] = s.events
        if s.resource:
            attrs["resource"] = s.resource

        return model.Event(
            event_id=event_id,
            kind=kind,
            ts=s.start_ns or s.end_ns,
            source=source,
            session_id=session_id,
            agent_id=agent_id,
            run_id=run_id,
            trace_id=s.trace_id,
            span_id=s.span_id,
            parent_span_id=s.parent_span_id,
            tool_call_id=tool_call_id,
            tool_name=tool_name,
            artifact=artifact,
            trust=trust,
            sensitivity=sensitivity,
            summary=summary,
            attrs=attrs,
            content=content,
            content_sha256=content_sha,
            content_size=content_size,
        )


def _raw_span(s: OtlpSpan) -> dict[str, Any]:
    return {
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_span_id": s.parent_span_id,
        "name": s.name,
        "start_ns": s.start_ns,
        "end_ns": s.end_ns,
        "attrs": s.attrs,
        "resource": s.resource,
        "scope": s.scope,
        "status_code": s.status_code,
    }


def _content(a: dict[str, Any]) -> tuple[bytes | None, str | None]:
    text = a.get(sc.CONTENT_TEXT)
    if text is None:
        return None, None
    if not isinstance(text, str):
        text = json.dumps(text, default=str, ensure_ascii=False)
    if a.get(sc.CONTENT_ENCODING) == "base64":
        try:
            return base64.b64decode(text, validate=False), None
        except (binascii.Error, ValueError):
            return text.encode("utf-8", "surrogatepass"), "content marked base64 is not base64; kept as text"
    return text.encode("utf-8", "surrogatepass"), None


def _url_host_port(url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None, None
    return host, port


def _artifact(kind: str, a: dict[str, Any], resource: dict[str, Any], agent_id: str | None) -> str | None:
    given = _str(a.get(sc.ARTIFACT_URI))
    if given:
        return given
    family = kind.split(".", 1)[0]
    path = _str(a.get(sc.FILE_PATH))
    url = _str(a.get(sc.URL_FULL))
    if family == "file" and path:
        cwd = _str(a.get(_CWD_ATTR)) or _str(resource.get(_CWD_ATTR))
        return model.file_uri(path, cwd=cwd)
    if kind == _K_NET_FETCH:
        if url:
            return model.url_artifact(url)
        host = _str(a.get(sc.SERVER_ADDRESS))
        return model.host_artifact(host, _int(a.get(sc.SERVER_PORT))) if host else None
    if kind == _K_NET_EGRESS:
        host = _str(a.get(sc.SERVER_ADDRESS))
        port = _int(a.get(sc.SERVER_PORT))
        if url:
            uh, up = _url_host_port(url)
            host = host or uh
            port = port or up
        if host:
            return model.host_artifact(host, port)
        dns = _str(a.get(sc.DNS_QUESTION_NAME))
        return model.host_artifact(dns, None) if dns else None
    if family == "memory" and path:
        p = path.replace("\\", "/").rstrip("/")
        base = posixpath.basename(p)
        parent = posixpath.basename(posixpath.dirname(p))
        rel = f"{parent}/{base}" if parent == "memory" else base
        return f"memory://{agent_id or 'default'}/{rel}"
    if family == "skill":
        name = _str(a.get(sc.SKILL_NAME))
        sha = _str(a.get(sc.SKILL_SHA256))
        if name and sha:
            return f"skill://{name}@sha256:{sha}"
        if name:
            return f"skill://{name}"
    return None


def _summary(
    kind: str, a: dict[str, Any], artifact: str | None, tool_name: str | None, content: bytes | None, size: int | None
) -> str:
    def text() -> str:
        return content[: 4 * _SUMMARY_MAX].decode("utf-8", "replace") if content else ""

    path = _str(a.get(sc.FILE_PATH))
    where = path or (artifact[len("file://") :] if artifact and artifact.startswith("file://") else artifact) or "?"
    if kind == _K_INPUT_MESSAGE:
        sender = _str(a.get(sc.MESSAGE_SENDER))
        channel = _str(a.get(sc.MESSAGE_CHANNEL))
        head = "message" + (f" from {sender}" if sender else "") + (f" via {channel}" if channel else "")
        return _clip(f"{head}: {text()}" if content else head)
    if kind == _K_MODEL_TURN:
        m = _str(a.get(sc.REQUEST_MODEL))
        tin, tout = _int(a.get(sc.USAGE_INPUT_TOKENS)), _int(a.get(sc.USAGE_OUTPUT_TOKENS))
        toks = f" ({tin} in, {tout} out)" if tin is not None and tout is not None else ""
        return _clip(f"turn {m or '?'}{toks}")
    if kind == _K_TOOL_CALL:
        args = text()
        return _clip(f"tool {tool_name or '?'}" + (f" {args}" if args else ""))
    if kind == _K_TOOL_RESULT:
        err = " error" if a.get(sc.TOOL_IS_ERROR) is True else ""
        return _clip(f"result{err} of {tool_name or 'tool'}{_size_text(size)}")
    if kind in (_K_FILE_READ, _K_FILE_WRITE, _K_FILE_DELETE):
        verb = kind.split(".", 1)[1]
        return _clip(f"{verb} {where}{_size_text(size)}")
    if kind in (_K_MEMORY_READ, _K_MEMORY_WRITE):
        verb = kind.split(".", 1)[1]
        return _clip(f"memory {verb} {artifact or where}{_size_text(size)}")
    if kind in (_K_SKILL_LOAD, _K_SKILL_INSTALL):
        name = _str(a.get(sc.SKILL_NAME)) or artifact or "?"
        return _clip(f"skill {kind.split('.', 1)[1]} {name}")
    if kind == _K_PROCESS_EXEC:
        cmd = _str(a.get(sc.PROCESS_COMMAND_LINE)) or text() or "?"
        return _clip(f"exec: {cmd}")
    if kind == _K_NET_EGRESS:
        out = _int(a.get(sc.NET_BYTES_OUT))
        if out is None:
            out = _int(a.get(sc.HTTP_BODY_SIZE))
        if out is None:
            out = size
        url = _str(a.get(sc.URL_FULL))
        method = _str(a.get(sc.HTTP_METHOD))
        if url:
            return _clip(f"{method + ' ' if method else 'send '}{url}{_size_text(out)}")
        dns = _str(a.get(sc.DNS_QUESTION_NAME))
        if dns and not _str(a.get(sc.SERVER_ADDRESS)):
            return _clip(f"dns {dns}")
        dest = artifact[len("host:") :] if artifact and artifact.startswith("host:") else "?"
        return _clip(f"send to {dest}{_size_text(out)}")
    if kind == _K_NET_FETCH:
        n = _int(a.get(sc.NET_BYTES_IN))
        url = _str(a.get(sc.URL_FULL)) or artifact or "?"
        return _clip(f"fetch {url}{_size_text(n if n is not None else size)}")
    if kind == _K_POLICY_DECISION:
        verdict = _str(a.get(sc.POLICY_VERDICT)) or "?"
        rule = _str(a.get(sc.POLICY_RULE))
        return _clip(f"policy {verdict}" + (f": {rule}" if rule else ""))
    return _clip(kind)


def spans_to_batch(spans: list[OtlpSpan], *, source: str = _SOURCE_OTLP) -> model.Batch:
    """Map OTLP spans to provenance records (DESIGN.md sections 3 and 7).

    A span becomes an event when its ``clawtrace.event.kind`` attribute, its name
    (``clawtrace.<kind>``) or its ``gen_ai.operation.name`` says which; other spans go to
    ``batch.spans``. Session, agent and run ids are inherited from the nearest ancestor in
    ``spans`` that has them. Parentage gives ``emitted``/``returned``/``effect`` edges
    (through unmapped spans in between; a parent outside ``spans`` becomes a
    ``model.PARENT_EDGE`` reference that ingest resolves later), and span links give
    ``consumed`` (or their ``clawtrace.link.kind``) edges. Never raises on odd attribute
    values: an unusable span becomes a problem in ``batch.problems``.
    """
    return _Mapper(spans, source).run()
