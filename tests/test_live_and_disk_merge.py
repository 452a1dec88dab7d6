"""A session seen live (OTLP spans, e.g. from the OpenClaw plugin) and on disk (OpenClaw's
transcript) is one session: the same tool call, result and effect become the same events."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from clawtrace import semconv as sc
from clawtrace.cli import cli
from clawtrace.ingest.otlp import OtlpSpan, spans_to_batch
from clawtrace.store import Store, ingest

FIXTURE = Path(__file__).resolve().parent / "data" / "openclaw" / "2026.9.6" / "exfil-exec"


def _imported(tmp_path: Path) -> Path:
    """A store holding the import of a copy of the real exfil-exec evidence."""
    state = tmp_path / "state"
    shutil.copytree(FIXTURE / "state", state)
    db = tmp_path / "m.duckdb"
    r = CliRunner().invoke(cli, ["--db", str(db), "import", "openclaw", str(state), "-q"])
    assert r.exit_code == 0, r.stderr
    return db


def test_live_spans_merge_into_the_imported_session(tmp_path: Path) -> None:
    db = _imported(tmp_path)
    with Store.open(db) as store:
        rows = store.sql(
            "SELECT session_id, tool_call_id, kind, artifact, ts FROM events "
            "WHERE tool_name = 'exec' AND kind IN ('tool.call', 'tool.result') OR (kind = 'net.egress') ORDER BY kind"
        )[1]
        calls = {k: (s, c, a, ts) for s, c, k, a, ts in rows}
        session, call_id, _, _ = calls["tool.call"]
        egress_artifact = calls["net.egress"][2]
        before = store.counts()["events"]
        t0 = 1_795_650_711_951_000_000
        attrs = {sc.SESSION_ID: session, sc.AGENT_ID: "main", sc.TOOL_CALL_ID: call_id, sc.TOOL_NAME: "exec"}

        def span(n: int, kind: str, extra: dict[str, object], parent: str | None) -> OtlpSpan:
            return OtlpSpan(
                trace_id="ab" * 16,
                span_id=f"{n:016x}",
                parent_span_id=parent,
                name=sc.span_name(kind),
                start_ns=t0 + n,
                end_ns=t0 + n + 1,
                attrs={**attrs, **extra},
                resource={},
                scope="openclaw-plugin",
                links=[],
            )

        live = [
            span(1, "tool.call", {}, None),
            span(2, "net.egress", {sc.ARTIFACT_URI: egress_artifact}, f"{1:016x}"),
            span(3, "tool.result", {}, f"{1:016x}"),
        ]
        result = ingest(store, spans_to_batch(live))
        assert (result.events, result.skipped) == (0, 3)
        assert store.counts()["events"] == before
        sessions = store.sql("SELECT count(*) FROM sessions WHERE session_id = $s", {"s": session})[1][0][0]
        assert sessions == 1


def test_plugin_spans_of_a_whole_run_land_on_the_imported_events(tmp_path: Path) -> None:
    """What the OpenClaw plugin sends for the exfil-exec run (prompt, model turns by call id,
    the calls' effects with the agent's home expanded, an exec with no artifact) keys onto
    the events the importer made from the transcript: nothing new is stored."""
    gt = json.loads((FIXTURE / "ground_truth.json").read_text())
    db = _imported(tmp_path)
    with Store.open(db) as store:
        (session, run), *_ = store.sql(
            "SELECT session_id, run_id FROM events WHERE kind = 'model.turn' AND run_id IS NOT NULL"
        )[1]
        turns = store.sql("SELECT count(*) FROM events WHERE kind = 'model.turn'")[1][0][0]
        before = store.counts()["events"]
        base = {sc.SESSION_ID: session, sc.AGENT_ID: "main", sc.RUN_ID: run}
        resource = {"service.name": "openclaw", sc.COLLECTOR: "openclaw-plugin/0.1.0", sc.AGENT_HOME: gt["home"]}
        t0 = 1_795_650_711_951_000_000

        def span(n: int, kind: str, extra: dict[str, object]) -> OtlpSpan:
            return OtlpSpan(
                trace_id="cd" * 16, span_id=f"{n:016x}", parent_span_id=None, name=sc.span_name(kind),
                start_ns=t0 + n, end_ns=t0 + n + 1, attrs={**base, **extra}, resource=resource,
                scope="clawtrace.openclaw-plugin", links=[],
            )  # fmt: skip

        read = {sc.TOOL_CALL_ID: "call_read_1", sc.TOOL_NAME: "read"}
        exe = {sc.TOOL_CALL_ID: "call_exec_2", sc.TOOL_NAME: "exec"}
        live = [
            span(1, "input.message", {sc.OPENCLAW_PROMPT: True, sc.CONTENT_TEXT: "[Thu] Read notes.txt and sync"}),
            *[span(1 + n, "model.turn", {sc.OPENCLAW_MODEL_CALL: f"{run}:model:{n}"}) for n in range(1, turns + 1)],
            span(10, "file.read", {**read, sc.FILE_PATH: f"{gt['workspace']}/notes.txt"}),
            span(11, "process.exec", {**exe, sc.PROCESS_WORKING_DIRECTORY: gt["workspace"]}),
            span(12, "file.read", {**exe, sc.FILE_PATH: f"{gt['home']}/.aws/credentials"}),
        ]
        result = ingest(store, spans_to_batch(live))
        assert (result.events, result.skipped) == (0, len(live)), result
        assert store.counts()["events"] == before
