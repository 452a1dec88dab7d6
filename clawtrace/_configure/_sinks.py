"""Where the span processor delivers: the embedded store, an OTLP/HTTP endpoint.

A sink answers each delivery with an ``Outcome``: delivered, try again later (the store is
locked, the endpoint is down: the processor spills and retries), or rejected for good (the
processor quarantines the spans on disk and counts them).
"""

from __future__ import annotations

import enum
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from clawtrace.ingest.otlp import OtlpSpan, spans_to_batch
from clawtrace.semconv import Source

__all__ = ["OtlpSink", "Outcome", "Sink", "StoreSink"]

log = logging.getLogger("clawtrace.configure")

_BACKOFF_MIN = 0.5
_BACKOFF_MAX = 30.0


class Outcome(enum.Enum):
    """Result of one delivery."""

    OK = "ok"
    RETRY = "retry"
    FAIL = "fail"


class Sink:
    """Base: backoff bookkeeping and counters shared by every sink."""

    name = "sink"

    def __init__(self) -> None:
        self.exported = 0
        self.failed = 0
        self.retry_at = 0.0
        self._backoff = _BACKOFF_MIN
        self.last_problem: str | None = None

    def ready(self, now: float) -> bool:
        """Whether a delivery may be attempted now (not inside a retry backoff)."""
        return now >= self.retry_at

    def succeeded(self) -> None:
        """Reset the backoff after a delivery went through."""
        self._backoff = _BACKOFF_MIN
        self.retry_at = 0.0

    def postpone(self, problem: str) -> None:
        """Back off after a retryable failure."""
        self.last_problem = problem
        self.retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, _BACKOFF_MAX)

    def send(
        self,
        readable: Sequence[Any] | None,
        otlp: Callable[[], list[OtlpSpan]],
        frames: Callable[[], list[bytes]] | None,
    ) -> tuple[Outcome, str | None]:
        """Deliver SDK spans (``readable``) or a spill file's OTLP protobuf ``frames``."""
        raise NotImplementedError

    def idle(self) -> None:
        """Nothing is queued: release what can be released (the store's writer lock)."""

    def close(self) -> None:
        """Release everything for good."""


class StoreSink(Sink):
    """The embedded DuckDB store, written through the one ingest pipeline.

    The store is opened on the first delivery and closed whenever the queue runs empty, so
    the writer lock is held only while there is something to write, and the host process
    (or ``clawtrace`` in another terminal) can read the store between bursts.
    """

    name = "duckdb"

    def __init__(self, path: str, keep_content: bool) -> None:
        super().__init__()
        self.path = path
        self.keep_content = keep_content
        self._store: Any = None

    def send(
        self,
        readable: Sequence[Any] | None,
        otlp: Callable[[], list[OtlpSpan]],
        frames: Callable[[], list[bytes]] | None,
    ) -> tuple[Outcome, str | None]:
        from clawtrace.errors import StoreError
        from clawtrace.store import Store, ingest

        spans = otlp()
        try:
            if self._store is None:
                self._store = Store.open(self.path)
            batch = spans_to_batch(spans, source=Source.SDK.value)
            ingest(self._store, batch, keep_content=self.keep_content, source=Source.SDK.value)
        except StoreError as e:
            # Locked by another process, disk full, ...: the store may come back; keep the spans.
            self.idle()
            return Outcome.RETRY, str(e)
        except Exception as e:  # noqa: BLE001 - a span the pipeline cannot take; reported by the caller
            self.idle()
            return Outcome.FAIL, f"{type(e).__name__}: {e}"
        return Outcome.OK, None

    def idle(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            try:
                store.close()
            except Exception as e:  # noqa: BLE001 - closing is best effort; the data is committed
                log.debug("clawtrace: closing %s: %s", self.path, e)

    def close(self) -> None:
        self.idle()


class OtlpSink(Sink):
    """An OTLP/HTTP protobuf endpoint (``clawtrace serve``, a Collector, any OTLP backend).

    Live batches go through the SDK's ``OTLPSpanExporter`` (its retries and backoff);
    spill files are replayed by posting their stored protobuf frames as they are.
    """

    name = "otlp"

    def __init__(self, url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        self.url = url
        self.timeout = timeout
        self.headers = dict(headers or {})
        self._exporter = OTLPSpanExporter(endpoint=url, timeout=timeout, headers=self.headers or None)

    def send(
        self,
        readable: Sequence[Any] | None,
        otlp: Callable[[], list[OtlpSpan]],
        frames: Callable[[], list[bytes]] | None,
    ) -> tuple[Outcome, str | None]:
        from opentelemetry.sdk.trace.export import SpanExportResult

        if readable is not None:
            res = self._exporter.export(readable)
            if res is SpanExportResult.SUCCESS:
                return Outcome.OK, None
            return Outcome.RETRY, f"OTLP export to {self.url} failed"
        assert frames is not None
        for body in frames():
            outcome, problem = self._post(body)
            if outcome is not Outcome.OK:
                return outcome, problem
        return Outcome.OK, None

    def _post(self, body: bytes) -> tuple[Outcome, str | None]:
        req = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-protobuf", **self.headers},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read()
        except urllib.error.HTTPError as e:
            if e.code in (429, 502, 503, 504) or e.code >= 500:
                return Outcome.RETRY, f"OTLP endpoint {self.url} answered {e.code}"
            return Outcome.FAIL, f"OTLP endpoint {self.url} rejected the spans ({e.code})"
        except (OSError, ValueError) as e:
            return Outcome.RETRY, f"OTLP endpoint {self.url} unreachable ({e})"
        return Outcome.OK, None

    def close(self) -> None:
        try:
            self._exporter.shutdown()  # type: ignore[no-untyped-call]
        except Exception as e:  # noqa: BLE001 - best effort
            log.debug("clawtrace: OTLP exporter shutdown: %s", e)
