"""A span processor that never drops: bounded queue, brief blocking, spill to disk.

``on_end`` (the caller's thread) appends the span to a bounded in-memory queue. When the
queue is full it waits up to ``block_timeout`` for room, then moves the oldest spans to an
append-only spill file instead of discarding anything. One worker thread delivers batches
to the sinks and replays spill files once the queue is empty. Every span ends up in one
of the counters of ``SpanStats``; after a flush
``received == exported + pending + failed + lost`` (for one sink; with two, per sink).

Spill files are OTLP protobuf ``ExportTraceServiceRequest`` messages, each preceded by its
4-byte big-endian length (the Collector file exporter's ``format: proto``), so a file left
behind (the store stayed locked until exit) imports with ``clawtrace import otlp FILE``.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from clawtrace._configure._sinks import Outcome, Sink
from clawtrace.ingest.otlp import OtlpSpan, read_otlp_file
from clawtrace.instrument._convert import readable_spans_to_otlp

__all__ = ["NoDropSpanProcessor", "SpanStats", "Spill"]

log = logging.getLogger("clawtrace.configure")

_MAX_FRAME = 15 << 20
"""A frame must stay below 16 MiB so its length prefix starts with a zero byte."""
_SPILL_ROTATE = 8 << 20
"""A spill file is sealed (ready for replay) beyond this size."""
_CONTINUE = "your program continues with less provenance"


@dataclasses.dataclass(frozen=True, slots=True)
class SpanStats:
    """Counters of one configured pipeline. Every sampled span ends in exactly one bucket."""

    received: int
    """Spans handed to clawtrace's processor (sampled spans that ended)."""
    exported: int
    """Spans delivered (to every sink, when there are two)."""
    queued: int
    """Spans in memory, waiting for the worker."""
    spilled: int
    """Spans written to spill files so far (a span retried twice counts twice)."""
    pending: int
    """Spans in spill files now, waiting for the store or endpoint to take them."""
    failed: int
    """Spans a sink rejected for good; kept in ``clawtrace-failed-*`` files in the spill dir."""
    lost: int
    """Spans neither delivered nor on disk (the spill dir was unwritable, or they ended after shutdown)."""
    errors: int
    """Internal errors caught (each logged once); zero in a healthy run."""
    last_error: str | None
    """The most recent internal error or delivery problem, for humans."""
    sinks: dict[str, dict[str, int]]
    """Per sink: ``exported`` and ``failed``."""


class Spill:
    """Append-only spill files in one directory, created on first use."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._pid = os.getpid()
        self._current: dict[str, tuple[Any, str, int, int]] = {}
        """targets -> (file, path, spans, bytes) of the file being appended to."""
        self.sealed: collections.deque[tuple[str, str, int]] = collections.deque()
        """(path, targets, spans) of files ready for replay, oldest first."""
        self.pending = 0

    def _path(self, prefix: str, targets: str) -> str:
        return os.path.join(self.directory, f"{prefix}-{self._pid}-{next(self._seq):06d}.{targets}.otlp.pb")

    @staticmethod
    def encode(spans: Sequence[ReadableSpan]) -> list[bytes]:
        """Length-prefixed OTLP protobuf frames for ``spans`` (split so none reaches 16 MiB)."""
        body = encode_spans(spans).SerializeToString()
        if len(body) > _MAX_FRAME and len(spans) > 1:
            half = len(spans) // 2
            return Spill.encode(spans[:half]) + Spill.encode(spans[half:])
        return [len(body).to_bytes(4, "big") + body]

    def write(self, spans: Sequence[ReadableSpan], targets: str) -> None:
        """Append ``spans`` for later delivery to ``targets`` (sink names joined by ``+``)."""
        frames = self.encode(spans)  # outside the lock: the costly part
        data = b"".join(frames)
        with self._lock:
            cur = self._current.get(targets)
            if cur is None:
                os.makedirs(self.directory, exist_ok=True)
                path = self._path("clawtrace-spill", targets)
                cur = (open(path, "ab"), path, 0, 0)  # noqa: SIM115 - kept open across calls, closed in seal()
            f, path, n, size = cur
            f.write(data)
            f.flush()
            cur = (f, path, n + len(spans), size + len(data))
            self._current[targets] = cur
            self.pending += len(spans)
            if cur[3] >= _SPILL_ROTATE:
                self._seal_locked(targets)

    def _seal_locked(self, targets: str) -> None:
        f, path, n, _ = self._current.pop(targets)
        f.close()
        self.sealed.append((path, targets, n))

    def seal(self) -> None:
        """Close every file being appended to, making it ready for replay."""
        with self._lock:
            for targets in list(self._current):
                self._seal_locked(targets)

    def has_data(self) -> bool:
        """Whether any spill file waits for replay."""
        return bool(self.sealed or self._current)

    def quarantine(self, spans: Sequence[ReadableSpan], sink: str) -> str:
        """Keep spans a sink rejected for good in their own file; returns its path."""
        data = b"".join(self.encode(spans))
        with self._lock:
            os.makedirs(self.directory, exist_ok=True)
            path = self._path("clawtrace-failed", sink)
            with open(path, "ab") as f:
                f.write(data)
        return path

    def files(self) -> list[str]:
        """Paths of spill files not yet replayed."""
        with self._lock:
            return [p for p, _, _ in self.sealed] + [c[1] for c in self._current.values()]


def read_frames(path: str) -> list[bytes]:
    """The protobuf messages of a spill file (a torn last frame, from a crash, is skipped)."""
    with open(path, "rb") as f:
        data = f.read()
    out, off = [], 0
    while off + 4 <= len(data):
        n = int.from_bytes(data[off : off + 4], "big")
        if off + 4 + n > len(data):
            break
        out.append(data[off + 4 : off + 4 + n])
        off += 4 + n
    return out


class NoDropSpanProcessor(SpanProcessor):
    """Bounded queue + worker thread + spill files: spans are delivered or accounted for."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        spill: Spill,
        *,
        max_queue: int = 100_000,
        max_batch: int = 4096,
        schedule_delay: float = 0.5,
        block_timeout: float = 0.05,
        spill_chunk: int = 2048,
        convert: Callable[[Sequence[Any]], list[OtlpSpan]] = readable_spans_to_otlp,
    ) -> None:
        self.sinks = list(sinks)
        self.spill = spill
        self._all = "+".join(s.name for s in self.sinks)
        self._by_name = {s.name: s for s in self.sinks}
        self._max = max(1, max_queue)
        self._max_batch = max(1, min(max_batch, self._max))
        self._trigger = max(1, min(self._max_batch, self._max // 2))
        self._delay = schedule_delay
        self._block = block_timeout
        self._chunk = max(1, spill_chunk)
        self._convert = convert
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._lock = threading.Lock()
        self._not_full = threading.Condition(self._lock)
        self._wake = threading.Condition(self._lock)
        self._flushed = threading.Condition(self._lock)
        self._flush_req = 0
        self._flush_done = 0
        self._busy = 0
        self._stopping = False
        self._closed = False
        self._received = 0
        self._spilled = 0
        self._lost = 0
        self._errors = 0
        self._last_error: str | None = None
        self._warned: set[str] = set()
        self._worker = threading.Thread(target=self._run, name="clawtrace-exporter", daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ reporting

    def _warn_once(self, key: str, msg: str, *args: Any) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning(msg, *args)

    def _error(self, where: str, exc: BaseException) -> None:
        with self._lock:
            self._errors += 1
            self._last_error = f"{where}: {type(exc).__name__}: {exc}"
        self._warn_once(
            "error:" + where, "clawtrace: internal error in %s (%s: %s), " + _CONTINUE, where, type(exc).__name__, exc
        )

    def stats(self) -> SpanStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            sinks = {s.name: {"exported": s.exported, "failed": s.failed} for s in self.sinks}
            return SpanStats(
                received=self._received,
                exported=min((s.exported for s in self.sinks), default=0),
                queued=len(self._queue) + self._busy,
                spilled=self._spilled,
                pending=self.spill.pending,
                failed=max((s.failed for s in self.sinks), default=0),
                lost=self._lost,
                errors=self._errors,
                last_error=self._last_error,
                sinks=sinks,
            )

    # ------------------------------------------------------------------ caller's thread

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue an ended span; when the queue stays full, spill the oldest spans to disk."""
        try:
            ctx = span.context
            if ctx is None or not ctx.trace_flags.sampled:
                return
            chunk: list[ReadableSpan] | None = None
            with self._lock:
                if self._closed:
                    self._lost += 1
                    late = True
                else:
                    late = False
                    self._received += 1
                    q = self._queue
                    if len(q) >= self._max:
                        self._wake.notify()
                        self._not_full.wait_for(lambda: len(q) < self._max or self._closed, self._block)
                        if len(q) >= self._max:
                            chunk = [q.popleft() for _ in range(min(len(q), self._chunk))]
                    q.append(span)
                    if len(q) >= self._trigger:
                        self._wake.notify()
            if late:
                self._warn_once(
                    "late", "clawtrace: a span ended after clawtrace was shut down; counted as lost (stats().lost)"
                )
            if chunk:
                self._spill(chunk, self._all)
        except Exception as e:
            self._error("on_end", e)
            if os.environ.get("PYTEST_CURRENT_TEST"):
                raise

    def _spill(self, spans: Sequence[ReadableSpan], targets: str) -> bool:
        try:
            self.spill.write(spans, targets)
        except Exception as e:  # noqa: BLE001 - disk full, unwritable dir: counted and logged
            with self._lock:
                self._lost += len(spans)
                self._last_error = f"spill to {self.spill.directory}: {e}"
            self._warn_once(
                "spill-failed",
                "clawtrace: cannot write spill files in %s (%s); %d spans lost, " + _CONTINUE,
                self.spill.directory,
                e,
                len(spans),
            )
            return False
        with self._lock:
            self._spilled += len(spans)
        self._warn_once(
            "spilled:" + targets,
            "clawtrace: spans are arriving faster than they can be stored; spilling to %s (nothing is dropped)",
            self.spill.directory,
        )
        return True

    # ------------------------------------------------------------------ worker

    def _run(self) -> None:
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            while True:
                try:
                    if not self._step():
                        return
                except Exception as e:  # noqa: BLE001 - the worker must survive anything
                    self._error("worker", e)
                    time.sleep(0.05)
        finally:
            detach(token)

    def _step(self) -> bool:
        with self._lock:
            if not self._queue and not self._stopping and self._flush_done >= self._flush_req:
                self._wake.wait(self._delay)
            n = min(len(self._queue), self._max_batch)
            batch = [self._queue.popleft() for _ in range(n)]
            self._busy = n
            backlog = len(self._queue)
            if n:
                self._not_full.notify_all()
            flush_gen = self._flush_req
            stopping = self._stopping
        if batch:
            try:
                if backlog >= self._max * 3 // 4 and not stopping:
                    # Producers outpace delivery: park this batch on disk (much cheaper than
                    # ingesting it) so callers keep finding room; it is replayed when things calm down.
                    self._spill(batch, self._all)
                else:
                    self._deliver(batch)
            finally:
                with self._lock:
                    self._busy = 0
            return True
        # The queue is empty: replay spill files, let go of the store, answer flushes.
        forced = flush_gen > self._flush_done or stopping
        self._replay(forced)
        for s in self.sinks:
            try:
                s.idle()
            except Exception as e:  # noqa: BLE001
                self._error(f"{s.name} idle", e)
        with self._lock:
            if not self._queue:
                self._flush_done = max(self._flush_done, flush_gen)
                self._flushed.notify_all()
                if self._stopping:
                    return False
        return True

    def _deliver(self, batch: list[ReadableSpan]) -> None:
        converted: list[OtlpSpan] | None = None

        def otlp() -> list[OtlpSpan]:
            nonlocal converted
            if converted is None:
                converted = self._convert(batch)
            return converted

        now = time.monotonic()
        retry: list[str] = []
        for sink in self.sinks:
            if not sink.ready(now):
                retry.append(sink.name)
                continue
            outcome, problem = self._send(sink, batch, otlp, None)
            if outcome is Outcome.OK:
                self._count(sink, exported=len(batch))
            elif outcome is Outcome.RETRY:
                self._postpone(sink, problem)
                retry.append(sink.name)
            else:
                self._reject(sink, batch, problem)
        if retry:
            self._spill(batch, "+".join(retry))

    def _send(
        self,
        sink: Sink,
        readable: Sequence[ReadableSpan] | None,
        otlp: Callable[[], list[OtlpSpan]],
        frames: Callable[[], list[bytes]] | None,
    ) -> tuple[Outcome, str | None]:
        try:
            return sink.send(readable, otlp, frames)
        except Exception as e:  # noqa: BLE001 - a sink bug must not kill the worker; keep the spans
            self._error(f"{sink.name} export", e)
            return Outcome.RETRY, f"{type(e).__name__}: {e}"

    def _count(self, sink: Sink, *, exported: int = 0, failed: int = 0) -> None:
        with self._lock:
            sink.exported += exported
            sink.failed += failed
        if exported:
            sink.succeeded()

    def _postpone(self, sink: Sink, problem: str | None) -> None:
        sink.postpone(problem or "unavailable")
        with self._lock:
            self._last_error = problem
        self._warn_once(
            "retry:" + sink.name,
            "clawtrace: %s; keeping spans in %s and retrying (nothing is dropped)",
            problem,
            self.spill.directory,
        )

    def _reject(self, sink: Sink, batch: Sequence[ReadableSpan], problem: str | None) -> None:
        """A sink refused the batch: retry halves, so one bad span cannot take its neighbours along."""
        if len(batch) > 1:
            half = len(batch) // 2
            for part in (batch[:half], batch[half:]):
                outcome, problem2 = self._send(sink, part, lambda p=part: self._convert(p), None)  # type: ignore[misc]
                if outcome is Outcome.OK:
                    self._count(sink, exported=len(part))
                elif outcome is Outcome.RETRY:
                    self._postpone(sink, problem2)
                    self._spill(part, sink.name)
                else:
                    self._reject(sink, part, problem2)
            return
        try:
            path = self.spill.quarantine(batch, sink.name)
        except Exception as e:  # noqa: BLE001
            path = f"nowhere ({e})"
        self._count(sink, failed=len(batch))
        with self._lock:
            self._last_error = f"{sink.name} rejected a span: {problem}"
        self._warn_once(
            "reject:" + sink.name,
            "clawtrace: %s rejected a span (%s); kept in %s, " + _CONTINUE,
            sink.name,
            problem,
            path,
        )

    def _replay(self, forced: bool) -> None:
        sp = self.spill
        if not sp.has_data():
            return
        now = time.monotonic()
        if not forced and not any(s.ready(now) for s in self.sinks):
            return
        sp.seal()
        for _ in range(len(sp.sealed)):
            path, targets, n = sp.sealed.popleft()
            names = targets.split("+")
            still: list[str] = []
            rejected = False
            decoded: list[OtlpSpan] | None = None

            def otlp(path: str = path) -> list[OtlpSpan]:
                nonlocal decoded
                if decoded is None:
                    decoded = []
                    for spans, problem in read_otlp_file(path):
                        if problem:
                            log.warning("clawtrace: spill file %s: %s", path, problem)
                        decoded.extend(spans)
                return decoded

            def frames(path: str = path) -> list[bytes]:
                return read_frames(path)

            for name in names:
                sink = self._by_name.get(name)
                if sink is None:
                    continue
                if not forced and not sink.ready(time.monotonic()):
                    still.append(name)
                    continue
                outcome, problem = self._send(sink, None, otlp, frames)
                if outcome is Outcome.OK:
                    self._count(sink, exported=n)
                elif outcome is Outcome.RETRY:
                    self._postpone(sink, problem)
                    still.append(name)
                else:
                    rejected = True
                    self._count(sink, failed=n)
                    self._warn_once(
                        "reject:" + name, "clawtrace: %s rejected spilled spans (%s); kept in %s", name, problem, path
                    )
            if still and still != names:
                # Delivered to some sinks: keep the file for the others only.
                new = path.replace(f".{targets}.otlp.pb", f".{'+'.join(still)}.otlp.pb")
                os.replace(path, new)
                sp.sealed.append((new, "+".join(still), n))
            elif still:
                sp.sealed.append((path, targets, n))
            else:
                with self._lock:
                    sp.pending -= n
                if rejected:  # keep the evidence under the failed- prefix
                    os.replace(path, os.path.join(sp.directory, os.path.basename(path).replace("-spill-", "-failed-")))
                else:
                    os.remove(path)
            if still and not forced:
                break

    # ------------------------------------------------------------------ flush / shutdown

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Deliver everything queued and spilled; True when nothing is left waiting."""
        return self.flush(timeout_millis / 1000)

    def flush(self, timeout: float = 30.0) -> bool:
        """Deliver what is queued and try the spill files; True when nothing is left waiting."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._closed:
                return not self._queue and self.spill.pending == 0
            self._flush_req += 1
            gen = self._flush_req
            self._wake.notify()
            while self._flush_done < gen:
                left = deadline - time.monotonic()
                if left <= 0 or not self._worker.is_alive():
                    return False
                self._flushed.wait(min(left, 0.1))
            return not self._queue and self._busy == 0 and self.spill.pending == 0

    def shutdown(self) -> None:
        """The SDK's shutdown (the provider is shutting down): ``close()`` with the default timeout."""
        self.close()

    def close(self, timeout: float = 30.0) -> bool:
        """Flush, stop the worker, close the sinks. Spans still waiting stay on disk. Idempotent."""
        with self._lock:
            if self._closed or self._stopping:
                return not self._queue and self.spill.pending == 0
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        with self._lock:
            self._stopping = True
            self._wake.notify()
        self._worker.join(max(0.0, deadline - time.monotonic()) + 0.1)
        with self._lock:
            self._closed = True
            self._not_full.notify_all()
            rest = list(self._queue) if not self._worker.is_alive() else []
            if rest:
                self._queue.clear()
        if rest:  # the worker did not finish in time: keep the rest on disk rather than drop it
            self._spill(rest, self._all)
        try:
            self.spill.seal()
        except Exception as e:  # noqa: BLE001
            self._error("spill seal", e)
        for s in self.sinks:
            try:
                s.close()
            except Exception as e:  # noqa: BLE001
                self._error(f"{s.name} close", e)
        st = self.stats()
        if st.pending:
            log.warning(
                "clawtrace: %d spans are still waiting in %s (%s); they are kept: import them with "
                "`clawtrace import otlp %s`",
                st.pending,
                self.spill.directory,
                st.last_error or "not delivered",
                os.path.join(self.spill.directory, "clawtrace-spill-*.otlp.pb"),
            )
        if st.failed or st.lost:
            log.warning("clawtrace: %d spans were rejected and %d lost; see stats()", st.failed, st.lost)
        return st.pending == 0 and st.queued == 0
