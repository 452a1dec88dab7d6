"""Shared guts of the SDK: tracer lookup, context state, attribute and content hygiene.

OpenTelemetry API only. Nothing here may raise into the host program: callers wrap their
bodies and hand failures to ``internal_error``.
"""

from __future__ import annotations

import base64
import collections
import contextvars
import dataclasses
import enum
import hashlib
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanContext

from clawtrace import semconv as sc
from clawtrace.semconv import EventKind

log = logging.getLogger("clawtrace.instrument")

_SCOPE: Final = "clawtrace"
_VERSION: Final = "0.1.0"

CONTENT_TRUNCATED: Final[str] = sc.CONTENT_TRUNCATED
"""True when ``content.text`` holds only the first ``max_content_bytes`` of the content.
(Not yet in ``semconv``; derived from ``CONTENT_TEXT`` until it is.)"""


@dataclasses.dataclass(slots=True)
class Limits:
    """Size limits of the SDK (``set_limits`` changes them)."""

    max_content_bytes: int = 1 << 20
    """Content beyond this is truncated in ``content.text`` (size and sha256 still cover all of it)."""
    max_capture_file_bytes: int = 4 << 20
    """Automatic capture reads at most this much of a touched file at the end of a tool call."""
    max_payload_bytes: int = 256 << 10
    """Automatic capture keeps at most this much of the bytes sent to one destination per call."""
    max_attribute_chars: int = 64 << 10
    """Any other string attribute is truncated to this many characters."""


LIMITS = Limits()


# --------------------------------------------------------------------------- failures

_warned: set[str] = set()
_warn_lock = threading.Lock()


def warn_once(key: str, msg: str, *args: Any) -> None:
    """Log a warning the first time ``key`` is seen."""
    with _warn_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning(msg, *args)


def internal_error(where: str, exc: BaseException) -> None:
    """A failure inside clawtrace: re-raised under pytest, otherwise logged once and swallowed."""
    if os.environ.get("PYTEST_CURRENT_TEST"):
        raise exc
    with _warn_lock:
        first = "internal" not in _warned
        _warned.add("internal")
    if first:
        log.warning(
            "clawtrace: capture failed (%s: %s), your program continues with less provenance",
            where,
            exc,
            exc_info=exc,
        )
    else:
        log.debug("clawtrace: capture failed again (%s)", where, exc_info=exc)


# --------------------------------------------------------------------------- tracer

_provider_override: trace.TracerProvider | None = None
_tracer_cache: tuple[object, trace.Tracer] | None = None


def use_tracer_provider(provider: trace.TracerProvider | None) -> None:
    """Send clawtrace's spans to ``provider`` instead of the global one (None: back to global)."""
    global _provider_override, _tracer_cache
    _provider_override = provider
    _tracer_cache = None


def tracer() -> trace.Tracer:
    """The tracer of the provider in force now, so a provider set after import is honoured."""
    global _tracer_cache
    provider = _provider_override or trace.get_tracer_provider()
    cached = _tracer_cache
    if cached is not None and cached[0] is provider:
        return cached[1]
    t = provider.get_tracer(_SCOPE, _VERSION)
    _tracer_cache = (provider, t)
    return t


# --------------------------------------------------------------------------- context state


CONTEXT_CAP: Final = 50
"""A turn consumes at most this many of the session's latest outputs (as the OpenClaw importer)."""


class SessionState:
    """The active session: its ids and the outputs still in the model's context."""

    __slots__ = ("agent_id", "context", "cwd", "latest_input", "lock", "session_id")

    def __init__(self, session_id: str, agent_id: str | None, cwd: str | None) -> None:
        self.session_id = session_id
        self.agent_id = agent_id
        self.cwd = cwd
        self.lock = threading.Lock()
        self.context: collections.deque[SpanContext] = collections.deque(maxlen=CONTEXT_CAP)
        """Outputs recorded in this session since it began (or was last ``forget``-ed), the latest ``CONTEXT_CAP``."""
        self.latest_input: SpanContext | None = None

    def add_output(self, ctx: SpanContext, *, is_input: bool = False) -> None:
        """Remember an output that entered the agent, for the consumed links of every later turn."""
        with self.lock:
            self.context.append(ctx)
            if is_input:
                self.latest_input = ctx

    def take_consumed(self) -> list[SpanContext]:
        """What a turn starting now has in its context: the session's outputs so far (a model
        sees the whole conversation, so a page fetched three turns ago still steers this one)
        and the latest input."""
        with self.lock:
            out = list(self.context)
            if self.latest_input is not None and self.latest_input not in self.context:
                out.append(self.latest_input)
        return out

    def forget(self) -> None:
        """The agent compacted or cleared its context: later turns consume only what comes next."""
        with self.lock:
            self.context.clear()
            self.latest_input = None


SESSION: contextvars.ContextVar[SessionState | None] = contextvars.ContextVar("clawtrace_session", default=None)


def base_attrs(session: SessionState | None = None) -> dict[str, Any]:
    """Session and agent id for every span clawtrace creates."""
    s = session if session is not None else SESSION.get()
    if s is None:
        return {}
    out: dict[str, Any] = {sc.SESSION_ID: s.session_id}
    if s.agent_id:
        out[sc.AGENT_ID] = s.agent_id
    return out


def consumed_links(contexts: Sequence[SpanContext]) -> list[Link]:
    """Span links with ``link.kind = consumed``, one per distinct span."""
    seen: set[tuple[int, int]] = set()
    links = []
    for c in contexts:
        key = (c.trace_id, c.span_id)
        if not c.is_valid or key in seen:
            continue
        seen.add(key)
        links.append(Link(c, {sc.LINK_KIND: sc.LinkKind.CONSUMED.value}))
    return links


def start_span(
    kind: EventKind,
    attrs: Mapping[str, Any],
    *,
    links: Sequence[Link] | None = None,
    start_time: int | None = None,
    parent: Span | None = None,
) -> Span:
    """Start a ``clawtrace.<kind>`` span under the current span (or ``parent``)."""
    a = base_attrs()
    a.update(clean_attrs(attrs))
    ctx = trace.set_span_in_context(parent) if parent is not None else None
    return tracer().start_span(sc.span_name(kind), context=ctx, links=links, start_time=start_time, attributes=a)


def emit(
    kind: EventKind,
    attrs: Mapping[str, Any],
    *,
    start_time: int | None = None,
    end_time: int | None = None,
    parent: Span | None = None,
) -> SpanContext:
    """A short span of ``kind``, started and ended now (or at the given times)."""
    span = start_span(kind, attrs, start_time=start_time, parent=parent)
    span.end(end_time=end_time)
    return span.get_span_context()


# --------------------------------------------------------------------------- attribute hygiene

_PRIMITIVES = (bool, int, float, str)
_INT64 = (-(1 << 63), (1 << 63) - 1)


def _clean_value(key: str, v: Any) -> Any:
    if isinstance(v, enum.Enum):
        v = v.value
    if isinstance(v, os.PathLike):
        v = os.fspath(v)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, (bool, float)):
        return v
    if isinstance(v, int):
        if _INT64[0] <= v <= _INT64[1]:
            return v
        return str(v)
    if isinstance(v, str):
        limit = LIMITS.max_attribute_chars if key != sc.CONTENT_TEXT else None
        if limit is not None and len(v) > limit:
            warn_once(f"trunc:{key}", "clawtrace: attribute %s truncated to %d characters", key, limit)
            return v[:limit]
        return v
    if isinstance(v, Sequence) and not isinstance(v, (str, bytes, bytearray)):
        items = [_clean_value(key, x) for x in v]
        if items and all(type(x) is type(items[0]) for x in items) and isinstance(items[0], _PRIMITIVES):
            return tuple(items)
        if not items:
            return ()
    warn_once(
        f"type:{key}:{type(v).__name__}",
        "clawtrace: attribute %s dropped: %s is not a primitive",
        key,
        type(v).__name__,
    )
    return None


def clean_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes OpenTelemetry accepts: primitives kept, odd values converted, dropped or truncated, never raised."""
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if v is None or not isinstance(k, str):
            continue
        try:
            cv = _clean_value(k, v)
        except Exception:  # noqa: BLE001 - a value whose __str__/__fspath__ raises
            warn_once(f"bad:{k}", "clawtrace: attribute %s dropped: unusable value", k)
            continue
        if cv is not None:
            out[k] = cv
    return out


# --------------------------------------------------------------------------- content

Content = bytes | bytearray | memoryview | str


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a __str__ that raises
        return object.__repr__(value)


def to_json(value: Any) -> str:
    """``value`` as JSON text; what JSON cannot hold becomes its ``str()``; never raises."""
    try:
        return json.dumps(value, default=_safe_str, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):  # circular, or keys JSON cannot hold
        return _safe_str(value)


def to_bytes(content: Any) -> bytes:
    """Content as bytes: str as UTF-8, anything else as JSON."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    if isinstance(content, str):
        return content.encode("utf-8", "surrogatepass")
    return to_json(content).encode("utf-8", "surrogatepass")


def _text(head: bytes, truncated: bool) -> tuple[str, bool]:
    """(text, is_base64): UTF-8 text when it is, else base64."""
    for cut in range(4 if truncated else 1):
        try:
            return (head[: len(head) - cut] if cut else head).decode("utf-8"), False
        except UnicodeDecodeError:
            continue
    return base64.b64encode(head).decode("ascii"), True


def content_attrs(content: Any, *, size: int | None = None, whole: bool = True) -> dict[str, Any]:
    """``content.text`` (+ encoding), ``content.size``, and ``content.sha256`` when truncated.

    ``size`` is the true size when ``content`` is only a prefix (``whole=False``); the sha256
    is then left out, since it would not be the hash of the whole content.
    """
    if content is None:
        return {}
    data = to_bytes(content)
    n = len(data) if size is None else size
    cap = LIMITS.max_content_bytes
    truncated = len(data) > cap or not whole
    text, b64 = _text(data[:cap], truncated)
    out: dict[str, Any] = {sc.CONTENT_TEXT: text, sc.CONTENT_SIZE: n}
    if whole and len(data) > cap:
        # Ingest hashes what it receives; only a cut content needs the producer's hash of the
        # whole (hashing on the caller's thread is the costliest step of a record).
        out[sc.CONTENT_SHA256] = hashlib.sha256(data).hexdigest()
    if b64:
        out[sc.CONTENT_ENCODING] = "base64"
    if truncated:
        out[CONTENT_TRUNCATED] = True
    return out
