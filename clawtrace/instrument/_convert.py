"""Finished OpenTelemetry SDK spans -> ``OtlpSpan`` records for ingest.

Duck-typed on ``ReadableSpan`` (``context``, ``parent``, ``name``, ``start_time``, ``end_time``,
``attributes``, ``links``, ``events``, ``status``, ``resource``, ``instrumentation_scope``) so the
SDK is never imported here. Used by the in-process exporter and by the tests.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from clawtrace.ingest.otlp import OtlpSpan

__all__ = ["readable_spans_to_otlp"]


def _value(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_value(x) for x in v]
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    return v


def _attrs(a: Mapping[str, Any] | None) -> dict[str, Any]:
    return {str(k): _value(v) for k, v in (a or {}).items()}


def readable_spans_to_otlp(spans: Iterable[Any]) -> list[OtlpSpan]:
    """Convert finished SDK spans (``ReadableSpan``) to ``OtlpSpan`` for ``spans_to_batch``."""
    out: list[OtlpSpan] = []
    for s in spans:
        ctx = s.context
        parent = getattr(s, "parent", None)
        status = getattr(s, "status", None)
        code = getattr(getattr(status, "status_code", None), "value", 0) or 0
        resource = getattr(s, "resource", None)
        scope = getattr(s, "instrumentation_scope", None)
        out.append(
            OtlpSpan(
                trace_id=format(ctx.trace_id, "032x"),
                span_id=format(ctx.span_id, "016x"),
                parent_span_id=format(parent.span_id, "016x") if parent is not None and parent.span_id else None,
                name=s.name,
                start_ns=int(s.start_time or 0),
                end_ns=int(s.end_time or 0),
                attrs=_attrs(s.attributes),
                resource=_attrs(getattr(resource, "attributes", None)),
                scope=str(getattr(scope, "name", "") or ""),
                links=[
                    (
                        format(link.context.trace_id, "032x"),
                        format(link.context.span_id, "016x"),
                        _attrs(link.attributes),
                    )
                    for link in (s.links or ())
                ],
                status_code=int(code),
                status_message=str(getattr(status, "description", "") or ""),
                events=[
                    {"name": e.name, "ts": int(e.timestamp or 0), "attrs": _attrs(e.attributes)}
                    for e in (s.events or ())
                ],
            )
        )
    return out
