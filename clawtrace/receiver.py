"""``clawtrace serve``: a durable OTLP/HTTP traces receiver in front of the store.

The request path never touches DuckDB. A ``POST /v1/traces`` body (protobuf or JSON, gzip
or not) is checked, appended to a spool file as one length-prefixed frame (a 4-byte
big-endian length, then the un-gzipped body: the layout ``clawtrace import otlp`` reads) and
fsynced; only then is it answered 200. Concurrent requests share one fsync (group commit).

One writer thread owns the store. It drains the spool in order through
``decode_request -> spans_to_batch -> ingest``, one transaction per batch, then records how
far it got in ``progress`` (written to a temporary file, fsynced, renamed). A ``kill -9`` at
any moment loses no acknowledged span: on restart the spool is replayed from the recorded
offset, and a batch committed just before the progress write is skipped by ingest's stable
event ids. After a committed batch (at most every ``snapshot_interval`` seconds) the writer
checkpoints and copies the store to ``<db>.snapshot``, which read-only commands open while
``serve`` holds the write lock.

Overload is answered, never absorbed silently: a spool beyond ``spool_limit`` bytes gives
503 and an ingest backlog beyond ``max_backlog`` spans gives 429, both with ``Retry-After``.
A frame the writer cannot decode (it passed the request-time check, so this is rare) is
moved to a ``failed-*.otlp.pb`` file in the spool directory and counted, not dropped.
"""

from __future__ import annotations

import dataclasses
import gzip
import hmac
import json
import logging
import os
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from clawtrace import _gc
from clawtrace.errors import ClawtraceError, InputError
from clawtrace.ingest.otlp import OtlpSpan, decode_request, spans_to_batch
from clawtrace.model import BATCH_BYTES
from clawtrace.store import Store, ingest

__all__ = [
    "LOOPBACK_HOSTS",
    "Receiver",
    "ReceiverConfig",
    "ReceiverConfigError",
    "Spool",
    "check_bind",
    "snapshot_path",
]

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
"""Hosts that may be bound without a bearer token."""

_FRAME_HEAD = 4
_MAX_BODY = 15 << 20
"""Largest request body, before and after gzip: a frame's length prefix stays below 16 MiB."""
_ROTATE = 64 << 20
"""A spool segment is closed and a new one started beyond this size."""
_PROTO_TYPES = ("application/x-protobuf", "application/protobuf")
_JSON_TYPES = ("application/json",)


class ReceiverConfigError(ClawtraceError):
    """The receiver cannot start with these settings (binding, token, spool)."""


def snapshot_path(db: str) -> str:
    """Where ``serve`` keeps the read-only copy of the store ``db``."""
    return db + ".snapshot"


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a bearer token."""
    if host not in LOOPBACK_HOSTS and not token:
        raise ReceiverConfigError(
            f"refusing to listen on {host} without a bearer token: anyone who can reach it could write "
            f"evidence into the store; set one: CLAWTRACE_TOKEN=$(openssl rand -hex 16) clawtrace serve --host {host} "
            f"(or bind to 127.0.0.1)"
        )


@dataclasses.dataclass
class ReceiverConfig:
    """Settings of one receiver; ``clawtrace serve`` fills them from its options."""

    db: str
    host: str = "127.0.0.1"
    port: int = 4318
    token: str | None = None
    spool_dir: str | None = None
    """Default: ``<db>.spool``."""
    spool_limit: int = 1 << 30
    """Bytes waiting in the spool beyond which requests get 503."""
    max_backlog: int = 2_000_000
    """Spans received but not yet stored beyond which requests get 429."""
    batch_spans: int = 20_000
    """Spans per ingest transaction, at most."""
    batch_bytes: int = BATCH_BYTES
    """...and spool bytes per ingest transaction, about (``model.BATCH_BYTES``): a backlog of
    spans carrying 256 KB contents would otherwise make a 5 GB batch."""
    snapshot_interval: float = 2.0
    """Seconds between snapshots of the store, at least."""
    keep_content: bool = False


# ----------------------------------------------------------------------------- spool


class Spool:
    """Append-only segment files of length-prefixed request bodies, plus a progress file.

    Appends come from many threads and return once their frame is fsynced; one reader (the
    writer thread) walks the frames in order and commits its position.
    """

    def __init__(self, directory: str) -> None:
        self.dir = directory
        try:
            os.makedirs(directory, exist_ok=True)
            seg, off = self._read_progress()
            segs = self._segments()
            for s in segs:
                if s < seg:
                    os.remove(self._seg_path(s))
            segs = [s for s in segs if s >= seg]
            pending = 0
            for s in segs:
                size = _trim_torn_tail(self._seg_path(s))
                pending += size - (off if s == seg else 0)
            self.recovered_bytes = max(pending, 0)
            self._append_seg = max([*segs, seg]) + 1
            self._f = open(self._seg_path(self._append_seg), "ab", buffering=0)  # noqa: SIM115 - closed in close()
        except OSError as e:
            raise ReceiverConfigError(
                f"spool directory {directory}: {e.strerror or e}; pass a writable one: clawtrace serve --spool DIR"
            ) from e
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._written = 0
        self._synced = 0
        self.pending_bytes = self.recovered_bytes
        """Bytes appended (or recovered) and not yet committed by the reader."""
        self.read_pos = (seg, off)
        """Where the reader resumes: (segment number, byte offset)."""
        self._rfd: tuple[int, int] | None = None
        self._done_segs: set[int] = set()

    # -- paths

    def _seg_path(self, n: int) -> str:
        return os.path.join(self.dir, f"spool-{n:08d}.otlp.pb")

    def _segments(self) -> list[int]:
        out = []
        for name in os.listdir(self.dir):
            if name.startswith("spool-") and name.endswith(".otlp.pb"):
                try:
                    out.append(int(name[6:14]))
                except ValueError:
                    continue
        return sorted(out)

    def _read_progress(self) -> tuple[int, int]:
        try:
            with open(os.path.join(self.dir, "progress")) as f:
                d = json.load(f)
            return int(d["segment"]), int(d["offset"])
        except FileNotFoundError:
            return 1, 0
        except (ValueError, KeyError, TypeError) as e:
            raise ReceiverConfigError(
                f"spool progress file {os.path.join(self.dir, 'progress')} is damaged ({e}); "
                f"delete it to replay the whole spool (ingest skips what is already stored)"
            ) from e

    # -- appending (request threads)

    def append(self, body: bytes) -> None:
        """Append one frame and return once it is on disk."""
        frame = len(body).to_bytes(_FRAME_HEAD, "big") + body
        with self._lock:
            self._f.write(frame)
            self._written += len(frame)
            self.pending_bytes += len(frame)
            mine = (self._append_seg, self._written)
        self._sync(mine)

    def _sync(self, mine: tuple[int, int]) -> None:
        with self._sync_lock:
            if mine <= (self._append_seg, self._synced):
                return  # another thread's fsync covered this frame
            with self._lock:
                target = self._written
            os.fdatasync(self._f.fileno())
            with self._lock:
                self._synced = target
                if self._written >= _ROTATE and self._written == self._synced:
                    self._f.close()
                    self._append_seg += 1
                    self._f = open(self._seg_path(self._append_seg), "ab", buffering=0)  # noqa: SIM115
                    self._written = self._synced = 0
                    _fsync_dir(self.dir)

    def close(self) -> None:
        """Close the segment being appended to (after a final fsync)."""
        with self._sync_lock, self._lock:
            os.fsync(self._f.fileno())
            self._f.close()
            if self._rfd is not None:
                os.close(self._rfd[1])
                self._rfd = None

    # -- reading (the writer thread)

    def _limit(self, seg: int) -> int | None:
        """Readable end of ``seg``; None when ``seg`` is closed and complete (read to its size)."""
        with self._lock:
            if seg == self._append_seg:
                return self._synced
        return None

    def next_frame(self, pos: tuple[int, int]) -> tuple[bytes, tuple[int, int]] | None:
        """The durable frame at ``pos`` and the position after it, or None when none is ready."""
        seg, off = pos
        while True:
            limit = self._limit(seg)
            if limit is None:
                fd = self._fd(seg)
                if fd is None:  # consumed and deleted before a crash: go on to the next one
                    seg, off = seg + 1, 0
                    continue
                limit = os.fstat(fd).st_size
            if off + _FRAME_HEAD <= limit:
                fd = self._fd(seg)
                assert fd is not None
                n = int.from_bytes(os.pread(fd, _FRAME_HEAD, off), "big")
                if off + _FRAME_HEAD + n <= limit:
                    data = os.pread(fd, n, off + _FRAME_HEAD)
                    return data, (seg, off + _FRAME_HEAD + n)
            if self._limit(seg) is not None:
                return None  # the segment being appended to: nothing more yet
            # a closed segment read to its end: move on
            self._done_segs.add(seg)
            seg, off = seg + 1, 0

    def _fd(self, seg: int) -> int | None:
        if self._rfd is not None and self._rfd[0] == seg:
            return self._rfd[1]
        if self._rfd is not None:
            os.close(self._rfd[1])
            self._rfd = None
        try:
            fd = os.open(self._seg_path(seg), os.O_RDONLY)
        except FileNotFoundError:
            return None
        self._rfd = (seg, fd)
        return fd

    def commit(self, pos: tuple[int, int], consumed: int) -> None:
        """Record that every frame before ``pos`` is stored; drop segments read to their end."""
        tmp = os.path.join(self.dir, "progress.tmp")
        with open(tmp, "w") as f:
            json.dump({"segment": pos[0], "offset": pos[1]}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.dir, "progress"))
        _fsync_dir(self.dir)
        self.read_pos = pos
        for s in self._done_segs:
            if s < pos[0]:
                try:
                    os.remove(self._seg_path(s))
                except FileNotFoundError:
                    pass
        self._done_segs = {s for s in self._done_segs if s >= pos[0]}
        with self._lock:
            self.pending_bytes = max(self.pending_bytes - consumed, 0)

    def quarantine(self, data: bytes) -> str:
        """Keep an undecodable frame in ``failed-<time>.otlp.pb``; returns its path."""
        path = os.path.join(self.dir, f"failed-{time.strftime('%Y%m%dT%H%M%S')}.otlp.pb")
        with open(path, "ab") as f:
            f.write(len(data).to_bytes(_FRAME_HEAD, "big") + data)
            f.flush()
            os.fsync(f.fileno())
        return path


def _trim_torn_tail(path: str) -> int:
    """Cut a frame half-written by a crash (never acknowledged); return the file's size."""
    size = os.path.getsize(path)
    good = 0
    with open(path, "rb") as f:
        while good + _FRAME_HEAD <= size:
            f.seek(good)
            n = int.from_bytes(f.read(_FRAME_HEAD), "big")
            if good + _FRAME_HEAD + n > size:
                break
            good += _FRAME_HEAD + n
    if good < size:
        log.warning(
            "spool %s: cutting %d bytes of a frame torn by a crash (it was never acknowledged)", path, size - good
        )
        with open(path, "r+b") as f:
            f.truncate(good)
            os.fsync(f.fileno())
    return good


def _copy_fd(src: int, dst: int) -> None:
    size = os.fstat(src).st_size
    off = 0
    while off < size:
        try:
            n = os.copy_file_range(src, dst, size - off, off)
        except OSError:
            chunk = os.pread(src, min(size - off, 8 << 20), off)
            n = os.write(dst, chunk)
        if n <= 0:
            break
        off += n


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- request checks


class _Reject(Exception):
    def __init__(self, status: int, message: str, reason: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


def _count_proto(body: bytes) -> int:
    """Spans in a protobuf request, checking what the writer's decoder would refuse."""
    try:
        req = ExportTraceServiceRequest.FromString(body)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise _Reject(400, f"not an OTLP ExportTraceServiceRequest protobuf message ({e})", "bad_request") from e
    n = 0
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                if len(s.trace_id) != 16 or len(s.span_id) != 8 or len(s.parent_span_id) not in (0, 8):
                    raise _Reject(
                        400,
                        f"span {s.name!r}: trace id must be 16 bytes, span ids 8 bytes "
                        f"(got {len(s.trace_id)}, {len(s.span_id)}, {len(s.parent_span_id)})",
                        "bad_request",
                    )
                n += 1
    return n


def _gunzip(body: bytes) -> bytes:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, _MAX_BODY + 1)
    except zlib.error as e:
        raise _Reject(400, f"body is not valid gzip ({e})", "bad_request") from e
    if len(out) > _MAX_BODY:
        raise _Reject(413, f"body is larger than {_MAX_BODY} bytes once un-gzipped; send smaller batches", "too_large")
    if not d.eof:
        raise _Reject(400, "gzip body is truncated", "bad_request")
    return out


def _decode_frame(data: bytes) -> list[OtlpSpan]:
    if data.lstrip()[:1] == b"{":
        return decode_request(data, "application/json")
    if data.startswith(b"\x1f\x8b"):
        return _decode_frame(gzip.decompress(data))
    return decode_request(data, "application/x-protobuf")


# ----------------------------------------------------------------------------- the receiver


@dataclasses.dataclass
class _Stats:
    requests: dict[int, int] = dataclasses.field(default_factory=dict)
    rejections: dict[str, int] = dataclasses.field(default_factory=dict)
    spans_received: int = 0
    spans_stored: int = 0
    events_stored: int = 0
    batches: int = 0
    ingest_errors: int = 0
    quarantined_frames: int = 0
    snapshots: int = 0


class Receiver:
    """The HTTP server, the spool and the writer thread of ``clawtrace serve``."""

    def __init__(self, config: ReceiverConfig) -> None:
        check_bind(config.host, config.token)
        self.config = config
        self.stats = _Stats()
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._writer_done = threading.Event()
        self._last_error: str | None = None
        self._last_snapshot = 0.0
        self._ingest_rate = 0.0
        self.spool: Spool | None = None
        self._db_fd: int | None = None
        self.store: Store | None = None
        self.httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self.started = time.time()

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        assert self.httpd is not None
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` of the receiver."""
        host = self.config.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> None:
        """Open the store (taking its write lock), recover the spool, bind, and start the threads."""
        cfg = self.config
        self.store = Store.open(cfg.db)
        try:
            self.spool = Spool(cfg.spool_dir or cfg.db + ".spool")
            if self.spool.recovered_bytes:
                log.warning("replaying %d bytes left in the spool by the last run", self.spool.recovered_bytes)
            self._snapshot()
            self.httpd = _server(cfg.host, cfg.port)
        except BaseException:
            self.store.close()
            raise
        self.httpd.receiver = self  # type: ignore[attr-defined]
        self._threads = [
            threading.Thread(target=self._write_loop, name="clawtrace-writer", daemon=True),
            threading.Thread(
                target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="clawtrace-http", daemon=True
            ),
        ]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop accepting, drain the spool into the store, close it. True when fully drained."""
        self._stopping.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
        with self._wake:
            self._wake.notify_all()
        drained = self._writer_done.wait(timeout)
        if drained:
            if self.spool is not None:
                self.spool.close()
            if self.store is not None:
                self.store.close()
            if self._db_fd is not None:
                os.close(self._db_fd)
                self._db_fd = None
        return drained

    # -- accepting (request threads)

    def accept(self, body: bytes, media: str) -> int:
        """Check a request body, spool it durably and return its span count (raises _Reject)."""
        if self._stopping.is_set():
            raise _Reject(503, "the receiver is shutting down", "shutting_down", retry_after=5)
        if media in _PROTO_TYPES:
            n = _count_proto(body)
        else:
            try:
                n = len(decode_request(body, "application/json"))
            except InputError as e:
                raise _Reject(400, str(e), "bad_request") from e
            body = body.lstrip()
        if n == 0:
            return 0
        spool = self.spool
        assert spool is not None
        cfg = self.config
        if spool.pending_bytes + len(body) + _FRAME_HEAD > cfg.spool_limit:
            raise _Reject(
                503,
                f"the spool holds {spool.pending_bytes} bytes, its limit is {cfg.spool_limit}; retry later",
                "spool_full",
                self._retry_after(),
            )
        if self.backlog() + n > cfg.max_backlog:
            raise _Reject(
                429,
                f"{self.backlog()} spans wait for ingest, the limit is {cfg.max_backlog}; retry later",
                "backlog",
                self._retry_after(),
            )
        spool.append(body)
        with self._lock:
            self.stats.spans_received += n
        with self._wake:
            self._wake.notify()
        return n

    def backlog(self) -> int:
        """Spans acknowledged by this run and not yet stored."""
        return max(self.stats.spans_received - self.stats.spans_stored, 0)

    def _retry_after(self) -> int:
        rate = self._ingest_rate or 5000.0
        return int(min(max(self.backlog() / rate, 1), 30))

    def count(self, status: int, reason: str | None = None) -> None:
        """Count an answered request (and its rejection reason)."""
        with self._lock:
            self.stats.requests[status] = self.stats.requests.get(status, 0) + 1
            if reason:
                self.stats.rejections[reason] = self.stats.rejections.get(reason, 0) + 1

    # -- the writer thread

    def _write_loop(self) -> None:
        try:
            while True:
                if not self._drain_once():
                    if self._stopping.is_set():
                        break
                    with self._wake:
                        self._wake.wait(0.2)
                    if time.monotonic() >= self._next_snapshot and self._dirty:
                        self._snapshot()
            if self._dirty:
                self._snapshot()
        except Exception as e:  # noqa: BLE001 - the thread must say why it died
            log.error("the receiver's writer stopped (%s); what is not stored stays in the spool for the next run", e)
            self._last_error = f"writer stopped: {e}"
        finally:
            self._writer_done.set()

    _dirty = False
    _next_snapshot = 0.0

    def _drain_once(self) -> bool:
        """Ingest one batch from the spool; False when nothing was ready."""
        spool, store = self.spool, self.store
        assert spool is not None and store is not None
        start = spool.read_pos
        pos = start
        spans: list[OtlpSpan] = []
        consumed = 0
        while len(spans) < self.config.batch_spans and consumed < self.config.batch_bytes:
            nxt = spool.next_frame(pos)
            if nxt is None:
                break
            data, pos = nxt
            consumed += len(data) + _FRAME_HEAD
            try:
                spans.extend(_decode_frame(data))
            except (InputError, OSError, EOFError) as e:
                path = spool.quarantine(data)
                log.warning("spool frame at %s could not be decoded (%s); kept in %s", pos, e, path)
                with self._lock:
                    self.stats.quarantined_frames += 1
        if pos == start:
            return False
        t0 = time.perf_counter()
        if spans:
            events = self._ingest(spans)
            self._dirty = True
        spool.commit(pos, consumed)
        dt = time.perf_counter() - t0
        with self._lock:
            self.stats.spans_stored += len(spans)
            self.stats.batches += 1
            if spans:
                self.stats.events_stored += events
        if spans and dt > 0:
            rate = len(spans) / dt
            self._ingest_rate = rate if not self._ingest_rate else 0.8 * self._ingest_rate + 0.2 * rate
        self._last_error = None
        if time.monotonic() >= self._next_snapshot and self._dirty:
            self._snapshot()
        return True

    def _ingest(self, spans: list[OtlpSpan]) -> int:
        """One transaction; on failure retry every 2 s (the batch stays in the spool), until stopped."""
        store = self.store
        assert store is not None
        while True:
            try:
                with _gc.paused():
                    r = ingest(store, spans_to_batch(spans), keep_content=self.config.keep_content, source="otlp")
            except ClawtraceError as e:
                with self._lock:
                    self.stats.ingest_errors += 1
                self._last_error = str(e)
                if self._stopping.is_set():
                    raise  # stopping: what is not stored stays in the spool for the next run
                log.error("ingest failed (%s); the batch stays in the spool, retrying in 2 s", e)
                self._stopping.wait(2.0)
                continue
            for p in r.problems[:5]:
                log.warning("%s", p)
            return r.events

    def _snapshot(self) -> None:
        """CHECKPOINT, then copy the store to ``<db>.snapshot`` atomically (temp file + rename)."""
        store = self.store
        assert store is not None
        t0 = time.monotonic()
        dst = snapshot_path(store.path)
        tmp = dst + ".tmp"
        try:
            store.sql("CHECKPOINT")
            if self._db_fd is None:
                # Kept open until the store closes: DuckDB's lock is a POSIX record lock, which
                # the process loses when it closes *any* descriptor of the file.
                self._db_fd = os.open(store.path, os.O_RDONLY)
            with open(tmp, "wb") as out:
                _copy_fd(self._db_fd, out.fileno())
                os.fsync(out.fileno())
            os.replace(tmp, dst)
        except (ClawtraceError, OSError) as e:
            log.warning("could not refresh the snapshot %s (%s); readers see an older one", dst, e)
            return
        took = time.monotonic() - t0
        self._dirty = False
        self._last_snapshot = time.time()
        # Copying a large store is not free: keep it under about a tenth of the writer's time.
        self._next_snapshot = time.monotonic() + max(self.config.snapshot_interval, 10 * took)
        with self._lock:
            self.stats.snapshots += 1

    # -- status

    def health(self) -> dict[str, Any]:
        """The ``/healthz`` document."""
        spool = self.spool
        s = self.stats
        return {
            "status": "stopping" if self._stopping.is_set() else ("degraded" if self._last_error else "ok"),
            "db": self.config.db,
            "snapshot": snapshot_path(self.config.db),
            "snapshot_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._last_snapshot))
            if self._last_snapshot
            else None,
            "uptime_s": round(time.time() - self.started, 3),
            "spans_received": s.spans_received,
            "spans_stored": s.spans_stored,
            "events_stored": s.events_stored,
            "backlog_spans": self.backlog(),
            "spool_bytes": spool.pending_bytes if spool else 0,
            "last_error": self._last_error,
        }

    def metrics(self) -> str:
        """Prometheus text exposition of the counters."""
        s = self.stats
        spool = self.spool
        lines: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, int | float]]) -> None:
            lines.append(f"# HELP clawtrace_receiver_{name} {help_}")
            lines.append(f"# TYPE clawtrace_receiver_{name} {kind}")
            for labels, v in samples:
                lines.append(f"clawtrace_receiver_{name}{labels} {v}")

        with self._lock:
            metric(
                "requests_total",
                "counter",
                "Requests answered, by status code.",
                [(f'{{code="{c}"}}', n) for c, n in sorted(s.requests.items())] or [('{code="200"}', 0)],
            )
            metric(
                "spans_received_total",
                "counter",
                "Spans acknowledged (on disk in the spool).",
                [("", s.spans_received)],
            )
            metric("spans_stored_total", "counter", "Spans committed to the store.", [("", s.spans_stored)])
            metric(
                "events_stored_total",
                "counter",
                "New provenance events committed to the store.",
                [("", s.events_stored)],
            )
            metric("batches_total", "counter", "Ingest transactions committed.", [("", s.batches)])
            metric(
                "rejections_total",
                "counter",
                "Requests refused, by reason.",
                [(f'{{reason="{r}"}}', n) for r, n in sorted(s.rejections.items())] or [('{reason="none"}', 0)],
            )
            metric(
                "ingest_errors_total",
                "counter",
                "Failed ingest attempts (the batch is retried).",
                [("", s.ingest_errors)],
            )
            metric(
                "quarantined_frames_total",
                "counter",
                "Spool frames the writer could not decode, kept aside.",
                [("", s.quarantined_frames)],
            )
            metric("snapshots_total", "counter", "Read-only snapshots of the store written.", [("", s.snapshots)])
        metric(
            "spool_bytes", "gauge", "Bytes in the spool not yet stored.", [("", spool.pending_bytes if spool else 0)]
        )
        metric("backlog_spans", "gauge", "Spans acknowledged and not yet stored.", [("", self.backlog())])
        return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class _Server6(_Server):
    address_family = socket.AF_INET6


def _server(host: str, port: int) -> ThreadingHTTPServer:
    cls = _Server6 if ":" in host else _Server
    try:
        return cls((host, port), _Handler)
    except OSError as e:
        raise ReceiverConfigError(
            f"cannot listen on {host}:{port} ({e.strerror or e}); is another receiver running? "
            f"pick another port: clawtrace serve --port 4319"
        ) from e


def _status_body(json_wanted: bool, code: int, message: str) -> tuple[bytes, str]:
    """A google.rpc.Status in the request's encoding, as OTLP/HTTP asks for errors."""
    if json_wanted:
        return json.dumps({"code": code, "message": message}).encode(), "application/json"
    from google.rpc.status_pb2 import Status

    return Status(code=code, message=message).SerializeToString(), "application/x-protobuf"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "clawtrace"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    @property
    def receiver(self) -> Receiver:
        return self.server.receiver  # type: ignore[attr-defined,no-any-return]

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        r = self.receiver
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            h = r.health()
            self._send(200, json.dumps(h).encode(), "application/json")
        elif path == "/metrics":
            self._send(200, r.metrics().encode(), "text/plain; version=0.0.4; charset=utf-8")
        else:
            self._send(404, b"not found; try POST /v1/traces, GET /healthz or GET /metrics\n", "text/plain")
            return
        r.count(200)

    def do_POST(self) -> None:
        r = self.receiver
        media = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        json_wanted = media in _JSON_TYPES
        try:
            self._check_auth()
            if self.path.split("?", 1)[0] != "/v1/traces":
                raise _Reject(404, f"no endpoint {self.path}; OTLP traces go to POST /v1/traces", "not_found")
            body = self._body()
            if media not in _PROTO_TYPES and media not in _JSON_TYPES:
                raise _Reject(
                    415,
                    f"unsupported content type {media!r}; use application/x-protobuf or application/json",
                    "unsupported",
                )
            r.accept(body, media)
        except _Reject as e:
            payload, ctype = _status_body(json_wanted, _RPC_CODES.get(e.status, 2), str(e))
            headers = {}
            if e.retry_after is not None:
                headers["Retry-After"] = str(e.retry_after)
            if e.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="clawtrace"'
            r.count(e.status, e.reason)
            self._send(e.status, payload, ctype, headers)
            return
        except Exception as e:
            log.exception("internal error answering a request")
            r.count(500, "internal")
            payload, ctype = _status_body(json_wanted, 13, f"internal error: {type(e).__name__}: {e}")
            self.close_connection = True
            self._send(500, payload, ctype)
            return
        r.count(200)
        if json_wanted:
            self._send(200, b"{}", "application/json")
        else:
            self._send(200, b"", "application/x-protobuf")  # an empty ExportTraceServiceResponse

    def _check_auth(self) -> None:
        token = self.receiver.config.token
        if not token:
            return
        got = self.headers.get("Authorization") or ""
        if not (got.startswith("Bearer ") and hmac.compare_digest(got[7:].strip().encode(), token.encode())):
            self.close_connection = True  # the body is not read
            raise _Reject(401, "missing or wrong bearer token; send Authorization: Bearer $CLAWTRACE_TOKEN", "auth")

    def _body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            self.close_connection = True
            raise _Reject(411, "chunked bodies are not supported; send Content-Length", "bad_request")
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            self.close_connection = True
            raise _Reject(411, "Content-Length is required", "bad_request") from None
        if length < 0 or length > _MAX_BODY:
            self.close_connection = True
            raise _Reject(413, f"body of {length} bytes is larger than {_MAX_BODY}; send smaller batches", "too_large")
        body = self.rfile.read(length)
        if len(body) != length:
            self.close_connection = True
            raise _Reject(400, f"body ended after {len(body)} of {length} bytes", "bad_request")
        enc = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if enc == "gzip":
            return _gunzip(body)
        if enc not in ("identity", ""):
            raise _Reject(415, f"unsupported Content-Encoding {enc!r}; use gzip or none", "unsupported")
        return body


_RPC_CODES = {400: 3, 401: 16, 404: 5, 411: 3, 413: 8, 415: 3, 429: 8, 503: 14}
"""HTTP status -> google.rpc.Code of the error body."""
