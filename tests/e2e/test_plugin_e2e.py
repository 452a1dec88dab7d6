"""Real OpenClaw with the clawtrace plugin posting live to `clawtrace serve`, then the importer.

`clawtrace serve --port 0` runs on a fresh store; `clawtrace openclaw install-plugin` installs
the plugin into the harness's state dir (pointing at serve); the exfil-exec scenario runs; while
serve still runs, `egress` and `why` on its snapshot must show the chain from the live spans.
Then serve stops, `clawtrace import openclaw` reads the same state dir into the same store, and
the tool calls must not be doubled: the plugin's tool.call events and the importer's share ids.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import scenarios
from .harness import OpenClawRun, wait_for
from .scenarios import ScenarioRun, run_scenario

pytestmark = pytest.mark.e2e

VERSION = "2026.9.6"


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWTRACE_")}
    env["CLAWTRACE_HOME"] = str(db.parent / "clawtrace-home")
    return env


def _ct(db: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clawtrace", "--db", str(db), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(db),
        cwd=db.parent,
    )


def _json(db: Path, *args: str) -> Any:
    r = _ct(db, *args, "--format", "json")
    assert r.returncode == 0, f"clawtrace {' '.join(args)} exited {r.returncode}: {r.stderr[-3000:]}"
    return json.loads(r.stdout)


class Serve:
    def __init__(self, db: Path) -> None:
        self.db = db
        self.log = db.parent / "serve.stderr.log"
        self._err = open(self.log, "wb")  # noqa: SIM115 -- closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clawtrace", "--db", str(db), "serve", "--port", "0"],
            env=_env(db),
            cwd=db.parent,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
        )
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            assert self.proc.poll() is None, f"clawtrace serve exited {self.proc.returncode}: {self.text()}"
            m = re.search(r"listening on (http://\S+)", self.text())
            if m:
                url = m.group(1).rstrip("/")
            else:
                time.sleep(0.1)
        assert url, f"clawtrace serve did not report its address: {self.text()}"
        self.url = url
        self.traces = url + "/v1/traces"

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._err.close()


def _tool_call_ids(db: Path) -> list[tuple[str, str, str]]:
    rows = _json(db, "query", "SELECT event_id, tool_call_id, source FROM events WHERE kind = 'tool.call' ORDER BY ts")
    return [(r["event_id"], r["tool_call_id"], r["source"]) for r in rows]


def with_plugin(serve: Serve, db: Path, *install_args: str) -> type[OpenClawRun]:
    """An OpenClawRun whose config gets the plugin from `clawtrace openclaw install-plugin`."""

    class WithPlugin(OpenClawRun):
        def write_config(self) -> None:
            super().write_config()
            r = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "clawtrace",
                    "openclaw",
                    "install-plugin",
                    "--state-dir",
                    str(self.state),
                    "--endpoint",
                    serve.traces,
                    *install_args,
                ],
                check=False,
                capture_output=True,
                text=True,
                timeout=60,
                env={**_env(db), **self.env()},
            )
            assert r.returncode == 0, f"install-plugin exited {r.returncode}: {r.stderr}"

    return WithPlugin


def run_with_plugin(
    name: str,
    root: Path,
    path: str,
    serve: Serve,
    db: Path,
    *install_args: str,
    egress_blocked: bool = False,
    via_gateway: bool = False,
) -> ScenarioRun:
    """Run scenario `name` in real OpenClaw with the plugin installed (posting to `serve`)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(scenarios, "OpenClawRun", with_plugin(serve, db, *install_args))
    try:
        return run_scenario(
            name, root=root, version=VERSION, path_prefix=path, egress_blocked=egress_blocked, via_gateway=via_gateway
        )
    finally:
        mp.undo()


@pytest.fixture(scope="module", params=[False, True], ids=["local", "gateway"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, openclaw_path: Callable[[str], str]
) -> Iterator[dict[str, Any]]:
    """The plugin in an embedded (`agent --local`) run, and in a Gateway serving `openclaw agent`."""
    path = openclaw_path(VERSION)
    root = tmp_path_factory.mktemp("oc-plugin")
    db = root / "ct" / "store.duckdb"
    db.parent.mkdir()
    serve = Serve(db)
    sr = run_with_plugin("exfil-exec", root / "run", path, serve, db, via_gateway=request.param)
    try:
        yield {"sr": sr, "db": db, "serve": serve}
    finally:
        serve.stop()


def _egress_rows(db: Path) -> list[dict[str, Any]]:
    return list(_json(db, "egress"))


def test_plugin_installed_and_loaded(live: dict[str, Any]) -> None:
    sr: ScenarioRun = live["sr"]
    cfg = json.loads(sr.run.config_path.read_text())
    entry = cfg["plugins"]["entries"]["clawtrace"]
    assert entry["enabled"] is True and entry["hooks"]["allowConversationAccess"] is True
    assert str(sr.state / "clawtrace-plugin") in cfg["plugins"]["load"]["paths"]
    assert sr.sink.posts(), "the scenario's exfiltration did not reach the sink"


def test_live_chain_while_serving(live: dict[str, Any]) -> None:
    db: Path = live["db"]
    sr: ScenarioRun = live["sr"]
    # serve commits spool batches in the background: wait for the exec's egress to be readable
    got: list[dict[str, Any]] = []

    def ready() -> bool:
        nonlocal got
        got = [e for e in _egress_rows(db) if str(sr.sink_port) in json.dumps(e)]
        return bool(got)

    assert wait_for(ready, timeout=60), (
        f"no live egress to the sink: {_egress_rows(db)}\nserve: {live['serve'].text()[-3000:]}\n"
        f"spool: {list((sr.state / 'clawtrace-plugin').rglob('*'))}"
    )
    eg = got[0]
    text = json.dumps(eg)
    assert "/collect" in text
    chain = _json(db, "why", eg["event_id"])
    kinds = (
        {n["kind"] for n in chain["nodes"]}
        if "nodes" in chain
        else set(re.findall(r'"kind": "([a-z.]+)"', json.dumps(chain)))
    )
    assert "tool.call" in kinds and "model.turn" in kinds, json.dumps(chain, indent=1)[:4000]
    calls = _tool_call_ids(db)
    assert {c[1] for c in calls} >= {"call_read_1", "call_exec_2"} or len(calls) == 2, calls
    assert all(c[2] == "otlp" for c in calls), calls


def _by_kind(db: Path) -> dict[tuple[str, str], int]:
    """(kind, tool call id) -> count, for what both the plugin and the importer record."""
    rows = _json(
        db,
        "query",
        "SELECT kind, coalesce(tool_call_id, '') AS c, count(*) AS n FROM events "
        "WHERE kind IN ('tool.call', 'tool.result', 'model.turn', 'input.message', 'process.exec', "
        "'net.egress', 'file.read', 'policy.decision') AND (kind <> 'file.read' OR tool_call_id IS NOT NULL) "
        "GROUP BY ALL",
    )
    return {(r["kind"], r["c"]): int(r["n"]) for r in rows}


def _chain_ids(db: Path, event_id: str) -> set[str]:
    chain = _json(db, "why", event_id)
    return {e["event_id"] for e in chain["events"]} | {chain["target"]["event_id"]}


def test_import_merges_with_live(live: dict[str, Any]) -> None:
    """The importer's view of the same run lands on the live events: tool calls, results,
    effects (paths keyed home-relative, relative paths on the session's workspace), model
    turns (run + rank) and the run's prompt; one session; the same chain for the egress."""
    db: Path = live["db"]
    sr: ScenarioRun = live["sr"]
    assert wait_for(lambda: len(_tool_call_ids(db)) >= 2, timeout=60)
    live["serve"].stop()
    before = _by_kind(db)
    egress = next(e for e in _egress_rows(db) if str(sr.sink_port) in json.dumps(e))
    live_chain = _chain_ids(db, egress["event_id"])
    r = _ct(db, "import", "openclaw", str(sr.state))
    assert r.returncode == 0, f"import exited {r.returncode}: {r.stderr[-4000:]}"
    after = _by_kind(db)
    assert after == before, f"doubled or lost:\nlive   {sorted(before.items())}\nimport {sorted(after.items())}"
    assert before[("model.turn", "")] == 3 and before[("input.message", "")] == 1, before
    sessions = _json(db, "sessions")
    assert len(sessions) == 1 and set(sessions[0]["source"].split(",")) == {"otlp", "openclaw-transcript"}, sessions
    merged_chain = _chain_ids(db, egress["event_id"])
    assert live_chain <= merged_chain, live_chain - merged_chain
    # The importer adds what only the disk holds (files OpenClaw injected into the prompt),
    # not second copies of what the plugin saw.
    extra = _json(db, "query", "SELECT kind, artifact FROM events WHERE source = 'openclaw-transcript'")
    assert all(e["kind"] in ("file.read", "memory.read") and not e.get("tool_call_id") for e in extra), extra
    # The relative read of notes.txt was resolved on the session's workspace, live.
    reads = _json(db, "query", "SELECT artifact FROM events WHERE kind = 'file.read' AND tool_call_id = 'call_read_1'")
    assert [x["artifact"] for x in reads] == [(sr.run.workspace / "notes.txt").resolve().as_uri()], reads


def _consumed_by_turn(db: Path) -> list[tuple[str, list[str]]]:
    """Each model turn (oldest first) with the summaries of what it consumed."""
    rows = _json(
        db,
        "query",
        "SELECT d.event_id AS turn, d.ts AS ts, list(s.summary ORDER BY s.ts) AS consumed "
        "FROM events d LEFT JOIN edges e ON e.dst = d.seq AND e.kind = 'consumed' LEFT JOIN events s ON s.seq = e.src "
        "WHERE d.kind = 'model.turn' GROUP BY ALL ORDER BY d.ts",
    )
    return [(r["turn"], [c for c in r["consumed"] if c]) for r in rows]


def test_compaction_in_a_gateway_keeps_the_chain_live_and_on_disk(
    tmp_path: Path, openclaw_path: Callable[[str], str]
) -> None:
    """A Gateway keeps the plugin, and each session's context, across runs. After `openclaw
    sessions compact`, the next run's turn still consumes the compacted prompt live (its
    summary still steers the model); the importer then adds the compaction's summary as the
    message that consumed the prompt and that the later turn consumed."""
    from .harness import MockModel, Script, ToolStep

    path = openclaw_path(VERSION)
    db = tmp_path / "ct" / "store.duckdb"
    db.parent.mkdir()
    serve = Serve(db)
    key = "agent:main:main"
    try:
        with MockModel(
            [Script("first task", [ToolStep("read", {"path": "notes.txt"}, "call_read_c1")]), Script("second task", [])]
        ) as mock:
            run = with_plugin(serve, db)(tmp_path / "run", version=VERSION, path_prefix=path, mock=mock)
            (run.workspace / "notes.txt").write_text("release checklist: tag, build, publish\n")
            with run.gateway():
                run.agent("first task: read notes.txt", key, local=False).check()
                compact = run.openclaw("sessions", "compact", key, timeout=300)
                assert "Compacted" in compact.stdout, compact.stdout
                run.agent("second task: say hello", key, local=False).check()
        assert wait_for(lambda: len(_consumed_by_turn(db)) >= 3, timeout=60), f"serve: {serve.text()[-3000:]}"
    finally:
        serve.stop()
    live = _consumed_by_turn(db)
    last_turn, last = live[-1]
    assert any("second task" in c for c in last) and any("first task" in c for c in last), live

    r = _ct(db, "import", "openclaw", str(run.state))
    assert r.returncode == 0, f"import exited {r.returncode}: {r.stderr[-4000:]}"
    summary = _json(db, "query", "SELECT event_id FROM events WHERE summary LIKE 'compaction:%'")
    assert len(summary) == 1, summary
    merged = dict(_consumed_by_turn(db))
    assert any(c.startswith("compaction:") for c in merged[last_turn]), merged[last_turn]
    into = _json(
        db,
        "query",
        "SELECT s.summary FROM edges x JOIN events s ON s.seq = x.src JOIN events d ON d.seq = x.dst "
        f"WHERE x.kind = 'consumed' AND d.event_id = '{summary[0]['event_id']}'",
    )
    assert any("first task" in x["summary"] for x in into), into
