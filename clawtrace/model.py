"""The provenance model: Event, Artifact and Edge records (DESIGN.md section 3).

Stdlib only. Every source (OTLP spans, the SDK, OpenClaw importers) produces these
records and hands them to the one ingest pipeline in ``clawtrace.store``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import posixpath
import re
from typing import Any, Final
from urllib.parse import urlsplit

from clawtrace.semconv import EventKind, Sensitivity, Trust

__all__ = [
    "Event",
    "Artifact",
    "Edge",
    "Batch",
    "stable_id",
    "span_ref",
    "event_id_for",
    "artifact_key",
    "openclaw_turn_id",
    "openclaw_prompt_id",
    "file_uri",
    "url_artifact",
    "host_artifact",
    "artifact_kind",
    "classify_path",
    "parent_edge_kind",
    "PARENT_EDGE",
]

_ID_LEN = 24


def stable_id(*parts: object) -> str:
    """A stable event id from source ids: the same parts always give the same id."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_ID_LEN]


def clip(text: str, n: int = 200) -> str:
    """``text`` as a one-line summary: runs of whitespace made one space, cut to ``n``
    characters ending in "...". Only the first ``4 n`` characters are normalised unless they
    are mostly whitespace (a 4 KB tool result costs 800 characters, not a split of all of it);
    the result is the same as normalising the whole text."""
    head = " ".join(text[: 4 * n].split())
    if len(head) > n:
        return head[: n - 3] + "..."  # head is a prefix of the whole text normalised
    if len(text) > 4 * n:
        head = " ".join(text.split())
    return head if len(head) <= n else head[: n - 3] + "..."


def span_ref(trace_id: str, span_id: str) -> str:
    """A reference to the event made from span ``(trace_id, span_id)``, resolved at ingest."""
    return f"span:{trace_id}:{span_id}"


_PER_CALL_KINDS = (EventKind.TOOL_CALL.value, EventKind.TOOL_RESULT.value, EventKind.POLICY_DECISION.value)


def event_id_for(
    kind: str,
    *,
    session_id: str | None,
    tool_call_id: str | None,
    fallback: tuple[object, ...],
    artifact: str | None = None,
    home: str | None = None,
) -> str:
    """The event id for a tool call, its result or an effect derived from its arguments.

    Keyed on session id + tool call id when both are known, so the same call seen live
    (spans) and on disk (transcripts) becomes one event, not two. A ``policy.decision`` is
    keyed the same way: one decision per call (the gate's, live, or the block OpenClaw
    recorded in the transcript), whichever is stored first.

    An effect is keyed on its kind and artifact too, the artifact as ``artifact_key`` writes
    it (home-relative), so a source that knows the agent's home and one that does not agree;
    ``artifact=""`` keys an effect with no artifact (an exec: one per call and kind).
    """
    if session_id and tool_call_id and kind in _PER_CALL_KINDS:
        return stable_id("call", session_id, tool_call_id, kind)
    if session_id and tool_call_id and artifact is not None:
        return stable_id("effect", session_id, tool_call_id, kind, artifact_key(artifact, home))
    return stable_id(*fallback)


def artifact_key(artifact: str, home: str | None) -> str:
    """``artifact`` with the agent's ``home`` written ``~`` (``file:///home/u/.aws/x`` and
    ``file://~/.aws/x`` are one file when the agent's home is ``/home/u``)."""
    if home and artifact.startswith("file:///"):
        h = "file://" + posixpath.normpath(home)
        if artifact == h or artifact.startswith(h + "/"):
            return "file://~" + artifact[len(h) :]
    return artifact


def openclaw_turn_id(session_id: str, run_id: str, n: int) -> str:
    """The id of the ``n``-th (1-based) model call of an OpenClaw run: the plugin's
    ``model_call_ended`` (``callId = <runId>:model:<n>``) and the run's ``n``-th assistant
    message in the transcript are one ``model.turn``."""
    return stable_id("openclaw", "turn", session_id, run_id, n)


def openclaw_prompt_id(session_id: str, run_id: str) -> str:
    """The id of the prompt an OpenClaw run started from: the plugin's ``llm_input`` and the
    last user message before the run in the transcript are one ``input.message``."""
    return stable_id("openclaw", "prompt", session_id, run_id)


@dataclasses.dataclass(slots=True)
class Event:
    """One thing that happened. ``content`` is transient: ingest fingerprints and redacts it."""

    event_id: str
    kind: str
    ts: int
    """UTC nanoseconds since the epoch."""
    source: str
    session_id: str | None = None
    agent_id: str | None = None
    run_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    tool_call_id: str | None = None
    tool_name: str | None = None
    artifact: str | None = None
    trust: str = Trust.UNKNOWN.value
    sensitivity: str = Sensitivity.NONE.value
    summary: str = ""
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)
    content: bytes | None = None
    content_sha256: str | None = None
    content_size: int | None = None


@dataclasses.dataclass(slots=True)
class Artifact:
    """A thing with identity across events and sessions, named by URI."""

    uri: str
    kind: str
    sensitivity: str = Sensitivity.NONE.value
    trust: str = Trust.UNKNOWN.value
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True)
class Edge:
    """A causal edge. ``src``/``dst`` are event ids or ``span_ref`` tokens until stored."""

    src: str
    dst: str
    kind: str
    confidence: float = 1.0
    evidence: dict[str, Any] = dataclasses.field(default_factory=dict)


BATCH_BYTES: Final = 64 << 20
"""Bytes of content per ingest batch, about: importers and the receiver close a batch once past
it (as well as at their count of events or spans). Ingest holds about ten times a batch's
content at its peak (decoded text, redaction views, fingerprint arrays), and 20 000 events of
web pages and file reads can carry gigabytes; bounded by bytes, a large import runs in bounded
memory (a 300 MB batch peaked at 3 GB, 64 MB batches at about 0.8 GB)."""


@dataclasses.dataclass(slots=True)
class Batch:
    """What one source hands to ingest: events, explicit edges, artifacts, raw spans."""

    events: list[Event] = dataclasses.field(default_factory=list)
    edges: list[Edge] = dataclasses.field(default_factory=list)
    artifacts: list[Artifact] = dataclasses.field(default_factory=list)
    spans: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Raw spans that map to no event; kept in the ``spans`` table."""
    problems: list[str] = dataclasses.field(default_factory=list)
    """Input problems found while reading (file:line: cause). Reported, never fatal."""

    def extend(self, other: Batch) -> None:
        """Append another batch's records to this one."""
        self.events.extend(other.events)
        self.edges.extend(other.edges)
        self.artifacts.extend(other.artifacts)
        self.spans.extend(other.spans)
        self.problems.extend(other.problems)


# --------------------------------------------------------------------------- artifacts


def file_uri(path: str, cwd: str | None = None, home: str | None = None) -> str:
    """``file://`` URI of a path, resolved against ``cwd`` and normalised (no I/O).

    ``~`` is expanded with the *agent's* ``home`` when known, never with the home of the
    machine doing the import; otherwise it stays ``~`` (``file://~/.aws/credentials``).
    """
    p = path
    if p.startswith("file://"):
        p = p[len("file://") :]
    if p.startswith("~") and home:
        p = home.rstrip("/") + p[1:]
    if p.startswith("~"):
        return "file://" + posixpath.normpath(p)
    if not posixpath.isabs(p) and cwd:
        p = posixpath.join(cwd, p)
    return "file://" + posixpath.normpath(p)


def url_artifact(url: str) -> str:
    """Artifact URI of a URL: scheme, host and path, without query or fragment."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path or '/'}"


def host_artifact(host: str, port: int | str | None) -> str:
    """Artifact URI of a network destination, ``host:example.com:443``."""
    return f"host:{host}:{port if port not in (None, '') else '?'}"


def artifact_kind(uri: str) -> str:
    """The kind of an artifact from its URI scheme: file, url, host, memory, skill, secret."""
    scheme = uri.split(":", 1)[0]
    if scheme in ("http", "https"):
        return "url"
    return scheme or "unknown"


_SECRET_PATH = re.compile(
    r"(/\.aws/credentials$|/\.ssh/id_[a-z0-9_]+$|\.pem$|\.key$|/\.netrc$|/\.pgpass$|"
    r"/\.docker/config\.json$|/\.kube/config$|/\.git-credentials$|/\.npmrc$|/\.pypirc$|"
    r"/credentials(\.json)?$|/secrets?(\.[a-z]+)?$|/\.env(\.[a-z0-9_.-]+)?$|/auth-profiles\.json$|"
    r"/\.config/gh/hosts\.yml$|/token(s)?(\.[a-z]+)?$)",
    re.IGNORECASE,
)
_PII_PATH = re.compile(r"(/contacts?\.|/customers?\.|/USER\.md$)", re.IGNORECASE)


def classify_path(path_or_uri: str) -> str:
    """Sensitivity of a file by its path alone: ``credential``, ``pii`` or ``none``."""
    p = path_or_uri[len("file://") :] if path_or_uri.startswith("file://") else path_or_uri
    if _SECRET_PATH.search(p):
        return Sensitivity.CREDENTIAL.value
    if _PII_PATH.search(p):
        return Sensitivity.PII.value
    return Sensitivity.NONE.value


_EFFECT_KINDS = frozenset(
    {
        EventKind.FILE_READ.value,
        EventKind.FILE_WRITE.value,
        EventKind.FILE_DELETE.value,
        EventKind.MEMORY_READ.value,
        EventKind.MEMORY_WRITE.value,
        EventKind.SKILL_LOAD.value,
        EventKind.SKILL_INSTALL.value,
        EventKind.PROCESS_EXEC.value,
        EventKind.NET_EGRESS.value,
        EventKind.NET_FETCH.value,
        EventKind.POLICY_DECISION.value,
    }
)


def parent_edge_kind(parent_kind: str, child_kind: str) -> str | None:
    """The edge kind that span parentage implies between two events, or None.

    A model turn's tool-call children were ``emitted`` by it; a tool call's result was
    ``returned`` by it; anything a tool call (or a process it started) did is its ``effect``.
    """
    if parent_kind == EventKind.MODEL_TURN.value and child_kind == EventKind.TOOL_CALL.value:
        return "emitted"
    if parent_kind == EventKind.TOOL_CALL.value and child_kind == EventKind.TOOL_RESULT.value:
        return "returned"
    if parent_kind in (EventKind.TOOL_CALL.value, EventKind.PROCESS_EXEC.value) and child_kind in _EFFECT_KINDS:
        return "effect"
    return None


PARENT_EDGE = "child_of"
"""Placeholder edge kind for span parentage whose parent is in another batch; ingest resolves it."""
