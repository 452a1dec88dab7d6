"""Real OpenClaw with the clawtrace plugin's policy gate on, against `clawtrace serve`.

Three runs, each on a fresh store and state dir:

- allowlist: `install-plugin --policy-allow '*.example.com'`; the exfil-exec scenario reads
  notes.txt, then runs `curl --data-binary @~/.aws/credentials` to the sink on 127.0.0.1 (not
  allowed). The upload must never reach the sink, OpenClaw must report the call as blocked
  with the gate's reason, and the store must hold a policy.decision (block, rule allowlist)
  for that call in the same session, which `why` on the call shows and which makes `egress`
  say "blocked". Importing the state dir afterwards doubles nothing and keeps the verdict.
- strict: `--policy-allow 127.0.0.1 --policy-strict`; the strict-exfil scenario downloads from
  the sink (allowed, recorded), reads ~/.aws/credentials, then uploads notes.txt to the same
  allowed host: strict mode must block the upload, with a decision linked to the read.

- monitor: the allowlist run with `--policy-monitor`: the upload must reach the sink, with a
  decision (warn, rule allowlist) for the call and `egress` saying exfiltration, policy warn.

The gate-off control is tests/e2e/test_plugin_e2e.py (same scenario, the upload arrives).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import wait_for
from .scenarios import ScenarioRun
from .test_plugin_e2e import Serve, _ct, _json, run_with_plugin

pytestmark = pytest.mark.e2e


def _run(
    name: str,
    tmp_path_factory: pytest.TempPathFactory,
    openclaw_path: Callable[[str], str],
    *install_args: str,
    blocked: bool = True,
) -> Iterator[dict[str, Any]]:
    from .test_plugin_e2e import VERSION

    path = openclaw_path(VERSION)
    root = tmp_path_factory.mktemp(f"oc-policy-{name}{'' if blocked else '-monitor'}")
    db = root / "ct" / "store.duckdb"
    db.parent.mkdir()
    serve = Serve(db)
    try:
        sr = run_with_plugin(name, root / "run", path, serve, db, *install_args, egress_blocked=blocked)
        yield {"sr": sr, "db": db, "serve": serve}
    finally:
        serve.stop()


@pytest.fixture(scope="module")
def allowlist(
    tmp_path_factory: pytest.TempPathFactory, openclaw_path: Callable[[str], str]
) -> Iterator[dict[str, Any]]:
    yield from _run("exfil-exec", tmp_path_factory, openclaw_path, "--policy-allow", "*.example.com")


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory, openclaw_path: Callable[[str], str]) -> Iterator[dict[str, Any]]:
    yield from _run("strict-exfil", tmp_path_factory, openclaw_path, "--policy-allow", "127.0.0.1", "--policy-strict")


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory, openclaw_path: Callable[[str], str]) -> Iterator[dict[str, Any]]:
    yield from _run(
        "exfil-exec",
        tmp_path_factory,
        openclaw_path,
        "--policy-allow",
        "*.example.com",
        "--policy-monitor",
        blocked=False,
    )


def _decisions(db: Path, n: int) -> list[dict[str, Any]]:
    """The policy.decision events, once serve has stored at least n of them."""
    sql = (
        "SELECT event_id, session_id, tool_call_id, tool_name, summary, "
        "json_extract_string(attrs, '$.\"clawtrace.policy.verdict\"') AS verdict, "
        "json_extract_string(attrs, '$.\"clawtrace.policy.rule\"') AS rule, "
        "json_extract_string(attrs, '$.\"clawtrace.policy.reason\"') AS reason "
        "FROM events WHERE kind = 'policy.decision' ORDER BY ts"
    )
    got: list[dict[str, Any]] = []

    def ready() -> bool:
        nonlocal got
        got = list(_json(db, "query", sql))
        return len(got) >= n

    assert wait_for(ready, timeout=60), f"expected {n} policy decisions in the store, got {got}"
    return got


def _call(db: Path, tool_call_id: str) -> dict[str, Any]:
    rows = _json(
        db,
        "query",
        f"SELECT event_id, session_id FROM events WHERE kind = 'tool.call' AND tool_call_id = '{tool_call_id}'",
    )
    assert len(rows) == 1, rows
    return dict(rows[0])


def _blocked_result(sr: ScenarioRun, tool_call_id: str) -> str:
    """The tool result OpenClaw gave the model for the call (from the mock's request log)."""
    for req in sr.mock.requests:
        for m in req["body"].get("messages") or []:
            if m.get("role") == "tool" and m.get("tool_call_id", "").replace("_", "") == tool_call_id.replace("_", ""):
                c = m.get("content")
                return c if isinstance(c, str) else json.dumps(c)
    raise AssertionError(f"the model never saw a result for {tool_call_id}: {sr.mock.replies}")


def test_allowlist_blocks_the_upload(allowlist: dict[str, Any]) -> None:
    sr: ScenarioRun = allowlist["sr"]
    db: Path = allowlist["db"]
    cfg = json.loads(sr.run.config_path.read_text())
    assert cfg["plugins"]["entries"]["clawtrace"]["config"]["policy"] == {
        "enabled": True,
        "allow": ["*.example.com"],
        "strict": False,
    }
    assert [r["name"] for r in sr.mock.replies if r["kind"] == "tool"] == ["read", "exec"]
    assert sr.sink.posts() == [], "the upload reached the sink: the gate did not block it"
    seen = _blocked_result(sr, "call_exec_2")
    assert "clawtrace policy gate" in seen and "not in the egress allowlist" in seen, seen

    decisions = _decisions(db, 1)
    assert [(d["tool_call_id"], d["verdict"], d["rule"]) for d in decisions] == [("call_exec_2", "block", "allowlist")]
    d = decisions[0]
    call = _call(db, "call_exec_2")
    assert d["session_id"] == call["session_id"] and d["session_id"]
    assert f"127.0.0.1:{sr.sink_port}" in d["summary"] and "not in the egress allowlist" in d["reason"]

    chain = _json(db, "why", call["event_id"])
    assert d["event_id"] in {e["event_id"] for e in chain["events"]}, json.dumps(chain, indent=1)[:4000]
    assert {"src": d["event_id"], "dst": call["event_id"], "kind": "effect"} in [
        {k: e[k] for k in ("src", "dst", "kind")} for e in chain["edges"]
    ]
    egress = [e for e in _json(db, "egress") if e["destination"] == f"127.0.0.1:{sr.sink_port}"]
    assert [e["verdict"] for e in egress] == ["blocked"], egress
    assert any((c["artifact"] or "").endswith("/.aws/credentials") for c in egress[0]["carried"]), egress

    # the on-disk evidence merges: nothing doubled, the verdict stays
    before = _json(db, "query", "SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind")
    allowlist["serve"].stop()
    r = _ct(db, "import", "openclaw", str(sr.state))
    assert r.returncode == 0, r.stderr[-4000:]
    after = {x["kind"]: x["n"] for x in _json(db, "query", "SELECT kind, count(*) AS n FROM events GROUP BY kind")}
    for x in before:
        if x["kind"] in ("tool.call", "tool.result", "policy.decision", "net.egress"):
            assert after[x["kind"]] == x["n"], (before, after)
    egress = [e for e in _json(db, "egress") if e["destination"] == f"127.0.0.1:{sr.sink_port}"]
    assert [e["verdict"] for e in egress] == ["blocked"], egress


def test_strict_blocks_egress_after_a_credential_read(strict: dict[str, Any]) -> None:
    sr: ScenarioRun = strict["sr"]
    db: Path = strict["db"]
    assert [r["name"] for r in sr.mock.replies if r["kind"] == "tool"] == ["exec", "read", "exec"]
    assert len(sr.sink.gets("/notes")) == 1, "the allowed download did not reach the sink"
    assert sr.sink.posts() == [], "the upload after the credential read reached the sink"
    seen = _blocked_result(sr, "call_exec_3")
    assert "strict mode" in seen and ".aws/credentials" in seen, seen

    decisions = _decisions(db, 2)
    assert [(d["tool_call_id"], d["verdict"], d["rule"]) for d in decisions] == [
        ("call_exec_1", "allow", "allowlist:127.0.0.1"),
        ("call_exec_3", "block", "strict:sensitive-read"),
    ]
    call = _call(db, "call_exec_3")
    assert {d["session_id"] for d in decisions} == {call["session_id"]}
    read = _json(
        db, "query", "SELECT event_id, artifact FROM events WHERE kind = 'file.read' AND tool_call_id = 'call_read_2'"
    )
    assert len(read) == 1 and read[0]["artifact"].endswith("/.aws/credentials"), read
    chain = _json(db, "why", call["event_id"])
    ids = {e["event_id"] for e in chain["events"]}
    assert decisions[1]["event_id"] in ids and read[0]["event_id"] in ids, json.dumps(chain, indent=1)[:4000]
    edges = [(e["src"], e["dst"], e["kind"]) for e in chain["edges"]]
    assert (decisions[1]["event_id"], call["event_id"], "effect") in edges
    assert (read[0]["event_id"], decisions[1]["event_id"], "consumed") in edges
    assert read[0]["event_id"] in [e["event_id"] for e in chain["sensitive_sources"]]
    verdicts = {e["url"]: e["verdict"] for e in _json(db, "egress")}
    assert verdicts.get(f"http://127.0.0.1:{sr.sink_port}/collect") == "blocked", verdicts
    assert verdicts.get(f"http://127.0.0.1:{sr.sink_port}/notes") != "blocked", verdicts


def test_monitor_mode_lets_the_upload_through_and_records_a_warn(monitor: dict[str, Any]) -> None:
    sr: ScenarioRun = monitor["sr"]
    db: Path = monitor["db"]
    cfg = json.loads(sr.run.config_path.read_text())
    assert cfg["plugins"]["entries"]["clawtrace"]["config"]["policy"]["mode"] == "monitor"
    assert sr.sink.posts(), "monitor mode blocked the upload"
    decisions = _decisions(db, 1)
    assert [(d["tool_call_id"], d["verdict"], d["rule"]) for d in decisions] == [("call_exec_2", "warn", "allowlist")]
    assert decisions[0]["reason"].startswith("Monitor mode, not enforced:"), decisions[0]["reason"]

    def egress_row() -> list[dict[str, Any]]:
        return [e for e in _json(db, "egress") if e["destination"] == f"127.0.0.1:{sr.sink_port}"]

    assert wait_for(lambda: bool(egress_row()), timeout=60)
    rows = egress_row()
    assert [(e["verdict"], e["policy"]) for e in rows] == [("exfiltration", "warn")], rows
