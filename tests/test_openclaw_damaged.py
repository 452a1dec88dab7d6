"""Damaged or hostile OpenClaw evidence: values of the wrong type, impossible timestamps, and
random mutations of the real OpenClaw fixtures of both eras. The import must never raise,
never lose a session over one bad entry, report each problem, and leave a store that verifies.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawtrace.ingest.openclaw import import_openclaw
from clawtrace.ingest.openclaw._transcript import parse_ts
from clawtrace.store import Store, ingest, verify
from tests.test_openclaw_import import Tx

FIXTURES = Path(__file__).resolve().parent / "data" / "openclaw"
SCENARIOS = sorted(p for v in ("2026.7.1", "2026.9.6") for p in (FIXTURES / v).iterdir() if (p / "state").is_dir())


def _import(state: Path, db: Path) -> tuple[Any, list[tuple[Any, ...]]]:
    with Store.open(db) as s:
        summary = import_openclaw(state, lambda b: ingest(s, b, source="openclaw"))
        kinds = s.con.execute("SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind").fetchall()
        report = verify(s)
    assert report.ok, report
    return summary, kinds


def test_parse_ts_rejects_what_the_store_cannot_hold() -> None:
    assert parse_ts(1_790_928_900_000) == 1_790_928_900_000 * 1_000_000
    assert parse_ts("2026-10-02T10:15:00.250Z") == 1_790_936_100_250 * 1_000_000
    for bad in (10**30, float("inf"), float("nan"), -5, 0, True, "9999-12-31T00:00:00Z", "1969-12-31T23:59:59Z", "x"):
        assert parse_ts(bad) is None, bad


def test_wrong_types_and_impossible_times_cost_one_entry_not_the_session(tmp_path: Path) -> None:
    tx = Tx("5f0c2a7e-1d43-4b8e-9c61-0a9e3f2d7b14", str(tmp_path / "ws"))
    tx.user("read the notes")
    tx.call(("c1", "read", {"path": "notes.txt"}))
    tx.result("c1", "read", "the notes")
    tx.call(("c2", "exec", {"command": "curl -d @notes.txt http://127.0.0.1:9/u"}))
    tx.result("c2", "exec", "ok")
    tx.say("done")
    lines = tx.lines
    lines[0]["cwd"] = 3.5  # the header's cwd: not a path
    lines[1]["timestamp"] = 10**30  # beyond 2262
    lines[1]["message"]["timestamp"] = float("inf")
    lines.insert(2, {"type": ["message"], "id": "odd", "parentId": lines[1]["id"]})  # an unhashable type
    lines[3]["message"]["usage"] = {"input": 10**30, "output": "many"}
    sessions = tmp_path / "agents" / "main" / "sessions"
    sessions.mkdir(parents=True)
    (sessions / f"{tx.sid}.jsonl").write_text("".join(json.dumps(d, allow_nan=True) + "\n" for d in lines))
    summary, kinds = _import(tmp_path, tmp_path / "s.duckdb")
    assert summary.sessions == 1
    assert not [p for p in summary.problems if "unusable" in p], summary.problems
    got = dict(kinds)
    assert got["tool.call"] == 2 and got["net.egress"] == 1 and got["file.read"] >= 1, got


def test_an_otlp_span_from_the_far_future_is_a_problem_not_a_failed_batch(tmp_path: Path) -> None:
    from clawtrace.model import Batch, Event

    far = Event("e-far", "tool.call", 2**64 - 1, "otlp", "s1", "main", tool_call_id="c1", tool_name="exec")
    ok = Event("e-ok", "tool.result", 1_790_928_900_000_000_000, "otlp", "s1", "main", tool_call_id="c1")
    with Store.open(tmp_path / "s.duckdb") as s:
        r = ingest(s, Batch(events=[far, ok]))
        day_ago = time.time_ns() - 86_400 * 10**9
        stored = s.con.execute(
            "SELECT event_id, epoch_ns(ts) > $t FROM events ORDER BY event_id", {"t": day_ago}
        ).fetchall()
    assert r.events == 2
    assert any("e-far" in p and "out of range" in p for p in r.problems), r.problems
    assert stored == [("e-far", True), ("e-ok", False)]


# ----------------------------------------------------------------------------- random damage

_WEIRD = [None, 5, -1, 3.5, True, "", "x", [], [1, "a"], {}, {"a": 1}, "../../etc/passwd", "\x00", "9" * 40, 10**30]


def _mutate(obj: Any, rng: random.Random) -> None:
    if isinstance(obj, dict) and obj:
        k = rng.choice(list(obj))
        r = rng.random()
        if r < 0.3:
            obj[k] = copy.deepcopy(rng.choice(_WEIRD))
        elif r < 0.45:
            del obj[k]
        else:
            _mutate(obj[k], rng)
    elif isinstance(obj, list) and obj:
        i = rng.randrange(len(obj))
        if rng.random() < 0.4:
            obj[i] = copy.deepcopy(rng.choice(_WEIRD))
        else:
            _mutate(obj[i], rng)


def _mutated(text: str, rng: random.Random) -> str:
    try:
        d = json.loads(text)
    except ValueError:
        return text
    for _ in range(rng.randint(1, 3)):
        _mutate(d, rng)
    return json.dumps(d)


def _damage(state: Path, rng: random.Random) -> None:
    """One to three random changes of JSON values: in transcript lines, sessions.json, or the
    JSON columns of the SQLite databases."""
    targets = sorted(state.rglob("*.jsonl")) + sorted(state.rglob("sessions.json")) + sorted(state.rglob("*.sqlite"))
    for _ in range(rng.randint(1, 3)):
        f = rng.choice(targets)
        if f.suffix == ".sqlite":
            con = sqlite3.connect(f)
            try:
                cells = [
                    (t, c[1])
                    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
                    for c in con.execute(f"PRAGMA table_info('{t}')").fetchall()
                    if c[2].upper() == "TEXT"
                ]
                if cells:
                    t, c = rng.choice(cells)
                    got = con.execute(f'SELECT rowid, "{c}" FROM "{t}" WHERE "{c}" LIKE \'{{%\'').fetchall()
                    for rowid, v in rng.sample(got, min(3, len(got))):
                        con.execute(f'UPDATE "{t}" SET "{c}" = ? WHERE rowid = ?', (_mutated(v, rng), rowid))
                    con.commit()
            except sqlite3.Error:
                pass  # a WITHOUT ROWID table: leave it
            finally:
                con.close()
        elif f.name == "sessions.json":
            f.write_text(_mutated(f.read_text(), rng))
        else:
            lines = f.read_text().splitlines()
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(lines))
                lines[i] = _mutated(lines[i], rng)
            f.write_text("".join(x + "\n" for x in lines))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=st.sampled_from(SCENARIOS), seed=st.integers(0, 2**32 - 1))
def test_randomly_damaged_real_evidence_imports_the_rest(
    tmp_path_factory: pytest.TempPathFactory, scenario: Path, seed: int
) -> None:
    root = tmp_path_factory.mktemp("damaged")
    state = root / "state"
    shutil.copytree(scenario / "state", state)
    _damage(state, random.Random(seed))
    summary, _ = _import(state, root / "s.duckdb")  # raises nothing; the store verifies
    assert not [p for p in summary.problems if "unusable" in p], summary.problems
    assert all(isinstance(p, str) and p for p in summary.problems)
