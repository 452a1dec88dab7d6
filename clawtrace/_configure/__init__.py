"""``clawtrace.configure()``: wire the OpenTelemetry SDK to clawtrace's store or an endpoint.

The only place the OpenTelemetry SDK and its exporters are loaded (DESIGN.md section 6):
``clawtrace.instrument`` speaks the OTel API only, and ``import clawtrace`` stays cheap.
This package is private (``_configure``) so that the facade function
``clawtrace.configure`` is never shadowed by a submodule of the same name; its public
names are re-exported by ``clawtrace``.
"""

from __future__ import annotations

import atexit
import logging
import os
import tempfile
import threading
import weakref
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

from clawtrace import config
from clawtrace._configure._processor import NoDropSpanProcessor, SpanStats, Spill
from clawtrace._configure._sinks import OtlpSink, Sink, StoreSink

__all__ = ["ClawtraceHandle", "SpanStats", "configure"]

log = logging.getLogger("clawtrace.configure")

_lock = threading.RLock()
_current: ClawtraceHandle | None = None
_routers: weakref.WeakKeyDictionary[Any, _Router] = weakref.WeakKeyDictionary()


class _Router(SpanProcessor):
    """Added once to a provider; forwards to the processor of the current configuration.

    SDK providers cannot remove a processor, so reconfiguring swaps the target instead.
    """

    def __init__(self) -> None:
        self.target: NoDropSpanProcessor | None = None

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Hand the ended span to the current processor."""
        t = self.target
        if t is not None:
            t.on_end(span)

    def shutdown(self) -> None:
        """The provider is shutting down (at exit): flush and stop the current processor."""
        t = self.target
        if t is not None:
            t.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the current processor."""
        t = self.target
        return True if t is None else t.force_flush(timeout_millis)


class ClawtraceHandle:
    """What ``configure()`` returns: counters, flush and shutdown of the span pipeline."""

    def __init__(
        self,
        key: tuple[Any, ...],
        processor: NoDropSpanProcessor,
        provider: TracerProvider,
        router: _Router,
        *,
        db: str | None,
        otlp_url: str | None,
    ) -> None:
        self._key = key
        self._processor = processor
        self._router = router
        self.tracer_provider = provider
        """The SDK provider clawtrace's processor is attached to."""
        self.db = db
        """The store spans are written to, or None (endpoint only)."""
        self.otlp_url = otlp_url
        """The OTLP/HTTP ``/v1/traces`` URL spans are sent to, or None."""
        self.spill_dir = processor.spill.directory
        """Where spans wait on disk when the queue is full or a sink is unavailable."""
        self._shut = False

    def stats(self) -> SpanStats:
        """Counters: received, exported, queued, spilled, pending, failed, lost, errors."""
        return self._processor.stats()

    def spill_files(self) -> list[str]:
        """Spill files still waiting for delivery."""
        return self._processor.spill.files()

    def flush(self, timeout: float = 30.0) -> bool:
        """Deliver everything ended so far (spill files included); True when nothing is left waiting.

        False means some spans are still on disk (store locked, endpoint down) or the timeout
        passed; they are not lost, see ``stats()``.
        """
        return self._processor.flush(timeout)

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Flush, stop the worker, close the store. Idempotent; also runs at interpreter exit."""
        global _current
        with _lock:
            if self._shut:
                return self.stats().pending == 0
            self._shut = True
            if self._router.target is self._processor:
                self._router.target = None
            if _current is self:
                _current = None
            _detach_instrument(self.tracer_provider)
        try:
            atexit.unregister(self._atexit)
        except Exception:  # noqa: BLE001, S110 - nothing registered
            pass
        return self._processor.close(timeout)

    def _atexit(self) -> None:
        try:
            self.shutdown(timeout=10.0)
        except Exception as e:  # noqa: BLE001 - never break the host's exit
            log.warning("clawtrace: flushing at exit failed (%s); some spans may remain in %s", e, self.spill_dir)

    def __repr__(self) -> str:
        where = ", ".join(x for x in (self.db, self.otlp_url) if x)
        return f"<ClawtraceHandle {where} {self.stats()}>"


def _otlp_url(endpoint: str) -> str:
    e = endpoint.rstrip("/")
    return e if e.endswith("/v1/traces") else e + "/v1/traces"


def _default_spill_dir(db: str | None) -> str:
    if db:
        return os.path.abspath(db) + ".spill"
    return os.path.join(tempfile.gettempdir(), f"clawtrace-spill-{os.getuid() if hasattr(os, 'getuid') else 'u'}")


def _attach_instrument(provider: TracerProvider | None) -> None:
    """Point ``clawtrace.instrument`` at ``provider`` (when it is not the global one)."""
    try:
        import clawtrace.instrument as inst
    except ImportError:
        return
    use = getattr(inst, "use_tracer_provider", None)
    if use is not None:
        use(provider)


def _detach_instrument(provider: TracerProvider) -> None:
    if trace.get_tracer_provider() is not provider:
        _attach_instrument(None)


def _enable_capture() -> None:
    try:
        import clawtrace.instrument as inst
    except ImportError:
        log.debug("clawtrace: clawtrace.instrument not available; automatic capture stays off")
        return
    enable = getattr(inst, "enable_capture", None)
    if enable is not None:
        enable()


def _provider(given: Any, service_name: str) -> tuple[TracerProvider, bool]:
    """The SDK provider to extend, and whether it is (now) the global one."""
    if given is not None:
        if not isinstance(given, TracerProvider):
            raise TypeError(f"tracer_provider must be an OpenTelemetry SDK TracerProvider, got {type(given).__name__}")
        return given, trace.get_tracer_provider() is given
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current, True
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if type(current).__name__ == "ProxyTracerProvider":
        trace.set_tracer_provider(provider)
        if trace.get_tracer_provider() is provider:
            return provider, True
    log.warning(
        "clawtrace: the global tracer provider is a %s, not the OpenTelemetry SDK's; clawtrace uses its own "
        "provider, and only clawtrace.instrument's spans are recorded",
        type(current).__name__,
    )
    return provider, False


def configure(
    *,
    db: str | None = None,
    otlp_endpoint: str | None = None,
    service_name: str = "agent",
    keep_content: bool = False,
    spill_dir: str | None = None,
    max_queue: int = 100_000,
    capture: bool = True,
    tracer_provider: Any = None,
) -> ClawtraceHandle:
    """Record OpenTelemetry spans as provenance, without ever dropping one silently.

    Attaches clawtrace's span processor to an SDK ``TracerProvider``: ``tracer_provider``
    if given (it is not made global; ``clawtrace.instrument`` is pointed at it), else the
    global one if it is an SDK provider, else a new provider (resource ``service.name`` =
    ``service_name``) installed as the global one.

    Spans go to the store ``db`` (default ``CLAWTRACE_DB`` or ``./clawtrace.duckdb``)
    through the same ingest as every other source, on a background thread; with
    ``otlp_endpoint`` (e.g. ``http://127.0.0.1:4318`` for ``clawtrace serve``) they go there
    as OTLP/HTTP protobuf instead, and to both when ``db`` is also given. Content text is
    fingerprinted and redacted at ingest, and kept only with ``keep_content``.

    The caller's thread only queues the span. When more than ``max_queue`` spans wait, it
    blocks up to 50 ms, then moves the oldest to append-only files in ``spill_dir``
    (default ``<db>.spill/``, or a temp directory); a locked store or a down endpoint also
    parks spans there until they can be delivered. ``handle.stats()`` accounts for every
    span; anything not delivered is logged, never silent.

    Calling again with the same arguments returns the same handle (and logs a warning);
    different arguments flush and replace the previous configuration. ``capture`` turns on
    ``clawtrace.instrument``'s automatic capture of file, network and process activity
    inside tool calls.
    """
    global _current
    if db is None and otlp_endpoint is None:
        db = config.default_db_path()
    key = (db, otlp_endpoint, service_name, keep_content, spill_dir, max_queue, capture, id(tracer_provider))
    with _lock:
        if _current is not None and _current._key == key:
            log.warning("clawtrace: configure() called again with the same settings; keeping the running setup")
            return _current
        if _current is not None:
            log.info("clawtrace: reconfiguring; flushing the previous setup")
            _current.shutdown()
        provider, is_global = _provider(tracer_provider, service_name)
        sinks: list[Sink] = []
        if db is not None:
            sinks.append(StoreSink(os.fspath(db), keep_content))
        url = _otlp_url(otlp_endpoint) if otlp_endpoint else None
        if url is not None:
            sinks.append(OtlpSink(url))
        spill = Spill(os.path.abspath(spill_dir) if spill_dir else _default_spill_dir(db))
        processor = NoDropSpanProcessor(sinks, spill, max_queue=max_queue)
        router = _routers.get(provider)
        if router is None:
            router = _Router()
            provider.add_span_processor(router)
            _routers[provider] = router
        router.target = processor
        handle = ClawtraceHandle(key, processor, provider, router, db=db, otlp_url=url)
        atexit.register(handle._atexit)
        _current = handle
        if not is_global:
            _attach_instrument(provider)
    if capture:
        try:
            _enable_capture()
        except Exception as e:  # noqa: BLE001 - spans still flow without automatic capture
            log.warning("clawtrace: automatic capture could not start (%s); explicit spans are still recorded", e)
    return handle
