"""Semantic conventions: every attribute, span, event, edge and value name clawtrace uses.

This is the only module where ``"clawtrace.`` string literals may appear (a test checks
it). OpenTelemetry names are reused where one exists; the GenAI ones are still in
development upstream, so their strings are defined here rather than imported.
``docs/semconv.md`` is generated from this module (``python -m clawtrace.semconv``).
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "EventKind",
    "EdgeKind",
    "Trust",
    "Sensitivity",
    "Source",
    "LinkKind",
    "ContentRole",
    "content_role",
    "span_name",
    "kind_from_span_name",
    "EVIDENCE_EDGES",
    "CONTEXT_EDGES",
]

# --------------------------------------------------------------------------- values


class EventKind(str, enum.Enum):
    """Kinds of event (DESIGN.md section 3). The only ones; extend here first."""

    INPUT_MESSAGE = "input.message"
    MODEL_TURN = "model.turn"
    TOOL_CALL = "tool.call"
    TOOL_RESULT = "tool.result"
    FILE_READ = "file.read"
    FILE_WRITE = "file.write"
    FILE_DELETE = "file.delete"
    MEMORY_READ = "memory.read"
    MEMORY_WRITE = "memory.write"
    SKILL_LOAD = "skill.load"
    SKILL_INSTALL = "skill.install"
    PROCESS_EXEC = "process.exec"
    NET_EGRESS = "net.egress"
    NET_FETCH = "net.fetch"
    POLICY_DECISION = "policy.decision"


class EdgeKind(str, enum.Enum):
    """Kinds of causal edge between two events."""

    EMITTED = "emitted"
    RETURNED = "returned"
    EFFECT = "effect"
    CONSUMED = "consumed"
    DATA_FLOW = "data_flow"
    WROTE_READ = "wrote_read"
    SPAWNED = "spawned"


class Trust(str, enum.Enum):
    """Whether content that entered the agent came from a trusted party."""

    TRUSTED = "trusted"
    UNTRUSTED = "untrusted"
    UNKNOWN = "unknown"


class Sensitivity(str, enum.Enum):
    """How sensitive the data an event touched is."""

    SECRET = "secret"
    CREDENTIAL = "credential"
    PII = "pii"
    NONE = "none"


class Source(str, enum.Enum):
    """Where an event's evidence came from."""

    SDK = "sdk"
    OTLP = "otlp"
    OPENCLAW_TRANSCRIPT = "openclaw-transcript"
    OPENCLAW_TRAJECTORY = "openclaw-trajectory"
    OPENCLAW_LOG = "openclaw-log"
    OPENCLAW_AUDIT = "openclaw-audit"


class LinkKind(str, enum.Enum):
    """Values of ``clawtrace.link.kind`` on a span link."""

    CONSUMED = "consumed"
    DATA_FLOW = "data_flow"
    SPAWNED = "spawned"


class ContentRole(str, enum.Enum):
    """Role of an event's content: what entered the agent (out) or what an action used (in)."""

    OUT = "out"
    IN = "in"


EVIDENCE_EDGES: Final = frozenset(
    {EdgeKind.DATA_FLOW, EdgeKind.EFFECT, EdgeKind.EMITTED, EdgeKind.RETURNED, EdgeKind.WROTE_READ, EdgeKind.SPAWNED}
)
"""Edges that carry evidence of causation: ranked above context edges by ``why``."""

CONTEXT_EDGES: Final = frozenset({EdgeKind.CONSUMED})
"""Edges that only say something was in the model's context."""

_OUT_KINDS: Final = frozenset(
    {
        EventKind.FILE_READ,
        EventKind.MEMORY_READ,
        EventKind.SKILL_LOAD,
        EventKind.NET_FETCH,
        EventKind.TOOL_RESULT,
        EventKind.INPUT_MESSAGE,
    }
)
_IN_KINDS: Final = frozenset(
    {
        EventKind.TOOL_CALL,
        EventKind.FILE_WRITE,
        EventKind.MEMORY_WRITE,
        EventKind.PROCESS_EXEC,
        EventKind.NET_EGRESS,
        EventKind.SKILL_INSTALL,
    }
)


def content_role(kind: str) -> ContentRole | None:
    """Return the role of ``clawtrace.content.text`` for an event kind, or None."""
    if kind in _OUT_KINDS:
        return ContentRole.OUT
    if kind in _IN_KINDS:
        return ContentRole.IN
    return None


SPAN_PREFIX: Final = "clawtrace."
"""Span names are the event kinds under this prefix (``clawtrace.file.read``)."""


def span_name(kind: EventKind | str) -> str:
    """The span name for an event kind."""
    value = kind.value if isinstance(kind, EventKind) else kind
    return SPAN_PREFIX + value


_KIND_VALUES: Final = frozenset(k.value for k in EventKind)


def kind_from_span_name(name: str) -> str | None:
    """The event kind a span name stands for, or None."""
    if name.startswith(SPAN_PREFIX) and name[len(SPAN_PREFIX) :] in _KIND_VALUES:
        return name[len(SPAN_PREFIX) :]
    return None


# --------------------------------------------------------------------------- clawtrace attributes

EVENT_KIND: Final = "clawtrace.event.kind"
"""The event kind of a span (one of EventKind). Wins over the span name."""

EVENT_ID: Final = "clawtrace.event.id"
"""A stable id chosen by the producer; when absent, ingest derives one from trace and span id."""

SUMMARY: Final = "clawtrace.summary"
"""One human line describing the event."""

ARTIFACT_URI: Final = "clawtrace.artifact.uri"
"""The artifact an event touched: ``file:///abs``, ``https://host/p``, ``memory://agent/MEMORY.md``, ..."""

CONTENT_SHA256: Final = "clawtrace.content.sha256"
"""Hex sha256 of the event's whole content, when the producer hashed it itself."""

CONTENT_SIZE: Final = "clawtrace.content.size"
"""Length in bytes of the event's content."""

CONTENT_TEXT: Final = "clawtrace.content.text"
"""The event's payload. Ingest fingerprints and redacts it, and drops it unless asked to keep it."""

CONTENT_TRUNCATED: Final = "clawtrace.content.truncated"
"""True when ``clawtrace.content.text`` was cut at the producer's size cap."""

CONTENT_ENCODING: Final = "clawtrace.content.encoding"
"""``utf-8`` (default) or ``base64`` when ``clawtrace.content.text`` carries bytes."""

TRUST: Final = "clawtrace.trust"
"""One of Trust."""

SENSITIVITY: Final = "clawtrace.sensitivity"
"""One of Sensitivity."""

SOURCE: Final = "clawtrace.source"
"""One of Source; ingest fills it from how the span arrived when absent."""

LINK_KIND: Final = "clawtrace.link.kind"
"""On a span link: one of LinkKind."""

RUN_ID: Final = "clawtrace.run.id"
"""One agent run (an OpenClaw ``runId``: one per turn)."""

COLLECTOR: Final = "clawtrace.collector"
"""What captured the spans (a resource attribute): ``openclaw-plugin/<version>`` for the
OpenClaw plugin, whose effects are then keyed as the OpenClaw importer keys them."""

AGENT_HOME: Final = "clawtrace.agent.home"
"""The agent process's home directory (a resource attribute). Paths under it are keyed
home-relative (``model.artifact_key``), so an effect seen live with ``/home/u/.aws/x`` and on
disk as ``~/.aws/x`` is one event."""

SESSION_PARENT: Final = "clawtrace.session.parent"
"""The session that spawned or forked this one."""

MESSAGE_SENDER: Final = "clawtrace.message.sender"
"""Who sent an ``input.message``."""

MESSAGE_CHANNEL: Final = "clawtrace.message.channel"
"""The channel a message came from or went to (telegram, slack, cli, ...)."""

TOOL_IS_ERROR: Final = "clawtrace.tool.is_error"
"""True when a ``tool.result`` is an error."""

SKILL_NAME: Final = "clawtrace.skill.name"
"""Name of a skill loaded or installed."""

SKILL_SHA256: Final = "clawtrace.skill.sha256"
"""sha256 of a skill's files."""

NET_BYTES_IN: Final = "clawtrace.net.bytes_in"
"""Bytes received by a ``net.fetch``."""

NET_BYTES_OUT: Final = "clawtrace.net.bytes_out"
"""Bytes sent by a ``net.egress`` (falls back to ``http.request.body.size``)."""

POLICY_RULE: Final = "clawtrace.policy.rule"
"""The rule a ``policy.decision`` applied."""

POLICY_VERDICT: Final = "clawtrace.policy.verdict"
"""``allow``, ``block``, or ``warn`` (a gate in monitor mode would have blocked the call and let it
run). Also set on the tool call and its effects (for ``block``: what it would have done)."""

POLICY_REASON: Final = "clawtrace.policy.reason"
"""Why a ``policy.decision`` decided so, in words (the text a blocked agent is shown)."""

# --------------------------------------------------------------------------- OpenClaw import

OPENCLAW_SESSION_KEY: Final = "openclaw.session.key"
"""OpenClaw's session key (``agent:<agentId>:<name>``) of the session an imported event belongs to."""

OPENCLAW_ENTRY_ID: Final = "openclaw.entry.id"
"""Id of the transcript entry (JSONL line or ``transcript_events`` row) an event was read from."""

OPENCLAW_ENTRY_PARENT: Final = "openclaw.entry.parent_id"
"""``parentId`` of that transcript entry (the transcript is a tree)."""

OPENCLAW_ABANDONED: Final = "openclaw.branch.abandoned"
"""True when the entry lies on an abandoned branch of the transcript tree (not on the path
from the leaf to the root) at import time."""

OPENCLAW_ORPHAN_CALL: Final = "openclaw.tool.orphan"
"""True on a ``tool.call`` whose result is missing from the transcript (crash, abort, repair)."""

OPENCLAW_PARENT_CALL: Final = "openclaw.tool.parent_call_id"
"""For a tool unwrapped from OpenClaw's ``tool_call`` bridge: the bridge call's id."""

OPENCLAW_DERIVED: Final = "openclaw.derived_from"
"""How an effect event was derived: ``args`` (the tool's arguments), ``result``,
``command_line`` (read from an ``exec`` command) or ``prompt_report`` (files OpenClaw injects)."""

OPENCLAW_AUDIT_ORPHAN: Final = "openclaw.audit.orphan"
"""True on an event made from an audit-ledger row that has no transcript counterpart: the
transcript lost or rewrote the call (tampering or loss). The import also reports a problem."""

OPENCLAW_AUDIT_ROWS: Final = "openclaw.audit.rows"
"""Audit-ledger rows (``action``, ``status``, ``occurred_at``) joined to an imported tool call."""

OPENCLAW_RECEIPT: Final = "openclaw.receipt"
"""OpenClaw's own execution receipt for a tool call (``execution_decision_facts``: ``outcome``,
``reason_code``, ``family``, ``operation``, ``occurred_at``, ``receipt_id``), paired with the
run's tool calls in order: it has no tool call id. A receipt whose outcome is not ``allowed``
also becomes a ``policy.decision`` event of the call."""

OPENCLAW_MODEL_CALL: Final = "openclaw.model.call_id"
"""OpenClaw's id of one model call, ``<runId>:model:<n>``; ``n`` counts the run's calls from 1
and keys the ``model.turn`` (``model.openclaw_turn_id``) that the transcript's ``n``-th
assistant message of the run also is."""

OPENCLAW_PROMPT: Final = "openclaw.prompt"
"""True on the ``input.message`` a run started from (the plugin's ``llm_input``): keyed on the
run (``model.openclaw_prompt_id``), as the last user message before the run on disk is."""

OPENCLAW_TURN_TAINTED: Final = "openclaw.turn.tainted"
"""OpenClaw's own ``turnTainted`` flag: the answer followed untrusted content."""

OPENCLAW_PIPE_TO_SHELL: Final = "openclaw.exec.pipe_to_shell"
"""True when an ``exec`` command pipes a download into a shell or interpreter."""

# --------------------------------------------------------------------------- reused OpenTelemetry names

SESSION_ID: Final = "gen_ai.conversation.id"
"""The session id (OTel GenAI ``gen_ai.conversation.id``)."""

AGENT_ID: Final = "gen_ai.agent.id"
"""The agent id."""

OPERATION_NAME: Final = "gen_ai.operation.name"
"""GenAI operation (``chat``, ``execute_tool``, ``invoke_agent``); maps foreign spans to events."""

PROVIDER_NAME: Final = "gen_ai.provider.name"
"""The model provider."""

REQUEST_MODEL: Final = "gen_ai.request.model"
"""The model asked for."""

USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
"""Input tokens of a model turn."""

USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
"""Output tokens of a model turn."""

TOOL_NAME: Final = "gen_ai.tool.name"
"""Name of the tool called."""

TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
"""The tool call id, shared by ``tool.call``, ``tool.result`` and their effects."""

FILE_PATH: Final = "file.path"
"""Path of a file read or written."""

URL_FULL: Final = "url.full"
"""Full URL fetched or posted to."""

SERVER_ADDRESS: Final = "server.address"
"""Host of an egress or fetch."""

SERVER_PORT: Final = "server.port"
"""Port of an egress or fetch."""

HTTP_METHOD: Final = "http.request.method"
"""HTTP method."""

HTTP_BODY_SIZE: Final = "http.request.body.size"
"""Request body size in bytes."""

PROCESS_COMMAND_LINE: Final = "process.command_line"
"""Command line of a ``process.exec`` (redacted at ingest)."""

PROCESS_PID: Final = "process.pid"
"""Pid of a ``process.exec``."""

PROCESS_WORKING_DIRECTORY: Final = "process.working_directory"
"""Working directory of the agent or process; relative file paths are resolved against it."""

NETWORK_PEER_ADDRESS: Final = "network.peer.address"
"""The IP address a named destination resolved to."""

DNS_QUESTION_NAME: Final = "dns.question.name"
"""Name looked up by a DNS egress."""


def _attribute_table() -> list[tuple[str, str, str]]:
    """(constant, name, doc) for every attribute, in source order."""
    import ast
    import inspect
    import sys

    tree = ast.parse(inspect.getsource(sys.modules[__name__]))
    rows: list[tuple[str, str, str]] = []
    body = tree.body
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                doc = ""
                if i + 1 < len(body):
                    nxt = body[i + 1]
                    if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
                        doc = str(nxt.value.value)
                rows.append((node.target.id, value.value, doc))
    return rows


def render_markdown() -> str:
    """The text of ``docs/semconv.md``."""
    out = [
        "# clawtrace semantic conventions",
        "",
        "Generated from `clawtrace/semconv.py` by `python -m clawtrace.semconv > docs/semconv.md`;",
        "a test fails when this page and the code disagree. Emit these from any agent's",
        "OpenTelemetry instrumentation and clawtrace will map the spans to provenance events.",
        "",
        "## Spans",
        "",
        "A span named `clawtrace.<kind>` (or any span with attribute `clawtrace.event.kind`) becomes",
        "one event of that kind. Foreign GenAI spans map too: `gen_ai.operation.name` = `execute_tool`",
        "becomes `tool.call`, `chat` / `text_completion` / `generate_content` become `model.turn`.",
        "Other spans are kept in the `spans` table.",
        "",
        "| span name | event kind | role of `clawtrace.content.text` |",
        "|---|---|---|",
    ]
    for kind in EventKind:
        role = content_role(kind.value)
        out.append(f"| `{span_name(kind)}` | `{kind.value}` | {role.value if role else '-'} |")
    out += ["", "## Attributes", "", "| name | constant | meaning |", "|---|---|---|"]
    for const, name, doc in _attribute_table():
        out.append(f"| `{name}` | `{const}` | {' '.join(doc.split())} |")
    out += ["", "## Values", ""]
    for enum_cls in (Trust, Sensitivity, Source, LinkKind, EdgeKind):
        values = ", ".join(f"`{m.value}`" for m in enum_cls)
        out.append(f"- **{enum_cls.__name__}**: {values}. {enum_cls.__doc__}")
    out += [
        "",
        "## Links",
        "",
        "A span link with `clawtrace.link.kind` = `consumed` from a turn to an earlier",
        "`tool.result`, `input.message`, `file.read` or `skill.load` span says that output was in",
        "the model's context for the turn: the output-to-next-action link. `data_flow` says the",
        "linked span's output reappears in this span's input. Parentage gives `effect` edges",
        "(a `tool.call` span's children) and `emitted` edges (a `model.turn` span's `tool.call` children).",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(render_markdown(), end="")
