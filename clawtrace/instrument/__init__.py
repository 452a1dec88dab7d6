"""clawtrace's Python instrumentation SDK (DESIGN.md section 6).

Depends on the OpenTelemetry API only: spans go to whatever ``TracerProvider`` is in force
when they start (``clawtrace.configure()`` sets one up, or bring your own), or to the one given
to ``use_tracer_provider``.

- ``session``, ``turn``, ``tool_call``: context managers and decorators for the agent loop;
  ``tool_call(...).result(...)`` records what returned to the model, and each ``turn`` links
  (``consumed``) to the session's outputs still in context (``forget_context()`` after a
  compaction).
- ``input_message`` and ``record_*``: instant records of what entered the agent or left it.
- ``enable_capture``: automatic capture of files, sockets, DNS, HTTP and processes inside an
  active tool call, through a PEP 578 audit hook.

Content is sent as ``clawtrace.content.text`` with its size and sha256; ingest fingerprints
and redacts it and does not store it raw.
"""

from __future__ import annotations

from clawtrace.instrument._api import (
    Output,
    SessionHandle,
    ToolCallHandle,
    TurnHandle,
    forget_context,
    input_message,
    record_egress,
    record_fetch,
    record_file_read,
    record_file_write,
    record_memory_read,
    record_memory_write,
    record_skill_load,
    session,
    set_limits,
    tool_call,
    turn,
)
from clawtrace.instrument._audit import capture_enabled, disable_capture, enable_capture
from clawtrace.instrument._core import Limits, use_tracer_provider

__all__ = [
    "Limits",
    "Output",
    "SessionHandle",
    "ToolCallHandle",
    "TurnHandle",
    "capture_enabled",
    "disable_capture",
    "enable_capture",
    "forget_context",
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
    "use_tracer_provider",
]
