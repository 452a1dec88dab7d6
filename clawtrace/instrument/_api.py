"""The public SDK: sessions, turns, tool calls, inputs and ``record_*`` helpers.

Each scope (``session``, ``turn``, ``tool_call``) is a context manager and a decorator (sync or
async). Spans carry the session and agent id; outputs that entered the agent are remembered
per session and linked as ``consumed`` from the next ``turn``. Nothing here raises into the
host: internal failures are logged once (re-raised under pytest); exceptions of the host's
own code pass through untouched.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN_CONTEXT, Span, SpanContext, Status, StatusCode

from clawtrace import semconv as sc
from clawtrace.instrument import _audit, _core
from clawtrace.semconv import EventKind, Trust

__all__ = [
    "Output",
    "SessionHandle",
    "ToolCallHandle",
    "TurnHandle",
    "input_message",
    "record_egress",
    "record_fetch",
    "record_file_read",
    "record_file_write",
    "record_memory_read",
    "record_memory_write",
    "record_skill_load",
    "session",
    "set_limits",
    "tool_call",
    "turn",
]

F = TypeVar("F", bound=Callable[..., Any])
_OP_INVOKE_AGENT = "invoke_agent"
_OP_CHAT = "chat"
_OP_EXECUTE_TOOL = "execute_tool"


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def _text_or_none(value: Any, what: str) -> str | None:
    """A usable id string, or None (with a warning) when ``value`` cannot be one."""
    if value is None or isinstance(value, str):
        return value
    try:
        return os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    except Exception:  # noqa: BLE001 - a __str__ that raises
        _core.warn_once(f"id:{what}", "clawtrace: %s dropped: unusable value", what)
        return None


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return _core.to_json(value)


# --------------------------------------------------------------------------- handles


class Output:
    """Something recorded: its span context, to pass to ``turn(consumed=[...])``."""

    __slots__ = ("kind", "span_context")

    def __init__(self, span_context: SpanContext, kind: str) -> None:
        self.span_context = span_context
        self.kind = kind

    def __repr__(self) -> str:
        return f"Output({self.kind}, span={self.span_context.span_id:016x})"


_NO_OUTPUT = Output(INVALID_SPAN_CONTEXT, "")


class SessionHandle:
    """The active session: ``session_id``, ``agent_id`` and its span."""

    def __init__(self, state: _core.SessionState, span: Span) -> None:
        self.session_id = state.session_id
        self.agent_id = state.agent_id
        self.span = span


class TurnHandle:
    """The active model turn."""

    def __init__(self, span: Span, consumed: list[SpanContext]) -> None:
        self.span = span
        self.consumed = consumed
        """The outputs this turn was linked to as consumed."""

    def usage(self, input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        """Record token counts of the turn."""
        try:
            self.span.set_attributes(
                _core.clean_attrs({sc.USAGE_INPUT_TOKENS: input_tokens, sc.USAGE_OUTPUT_TOKENS: output_tokens})
            )
        except Exception as e:  # noqa: BLE001 - never raise into the host
            _core.internal_error("turn.usage", e)


class ToolCallHandle:
    """The active tool call; ``result()`` records what it returned to the agent."""

    def __init__(self, name: str, call_id: str, span: Span, session: _core.SessionState | None) -> None:
        self.name = name
        self.call_id = call_id
        self.span = span
        self.session = session
        self.output: Output | None = None
        """The ``tool.result`` once recorded."""

    @property
    def span_context(self) -> SpanContext:
        """The result's span context when there is one, else the call's."""
        return self.output.span_context if self.output else self.span.get_span_context()

    def result(self, content: Any, is_error: bool = False) -> Output:
        """Record the tool's result (a ``tool.result`` child span); the next turn consumes it."""
        try:
            if self.output is not None:
                _core.warn_once("result-twice", "clawtrace: tool call %s already has a result; ignored", self.call_id)
                return self.output
            attrs: dict[str, Any] = _core.base_attrs(self.session)
            attrs.update(
                {
                    sc.TOOL_NAME: self.name,
                    sc.TOOL_CALL_ID: self.call_id,
                    sc.TOOL_IS_ERROR: bool(is_error),
                }
            )
            attrs.update(
                _core.content_attrs(content if isinstance(content, (str, bytes, bytearray)) else _json(content))
            )
            with _audit.busy():
                ctx = _core.emit(EventKind.TOOL_RESULT, attrs, parent=self.span)
            self.output = Output(ctx, EventKind.TOOL_RESULT.value)
            if self.session is not None:
                self.session.add_output(ctx)
            return self.output
        except Exception as e:  # noqa: BLE001 - never raise into the host
            _core.internal_error("tool_call.result", e)
            return _NO_OUTPUT


# --------------------------------------------------------------------------- scopes


class _Scope:
    """A context manager that is also a decorator; each decorated call gets a fresh scope."""

    def _fresh(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Scope:
        raise NotImplementedError

    def _returned(self, handle: Any, value: Any) -> None:
        """Called with the decorated function's return value."""

    def __enter__(self) -> Any:
        raise NotImplementedError

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        raise NotImplementedError

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                scope = self._fresh(fn, args, kwargs)
                with scope as handle:
                    value = await fn(*args, **kwargs)
                    scope._returned(handle, value)
                    return value

            return cast(F, awrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            scope = self._fresh(fn, args, kwargs)
            with scope as handle:
                value = fn(*args, **kwargs)
                scope._returned(handle, value)
                return value

        return cast(F, wrapper)


def _fail_span(span: Span | None, ev: BaseException | None) -> None:
    if span is not None and ev is not None:
        span.record_exception(ev)
        span.set_status(Status(StatusCode.ERROR, f"{type(ev).__name__}: {ev}"[:512]))


class session(_Scope):  # a context manager named like a function, as contextlib's are
    """One agent session: a root ``invoke_agent`` span; every span inside carries its ids.

    ``session_id`` is generated when not given; ``cwd`` (the agent's working directory)
    resolves relative paths at ingest.
    """

    def __init__(self, session_id: str | None = None, *, agent_id: str | None = None, cwd: str | None = None) -> None:
        self._session_id = session_id
        self._agent_id = agent_id
        self._cwd = cwd
        self._span: Span | None = None
        self._tokens: tuple[Any, Any] | None = None

    def _fresh(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> session:
        return session(self._session_id, agent_id=self._agent_id, cwd=self._cwd)

    def __enter__(self) -> SessionHandle:
        state = _core.SessionState(
            _text_or_none(self._session_id, "session_id") or _new_id("s_"),
            _text_or_none(self._agent_id, "agent_id"),
            _text_or_none(self._cwd, "cwd"),
        )
        try:
            attrs = _core.clean_attrs(
                {
                    sc.OPERATION_NAME: _OP_INVOKE_AGENT,
                    sc.SESSION_ID: state.session_id,
                    sc.AGENT_ID: state.agent_id,
                    sc.PROCESS_WORKING_DIRECTORY: state.cwd,
                }
            )
            name = f"{_OP_INVOKE_AGENT} {state.agent_id}" if state.agent_id else _OP_INVOKE_AGENT
            self._span = _core.tracer().start_span(name, attributes=attrs)
            self._tokens = (
                otel_context.attach(trace.set_span_in_context(self._span)),
                _core.SESSION.set(state),
            )
        except Exception as e:  # noqa: BLE001 - never raise into the host
            _core.internal_error("session start", e)
        return SessionHandle(state, self._span or trace.INVALID_SPAN)

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        try:
            _fail_span(self._span, ev)
            if self._span is not None:
                self._span.end()
            if self._tokens is not None:
                _core.SESSION.reset(self._tokens[1])
                otel_context.detach(self._tokens[0])
        except Exception as e:  # noqa: BLE001 - never raise into the host
            _core.internal_error("session end", e)


def _contexts(items: Sequence[Any]) -> list[SpanContext]:
    out = []
    for h in items:
        if isinstance(h, SpanContext):
            out.append(h)
        elif isinstance(h, Span):
            out.append(h.get_span_context())
        elif isinstance(getattr(h, "span_context", None), SpanContext):
            out.append(h.span_context)
    return out


class turn(_Scope):
    """One model turn (``model.turn`` span).

    It gets ``consumed`` span links to the outputs still in the model's context: every output
    recorded in the session so far (tool results, input messages, and file, memory, skill and
    fetch reads recorded outside a tool call), the latest ``CONTEXT_CAP`` (50), since the session
    began or ``forget_context()`` was called; plus the latest input message.
    ``consumed=[...]`` (handles, outputs or span contexts) replaces that automatic set.
    """

    def __init__(
        self, model: str | None = None, provider: str | None = None, *, consumed: Sequence[Any] | None = None
    ) -> None:
        self._model = model
        self._provider = provider
        self._consumed = consumed
        self._span: Span | None = None
        self._token: Any = None

    def _fresh(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> turn:
        return turn(self._model, self._provider, consumed=self._consumed)

    def __enter__(self) -> TurnHandle:
        contexts: list[SpanContext] = []
        try:
            state = _core.SESSION.get()
            auto = state.take_consumed() if state is not None else []
            contexts = _contexts(self._consumed) if self._consumed is not None else auto
            attrs = {sc.OPERATION_NAME: _OP_CHAT, sc.REQUEST_MODEL: self._model, sc.PROVIDER_NAME: self._provider}
            self._span = _core.start_span(EventKind.MODEL_TURN, attrs, links=_core.consumed_links(contexts))
            self._token = otel_context.attach(trace.set_span_in_context(self._span))
        except Exception as e:  # noqa: BLE001 - never raise into the host
            _core.internal_error("turn start", e)
        return TurnHandle(self._span or trace.INVALID_SPAN, contexts)

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        try:
            _fail_span(self._span, ev)
            if self._span is not None:
                self._span.end()
            if self._token is not None:
                otel_context.detach(self._token)
        except Exception as e:  # noqa: BLE001 - never raise into the host
            _core.internal_error("turn end", e)


class tool_call(_Scope):
    """One tool call (``tool.call`` span, the arguments as content).

    Record the result with ``handle.result(content, is_error=False)``; if the body raises
    before that, an error result is recorded and the exception propagates. As a decorator,
    the function's arguments are the tool's arguments (unless ``args`` is given) and its return
    value is the result. Automatic capture (``enable_capture``) attributes what happens inside
    to this call.
    """

    def __init__(self, name: str, args: Any = None, *, call_id: str | None = None) -> None:
        self._name = name
        self._args = args
        self._call_id = call_id
        self._handle: ToolCallHandle | None = None
        self._tokens: tuple[Any, Any] | None = None
        self._state: _audit.CallState | None = None

    def _fresh(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tool_call:
        call_args = self._args
        if call_args is None:
            try:
                bound = inspect.signature(fn).bind_partial(*args, **kwargs)
                call_args = dict(bound.arguments)
            except (TypeError, ValueError):
                call_args = {"args": list(args), "kwargs": kwargs}
        return tool_call(self._name, call_args, call_id=self._call_id)

    def _returned(self, handle: Any, value: Any) -> None:
        if isinstance(handle, ToolCallHandle) and handle.output is None:
            handle.result(value)

    def __enter__(self) -> ToolCallHandle:
        call_id = _text_or_none(self._call_id, "call_id") or _new_id("call_")
        state = _core.SESSION.get()
        span: Span = trace.INVALID_SPAN
        try:
            attrs: dict[str, Any] = {
                sc.OPERATION_NAME: _OP_EXECUTE_TOOL,
                sc.TOOL_NAME: self._name,
                sc.TOOL_CALL_ID: call_id,
            }
            if self._args is not None:
                attrs.update(_core.content_attrs(_json(self._args)))
            with _audit.busy():
                span = _core.start_span(EventKind.TOOL_CALL, attrs)
            self._state = _audit.CallState(span, call_id, state)
            self._tokens = (otel_context.attach(trace.set_span_in_context(span)), _audit.CALL.set(self._state))
        except Exception as e:  # noqa: BLE001 - never raise into the host
            _core.internal_error("tool_call start", e)
        self._handle = ToolCallHandle(_text_or_none(self._name, "tool name") or "?", call_id, span, state)
        return self._handle

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if self._tokens is not None:
                _audit.CALL.reset(self._tokens[1])
            h = self._handle
            if h is not None and ev is not None and h.output is None:
                h.result(f"{type(ev).__name__}: {ev}", is_error=True)
            if self._state is not None:
                self._state.closed = True
                self._state.flush()
            if h is not None:
                _fail_span(h.span, ev)
                with _audit.busy():
                    h.span.end()
            if self._tokens is not None:
                otel_context.detach(self._tokens[0])
        except Exception as e:  # noqa: BLE001 - never raise into the host
            _core.internal_error("tool_call end", e)


# --------------------------------------------------------------------------- instant records


def _record(
    kind: EventKind, attrs: dict[str, Any], content: Any, *, output: bool, capture_path: str | None = None
) -> Output:
    try:
        call = _audit.CALL.get()
        if call is not None:
            attrs[sc.TOOL_CALL_ID] = call.call_id
            if capture_path is not None:
                with call.lock:
                    call.recorded.add((kind.value, os.path.abspath(capture_path)))
        if content is not None:
            attrs.update(_core.content_attrs(content))
        with _audit.busy():
            ctx = _core.emit(kind, attrs)
        state = _core.SESSION.get()
        if output and state is not None and call is None:
            state.add_output(ctx, is_input=kind is EventKind.INPUT_MESSAGE)
        return Output(ctx, kind.value)
    except Exception as e:  # noqa: BLE001 - never raise into the host
        _core.internal_error(f"record {kind.value}", e)
        return _NO_OUTPUT


def _path_attrs(path: Any) -> tuple[dict[str, Any], str]:
    p = os.fspath(path)
    p = os.fsdecode(p) if isinstance(p, bytes) else p
    attrs: dict[str, Any] = {sc.FILE_PATH: p}
    if not os.path.isabs(p) and not p.startswith("~"):
        state = _core.SESSION.get()
        attrs[sc.PROCESS_WORKING_DIRECTORY] = (state.cwd if state and state.cwd else None) or os.getcwd()
    return attrs, p


def forget_context() -> None:
    """The agent compacted or cleared its context: later turns of the active session consume
    only what is recorded from now on (a no-op outside a session)."""
    try:
        state = _core.SESSION.get()
        if state is not None:
            state.forget()
    except Exception as e:  # noqa: BLE001 - never raise into the host
        _core.internal_error("forget_context", e)


def input_message(
    text: Any, *, sender: str | None = None, channel: str | None = None, trust: str | Trust = Trust.TRUSTED
) -> Output:
    """A message that entered the agent (user, channel, webhook). Every later turn consumes the latest one."""
    attrs = {sc.MESSAGE_SENDER: sender, sc.MESSAGE_CHANNEL: channel, sc.TRUST: trust}
    return _record(EventKind.INPUT_MESSAGE, attrs, text, output=True)


def record_file_read(path: str | os.PathLike[str], content: Any = None) -> Output:
    """A file the agent (or the current tool call) read; ``content`` is what was read."""
    try:
        attrs, p = _path_attrs(path)
    except Exception as e:  # noqa: BLE001 - never raise into the host
        _core.internal_error("record file.read", e)
        return _NO_OUTPUT
    return _record(EventKind.FILE_READ, attrs, content, output=True, capture_path=p)


def record_file_write(path: str | os.PathLike[str], content: Any = None) -> Output:
    """A file written; ``content`` is what was written."""
    try:
        attrs, p = _path_attrs(path)
    except Exception as e:  # noqa: BLE001 - never raise into the host
        _core.internal_error("record file.write", e)
        return _NO_OUTPUT
    return _record(EventKind.FILE_WRITE, attrs, content, output=False, capture_path=p)


def _memory_attrs(uri_or_path: Any) -> dict[str, Any]:
    s = os.fspath(uri_or_path) if isinstance(uri_or_path, os.PathLike) else str(uri_or_path)
    return {sc.ARTIFACT_URI: s} if "://" in s else {sc.FILE_PATH: s}


def record_memory_read(uri_or_path: Any, content: Any) -> Output:
    """An agent memory entry read (``memory://agent/MEMORY.md`` or the memory file's path)."""
    return _record(EventKind.MEMORY_READ, _memory_attrs(uri_or_path), content, output=True)


def record_memory_write(uri_or_path: Any, content: Any) -> Output:
    """An agent memory entry written."""
    return _record(EventKind.MEMORY_WRITE, _memory_attrs(uri_or_path), content, output=False)


def record_skill_load(
    name: str, content: Any = None, sha256: str | None = None, trust: str | Trust = Trust.UNKNOWN
) -> Output:
    """A skill entered the model's context. ``sha256`` defaults to the hash of ``content``.

    Leave ``trust`` unknown unless the skill's origin is vouched for: unknown skills are
    probable root causes in ``why``.
    """
    attrs: dict[str, Any] = {sc.SKILL_NAME: name, sc.TRUST: trust}
    if sha256 is None and content is not None:
        sha256 = hashlib.sha256(_core.to_bytes(content)).hexdigest()
    attrs[sc.SKILL_SHA256] = sha256
    return _record(EventKind.SKILL_LOAD, attrs, content, output=True)


def record_fetch(url: str, content: Any, *, method: str = "GET") -> Output:
    """Content that came in from the network (untrusted)."""
    attrs: dict[str, Any] = {sc.URL_FULL: url, sc.HTTP_METHOD: method, sc.TRUST: Trust.UNTRUSTED}
    if content is not None:
        attrs[sc.NET_BYTES_IN] = len(_core.to_bytes(content))
    return _record(EventKind.NET_FETCH, attrs, content, output=True)


def record_egress(
    destination_url_or_host: str, payload: Any = None, *, method: str | None = None, port: int | None = None
) -> Output:
    """Data that left the box: a URL (``https://host/p``) or a host (``host`` or ``host:port``)."""
    dest = str(destination_url_or_host)
    attrs: dict[str, Any] = {sc.HTTP_METHOD: method}
    if "://" in dest:
        attrs[sc.URL_FULL] = dest
        if port is not None:
            attrs[sc.SERVER_PORT] = port
    else:
        host, _, maybe_port = dest.rpartition(":") if dest.count(":") == 1 else (dest, "", "")
        if maybe_port.isdigit() and port is None:
            port = int(maybe_port)
        attrs[sc.SERVER_ADDRESS] = host or dest
        attrs[sc.SERVER_PORT] = port
    if payload is not None:
        attrs[sc.NET_BYTES_OUT] = len(_core.to_bytes(payload))
    return _record(EventKind.NET_EGRESS, attrs, payload, output=False)


def set_limits(
    *,
    max_content_bytes: int | None = None,
    max_capture_file_bytes: int | None = None,
    max_payload_bytes: int | None = None,
) -> None:
    """Change the SDK's size limits (see ``Limits``); None leaves a limit as it is."""
    if max_content_bytes is not None:
        _core.LIMITS.max_content_bytes = int(max_content_bytes)
    if max_capture_file_bytes is not None:
        _core.LIMITS.max_capture_file_bytes = int(max_capture_file_bytes)
    if max_payload_bytes is not None:
        _core.LIMITS.max_payload_bytes = int(max_payload_bytes)
