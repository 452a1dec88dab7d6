"""Tool semantics: what one OpenClaw tool call read, wrote, ran and sent (reference section 5).

``effects`` turns a call (tool name, raw arguments, its result) into effect events: the
``file.*``, ``memory.*``, ``skill.load``, ``process.exec``, ``net.*`` events ingest joins to
the call by session + tool call id (``effect`` edges), plus explicit edges the arguments prove
(a file uploaded by ``curl --data-binary @f`` flowed into that request).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import posixpath
import re
from typing import Any
from urllib.parse import urlsplit

from clawtrace import model
from clawtrace import semconv as sc
from clawtrace.ingest.openclaw._shell import parse_command
from clawtrace.semconv import EdgeKind, EventKind, Sensitivity, Trust

__all__ = ["MAX_DISK_READ", "CallCtx", "effects", "normalize_args", "result_text", "unwrap_untrusted"]

MAX_DISK_READ = 1 << 20
"""Files named by an ``exec`` command are read from disk for their content up to this size."""

_K = EventKind
_FILE_READERS = {"read", "ls", "find", "grep", "glob", "list_dir", "view"}
_WRITERS = {"write", "edit", "apply_patch", "multi_edit", "str_replace"}
_EXEC = {"exec", "bash", "shell", "run", "terminal"}
_MEMORY_TOOLS = {"memory_search", "memory_get"}
_FETCHERS = {"web_fetch", "fetch"}
_BEGIN = re.compile(r'<<<EXTERNAL_UNTRUSTED_CONTENT id="[^"]*">>>\n(?:Source: [^\n]*\n)?(?:---\n)?')
_END_LINE = re.compile(r'\n<<<END_EXTERNAL_UNTRUSTED_CONTENT id="[^"]*">>>')
_END = re.compile(r'<<<END_EXTERNAL_UNTRUSTED_CONTENT id="[^"]*">>>')
"""The closing marker with its newline, then any left without one: two patterns with a literal
prefix, which ``re`` finds by a fast search (``\n?<<<...`` was tried at every offset)."""
_NOTICE = re.compile(
    r"SECURITY NOTICE: The following content is from an EXTERNAL, UNTRUSTED source.*?(?=<<<EXTERNAL_UNTRUSTED_CONTENT)",
    re.DOTALL,
)
_PATCH_FILE = re.compile(r"^\*\*\* (Add|Update|Delete) File: (.+?)\s*$|^\*\*\* Move to: (.+?)\s*$", re.MULTILINE)


@dataclasses.dataclass(slots=True)
class CallCtx:
    """What an effect needs to know about its call and session."""

    session_id: str
    agent_id: str | None
    tool_call_id: str | None
    ts: int
    cwd: str | None
    home: str | None
    source: str
    run_id: str | None
    base_attrs: dict[str, Any]
    fallback: tuple[object, ...]
    """Stable-id parts for effects that have no artifact."""


def normalize_args(tool: str, args: Any) -> dict[str, Any]:
    """Arguments as ``normalizeToolParams`` would see them (reference section 2.5)."""
    if not isinstance(args, dict):
        return {"value": args} if args is not None else {}
    a = dict(args)
    if "path" not in a:
        for k in ("file_path", "filePath", "file", "filename"):
            if isinstance(a.get(k), str):
                a["path"] = a.pop(k)
                break
    if "old_string" in a and "oldText" not in a:
        a["oldText"] = a.pop("old_string")
    if "new_string" in a and "newText" not in a:
        a["newText"] = a.pop("new_string")
    if ("oldText" in a or "newText" in a) and "edits" not in a:
        a["edits"] = [{"oldText": a.pop("oldText", ""), "newText": a.pop("newText", "")}]
    if tool in _EXEC:
        if "timeout" in a and "timeoutSeconds" not in a:
            a["timeoutSeconds"] = a.pop("timeout")
        if "command" not in a:
            for k in ("cmd", "script"):
                if isinstance(a.get(k), str):
                    a["command"] = a.pop(k)
                    break
    return a


def result_text(content: Any) -> str:
    """The text of a message ``content`` (a string or a list of text/image blocks)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return "" if content is None else json.dumps(content, ensure_ascii=False)
    parts = []
    for b in content:
        if isinstance(b, dict):
            t = b.get("type")
            if t == "text" and isinstance(b.get("text"), str):
                parts.append(b["text"])
            elif t == "image":
                parts.append("[image]")
        elif isinstance(b, str):
            parts.append(b)
    return "\n".join(parts)


def unwrap_untrusted(text: str) -> tuple[str, bool]:
    """Strip OpenClaw's EXTERNAL_UNTRUSTED_CONTENT wrappers; (inner text, whether any was found)."""
    if "<<<EXTERNAL_UNTRUSTED_CONTENT" not in text:
        return text, False
    text = _NOTICE.sub("", text)
    return _END.sub("", _END_LINE.sub("", _BEGIN.sub("", text))), True


def _fetch_payload(text: str) -> tuple[str, dict[str, Any]]:
    """A web_fetch result: (page text unwrapped, the result JSON's metadata)."""
    meta: dict[str, Any] = {}
    body = text
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        meta = {k: doc[k] for k in ("url", "finalUrl", "status", "contentType", "truncated", "fetchedAt") if k in doc}
        parts = [doc[k] for k in ("title", "text") if isinstance(doc.get(k), str)]
        if parts:
            body = "\n".join(parts)
    inner, _ = unwrap_untrusted(body)
    return inner, meta


def _abs(path: str, ctx: CallCtx) -> str:
    """An absolute, normalised path (``~`` kept when the agent's home is unknown)."""
    p = path.strip()
    p = p.removeprefix("file://")
    p = re.sub(r"^(\$HOME|\$\{HOME\})(?=/|$)", "~", p)
    if p.startswith("~") and ctx.home:
        p = ctx.home.rstrip("/") + p[1:]
    if not p.startswith(("/", "~")) and ctx.cwd:
        p = posixpath.join(ctx.cwd, p)
    return posixpath.normpath(p) if p else p


def _memory_rel(path: str) -> str | None:
    base = posixpath.basename(path)
    parent = posixpath.basename(posixpath.dirname(path))
    if base in ("MEMORY.md", "USER.md", "DREAMS.md") or (parent == "memory" and base.endswith(".md")):
        return f"memory/{base}" if parent == "memory" else base
    return None


def read_small(path: str) -> bytes | None:
    """The bytes of a regular file of at most ``MAX_DISK_READ`` bytes, else None (never raises)."""
    if not path.startswith("/"):
        return None
    try:
        st = os.stat(path)
        if not os.path.isfile(path) or st.st_size > MAX_DISK_READ:
            return None
        with open(path, "rb") as f:
            return f.read(MAX_DISK_READ)
    except (OSError, ValueError):
        return None


class _Out:
    def __init__(self, ctx: CallCtx) -> None:
        self.ctx = ctx
        self.events: list[model.Event] = []
        self.edges: list[model.Edge] = []
        self._n = 0

    def add(
        self,
        kind: EventKind,
        *,
        artifact: str | None,
        summary: str,
        content: bytes | None = None,
        trust: str = Trust.UNKNOWN.value,
        sensitivity: str = Sensitivity.NONE.value,
        derived: str = "args",
        tool_name: str | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> model.Event:
        c = self.ctx
        self._n += 1
        eid = model.event_id_for(
            kind.value,
            session_id=c.session_id,
            tool_call_id=c.tool_call_id,
            fallback=(*c.fallback, kind.value, artifact, self._n),
            # An effect with no artifact (an exec) is keyed on its kind alone, so the live
            # plugin, a transcript and an export bundle of the session agree on its id.
            artifact=artifact if artifact is not None else "",
            home=c.home,
        )
        a = dict(c.base_attrs)
        a[sc.OPENCLAW_DERIVED] = derived
        if attrs:
            a.update(attrs)
        e = model.Event(
            event_id=eid,
            kind=kind.value,
            ts=c.ts,
            source=c.source,
            session_id=c.session_id,
            agent_id=c.agent_id,
            run_id=c.run_id,
            tool_call_id=c.tool_call_id,
            tool_name=tool_name,
            artifact=artifact,
            trust=trust,
            sensitivity=sensitivity,
            summary=_clip(summary),
            attrs=a,
            content=content,
        )
        self.events.append(e)
        return e

    def path_event(
        self, op: str, path: str, *, content: bytes | None, derived: str, tool: str, extra: dict[str, Any] | None = None
    ) -> model.Event:
        """A read/write/delete of a path: file.*, memory.* or skill.load by what the path is."""
        p = _abs(path, self.ctx)
        sens = model.classify_path(p)
        attrs = {sc.FILE_PATH: p, **(extra or {})}
        mem = _memory_rel(p)
        size = f" ({len(content)} B)" if content is not None else ""
        if mem is not None and op in ("read", "write"):
            kind = _K.MEMORY_READ if op == "read" else _K.MEMORY_WRITE
            art = f"memory://{self.ctx.agent_id or 'default'}/{mem}"
            return self.add(
                kind,
                artifact=art,
                summary=f"memory {op} {mem}{size}",
                content=content,
                sensitivity=sens,
                derived=derived,
                tool_name=tool,
                attrs=attrs,
            )
        if op == "read" and posixpath.basename(p) == "SKILL.md":
            name = posixpath.basename(posixpath.dirname(p)) or "?"
            attrs[sc.SKILL_NAME] = name
            art = f"skill://{name}"
            if content is not None:
                sha = hashlib.sha256(content).hexdigest()
                attrs[sc.SKILL_SHA256] = sha
                art = f"skill://{name}@sha256:{sha}"
            return self.add(
                _K.SKILL_LOAD,
                artifact=art,
                summary=f"skill load {name} ({p})",
                content=content,
                derived=derived,
                tool_name=tool,
                attrs=attrs,
            )
        kind = {"read": _K.FILE_READ, "write": _K.FILE_WRITE, "delete": _K.FILE_DELETE}[op]
        return self.add(
            kind,
            artifact=model.file_uri(p),
            summary=f"{op} {p}{size}",
            content=content,
            sensitivity=sens,
            derived=derived,
            tool_name=tool,
            attrs=attrs,
        )

    def flow(self, src: model.Event, dst: model.Event, note: str, confidence: float = 0.9) -> None:
        self.edges.append(
            model.Edge(
                src.event_id, dst.event_id, EdgeKind.DATA_FLOW.value, confidence, {"via": "command_line", "note": note}
            )
        )


_clip = model.clip


def _b(s: str | None) -> bytes | None:
    return None if s is None else s.encode("utf-8", "surrogatepass")


def effects(
    tool: str, args: dict[str, Any], result: str | None, details: Any, is_error: bool, ctx: CallCtx
) -> tuple[list[model.Event], list[model.Edge]]:
    """Effect events (and proven edges) of one tool call. ``args`` are already normalised."""
    out = _Out(ctx)
    t = tool.lower()
    ok = not is_error
    det = details if isinstance(details, dict) else {}
    if t in _FILE_READERS:
        path = args.get("path") or args.get("dir") or (args.get("pattern") if t == "glob" else None) or "."
        if isinstance(path, str):
            content = _b(result) if ok and result is not None else None
            extra: dict[str, Any] = {k: args[k] for k in ("offset", "limit", "pattern") if k in args}
            out.path_event("read", path, content=content, derived="result" if content else "args", tool=t, extra=extra)
    elif t in ("write", "edit", "multi_edit", "str_replace"):
        path = args.get("path")
        if isinstance(path, str):
            if t == "write":
                text = args.get("content")
                body = text if isinstance(text, str) else None
            else:
                edits: list[Any] = args["edits"] if isinstance(args.get("edits"), list) else []
                body = "\n".join(str(e.get("newText", "")) for e in edits if isinstance(e, dict)) or None
            out.path_event("write", path, content=_b(body), derived="args", tool=t)
    elif t == "apply_patch":
        patch = args.get("input") or args.get("patch")
        if isinstance(patch, str):
            for op, path, body in _patch_files(patch):
                out.path_event(op, path, content=_b(body) if op == "write" else None, derived="args", tool=t)
    elif t in _EXEC:
        cmd = args.get("command")
        if isinstance(cmd, str):
            _exec(out, t, cmd, args, det)
    elif t == "process":
        action = str(args.get("action") or "")
        data = args.get("data") or args.get("text") or args.get("keys") or args.get("input")
        if action in ("write", "send-keys", "paste", "submit") and isinstance(data, str):
            out.add(
                _K.PROCESS_EXEC,
                artifact=None,
                summary=f"process {action} to {args.get('sessionId', '?')}: {data}",
                content=_b(data),
                tool_name=t,
                attrs={sc.PROCESS_COMMAND_LINE: data, "openclaw.process.action": action},
            )
            if data.strip():
                _exec(out, t, data, {}, det, record_process=False)
    elif t in _FETCHERS:
        url = args.get("url")
        if isinstance(url, str):
            _fetch(out, t, url, result if ok else None, det)
    elif t == "web_search":
        q = args.get("query") or args.get("q")
        if isinstance(q, str):
            out.add(
                _K.NET_EGRESS,
                artifact=None,
                summary=f"web search query: {q}",
                content=_b(q),
                tool_name=t,
                attrs={"openclaw.search.query": q},
            )
        if ok and result:
            out.add(
                _K.NET_FETCH,
                artifact=None,
                summary=f"web search results for {q!r}",
                content=_b(unwrap_untrusted(result)[0]),
                trust=Trust.UNTRUSTED.value,
                derived="result",
                tool_name=t,
            )
    elif t == "browser":
        url = args.get("targetUrl") or args.get("url")
        paths = args.get("paths") or ([args["path"]] if isinstance(args.get("path"), str) else [])
        if isinstance(url, str):
            _fetch(out, t, url, result if ok else None, det)
            if isinstance(paths, list) and paths:
                reads = [
                    out.path_event("read", p, content=None, derived="args", tool=t) for p in paths if isinstance(p, str)
                ]
                for r in reads:
                    r.content = read_small(r.attrs[sc.FILE_PATH])
                sent = b"".join(r.content for r in reads if r.content is not None) or None
                eg = _egress_url(out, t, url, method="POST", content=sent, note="browser upload")
                for r in reads:
                    out.flow(r, eg, "browser upload of the file")
    elif t in ("message", "sessions_send", "send_message"):
        _message(out, t, args)
    elif t in _MEMORY_TOOLS:
        path = args.get("path")
        rel = path if isinstance(path, str) else "search"
        art = f"memory://{ctx.agent_id or 'default'}/{rel}"
        out.add(
            _K.MEMORY_READ,
            artifact=art,
            summary=f"memory read {rel}" + (f" query {args.get('query')!r}" if args.get("query") else ""),
            content=_b(result) if ok and result else None,
            derived="result",
            tool_name=t,
        )
    return out.events, out.edges


def _patch_files(patch: str) -> list[tuple[str, str, str | None]]:
    out: list[tuple[str, str, str | None]] = []
    lines = patch.splitlines()
    cur: list[Any] | None = None
    for line in lines:
        m = _PATCH_FILE.match(line)
        if m:
            if m.group(3):
                if cur is not None:
                    out.append(("delete", cur[1], None))
                cur = ["write", m.group(3), []]
                out.append(cur)  # type: ignore[arg-type]
                continue
            verb, path = m.group(1), m.group(2)
            cur = ["delete" if verb == "Delete" else "write", path, []]
            out.append(cur)  # type: ignore[arg-type]
            continue
        if cur is not None and line.startswith("+") and not line.startswith("+++"):
            cur[2].append(line[1:])
    res = []
    for op, path, body in out:
        res.append((op, path, "\n".join(body) if op == "write" and body else None))
    return res


def _host_port(url: str) -> tuple[str | None, int | None]:
    try:
        parts = urlsplit(url)
        return parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None, None


def _egress_url(out: _Out, tool: str, url: str, *, method: str, content: bytes | None, note: str = "") -> model.Event:
    host, port = _host_port(url)
    attrs: dict[str, Any] = {sc.URL_FULL: url, sc.HTTP_METHOD: method}
    if host:
        attrs[sc.SERVER_ADDRESS] = host
    if port:
        attrs[sc.SERVER_PORT] = port
    if content is not None:
        attrs[sc.NET_BYTES_OUT] = len(content)
    if note:
        attrs["openclaw.egress.note"] = note
    return out.add(
        _K.NET_EGRESS,
        artifact=model.host_artifact(host, port) if host else None,
        summary=f"{method} {url}" + (f" ({len(content)} B)" if content is not None else ""),
        content=content,
        tool_name=tool,
        attrs=attrs,
    )


def _fetch(out: _Out, tool: str, url: str, result: str | None, det: dict[str, Any]) -> None:
    body: str | None = None
    meta: dict[str, Any] = {}
    if result is not None:
        body, meta = _fetch_payload(result)
    final = det.get("finalUrl") or meta.get("finalUrl") or url
    attrs: dict[str, Any] = {sc.URL_FULL: url}
    if final != url:
        attrs["openclaw.fetch.final_url"] = final
    for k in ("status", "contentType", "truncated"):
        v = det.get(k, meta.get(k))
        if v is not None:
            attrs[f"openclaw.fetch.{k}"] = v
    content = _b(body)
    if content is not None:
        attrs[sc.NET_BYTES_IN] = len(content)
    host, _port = _host_port(url)
    if host:
        attrs[sc.SERVER_ADDRESS] = host
    out.add(
        _K.NET_FETCH,
        artifact=model.url_artifact(str(final)),
        summary=f"fetch {final}" + (f" ({len(content)} B)" if content else ""),
        content=content,
        trust=Trust.UNTRUSTED.value,
        derived="result" if content else "args",
        tool_name=tool,
        attrs=attrs,
    )
    # The URL itself leaves the box; only a query string can carry data out, so only then is it egress.
    try:
        query = urlsplit(url).query
    except ValueError:
        query = ""
    if query:
        _egress_url(out, tool, url, method="GET", content=_b(query), note="data in the URL query")


def _message(out: _Out, tool: str, args: dict[str, Any]) -> None:
    channel = str(args.get("channel") or ("session" if tool == "sessions_send" else "message"))
    target = args.get("target") or args.get("targets") or args.get("sessionKey") or args.get("to") or "?"
    if isinstance(target, list):
        target = ",".join(str(x) for x in target)
    text = args.get("message") or args.get("text") or args.get("content")
    art = f"session://{target}" if tool == "sessions_send" else f"channel://{channel}/{target}"
    media = args.get("media")
    media_list = media if isinstance(media, list) else [media] if isinstance(media, str) else []
    reads = []
    for m in media_list:
        if isinstance(m, str) and not re.match(r"^[a-z]+://", m):
            r = out.path_event("read", m, content=None, derived="args", tool=tool)
            r.content = read_small(r.attrs[sc.FILE_PATH])
            reads.append(r)
    body = (text if isinstance(text, str) else "") + "".join(
        r.content.decode("utf-8", "replace") for r in reads if r.content
    )
    eg = out.add(
        _K.NET_EGRESS,
        artifact=art,
        summary=f"send to {channel} {target}: {text if isinstance(text, str) else ''}",
        content=_b(body) if body else None,
        tool_name=tool,
        attrs={
            sc.MESSAGE_CHANNEL: channel,
            "openclaw.message.target": str(target),
            sc.NET_BYTES_OUT: len(body.encode()),
        },
    )
    for r in reads:
        out.flow(r, eg, "message media attachment")


def _exec(
    out: _Out, tool: str, cmd: str, args: dict[str, Any], det: dict[str, Any], record_process: bool = True
) -> None:
    ctx = out.ctx
    workdir = args.get("workdir") or args.get("cwd") or det.get("cwd")
    if isinstance(workdir, str) and workdir:
        ctx = dataclasses.replace(ctx, cwd=_abs(workdir, ctx))
        out.ctx = ctx
    view = parse_command(cmd)
    proc = None
    if record_process:
        attrs: dict[str, Any] = {sc.PROCESS_COMMAND_LINE: cmd}
        if ctx.cwd:
            attrs[sc.PROCESS_WORKING_DIRECTORY] = ctx.cwd
        for k in ("exitCode", "status", "durationMs"):
            if k in det:
                attrs[f"openclaw.exec.{k}"] = det[k]
        if view.pipe_to_shell:
            attrs[sc.OPENCLAW_PIPE_TO_SHELL] = True
        proc = out.add(
            _K.PROCESS_EXEC, artifact=None, summary=f"exec: {cmd}", content=_b(cmd), tool_name=tool, attrs=attrs
        )
    reads: dict[str, model.Event] = {}
    for p in view.reads:
        e = out.path_event("read", p, content=None, derived="command_line", tool=tool)
        e.content = read_small(e.attrs[sc.FILE_PATH])
        if e.content is not None:
            e.summary = _clip(f"{e.summary} ({len(e.content)} B)")
        reads[p] = e
    for p in view.writes:
        out.path_event("write", p, content=None, derived="command_line", tool=tool)
    for c in view.contacts:
        files = [reads[f] for f in c.upload_files if f in reads]
        parts = [f.content for f in files if f.content is not None]
        if c.upload_literal is not None:
            parts.append(c.upload_literal.encode("utf-8", "surrogatepass"))
        body = b"".join(parts) if parts else None
        attrs = {"openclaw.exec.tool": c.tool}
        if c.url:
            attrs[sc.URL_FULL] = c.url
        if c.method:
            attrs[sc.HTTP_METHOD] = c.method
        if c.host:
            attrs[sc.SERVER_ADDRESS] = c.host
        if c.port:
            attrs[sc.SERVER_PORT] = c.port
        if body is not None:
            attrs[sc.NET_BYTES_OUT] = len(body)
        if c.upload_files:
            attrs["openclaw.exec.uploads"] = [_abs(f, ctx) for f in c.upload_files]
        if c.note:
            attrs["openclaw.egress.note"] = c.note
        dest = c.url or (f"{c.host}:{c.port}" if c.host else c.note or "?")
        verb = c.method or ("send" if c.upload_files else "connect")
        eg = out.add(
            _K.NET_EGRESS,
            artifact=model.host_artifact(c.host, c.port) if c.host else None,
            summary=f"{c.tool} {verb} {dest}"
            + (f" ({len(body)} B)" if body is not None else "")
            + (" with " + ", ".join(c.upload_files) if c.upload_files else ""),
            content=body,
            derived="command_line",
            tool_name=tool,
            attrs=attrs,
        )
        for f in files:
            out.flow(f, eg, f"{c.tool} sends the file {f.attrs.get(sc.FILE_PATH)}")
        if c.download and c.note.startswith("piped into") and c.url:
            fe = out.add(
                _K.NET_FETCH,
                artifact=model.url_artifact(c.url),
                summary=f"download {c.url} {c.note}",
                trust=Trust.UNTRUSTED.value,
                derived="command_line",
                tool_name=tool,
                attrs={sc.URL_FULL: c.url, sc.OPENCLAW_PIPE_TO_SHELL: True},
            )
            if proc is not None:
                out.edges.append(
                    model.Edge(
                        fe.event_id,
                        proc.event_id,
                        EdgeKind.DATA_FLOW.value,
                        0.9,
                        {"via": "command_line", "note": f"download {c.note}"},
                    )
                )
