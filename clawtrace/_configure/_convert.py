"""OpenTelemetry SDK ``ReadableSpan`` -> ``OtlpSpan``, duck-typed (no SDK import needed).

The exporter feeds SDK spans through the same mapping as every other source
(``spans_to_batch``), so they are flattened exactly as ``clawtrace.ingest.otlp`` flattens
a decoded OTLP message: hex ids, tuples as lists, bytes as base64 strings.
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
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode("ascii")
    return v


def _attrs(a: Mapping[str, Any] | None) -> dict[str, Any]:
    if not a:
        return {}
    return {k: _value(v) for k, v in a.items()}


def readable_spans_to_otlp(spans: Iterable[Any]) -> list[OtlpSpan]:
    """Flatten SDK ``ReadableSpan`` objects into ``OtlpSpan`` records.

    Resource attribute dicts are shared between spans of one resource (``spans_to_batch``
    only reads them).
    """
    resources: dict[int, tuple[Any, dict[str, Any]]] = {}
    out: list[OtlpSpan] = []
    for s in spans:
        ctx = s.context
        res = s.resource
        cached = resources.get(id(res))
        if cached is None or cached[0] is not res:
            cached = (res, _attrs(getattr(res, "attributes", None)))
            resources[id(res)] = cached
        parent = s.parent
        scope = s.instrumentation_scope
        status = s.status
        out.append(
            OtlpSpan(
                trace_id=format(ctx.trace_id, "032x"),
                span_id=format(ctx.span_id, "016x"),
                parent_span_id=format(parent.span_id, "016x") if parent is not None and parent.span_id else None,
                name=s.name,
                start_ns=int(s.start_time or 0),
                end_ns=int(s.end_time or 0),
                attrs=_attrs(s.attributes),
                resource=cached[1],
                scope=scope.name if scope is not None else "",
                links=[
                    (
                        format(link.context.trace_id, "032x"),
                        format(link.context.span_id, "016x"),
                        _attrs(link.attributes),
                    )
                    for link in s.links
                ],
                status_code=int(status.status_code.value) if status is not None else 0,
                status_message=(status.description or "") if status is not None else "",
                events=[{"name": e.name, "ts": int(e.timestamp), "attrs": _attrs(e.attributes)} for e in s.events],
            )
        )
    return out
