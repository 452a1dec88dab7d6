"""The ``clawtrace`` command: a click group of thin commands.

Each command parses its arguments, calls one library function and renders the result.
This is the only module where errors become exit codes: 0 ok, 1 failure, 2 usage.
stdout is data; progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from clawtrace import __version__, _gc, config
from clawtrace.errors import ClawtraceError, NotFoundError
from clawtrace.model import BATCH_BYTES

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def say(msg: str) -> None:
    """Talk to the user on stderr."""
    click.echo(msg, err=True)


def _fail(e: ClawtraceError) -> click.ClickException:
    return click.ClickException(str(e))


def handle_errors(fn: F) -> F:
    """Turn ClawtraceError into a one-line message and exit 1; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ClawtraceError as e:
            raise _fail(e) from e
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # `clawtrace ... | head`
            sys.stderr.close()
            sys.exit(0)
        except KeyboardInterrupt:
            say("interrupted")
            sys.exit(130)
        except Exception as e:  # noqa: BLE001 - last resort: one line, not a traceback
            if os.environ.get("CLAWTRACE_DEBUG"):
                raise
            hint = config.memory_hint(str(e))
            if hint:  # not a bug: the store needs more memory than it may use
                raise click.ClickException(str(e).splitlines()[0] + hint) from e
            raise click.ClickException(
                f"internal error: {type(e).__name__}: {e}; rerun with CLAWTRACE_DEBUG=1 for the traceback and report it"
            ) from e

    return wrapper  # type: ignore[return-value]


def format_option(default: str | None = None) -> Callable[[F], F]:
    """``--format table|json|jsonl|csv`` (table on a terminal, json otherwise)."""

    def deco(fn: F) -> F:
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(["table", "json", "jsonl", "csv"]),
            default=default,
            help="Output format (default: table on a terminal, json when piped).",
        )(fn)

    return deco


def _fmt(fmt: str | None) -> str:
    if fmt:
        return fmt
    return "table" if sys.stdout.isatty() else "json"


class Ctx:
    """Options shared by every command."""

    def __init__(self, db: str) -> None:
        self.db = db

    def reader(self) -> Any:
        from clawtrace.store import Store

        return Store.open(self.db, read_only=True)

    def writer(self) -> Any:
        from clawtrace.store import Store

        return Store.open(self.db, read_only=False)


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings=CONTEXT)
@click.option(
    "--db",
    envvar="CLAWTRACE_DB",
    default=lambda: config.default_db_path(),
    show_default="./clawtrace.duckdb or $CLAWTRACE_DB",
    help="The DuckDB store.",
)
@click.version_option(__version__, prog_name="clawtrace")
@click.pass_context
def cli(ctx: click.Context, db: str) -> None:
    """Provenance tracing and forensics for AI agents.

    \b
    Answer, with evidence: what was read, what was called, what output
    caused the next action, and where data left the box.

    \b
    Start:  clawtrace import otlp --sample && clawtrace egress
    Then:   clawtrace why EVENT     clawtrace impact EVENT|ARTIFACT
    """
    ctx.obj = Ctx(db)


# ----------------------------------------------------------------------------- demo


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_ctx
@handle_errors
def demo(obj: Ctx, fmt: str) -> None:
    """Run a realistic incident through the real SDK and investigate it.

    \b
    A scripted agent reads a setup page carrying a prompt injection, reads
    ~/.aws/credentials, sends them base64-encoded to a sink and poisons its
    memory; the next session reads the memory and leaks them again. Local
    servers on 127.0.0.1 only; a temporary workspace; nothing left running.
    Stores into --db, then prints the egress finding, the why chain, the
    cross-session link and the next commands to try.
    """
    import io

    from clawtrace.demo import as_json, run_demo

    buf = io.StringIO()
    result = run_demo(obj.db, out=buf if fmt == "json" else sys.stdout, err=sys.stderr)
    if fmt == "json":
        sys.stdout.write(as_json(result) + "\n")


# ----------------------------------------------------------------------------- import


@cli.group("import")
def import_() -> None:
    """Import evidence into the store."""


def _sample_path() -> Path:
    from importlib import resources

    return Path(str(resources.files("clawtrace"))) / "samples" / "incident.otlp.jsonl"


@import_.command("otlp")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sample", is_flag=True, help="Import the shipped sample incident (three sessions, one exfiltration).")
@click.option("--keep-content", is_flag=True, envvar="CLAWTRACE_KEEP_CONTENT", help="Also store redacted content text.")
@click.option("--batch-spans", default=20000, show_default=True, help="Spans per ingest batch.")
@pass_ctx
@handle_errors
def import_otlp(obj: Ctx, files: tuple[Path, ...], sample: bool, keep_content: bool, batch_spans: int) -> None:
    """Import OTLP trace files: Collector file-exporter JSON lines, ExportTraceServiceRequest
    JSON or protobuf, optionally gzip or zstd compressed.

    \b
    Example:
      clawtrace import otlp traces.jsonl archive/*.pb.gz
      clawtrace import otlp --sample
    """
    from clawtrace import model
    from clawtrace import semconv as sc
    from clawtrace.ingest.otlp import read_otlp_file, spans_to_batch
    from clawtrace.store import IngestResult, ingest

    paths = list(files)
    if sample:
        paths.append(_sample_path())
    if not paths:
        raise click.UsageError("give OTLP files to import, or --sample for the shipped sample incident")
    for p in paths:
        if not p.exists():
            raise click.BadParameter(f"{p}: no such file", param_hint="FILES")
    total = IngestResult()
    problems = 0
    with obj.writer() as store, _gc.paused():

        def flush(pending: list[Any]) -> None:
            if pending:
                r = ingest(store, spans_to_batch(pending), keep_content=keep_content, source="otlp")
                total.add(r)
                for prob in r.problems:
                    say(f"warning: {prob}")
                pending.clear()

        for p in paths:
            say(f"importing {p} ...")
            pending: list[Any] = []
            content = 0  # bytes of content pending: a batch also closes at BATCH_BYTES of it
            for spans, problem in read_otlp_file(p):
                if problem:
                    problems += 1
                    say(f"warning: {problem}")
                    continue
                pending.extend(spans)
                content += sum(len(str(s.attrs.get(sc.CONTENT_TEXT) or "")) for s in spans)
                if len(pending) >= batch_spans or content >= model.BATCH_BYTES:
                    flush(pending)
                    content = 0
            flush(pending)
    say(
        f"imported {total.events} events, {total.edges} edges, {total.spans} raw spans into {obj.db}"
        + (f"; {total.skipped} already stored" if total.skipped else "")
        + (f"; {problems} bad records skipped (see warnings)" if problems else "")
    )
    say("next: clawtrace sessions   clawtrace egress   clawtrace why EVENT")


@import_.command("openclaw")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--home",
    help="The agent's home directory, for ~ and $HOME in paths (default: the parent of a ~/.openclaw state dir).",
)
@click.option("--keep-content", is_flag=True, envvar="CLAWTRACE_KEEP_CONTENT", help="Also store redacted content text.")
@click.option(
    "--since",
    metavar="WHEN",
    help="Only what was written since WHEN (ISO-8601, or 90m/24h/7d back from now): transcript files and "
    "bundles modified since, DB sessions with rows since. The recent part of a large state dir first; "
    "import again without it for the rest.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines, only the summary and warnings.")
@pass_ctx
@handle_errors
def import_openclaw(
    obj: Ctx, path: Path | None, home: str | None, keep_content: bool, since: str | None, quiet: bool
) -> None:
    """Import OpenClaw's on-disk evidence, read-only: transcripts (JSONL and SQLite), sessions
    index, trajectory, gateway log and audit ledger.

    PATH is a state dir (default $OPENCLAW_STATE_DIR, else ~/.openclaw), a profile dir, an
    agent dir, one transcript .jsonl, one openclaw-agent.sqlite, an export-trajectory
    bundle, or a folder holding state dirs (an evidence copy of several hosts).
    Re-importing adds only what is new. OpenClaw's files are never written.

    \b
    Example:
      clawtrace import openclaw
      clawtrace import openclaw --since 24h
      clawtrace import openclaw ~/.openclaw-work/agents/main
    """
    from clawtrace.ingest.openclaw import default_state_dir, size_text
    from clawtrace.ingest.openclaw import import_openclaw as run_import
    from clawtrace.store import ingest

    since_ms = None
    if since:
        import datetime as dt

        from clawtrace.hunt import BadFilterError, parse_since

        try:
            when = parse_since(since)
        except BadFilterError as e:
            raise click.BadParameter(
                str(e).replace("clawtrace hunt", "clawtrace import openclaw"), param_hint="--since"
            )
        since_ms = int(dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC).timestamp() * 1000)
    target = path or default_state_dir()
    if not target.exists():
        raise click.BadParameter(
            f"{target}: no such file or directory (set OPENCLAW_STATE_DIR or give the state dir)", param_hint="PATH"
        )
    say(f"importing OpenClaw evidence from {target} ...")
    with obj.writer() as store:

        def known(prefix: str) -> list[str]:
            got = store.con.execute(
                "SELECT session_id FROM sessions WHERE starts_with(session_id, $p) LIMIT 3", {"p": prefix}
            ).fetchall()
            return [str(r[0]) for r in got]

        s = run_import(
            target,
            lambda b: ingest(store, b, keep_content=keep_content, source="openclaw"),
            progress=None if quiet else say,
            home=home,
            known_sessions=known,
            since_ms=since_ms,
        )
    for prob in s.problems:
        say(f"warning: {prob}")
    say(
        f"imported {s.sessions} session{'' if s.sessions == 1 else 's'}: {s.events} new events ({s.skipped} already stored), {s.edges} edges, "
        f"{s.tool_calls} tool calls, {s.egress} egress; {size_text(s.transcript_bytes)} of transcripts "
        f"in {s.seconds:.1f} s into {obj.db}"
        + (f"; {len(s.problems)} problem{'' if len(s.problems) == 1 else 's'} (see warnings)" if s.problems else "")
    )
    if s.older:
        say(
            f"left out {s.older} transcript file(s), bundle(s) and DB session(s) last written before --since "
            f"{since}; import again without --since for the rest (what is stored now is kept)"
        )
    say("next: clawtrace sessions   clawtrace egress   clawtrace why EVENT")


# ----------------------------------------------------------------------------- listing


def _emit(
    rows: list[dict[str, Any]], fmt: str | None, columns: list[str] | None = None, give_way: tuple[str, ...] = ()
) -> None:
    """Rows to stdout; on a terminal too narrow for the table, ``give_way`` names the columns
    to hide first (after empty ones), before any free text the reader came for."""
    from clawtrace.report.render import terminal_width, write_rows

    write_rows(rows, _fmt(fmt), sys.stdout, columns, width=terminal_width(sys.stdout), give_way=give_way)


@cli.command()
@format_option()
@click.option("--agent", help="Only this agent's sessions.")
@pass_ctx
@handle_errors
def sessions(obj: Ctx, fmt: str | None, agent: str | None) -> None:
    """List sessions: agent, start, end, event count, sources and flags."""
    from clawtrace.graph import sessions as sessions_

    with obj.reader() as store:
        out = sessions_(store, agent=agent)
    _emit(out, fmt, give_way=("source", "ended", "agent_id"))


_TIMELINE_COLS = ["event_id", "ts", "kind", "tool_name", "trust", "sensitivity", "summary"]


@cli.command()
@click.argument("session")
@format_option()
@pass_ctx
@handle_errors
def timeline(obj: Ctx, session: str, fmt: str | None) -> None:
    """The events of a session in order.

    \b
    Example:
      clawtrace timeline s-incident-1
    """
    from clawtrace.store import iso

    with obj.reader() as store:
        cols, rows = store.sql(
            "SELECT event_id, ts, kind, tool_name, tool_call_id, artifact, trust, sensitivity, source, summary "
            "FROM events WHERE session_id = $s ORDER BY ts, seq",
            {"s": session},
        )
        if not rows:
            raise NotFoundError(f"no session {session!r} in {obj.db}; list sessions: clawtrace sessions")
    out = [dict(zip(cols, r)) for r in rows]
    for r in out:
        r["ts"] = iso(r["ts"])
    f = _fmt(fmt)
    _emit(out, f, _TIMELINE_COLS if f == "table" else None, give_way=("tool_name", "trust"))


@cli.command()
@click.argument("event")
@format_option()
@pass_ctx
@handle_errors
def show(obj: Ctx, event: str, fmt: str | None) -> None:
    """One event with its attributes and edges (EVENT: id, unique prefix, or SESSION:N)."""
    from clawtrace.graph import public_event
    from clawtrace.report.render import write_json

    with obj.reader() as store:
        e = store.resolve_event(event)
        seq = int(e["seq"])
        ins = store.edges_touching([seq], direction="in")
        outs = store.edges_touching([seq], direction="out")
        others = store.events_by_seq([r["src"] for r in ins] + [r["dst"] for r in outs])
        secrets = store.secrets_of([seq])

    def edge(r: dict[str, Any], other: int) -> dict[str, Any]:
        o = others[other]
        ev = r["evidence"]
        return {
            "kind": r["kind"],
            "event_id": o["event_id"],
            "event_kind": o["kind"],
            "summary": o["summary"],
            "confidence": r["confidence"],
            "evidence": json.loads(ev) if isinstance(ev, str) else ev,
        }

    doc = public_event(e)
    doc.update(
        {
            "run_id": e.get("run_id"),
            "trace_id": e.get("trace_id"),
            "span_id": e.get("span_id"),
            "tool_call_id": e.get("tool_call_id"),
            "content_sha256": e.get("content_sha256"),
            "content_size": e.get("content_size"),
            "attrs": e.get("attrs"),
            "secrets": [f"secret://{s['type']}/{s['digest']}" for s in secrets],
            "edges_in": [edge(r, r["src"]) for r in ins],
            "edges_out": [edge(r, r["dst"]) for r in outs],
        }
    )
    f = _fmt(fmt)
    if f in ("json", "jsonl"):
        write_json(doc, sys.stdout)
        return
    if f == "csv":
        _emit([{k: v for k, v in doc.items() if k not in ("edges_in", "edges_out")}], "csv")
        return
    from clawtrace.report.render import fit_line, terminal_width

    width = terminal_width(sys.stdout)
    w = sys.stdout.write

    def field(label: str, value: str) -> None:
        # The detail view shows every value whole: on a terminal, wrapped at words under its
        # label (a hash longer than the line stays in one piece, for copying).
        if width is not None and len(value) > width - 17:
            value = textwrap.fill(
                value,
                max(width, 47),
                initial_indent=" " * 17,
                subsequent_indent=" " * 17,
                break_long_words=False,
                break_on_hyphens=False,
            )[17:]
        w(f"{label:>15}: {value}\n")

    for k in (
        "event_id",
        "kind",
        "ts",
        "session_id",
        "agent_id",
        "tool_name",
        "tool_call_id",
        "artifact",
        "trust",
        "sensitivity",
        "source",
        "summary",
        "content_sha256",
        "content_size",
    ):
        if doc.get(k) is not None:
            field(k, str(doc[k]))
    if doc["secrets"]:
        field("secrets", ", ".join(doc["secrets"]))
    if doc["attrs"]:
        w(f"{'attrs':>15}:\n")
        for k, v in sorted(doc["attrs"].items()):
            w(fit_line(f"{'':>17}{k} = {json.dumps(v, ensure_ascii=False)[:200]}", width) + "\n")
    for label, key, arrow in (("caused by", "edges_in", "<-"), ("led to", "edges_out", "->")):
        if doc[key]:
            w(f"{label:>15}:\n")
            for ed in doc[key]:
                line = f"{'':>17}{arrow} {ed['kind']:<10} {ed['event_id'][:10]}  {ed['event_kind']:<13} {ed['summary'] or ''}"
                w(fit_line(line, width) + "\n")


# ----------------------------------------------------------------------------- causal


def _chain_out(chain: Any, fmt: str | None, *, forward: bool) -> None:
    from clawtrace.report.render import chain_text, terminal_width, write_json, write_rows

    d = chain.as_dict()
    f = _fmt(fmt)
    if f == "json":
        write_json(d, sys.stdout)
    elif f in ("jsonl", "csv"):
        write_rows(d["events"], f, sys.stdout)
    else:
        sys.stdout.write(chain_text(d, forward=forward, width=terminal_width(sys.stdout)))


@cli.command()
@click.argument("event")
@format_option()
@click.option("--max-nodes", default=2000, show_default=True, help="Stop the traversal after this many events.")
@pass_ctx
@handle_errors
def why(obj: Ctx, event: str, fmt: str | None, max_nodes: int) -> None:
    """Why did EVENT happen? The ranked backward chain, with evidence, probable root
    causes (untrusted inputs) and sensitive sources (secrets and credentials that reached it).

    \b
    Example:
      clawtrace why 3fa9c01d          # an event id or unique prefix
      clawtrace why s-incident-1:12   # the 12th event of a session
    """
    from clawtrace.graph import why as why_

    with obj.reader() as store:
        chain = why_(store, event, max_nodes=max_nodes)
    _chain_out(chain, fmt, forward=False)


@cli.command()
@click.argument("target")
@format_option()
@click.option("--max-nodes", default=5000, show_default=True, help="Stop the traversal after this many events.")
@pass_ctx
@handle_errors
def impact(obj: Ctx, target: str, fmt: str | None, max_nodes: int) -> None:
    """The blast radius of an event or artifact: everything downstream, and what to
    contain (files and memory to quarantine, sessions to review, credentials to rotate).

    \b
    Example:
      clawtrace impact 5be2c0d1
      clawtrace impact http://docs.acme.test/setup
      clawtrace impact memory://main/MEMORY.md
    """
    from clawtrace.graph import impact as impact_

    with obj.reader() as store:
        chain = impact_(store, target, max_nodes=max_nodes)
    _chain_out(chain, fmt, forward=True)


_EGRESS_COLS = ["event_id", "ts", "session_id", "destination", "bytes_out", "verdict", "carried", "summary"]


@cli.command()
@format_option()
@click.option("--session", help="Only this session.")
@click.option("--since", help="Only egress at or after this time (ISO-8601).")
@pass_ctx
@handle_errors
def egress(obj: Ctx, fmt: str | None, session: str | None, since: str | None) -> None:
    """Every egress: destination, bytes, the sensitive data it carried, and a verdict
    (exfiltration, suspicious, ok; blocked when a policy gate stopped the call). POLICY is the
    gate's verdict on the call, if one decided: allow, block, or warn (monitor mode)."""
    from clawtrace.graph import egress as egress_

    with obj.reader() as store:
        rows = egress_(store, session=session, since=since)
    f = _fmt(fmt)
    if f == "table":
        for r in rows:
            arts = sorted(
                {c["artifact"] or c["kind"] for c in r["carried"] if c["kind"] != "tool.result" or not c["artifact"]}
            )
            n = len({s for c in r["carried"] for s in c["secrets"]})
            r["carried"] = ", ".join(a.removeprefix("file://") for a in arts) + (f" ({n} secrets)" if n else "")
        _emit(rows, f, _EGRESS_COLS, give_way=("summary", "session_id", "ts"))
        exfil = [r["event_id"] for r in rows if r["verdict"] == "exfiltration"]
        if exfil:
            say(f"{len(exfil)} exfiltration(s); next: clawtrace why {exfil[0][:12]}")
        b = sum(1 for r in rows if r["verdict"] == "blocked")
        if b:
            say(f"{b} egress attempt(s) blocked by a policy gate (never sent); next: clawtrace why EVENT")
        w = sum(1 for r in rows if r["policy"] == "warn")
        if w:
            say(f"{w} egress(es) a policy gate in monitor mode would have blocked (sent); next: clawtrace why EVENT")
    else:
        _emit(rows, f)


_HUNT_COLS = ["severity", "detection", "ts", "event_id", "session_id", "summary", "related"]


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@format_option()
@click.option("--since", help="Only findings at or after this time: ISO-8601, or a duration back from now (24h, 7d).")
@click.option("--session", help="Only findings in this session.")
@click.option("--agent", help="Only findings of this agent.")
@click.option("--list", "list_", is_flag=True, help="List the detections and exit.")
@click.option("--exit-code", "exit_code", is_flag=True, help="Exit 1 when there are findings (for scripts and CI).")
@pass_ctx
@handle_errors
def hunt(
    obj: Ctx,
    names: tuple[str, ...],
    fmt: str | None,
    since: str | None,
    session: str | None,
    agent: str | None,
    list_: bool,
    exit_code: bool,
) -> None:
    """Run the detections in queries/ (all, or those NAMEd) and list their findings, most
    severe first, then by time. Each finding names its key event (for `clawtrace why` and
    `clawtrace graph`) and the related events. Exit status: 0 ok (with --exit-code: 0 no
    findings, 1 findings), 1 failure (with a message on stderr), 2 usage (unknown detection,
    bad --since).

    \b
    Example:
      clawtrace hunt
      clawtrace hunt secret_then_egress --since 24h --format json
      clawtrace hunt --list
    """
    from clawtrace import hunt as h

    if list_:
        listing = [
            {
                "name": q.name,
                "severity": q.severity,
                "params": ", ".join(p for p in q.params if p not in h.FILTER_PARAMS),
                "references": q.references,
                "description": q.description,
            }
            for q in h.detections().values()
        ]
        _emit(listing, fmt)
        return
    try:
        h.select(names)
        if since:
            h.parse_since(since)
    except h.UnknownDetectionError as e:
        raise click.BadParameter(str(e), param_hint="NAME") from e
    except h.BadFilterError as e:
        raise click.BadParameter(str(e), param_hint="--since") from e
    with obj.reader() as store:
        found = h.hunt(store, names, since=since, session=session, agent=agent)
    rows = [x.as_dict() for x in found]
    f = _fmt(fmt)
    if f == "table":
        for r in rows:
            r["related"] = len(r["related"])
    _emit(rows, f, _HUNT_COLS if f == "table" else None, give_way=("related", "session_id"))
    if not found:
        say("no findings")
        return
    by_sev = {s: sum(1 for x in found if x.severity == s) for s in h.SEVERITIES}
    say(f"{len(found)} finding(s): " + ", ".join(f"{n} {s}" for s, n in by_sev.items() if n))
    top = found[0].event_id[:12]  # a prefix the commands accept, as in the table: the hint fits a terminal
    say(f"next: clawtrace why {top}   clawtrace graph {top}   clawtrace show {top}")
    if exit_code:
        raise click.exceptions.Exit(1)


# ----------------------------------------------------------------------------- query, graph, verify


@cli.command()
@click.argument("sql_or_name", required=False)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Parameter of a named query.")
@click.option("--list", "list_", is_flag=True, help="List the named queries.")
@format_option()
@pass_ctx
@handle_errors
def query(obj: Ctx, sql_or_name: str | None, params: tuple[str, ...], list_: bool, fmt: str | None) -> None:
    """Run raw SQL or a named query from queries/ against the store (read-only).

    \b
    Example:
      clawtrace query --list
      clawtrace query sensitive_reads -p session=s-incident-1
      clawtrace query "SELECT kind, count(*) FROM events GROUP BY kind"
    """
    from clawtrace import queries

    if list_:
        _emit(
            [
                {"name": q.name, "params": ", ".join(q.params), "description": q.description}
                for q in queries.load_all().values()
            ],
            fmt,
        )
        return
    if not sql_or_name:
        raise click.UsageError("give SQL or a query name; see: clawtrace query --list")
    kv: dict[str, Any] = {}
    for p in params:
        if "=" not in p:
            raise click.BadParameter(f"{p!r} is not NAME=VALUE", param_hint="--param")
        k, v = p.split("=", 1)
        kv[k] = v
    with obj.reader() as store:
        if sql_or_name in queries.load_all():
            cols, rows = queries.run(store, sql_or_name, **kv)
        else:
            if kv:
                raise click.UsageError(f"{sql_or_name!r} is not a named query, so it takes no --param")
            if " " not in sql_or_name.strip():
                raise NotFoundError(f"no named query {sql_or_name!r}; list them: clawtrace query --list")
            cols, rows = store.sql(sql_or_name)
    _emit([dict(zip(cols, r)) for r in rows], fmt, cols)


@cli.command()
@click.argument("event")
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid", "html"]), default="dot", show_default=True)
@click.option("--direction", type=click.Choice(["why", "impact"]), default="why", show_default=True)
@click.option("--max-nodes", default=200, show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout."
)
@pass_ctx
@handle_errors
def graph(obj: Ctx, event: str, fmt: str, direction: str, max_nodes: int, output: Path | None) -> None:
    """The causal graph of EVENT as Graphviz DOT, Mermaid, or a self-contained HTML page
    (zoom, pan, evidence on hover, event details on click; loads nothing from the network).

    \b
    Example:
      clawtrace graph EVENT | dot -Tsvg > chain.svg
      clawtrace graph EVENT --format html -o chain.html
    """
    from clawtrace import graph as g
    from clawtrace.report.graphs import to_dot, to_mermaid
    from clawtrace.report.html_graph import graph_page

    with obj.reader() as store:
        chain = (g.why if direction == "why" else g.impact)(store, event, max_nodes=max_nodes).as_dict()
        text = graph_page(store, chain) if fmt == "html" else to_dot(chain) if fmt == "dot" else to_mermaid(chain)
    _write_out(text, output)


@cli.command()
@click.argument("target", required=False)
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout."
)
@pass_ctx
@handle_errors
def report(obj: Ctx, target: str | None, fmt: str, output: Path | None) -> None:
    """An incident report over the whole store, one SESSION, or the chain of one EVENT:
    summary, timeline, egress (worst first), the causal chain of the worst egress with its
    evidence, root causes, what to contain (files and memory to quarantine, credentials to
    rotate, sessions to review) and the verify result. HTML embeds the interactive graph
    and loads nothing from the network. Secrets appear only as redaction placeholders.

    \b
    Example:
      clawtrace report -o incident.md
      clawtrace report s-incident-1 --format html -o incident.html
    """
    from clawtrace.report import incident

    with obj.reader() as store:
        rep = incident.build(store, target, db=obj.db)
    _write_out(incident.to_markdown(rep) if fmt == "md" else incident.to_html(rep), output)
    if not rep.verify["ok"]:
        say(f"warning: verify found {rep.verify['findings_total']} tampering finding(s) in {obj.db}; see the report")


def _write_out(text: str, output: Path | None) -> None:
    """Write a document to ``output``, or to stdout."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}; choose another path with -o") from e
    say(f"wrote {output} ({len(text.encode())} bytes)")


@cli.command()
@format_option()
@pass_ctx
@handle_errors
def verify(obj: Ctx, fmt: str | None) -> None:
    """Recompute the ingest hash chain; name every batch, event or edge edited,
    inserted or deleted after it was stored. Exit 1 when anything was."""
    from clawtrace.report.render import write_json
    from clawtrace.store import verify as verify_

    with obj.reader() as store:
        rep = verify_(store)
    f = _fmt(fmt)
    if f == "json":
        write_json(
            {
                "ok": rep.ok,
                "batches": rep.batches,
                "events": rep.events,
                "edges": rep.edges,
                "head": rep.head,
                "findings": [x.as_dict() for x in rep.findings],
            },
            sys.stdout,
        )
    elif f in ("jsonl", "csv"):
        _emit([x.as_dict() for x in rep.findings], f, ["problem", "table", "batch_id", "ref", "detail"])
    else:
        if rep.ok:
            sys.stdout.write(
                f"ok: {rep.batches} batches, {rep.events} events, {rep.edges} edges match the hash chain (head {rep.head[:16]})\n"
            )
        else:
            _emit([x.as_dict() for x in rep.findings], "table")
    if not rep.ok:
        raise click.ClickException(f"{len(rep.findings)} tampering finding(s) in {obj.db}")


@cli.command()
@pass_ctx
@handle_errors
def migrate(obj: Ctx) -> None:
    """Upgrade the store's schema to this clawtrace's (append-only migrations)."""
    with obj.writer():
        pass
    say(f"{obj.db} is at schema version {_schema(obj)}")


def _schema(obj: Ctx) -> int:
    with obj.reader() as store:
        return int(store.schema_version())


# ----------------------------------------------------------------------------- serve


@cli.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on; beyond loopback needs --token."
)
@click.option("--port", default=4318, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--token", envvar="CLAWTRACE_TOKEN", help="Bearer token clients must send [env: CLAWTRACE_TOKEN].")
@click.option("--spool", "spool_dir", type=click.Path(file_okay=False), help="Spool directory (default: <db>.spool).")
@click.option(
    "--spool-limit",
    default=1 << 30,
    show_default=True,
    type=click.IntRange(1),
    help="Spool bytes beyond which requests get 503.",
)
@click.option(
    "--max-backlog",
    default=2_000_000,
    show_default=True,
    type=click.IntRange(1),
    help="Unstored spans beyond which requests get 429.",
)
@click.option(
    "--batch-spans",
    default=20000,
    show_default=True,
    type=click.IntRange(1),
    help="Spans per ingest transaction, at most.",
)
@click.option(
    "--batch-bytes",
    default=BATCH_BYTES,
    show_default=True,
    type=click.IntRange(1),
    help="Spool bytes per ingest transaction, about (bounds the writer's memory).",
)
@click.option(
    "--snapshot-interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds between read-only snapshots, at least.",
)
@click.option("--keep-content", is_flag=True, envvar="CLAWTRACE_KEEP_CONTENT", help="Also store redacted content text.")
@pass_ctx
@handle_errors
def serve(
    obj: Ctx,
    host: str,
    port: int,
    token: str | None,
    spool_dir: str | None,
    spool_limit: int,
    max_backlog: int,
    batch_spans: int,
    batch_bytes: int,
    snapshot_interval: float,
    keep_content: bool,
) -> None:
    """Run the OTLP/HTTP receiver: POST /v1/traces (protobuf or JSON, gzip or not).

    A request is answered 200 only once its body is fsynced to the spool; one writer
    drains the spool into --db. While it runs, read commands (sessions, egress, why ...)
    on the same --db read <db>.snapshot, refreshed after each batch. Overload gets 429/503
    with Retry-After. GET /healthz and /metrics (Prometheus). SIGTERM or Ctrl-C stops
    accepting, stores what is spooled, and closes the store.

    \b
    Example:
      clawtrace serve
      OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python my_agent.py
      CLAWTRACE_TOKEN=s3cret clawtrace serve --host 0.0.0.0
    """
    import logging
    import signal
    import threading

    from clawtrace.receiver import Receiver, ReceiverConfig, ReceiverConfigError, check_bind

    try:
        check_bind(host, token)
    except ReceiverConfigError as e:
        raise click.UsageError(str(e)) from e
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    cfg = ReceiverConfig(
        db=obj.db,
        host=host,
        port=port,
        token=token,
        spool_dir=spool_dir,
        spool_limit=spool_limit,
        max_backlog=max_backlog,
        batch_spans=batch_spans,
        batch_bytes=batch_bytes,
        snapshot_interval=snapshot_interval,
        keep_content=keep_content,
    )
    receiver = Receiver(cfg)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    receiver.start()
    say(f"listening on {receiver.url}  (db {obj.db}, spool {receiver.spool.dir if receiver.spool else '?'})")
    say(f"readers meanwhile: clawtrace --db {obj.db} egress   (reads {obj.db}.snapshot)")
    while not stop.wait(1.0):
        pass
    say("stopping: no new requests; storing what is spooled ...")
    receiver.stop()
    h = receiver.health()
    say(
        f"stopped: {h['spans_received']} spans received, {h['spans_stored']} stored, {h['spool_bytes']} bytes left in the spool"
    )


@cli.group("openclaw")
def openclaw_() -> None:
    """OpenClaw integration: live capture through the clawtrace plugin."""


@openclaw_.command("install-plugin")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="OpenClaw state dir (default: $OPENCLAW_STATE_DIR, else ~/.openclaw). The config is "
    "$OPENCLAW_CONFIG_PATH, else STATE/openclaw.json.",
)
@click.option(
    "--endpoint",
    default="http://127.0.0.1:4318/v1/traces",
    show_default=True,
    help="Where the plugin posts OTLP/HTTP JSON spans (clawtrace serve's /v1/traces).",
)
@click.option(
    "--policy-allow",
    "policy_allow",
    multiple=True,
    metavar="PATTERN",
    help="Turn the egress policy gate on and allow tool calls to contact PATTERN (repeatable): "
    "'*', 'host', 'host:port', '*.domain', 'channel:NAME' (channel:session for sessions_send), 'web-search'. "
    "Everything else is blocked.",
)
@click.option(
    "--policy-strict",
    is_flag=True,
    help="Turn the gate on in strict mode: also block every egress once the session read a "
    "credential file (fails closed).",
)
@click.option(
    "--policy-monitor",
    is_flag=True,
    help="Turn the gate on in monitor mode: decide and record as usual, block nothing; what it would "
    "have blocked is recorded with verdict 'warn' (try an allowlist before enforcing it).",
)
@click.option("--policy-off", is_flag=True, help="Turn the policy gate off (it is off unless asked for).")
@handle_errors
def openclaw_install_plugin(
    state_dir: Path | None,
    endpoint: str,
    policy_allow: tuple[str, ...],
    policy_strict: bool,
    policy_monitor: bool,
    policy_off: bool,
) -> None:
    """Install the clawtrace plugin into an OpenClaw state dir and enable it.

    Copies the plugin to STATE/clawtrace-plugin/, records ENDPOINT there, and adds
    plugins.load.paths, plugins.entries.clawtrace.enabled and
    plugins.entries.clawtrace.hooks.allowConversationAccess to the config (plain JSON only:
    for a JSON5 config it prints the keys to add and changes nothing). Run `clawtrace serve`
    to receive the spans; when it is down the plugin spools them and re-sends later.

    The --policy-* options write plugins.entries.clawtrace.config.policy; without them any
    policy already configured is kept.

    \b
    Example: clawtrace openclaw install-plugin --policy-allow '*.github.com' --policy-strict
    """
    from clawtrace.plugin_files import PluginInstallError, default_state_dir, install_plugin, make_policy

    try:
        policy = make_policy(policy_allow, strict=policy_strict, off=policy_off, monitor=policy_monitor)
    except PluginInstallError as e:
        raise click.UsageError(str(e)) from None
    got = install_plugin(state_dir or default_state_dir(), endpoint=endpoint, policy=policy)
    say(f"installed the clawtrace plugin in {got.plugin_dir} (posting to {got.endpoint})")
    say(f"config {got.config_path}: " + ("updated" if got.config_changed else "already had the plugin's keys"))
    if got.policy is not None:
        allowed = ", ".join(got.policy.get("allow") or []) or "nothing"
        modes = ",".join(m for m in ("strict" if got.policy.get("strict") else "", got.policy.get("mode") or "") if m)
        say(f"policy gate on{f' ({modes})' if modes else ''}: egress allowed to {allowed}")
    say("next: clawtrace serve   then run OpenClaw as usual")


@cli.group("config")
def config_() -> None:
    """Settings and where their values come from."""


@config_.command("show")
@format_option()
def config_show(fmt: str | None) -> None:
    """Print every setting, its resolved value and its origin."""
    rows = []
    for s in config.SETTINGS:
        v, origin = config.resolve(s.name)
        rows.append({"name": s.name, "value": v, "from": origin, "env": s.env, "doc": s.doc})
    _emit(rows, fmt)


def render_cli_docs() -> str:
    """The text of ``docs/cli.md``: every command's help, generated from the click tree."""
    out = [
        "# clawtrace command line",
        "",
        "Generated by `python -m clawtrace.cli docs > docs/cli.md`; a test fails when it is stale.",
        "",
    ]

    def walk(cmd: click.Command, path: list[str]) -> None:
        ctx = click.Context(
            cmd, info_name=" ".join(path), terminal_width=88, max_content_width=88, help_option_names=["-h", "--help"]
        )
        out.extend([f"## `{' '.join(path)}`", "", "```", cmd.get_help(ctx).rstrip(), "```", ""])
        if isinstance(cmd, click.Group):
            for name in sorted(cmd.commands):
                walk(cmd.commands[name], [*path, name])

    walk(cli, ["clawtrace"])
    return "\n".join(out)


def main() -> None:
    """Entry point of the ``clawtrace`` console script."""
    cli(prog_name="clawtrace")


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["docs"]:
        sys.stdout.write(render_cli_docs())
    else:
        main()
