"""`clawtrace import openclaw` on real OpenClaw evidence (tests/data/openclaw/<version>/<scenario>/).

The e2e suite (tests/e2e, needs OpenClaw installed) asserts the same chains against fresh
runs; these run on the committed evidence of such runs, everywhere. Each fixture is copied
first (minus stray ``-shm`` files, which are not part of the evidence), and the copy must be
byte-identical after the import.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from clawtrace.graph import egress, why
from clawtrace.ingest.openclaw import ImportSummary, import_openclaw
from clawtrace.store import Store, ingest

DATA = Path(__file__).parent / "data" / "openclaw"
CASES = sorted(str(p.relative_to(DATA)) for p in DATA.glob("*/*") if (p / "ground_truth.json").is_file())
pytestmark = pytest.mark.skipif(not CASES, reason="no real OpenClaw fixtures")


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    src = DATA / request.param
    dst = tmp_path / "fixture"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*-shm"))
    return dst, json.loads((src / "ground_truth.json").read_text())


def checksums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _import(db: Path, state: Path) -> ImportSummary:
    with Store.open(db) as st:
        return import_openclaw(state, lambda b: ingest(st, b, source="openclaw"))


def _sessions(gt: dict[str, Any]) -> list[str]:
    out = []
    for r in gt["agent_json"]:
        meta = r.get("meta") or (r.get("result") or {}).get("meta") or {}
        out.append(meta["agentMeta"]["sessionId"])
    return out


def test_real_evidence_imports_cleanly_and_idempotently(case: tuple[Path, dict[str, Any]], db: Path) -> None:
    root, gt = case
    before = checksums(root)
    s = _import(db, root / "state")
    assert checksums(root) == before
    assert s.problems == []
    assert s.sessions == len(_sessions(gt)) and s.events > 10
    replies = [r for r in gt["model_replies"] if r["kind"] == "tool"]
    assert s.tool_calls == len(replies)
    with Store.open(db, read_only=True) as st:
        _, calls = st.sql("SELECT tool_call_id, tool_name FROM events WHERE kind = 'tool.call' ORDER BY ts")
        _, sess = st.sql("SELECT session_id, agent_id FROM sessions")
    assert [(c[0], c[1]) for c in calls] == [(r["id"], r["name"]) for r in replies]
    assert {r[0] for r in sess} == set(_sessions(gt)) and {r[1] for r in sess} == {"main"}
    again = _import(db, root / "state")
    assert again.events == 0 and again.edges == 0


def test_real_evidence_chains(case: tuple[Path, dict[str, Any]], db: Path) -> None:
    root, gt = case
    _import(db, root / "state")
    scenario = gt["scenario"]
    port = gt["sink_port"]
    sids = _sessions(gt)
    with Store.open(db, read_only=True) as st:
        eg = egress(st)
        sink = [e for e in eg if e["destination"] == f"127.0.0.1:{port}"]
        if scenario == "benign":
            assert [e for e in eg if e["verdict"] != "ok"] == []
            _, kinds = st.sql("SELECT DISTINCT kind FROM events")
            assert not {"net.egress", "net.fetch"} & {k[0] for k in kinds}
            return
        assert len(sink) == 1 and sink[0]["verdict"] == "exfiltration"
        e = sink[0]
        assert e["session_id"] == sids[-1] and e["url"] == gt["collect_url"]
        assert any(str(c["artifact"]).endswith("/.aws/credentials") for c in e["carried"])
        w = why(st, e["event_id"]).as_dict()
    assert any(
        str(s["artifact"]).endswith("/.aws/credentials") and s["sensitivity"] == "credential"
        for s in w["sensitive_sources"]
    )
    if gt.get("page_url"):
        page = gt["page_url"].rstrip("/")
        assert any(
            r["kind"] == "net.fetch"
            and r["trust"] == "untrusted"
            and r["artifact"] == page
            and r["session_id"] == sids[0]
            for r in w["root_causes"]
        ), w["root_causes"]
    if scenario == "memory":
        ev = {x["event_id"]: x for x in w["events"]}
        links = [ed for ed in w["edges"] if ed["kind"] == "wrote_read"]
        assert any(
            ev[ed["src"]]["session_id"] == sids[0]
            and ev[ed["dst"]]["session_id"] == sids[1]
            and ev[ed["src"]]["artifact"].endswith("MEMORY.md")
            for ed in links
        )


def test_audit_ledger_of_a_gateway_run_joins_every_tool_call(db: Path, tmp_path: Path) -> None:
    src = DATA / "2026.9.6" / "injection"
    if not src.is_dir():
        pytest.skip("no gateway fixture")
    dst = tmp_path / "gw"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*-shm"))
    _import(db, dst / "state")
    with Store.open(db, read_only=True) as st:
        _, rows = st.sql("SELECT tool_call_id, attrs, trace_id FROM events WHERE kind = 'tool.call'")
    assert rows
    for tcid, attrs, trace in rows:
        audit = json.loads(attrs)["openclaw.audit.rows"]
        assert [a["action"] for a in audit] == ["tool.action.started", "tool.action.finished"], tcid
        assert trace and len(trace) == 32  # from the gateway log


# ----------------------------------------------------------------- export-trajectory bundles

BUNDLE = Path(__file__).parent / "data" / "openclaw-bundles" / "2026.9.6-exfil-exec"
"""`openclaw sessions export-trajectory` of the exfil-exec scenario (sink on 127.0.0.1:46377),
left where OpenClaw writes it: ``<workspace>/.openclaw/trajectory-exports/bundle``."""


def test_export_bundle_imports_the_incident(tmp_path: Path, db: Path) -> None:
    root = tmp_path / "b"
    shutil.copytree(BUNDLE, root)
    bundle = root / "workspace" / ".openclaw" / "trajectory-exports" / "bundle"
    before = checksums(root)
    s = _import(db, bundle)
    assert checksums(root) == before
    assert s.sessions == 1 and s.tool_calls == 2 and s.egress == 1, s
    assert s.problems == []
    with Store.open(db, read_only=True) as st:
        (e,) = egress(st)
        assert e["destination"] == "127.0.0.1:46377" and e["verdict"] == "exfiltration"
        assert [c["artifact"] for c in e["carried"]] == ["file://~/.aws/credentials"]
        # The bundle writes the workspace as $WORKSPACE_DIR; it is put back from where the
        # bundle sits, so the relative read of notes.txt is the workspace's file.
        reads = st.sql(
            "SELECT artifact, agent_id FROM events WHERE kind = 'file.read' AND tool_call_id = 'call_read_1'"
        )[1]
        assert reads == [((root / "workspace" / "notes.txt").resolve().as_uri(), "main")]
        chain = why(st, e["event_id"]).as_dict()
        assert any(x["kind"] == "tool.call" and x["tool_name"] == "exec" for x in chain["events"]), chain["events"]
        assert [s["artifact"] for s in chain["sensitive_sources"] if s["carried"]] == ["file://~/.aws/credentials"]
    # Twice: nothing new.
    assert _import(db, bundle).events == 0


def test_export_bundle_moved_elsewhere_keeps_the_placeholder(tmp_path: Path, db: Path) -> None:
    src = BUNDLE / "workspace" / ".openclaw" / "trajectory-exports" / "bundle"
    moved = tmp_path / "handed-over"
    shutil.copytree(src, moved)
    s = _import(db, moved)
    assert s.egress == 1 and s.problems == []
    with Store.open(db, read_only=True) as st:
        (art,) = st.sql("SELECT artifact FROM events WHERE kind = 'file.read' AND tool_call_id = 'call_read_1'")[1][0]
    assert "WORKSPACE_DIR" in art and art.endswith("/notes.txt"), art


def test_export_bundle_with_a_garbled_line_imports_the_rest(tmp_path: Path, db: Path) -> None:
    src = BUNDLE / "workspace" / ".openclaw" / "trajectory-exports" / "bundle"
    bad = tmp_path / "bad"
    shutil.copytree(src, bad)
    lines = (bad / "events.jsonl").read_text().splitlines()
    lines.insert(3, '{"traceSchema": "openclaw-trajectory", "source": "transcript", "type": "user.mes')
    (bad / "events.jsonl").write_text("\n".join(lines) + "\n")
    s = _import(db, bad)
    assert s.egress == 1
    assert any("events.jsonl:4" in p for p in s.problems), s.problems


def _mask_session(bundle: Path) -> tuple[str, str]:
    """Mask a bundle's session id everywhere, as OpenClaw's export sometimes writes it
    (``f1ac780e-1a32-4a78-86***``); the real id and the masked one."""
    real = json.loads((bundle / "manifest.json").read_text())["sessionId"]
    masked = real[:21] + "***"
    for f in bundle.iterdir():
        f.write_text(f.read_text().replace(real, masked))
    return real, masked


def test_a_bundle_with_a_masked_session_id_joins_its_session_in_the_store(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from clawtrace.cli import cli

    def run(db: Path, bundle: Path) -> str:
        r = CliRunner().invoke(cli, ["--db", str(db), "import", "openclaw", str(bundle)])
        assert r.exit_code == 0, r.output
        return r.stderr

    def sessions(db: Path) -> list[str]:
        with Store.open(db, read_only=True) as st:
            return [x[0] for x in st.sql("SELECT session_id FROM sessions")[1]]

    shutil.copytree(BUNDLE, tmp_path / "b")
    bundle = tmp_path / "b" / "workspace" / ".openclaw" / "trajectory-exports" / "bundle"
    merged = tmp_path / "merged.duckdb"
    run(merged, bundle)  # the unmasked evidence of the session first
    with Store.open(merged, read_only=True) as st:
        before = st.sql("SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind")[1]
    real, masked = _mask_session(bundle)
    # Alone: nothing to match it to, so it stays under the id OpenClaw wrote, and says so.
    alone = tmp_path / "alone.duckdb"
    assert f"masked the session id as {masked!r}; imported under the masked id" in run(alone, bundle)
    assert sessions(alone) == [masked]
    # Into the store that knows the session: it joins it, nothing doubled.
    err = run(merged, bundle)
    assert f"matched to session {real}" in err and "0 new events" in err, err
    with Store.open(merged, read_only=True) as st:
        assert st.sql("SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind")[1] == before
    assert sessions(merged) == [real]


# ----------------------------------------------------------------- execution receipts

RECEIPT_FAMILY = {"read": "data", "write": "data", "edit": "data", "exec": "tool", "web_fetch": "tool"}


def _receipt_case(tmp_path: Path, name: str = "memory") -> Path:
    dst = tmp_path / name
    shutil.copytree(DATA / "2026.9.6" / name, dst, ignore=shutil.ignore_patterns("*-shm"))
    return dst


def _calls(db: Path) -> list[tuple[Any, ...]]:
    with Store.open(db, read_only=True) as st:
        return st.sql(
            "SELECT tool_name, run_id, json_extract_string(attrs, '$.\"openclaw.receipt\".family'), "
            "json_extract_string(attrs, '$.\"openclaw.receipt\".outcome') FROM events WHERE kind = 'tool.call' ORDER BY ts"
        )[1]


def test_execution_receipts_are_paired_with_the_runs_tool_calls(tmp_path: Path, db: Path) -> None:
    """`--local` runs leave the audit ledger empty but write execution_decision_facts: one
    receipt per tool action, no tool call id. Paired in order, each call gets the receipt
    of its own kind of action."""
    root = _receipt_case(tmp_path)
    s = _import(db, root / "state")
    assert s.problems == []
    calls = _calls(db)
    assert [c[0] for c in calls] == ["web_fetch", "write", "read", "exec"]
    for tool, _run, family, outcome in calls:
        assert family == RECEIPT_FAMILY[tool], calls
        assert outcome == "allowed"


def _facts(root: Path) -> sqlite3.Connection:
    return sqlite3.connect(root / "state" / "state" / "openclaw.sqlite")


def test_receipts_without_tool_calls_are_reported_as_tampering(tmp_path: Path, db: Path) -> None:
    root = _receipt_case(tmp_path)
    with _facts(root) as con:
        run = con.execute(
            "SELECT run_id FROM execution_decision_facts WHERE owner = 'tool-action' ORDER BY occurred_at DESC LIMIT 1"
        ).fetchone()[0]
        row = con.execute(
            "SELECT * FROM execution_decision_facts WHERE run_id = ? AND owner = 'tool-action' LIMIT 1", (run,)
        ).fetchone()
        cols = len(row)
        extra = ("tool-action:extra-1", *row[1:])
        ghost = ("tool-action:ghost-1", row[1], row[2], "ghost-run", *row[4:])
        con.executemany(f"INSERT INTO execution_decision_facts VALUES ({', '.join('?' * cols)})", [extra, ghost])
    s = _import(db, root / "state")
    missing = [p for p in s.problems if run in p and "1 missing (tampering or loss)" in p]
    assert missing, s.problems
    assert any("ghost-run" in p and "no transcript tool calls" in p for p in s.problems), s.problems
    assert len(_calls(db)) == 4  # nothing invented, nothing dropped


def test_a_denied_receipt_is_a_policy_decision_of_its_call(tmp_path: Path, db: Path) -> None:
    root = _receipt_case(tmp_path, "exfil-exec")
    with _facts(root) as con:
        con.execute(
            "UPDATE execution_decision_facts SET decision_outcome = 'denied', reason_code = 'exec_not_allowed' "
            "WHERE owner = 'tool-action' AND action_family = 'tool'"
        )
    s = _import(db, root / "state")
    assert s.problems == []
    with Store.open(db, read_only=True) as st:
        rows = st.sql(
            "SELECT d.summary, c.tool_name, e.kind FROM events d "
            "JOIN edges e ON e.dst = d.seq JOIN events c ON c.seq = e.src "
            "WHERE d.kind = 'policy.decision'"
        )[1]
    assert rows == [("OpenClaw denied exec: exec_not_allowed", "exec", "effect")], rows
