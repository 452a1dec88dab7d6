"""Automatic capture inside an active tool call, through a PEP 578 audit hook.

``enable_capture()`` installs one audit hook (hooks cannot be removed, so ``disable_capture()``
only turns it into a no-op) and wraps ``socket.socket.send*`` and ``threading.Thread.start``
(restored on disable). Outside a tool call the hook returns after one flag test and one
context-variable read. Inside one it records, for that call:

- ``open``: path and access mode; each path once per call. At the end of the call each touched
  regular file is read (at most ``max_capture_file_bytes``) for its size and content, because
  the hook never sees the file object. Skipped: Python's own imports and tracebacks, ``.pyc``,
  ``.py``/``.so`` under the interpreter's prefixes, ``*.duckdb``/``*.duckdb.wal``, ``/proc``,
  ``/dev``, ``/sys``, file descriptors, directories, and every file clawtrace itself opens.
- ``socket.connect`` -> one ``net.egress`` per destination per call with the bytes sent to it
  (``socket.socket.send``/``sendall``/``sendto``/``sendmsg`` are wrapped, since plain sends raise
  no audit event) and a bounded prefix of them as content; ``http.client.send`` adds the
  plaintext of TLS connections; ``urllib.Request`` adds ``url.full``, the method and the body.
- ``socket.getaddrinfo``/``gethostbyname`` of a name -> a ``net.egress`` with
  ``dns.question.name``; a later connect to an address on the port looked up is named after it
  (``server.address`` = the name, ``network.peer.address`` = the address).
- ``subprocess.Popen``, ``os.system``, ``os.posix_spawn``, ``os.exec`` -> ``process.exec``.

Threads started inside a tool call are attributed to it (``Thread.start`` carries the call into
the child). Spans are emitted when the tool call ends, with the time each thing was first seen;
what a thread of the call does after the call ended is emitted as it happens.
"""

from __future__ import annotations

import os
import shlex
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

from opentelemetry.trace import Span

from clawtrace import semconv as sc
from clawtrace.instrument import _core
from clawtrace.semconv import EventKind

__all__ = ["CALL", "CallState", "busy", "capture_enabled", "disable_capture", "enable_capture"]

NETWORK_PEER_ADDRESS: Final = sc.NETWORK_PEER_ADDRESS
"""OpenTelemetry's peer address: the IP a named destination resolved to. (Not yet in ``semconv``.)"""

_SKIP_PREFIXES: Final = ("/proc/", "/dev/", "/sys/")
_SKIP_SUFFIXES: Final = (".duckdb", ".duckdb.wal", ".pyc", ".pyo")
_CODE_SUFFIXES: Final = (".py", ".so", ".pyd", ".pth", ".zip")
_SKIP_CALLERS: Final = ("<frozen importlib", "<frozen zipimport")
_SKIP_CALLER_FILES: Final = ("linecache.py", "tokenize.py", "traceback.py")

_ENABLED = False
_INSTALLED = False
_lock = threading.Lock()
_code_prefixes: tuple[str, ...] = ()
_originals: dict[tuple[type, str], tuple[bool, Any]] = {}


class _Busy(threading.local):
    on = False


_busy = _Busy()


class busy:
    """Reentrancy guard: clawtrace's own I/O inside it is never captured."""

    __slots__ = ("prev",)

    def __enter__(self) -> None:
        self.prev = _busy.on
        _busy.on = True

    def __exit__(self, *exc: object) -> None:
        _busy.on = self.prev


class _Dest:
    __slots__ = ("bodies", "bytes_out", "host", "method", "payload", "peer", "port", "ts", "urls")

    def __init__(self, ts: int, host: str, port: int | None) -> None:
        self.ts = ts
        self.host = host
        self.port = port
        self.peer: str | None = None
        self.urls: list[str] = []
        self.method: str | None = None
        self.bodies: list[bytes] = []
        self.bytes_out = 0
        self.payload = bytearray()


class CallState:
    """What automatic capture saw during one tool call."""

    def __init__(self, span: Span, call_id: str, session: _core.SessionState | None) -> None:
        self.span = span
        self.call_id = call_id
        self.session = session
        self.lock = threading.Lock()
        self.closed = False
        self.files: dict[str, list[Any]] = {}
        """path -> [first seen ns, read, write]"""
        self.recorded: set[tuple[str, str]] = set()
        """(kind, path) already recorded explicitly with record_*: capture leaves them alone."""
        self.dests: dict[tuple[str, int | None], _Dest] = {}
        self.names: dict[tuple[str, int | None], tuple[str, int | None]] = {}
        """(address, port) connected to -> the destination key it is recorded under."""
        self.lookups: dict[int | None, str] = {}
        """port -> the last name looked up for it (names the next connect on that port)."""
        self.dns: dict[str, int] = {}
        self.execs: list[tuple[int, dict[str, Any]]] = []

    # -- recording (called from the hook, under _busy)

    def dest(self, host: str, port: int | None, ts: int) -> _Dest:
        key = (host, port)
        d = self.dests.get(key)
        if d is None:
            d = self.dests[key] = _Dest(ts, host, port)
        return d

    def add_payload(self, d: _Dest, data: Any, n: int | None = None) -> None:
        mv = memoryview(data)
        size = mv.nbytes if n is None else n
        d.bytes_out += size
        room = _core.LIMITS.max_payload_bytes - len(d.payload)
        if room > 0:
            d.payload += mv.cast("B")[: min(room, size)]

    def after_record(self) -> None:
        if self.closed:  # a thread of the call outlived it: emit now
            self.flush()

    # -- emitting

    def flush(self) -> None:
        """Emit spans for everything recorded so far (as children of the call span)."""
        with self.lock:
            files, self.files = self.files, {}
            dests, self.dests = self.dests, {}
            dns, self.dns = self.dns, {}
            execs, self.execs = self.execs, []
            self.names = {}
        with busy():
            base = _core.base_attrs(self.session)
            base[sc.TOOL_CALL_ID] = self.call_id
            for path, (ts, read, write) in files.items():
                self._emit_file(base, path, ts, read, write)
            for name, ts in dns.items():
                attrs = dict(base)
                attrs[sc.DNS_QUESTION_NAME] = name
                attrs.update(_core.content_attrs(name))
                _core.emit(EventKind.NET_EGRESS, attrs, start_time=ts, parent=self.span)
            for d in dests.values():
                self._emit_dest(base, d)
            for ts, extra in execs:
                attrs = dict(base)
                attrs.update(extra)
                _core.emit(EventKind.PROCESS_EXEC, attrs, start_time=ts, parent=self.span)

    def _emit_file(self, base: dict[str, Any], path: str, ts: int, read: bool, write: bool) -> None:
        content_attrs: dict[str, Any] = {}
        try:
            st = os.stat(path)
            if stat.S_ISDIR(st.st_mode):
                return
            if stat.S_ISREG(st.st_mode):
                cap = _core.LIMITS.max_capture_file_bytes
                with open(path, "rb") as f:
                    data = f.read(cap)
                content_attrs = _core.content_attrs(data, size=st.st_size, whole=st.st_size <= len(data))
        except OSError:
            pass  # gone or unreadable: the access is still recorded, without content
        for kind, did in ((EventKind.FILE_READ, read), (EventKind.FILE_WRITE, write)):
            if did and (kind.value, path) not in self.recorded:
                attrs = dict(base)
                attrs[sc.FILE_PATH] = path
                attrs.update(content_attrs)
                _core.emit(kind, attrs, start_time=ts, parent=self.span)

    def _emit_dest(self, base: dict[str, Any], d: _Dest) -> None:
        attrs = dict(base)
        attrs[sc.SERVER_ADDRESS] = d.host
        if d.port is not None:
            attrs[sc.SERVER_PORT] = d.port
        if d.peer:
            attrs[NETWORK_PEER_ADDRESS] = d.peer
        if d.urls:
            attrs[sc.URL_FULL] = d.urls[0]
        if d.method:
            attrs[sc.HTTP_METHOD] = d.method
        body = b"\n".join(d.bodies)
        if d.bodies:
            attrs[sc.HTTP_BODY_SIZE] = sum(len(b) for b in d.bodies)
        attrs[sc.NET_BYTES_OUT] = d.bytes_out or len(body)
        if d.payload:
            attrs.update(_core.content_attrs(bytes(d.payload), size=d.bytes_out, whole=len(d.payload) == d.bytes_out))
        elif body:
            attrs.update(_core.content_attrs(body))
        elif d.urls:
            attrs.update(_core.content_attrs("\n".join(d.urls)))
        _core.emit(EventKind.NET_EGRESS, attrs, start_time=d.ts, parent=self.span)


CALL: ContextVar[CallState | None] = ContextVar("clawtrace_tool_call", default=None)
"""The tool call automatic capture attributes to."""


# --------------------------------------------------------------------------- handlers


def _caller_file(depth: int) -> str:
    try:
        return sys._getframe(depth).f_code.co_filename
    except ValueError:
        return ""


def _on_open(st: CallState, args: tuple[Any, ...]) -> None:
    path, mode, flags = args
    if isinstance(path, int):
        return
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    elif not isinstance(path, str):
        path = os.fspath(path)
    if path.startswith(_SKIP_PREFIXES) or path.endswith(_SKIP_SUFFIXES) or path in ("/proc", "/dev", "/sys"):
        return
    caller = _caller_file(3)  # _on_open <- _hook <- open()'s caller
    if caller.startswith(_SKIP_CALLERS) or caller.endswith(_SKIP_CALLER_FILES):
        return
    path = os.path.abspath(path)
    if path.endswith(_CODE_SUFFIXES) and path.startswith(_code_prefixes):
        return
    if isinstance(flags, int) and flags:
        if flags & getattr(os, "O_DIRECTORY", 0):
            return
        acc = flags & os.O_ACCMODE
        read, write = acc in (os.O_RDONLY, os.O_RDWR), acc in (os.O_WRONLY, os.O_RDWR)
    elif isinstance(mode, str):
        write = any(c in mode for c in "wax+")
        read = "r" in mode or "+" in mode
    else:
        read, write = True, False
    with st.lock:
        rec = st.files.get(path)
        if rec is None:
            st.files[path] = [time.time_ns(), read, write]
        else:
            rec[1] = rec[1] or read
            rec[2] = rec[2] or write
    st.after_record()


def _port(v: Any) -> int | None:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, (str, bytes)):
        try:
            return int(v)
        except ValueError:
            pass
        try:
            return socket.getservbyname(v if isinstance(v, str) else v.decode()) if v else None
        except (OSError, UnicodeDecodeError):
            return None
    return None


def _is_ip(host: str) -> bool:
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(fam, host.split("%", 1)[0])
            return True
        except (OSError, ValueError):
            continue
    return False


def _on_lookup(st: CallState, host: Any, port: Any) -> None:
    if isinstance(host, bytes):
        host = host.decode("idna", "replace")
    if not isinstance(host, str) or not host or _is_ip(host):
        return
    p = _port(port)
    with st.lock:
        st.dns.setdefault(host, time.time_ns())
        if p is not None:
            st.lookups[p] = host
    st.after_record()


def _on_getaddrinfo(st: CallState, args: tuple[Any, ...]) -> None:
    _on_lookup(st, args[0], args[1])


def _on_gethostbyname(st: CallState, args: tuple[Any, ...]) -> None:
    _on_lookup(st, args[0], None)


def _inet(address: Any) -> tuple[str, int | None] | None:
    if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[0], (str, bytes)):
        host = address[0].decode() if isinstance(address[0], bytes) else address[0]
        return host, _port(address[1])
    return None


def _dest_for(st: CallState, addr: tuple[str, int | None], ts: int) -> _Dest:
    """The destination record for a connected-to address (named after a prior look-up)."""
    key = st.names.get(addr)
    if key is not None and key in st.dests:
        return st.dests[key]
    host, port = addr
    name = st.lookups.get(port) if port is not None and _is_ip(host) else None
    d = st.dest(name or host, port, ts)
    if name:
        d.peer = host
    st.names[addr] = (d.host, d.port)
    return d


def _on_connect(st: CallState, args: tuple[Any, ...]) -> None:
    sock, address = args[0], args[1]
    if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
        return
    addr = _inet(address)
    if addr is None:
        return
    with st.lock:
        _dest_for(st, addr, time.time_ns())
    st.after_record()


def _on_http_send(st: CallState, args: tuple[Any, ...]) -> None:
    conn, data = args[0], args[1]
    sock = getattr(conn, "sock", None)
    if getattr(sock, "_sslobj", None) is None:
        return  # plain sockets are counted by the send wrappers
    if isinstance(data, str):
        data = data.encode("iso-8859-1", "replace")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return  # a file-like body: its reads are not the payload we can see here
    host, port = str(getattr(conn, "host", "") or "?"), _port(getattr(conn, "port", None))
    with st.lock:
        d = st.dest(host, port, time.time_ns())
        st.add_payload(d, data)
    st.after_record()


def _on_urllib_request(st: CallState, args: tuple[Any, ...]) -> None:
    from urllib.parse import urlsplit

    url, data, _headers, method = args
    if not isinstance(url, str):
        return
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    except ValueError:
        port = None
    with st.lock:
        d = st.dest(host, port, time.time_ns())
        d.urls.append(url)
        d.method = d.method or (method if isinstance(method, str) else ("POST" if data is not None else "GET"))
        if isinstance(data, (bytes, bytearray, memoryview)):
            d.bodies.append(bytes(data))
        elif isinstance(data, str):
            d.bodies.append(data.encode("utf-8", "replace"))
    st.after_record()


def _command_line(args: Any) -> str:
    if isinstance(args, (str, bytes, os.PathLike)):
        return os.fsdecode(args)
    try:
        return shlex.join(os.fsdecode(a) for a in args)
    except TypeError:
        return str(args)


def _exec(st: CallState, command: Any, cwd: Any = None) -> None:
    line = _command_line(command)
    extra: dict[str, Any] = {sc.PROCESS_COMMAND_LINE: line}
    if cwd is not None:
        extra[sc.PROCESS_WORKING_DIRECTORY] = os.fsdecode(cwd)
    extra.update(_core.content_attrs(line))
    with st.lock:
        st.execs.append((time.time_ns(), extra))
    st.after_record()


def _on_popen(st: CallState, args: tuple[Any, ...]) -> None:
    executable, cmd, cwd = args[0], args[1], args[2]
    _exec(st, cmd if cmd is not None else executable, cwd)


def _on_system(st: CallState, args: tuple[Any, ...]) -> None:
    _exec(st, args[0])


def _on_spawn(st: CallState, args: tuple[Any, ...]) -> None:
    _exec(st, args[1] if args[1] else args[0])


_HANDLERS: Final[dict[str, Callable[[CallState, tuple[Any, ...]], None]]] = {
    "open": _on_open,
    "socket.connect": _on_connect,
    "socket.getaddrinfo": _on_getaddrinfo,
    "socket.gethostbyname": _on_gethostbyname,
    "http.client.send": _on_http_send,
    "urllib.Request": _on_urllib_request,
    "subprocess.Popen": _on_popen,
    "os.system": _on_system,
    "os.posix_spawn": _on_spawn,
    "os.exec": _on_spawn,
}


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _ENABLED:
        return
    st = CALL.get()
    if st is None:
        return
    handler = _HANDLERS.get(event)
    if handler is None or _busy.on:
        return
    _busy.on = True
    try:
        handler(st, args)
    except Exception as e:  # noqa: BLE001 - never raise into the host
        _core.internal_error(f"audit event {event}", e)
    finally:
        _busy.on = False


# --------------------------------------------------------------------------- wrappers


def _record_send(sock: Any, data: Any, n: int | None, address: Any = None) -> None:
    st = CALL.get()
    if st is None or _busy.on:
        return
    _busy.on = True
    try:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return
        addr = _inet(address) if address is not None else None
        if addr is None:
            try:
                addr = _inet(sock.getpeername())
            except OSError:
                return
        if addr is None:
            return
        with st.lock:
            d = _dest_for(st, addr, time.time_ns())
            st.add_payload(d, data, n)
        st.after_record()
    except Exception as e:  # noqa: BLE001 - never raise into the host
        _core.internal_error("socket send", e)
    finally:
        _busy.on = False


def _wrap_send(orig: Any) -> Any:
    def send(self: socket.socket, data: Any, *args: Any) -> Any:
        n = orig(self, data, *args)
        if _ENABLED:
            _record_send(self, data, n)
        return n

    return send


def _wrap_sendall(orig: Any) -> Any:
    def sendall(self: socket.socket, data: Any, *args: Any) -> Any:
        if _ENABLED:
            _record_send(self, data, None)
        return orig(self, data, *args)

    return sendall


def _wrap_sendto(orig: Any) -> Any:
    def sendto(self: socket.socket, data: Any, *args: Any) -> Any:
        n = orig(self, data, *args)
        if _ENABLED and args:
            _record_send(self, data, n, args[-1])
        return n

    return sendto


def _wrap_sendmsg(orig: Any) -> Any:
    def sendmsg(self: socket.socket, buffers: Any, *args: Any) -> Any:
        n = orig(self, buffers, *args)
        if _ENABLED:
            try:
                data = b"".join(bytes(memoryview(b)) for b in buffers)
            except TypeError:
                data = b""
            _record_send(self, data, n, args[2] if len(args) >= 3 else None)
        return n

    return sendmsg


def _wrap_thread_start(orig: Any) -> Any:
    def start(self: threading.Thread) -> None:
        st = CALL.get() if _ENABLED else None
        target = getattr(self, "_target", None)
        if st is not None and not _busy.on and not str(getattr(target, "__module__", "")).startswith("opentelemetry"):
            run = self.run

            def run_in_call() -> None:
                CALL.set(st)
                run()

            self.run = run_in_call  # type: ignore[method-assign]
        orig(self)

    return start


_WRAPPERS: Final = (
    (socket.socket, "send", _wrap_send),
    (socket.socket, "sendall", _wrap_sendall),
    (socket.socket, "sendto", _wrap_sendto),
    (socket.socket, "sendmsg", _wrap_sendmsg),
    (threading.Thread, "start", _wrap_thread_start),
)


# --------------------------------------------------------------------------- switches


def enable_capture() -> None:
    """Turn automatic capture on (installs the audit hook on first use). Idempotent."""
    global _ENABLED, _INSTALLED, _code_prefixes
    with _lock:
        if _ENABLED:
            _core.log.info("clawtrace: capture is already enabled")
            return
        prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
        _code_prefixes = tuple(os.path.join(os.path.abspath(p), "") for p in prefixes if p)
        for cls, name, wrap in _WRAPPERS:
            if (cls, name) not in _originals:
                _originals[(cls, name)] = (name in cls.__dict__, cls.__dict__.get(name))
                setattr(cls, name, wrap(getattr(cls, name)))
        if not _INSTALLED:
            sys.addaudithook(_hook)
            _INSTALLED = True
        _ENABLED = True


def disable_capture() -> None:
    """Turn automatic capture off: the hook stays (it cannot be removed) but does nothing."""
    global _ENABLED
    with _lock:
        _ENABLED = False
        for (cls, name), (had, value) in _originals.items():
            if had:
                setattr(cls, name, value)
            else:
                delattr(cls, name)
        _originals.clear()


def capture_enabled() -> bool:
    """Whether automatic capture is on."""
    return _ENABLED
