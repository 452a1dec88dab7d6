"""`clawtrace demo`: the real SDK, real sockets on 127.0.0.1, a real store, the chain found."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from clawtrace.store import Store, verify
from tests.incident_data import demo_store


def test_demo_records_and_explains_the_incident(tmp_path: Path) -> None:
    db, doc = demo_store(tmp_path)
    first, second = doc["sessions"]
    assert doc["events"] >= 30
    by_session = {e["session_id"]: e for e in doc["exfiltrations"]}
    assert set(by_session) == {first, second}
    for e in by_session.values():
        assert e["destination"].startswith("127.0.0.1:")
        assert any((c["artifact"] or "").endswith("/.aws/credentials") for c in e["carried"])
        assert any(s.startswith("secret://aws_access_key/") for c in e["carried"] for s in c["secrets"])
    assert by_session[first]["carried"][0]["evidence"]["encoding"] == "base64"
    why = doc["why"]
    assert why["root_causes"][0]["kind"] == "net.fetch" and why["root_causes"][0]["trust"] == "untrusted"
    assert why["sensitive_sources"][0]["artifact"].endswith("/.aws/credentials")
    assert why["sensitive_sources"][0]["carried"] is True
    cross = doc["cross_session"]
    assert cross and cross[0]["written_in"] == first and cross[0]["read_in"] == second
    assert cross[0]["artifact"] == "memory://demo-agent/MEMORY.md"
    assert any(x["kind"] == "memory.write" for x in doc["second_session_root_causes"])
    assert doc["seconds"] < 60  # a sanity bound on a stuck run, not a benchmark
    # The store is complete, consistent and holds no raw credential.
    with Store.open(db, read_only=True) as store:
        assert verify(store).ok
    blob = db.read_bytes()
    assert b"AKIAZQ4XKT7YB2NW5RJM" not in blob and b"9vQm2Lx7Rk4Tz8Wc1Hn6Pb3Js5Gd0Fy2Ae7Uo4Ki" not in blob


def test_demo_table_output_tells_the_story(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    r = subprocess.run(
        [sys.executable, "-m", "clawtrace", "--db", str(db), "demo"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for needle in (
        "EXFILTRATION",
        "Probable root causes",
        "UNTRUSTED",
        "Sensitive sources",
        "CREDENTIAL",
        "Across sessions",
        "clawtrace why",
    ):
        assert needle in out, needle
    assert "127.0.0.1 only" in r.stderr
    # The store answers the next commands printed by the demo.
    eg = subprocess.run(
        [sys.executable, "-m", "clawtrace", "--db", str(db), "egress", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert sum(1 for e in json.loads(eg.stdout) if e["verdict"] == "exfiltration") == 2
