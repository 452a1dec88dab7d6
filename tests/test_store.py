"""The store: migrations, idempotent ingest, derived edges, hash chain and tampering, errors."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawtrace import graph
from clawtrace.errors import NotFoundError, SchemaTooOldError, StoreCorruptError, StoreLockedError
from clawtrace.model import Batch, Edge, clip, span_ref
from clawtrace.store import MIGRATIONS, SCHEMA_VERSION, Store, ingest, verify
from tests.helpers import chain_batch, ev, lock_held


def _edge_kinds(store: Store) -> dict[str, int]:
    return dict(store.sql("SELECT kind, count(*) FROM edges GROUP BY kind")[1])  # type: ignore[arg-type]


def test_blank_store_gets_every_migration(db: Path) -> None:
    with Store.open(db) as s:
        assert s.schema_version() == SCHEMA_VERSION
        names = [r[0] for r in s.sql("SELECT name FROM _clawtrace_migrations ORDER BY name")[1]]
        tables = {r[0] for r in s.sql("SELECT table_name FROM information_schema.tables")[1]}
    assert names == [n for n, _ in MIGRATIONS]
    assert {
        "events",
        "edges",
        "artifacts",
        "fingerprints",
        "sessions",
        "spans",
        "ingest_log",
        "secrets",
        "pending_edges",
    } <= tables


def test_older_store_is_refused_by_readers_and_migrated_by_writers(db: Path) -> None:
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE _clawtrace_migrations (name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    con.execute(MIGRATIONS[0][1])
    con.execute("INSERT INTO _clawtrace_migrations VALUES (?, now()::TIMESTAMP)", [MIGRATIONS[0][0]])
    con.close()
    with pytest.raises(SchemaTooOldError, match=r"clawtrace --db .* migrate"):
        Store.open(db, read_only=True)
    with Store.open(db) as s:
        assert s.schema_version() == SCHEMA_VERSION
    with Store.open(db, read_only=True) as s:
        assert s.schema_version() == SCHEMA_VERSION


def test_ingest_is_idempotent_and_derives_edges(db: Path) -> None:
    with Store.open(db) as s:
        r1 = ingest(s, chain_batch())
        assert r1.events == 13 and r1.batch_id == 1
        kinds = _edge_kinds(s)
        # returned by call id, effect by call id, data_flow by fingerprints and by result-carries-read.
        assert kinds["returned"] == 3
        assert kinds["effect"] == 3
        assert kinds["consumed"] == 4 and kinds["emitted"] == 3
        assert kinds["data_flow"] >= 3
        counts = s.counts()
        r2 = ingest(s, chain_batch())
        assert (r2.events, r2.edges, r2.skipped) == (0, 0, 13)
        assert s.counts() == counts


def test_data_flow_finds_base64_credentials_in_egress(db: Path) -> None:
    with Store.open(db) as s:
        ingest(s, chain_batch())
        rows = s.sql(
            """
            SELECT se.kind, de.kind, json_extract_string(e.evidence, '$.encoding'), e.evidence
            FROM edges e JOIN events se ON se.seq = e.src JOIN events de ON de.seq = e.dst
            WHERE e.kind = 'data_flow' AND de.kind = 'net.egress'
            """
        )[1]
    assert ("file.read", "net.egress", "base64") in {(a, b, c) for a, b, c, _ in rows}


def test_edges_wait_for_their_other_end(db: Path) -> None:
    """OTLP exports children before parents: parentage to a span not yet seen is kept pending."""
    child = ev("file.read", 2, trace_id="t1", span_id="b", parent_span_id="a")
    parent = ev("tool.call", 1, trace_id="t1", span_id="a", tool_name="read")
    with Store.open(db) as s:
        r = ingest(s, Batch(events=[child], edges=[Edge(span_ref("t1", "a"), child.event_id, "child_of")]))
        assert r.pending == 1 and r.edges == 0
        r = ingest(s, Batch(events=[parent]))
        assert r.pending == 0
        assert _edge_kinds(s) == {"effect": 1}
        assert verify(s).ok


def test_wrote_read_crosses_sessions(db: Path) -> None:
    w = ev("memory.write", 1, session="a", artifact="memory://main/MEMORY.md", content=b"- always sync creds")
    r = ev("memory.read", 50, session="b", artifact="memory://main/MEMORY.md", content=b"- always sync creds")
    with Store.open(db) as s:
        ingest(s, Batch(events=[r]))
        ingest(s, Batch(events=[w]))  # imported out of order: the edge still appears
        rows = s.sql("SELECT kind, json_extract(evidence, '$.cross_session') FROM edges")[1]
    assert rows == [("wrote_read", "true")] or rows == [("wrote_read", True)]


def test_verify_names_edited_inserted_and_deleted_rows(db: Path) -> None:
    with Store.open(db) as s:
        ingest(s, chain_batch())
        ingest(s, Batch(events=[ev("file.read", 99, session="s2", artifact="file:///etc/hosts")]))
        assert verify(s).ok
        target = s.sql("SELECT event_id FROM events WHERE kind = 'net.egress'")[1][0][0]
        s.con.execute("UPDATE events SET summary = 'nothing to see' WHERE event_id = ?", [target])
        s.con.execute(
            "DELETE FROM edges WHERE kind = 'returned' AND edge_seq = (SELECT min(edge_seq) FROM edges WHERE kind = 'returned')"
        )
        s.con.execute(
            "INSERT INTO events SELECT * REPLACE (seq + 1000 AS seq, 'forged' || event_id AS event_id) FROM events WHERE kind = 'model.turn' LIMIT 1"
        )
        rep = verify(s)
    problems = {(f.problem, f.table) for f in rep.findings}
    assert ("edited", "events") in problems
    assert ("deleted", "edges") in problems
    assert ("inserted", "events") in problems
    assert any(f.ref == target for f in rep.findings if f.problem == "edited")
    assert not rep.ok


def test_verify_catches_a_rewritten_row_hash_and_log(db: Path) -> None:
    with Store.open(db) as s:
        ingest(s, chain_batch())
        from clawtrace.store._ingest import EVENT_HASH_SQL

        s.con.execute("UPDATE events SET summary = 'edited' WHERE kind = 'file.read'")
        s.con.execute(f"UPDATE events SET row_hash = {EVENT_HASH_SQL} WHERE kind = 'file.read'")
        rep = verify(s)
        assert [(f.problem, f.table, f.batch_id) for f in rep.findings] == [("edited", "batch", 1)]
        s.con.execute("UPDATE ingest_log SET digest = 'x'")
        assert any(f.problem == "chain-broken" for f in verify(s).findings)


def test_why_and_impact_on_the_chain(db: Path) -> None:
    with Store.open(db) as s:
        ingest(s, chain_batch())
        egress_id = s.sql("SELECT event_id FROM events WHERE kind = 'net.egress'")[1][0][0]
        w = graph.why(s, egress_id[:8]).as_dict()
        assert w["target"]["event_id"] == egress_id
        assert [e["kind"] for e in w["root_causes"]] == ["net.fetch"]
        assert w["sensitive_sources"][0]["artifact"] == "file:///home/u/.aws/credentials"
        assert w["sensitive_sources"][0]["carried"] is True
        assert set(w) == {"target", "events", "edges", "root_causes", "sensitive_sources"}
        for e in w["events"]:
            assert {
                "event_id",
                "kind",
                "ts",
                "session_id",
                "tool_name",
                "artifact",
                "trust",
                "sensitivity",
                "summary",
            } <= set(e)
        fetch_id = s.sql("SELECT event_id FROM events WHERE kind = 'net.fetch'")[1][0][0]
        imp = graph.impact(s, fetch_id).as_dict()
        assert egress_id in {e["event_id"] for e in imp["events"]}
        assert "file:///home/u/.aws/credentials" in imp["containment"]["credentials"]
        assert any(c.startswith("secret://aws_access_key/") for c in imp["containment"]["credentials"])
        assert imp["containment"]["sessions"] == ["s1"]
        art = graph.impact(s, "http://docs.test/setup").as_dict()
        assert egress_id in {e["event_id"] for e in art["events"]}
        eg = graph.egress(s)
        assert len(eg) == 1 and eg[0]["verdict"] == "exfiltration"
        assert eg[0]["destination"] == "collect.evil.test:443"
        assert any(c["artifact"] == "file:///home/u/.aws/credentials" for c in eg[0]["carried"])


def test_event_refs(db: Path) -> None:
    with Store.open(db) as s:
        ingest(s, chain_batch())
        assert s.resolve_event("s1:1")["kind"] == "input.message"
        assert s.resolve_event("s1:12")["kind"] == "net.egress"
        with pytest.raises(NotFoundError, match="clawtrace sessions"):
            s.resolve_event("ffffffffffff")
        with pytest.raises(NotFoundError):
            s.resolve_event("s1:500")


def test_not_a_duckdb_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.duckdb"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreCorruptError, match="not a valid DuckDB"):
        Store.open(bad, read_only=True)
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE t (x INT)").close()
    with pytest.raises(StoreCorruptError, match="not a clawtrace store"):
        Store.open(other, read_only=True)


def test_locked_store_is_a_clear_error(db: Path) -> None:
    Store.open(db).close()
    with lock_held(db), pytest.raises(StoreLockedError, match=r"locked by another process \(pid \d+\).*snapshot"):
        Store.open(db, read_only=True)


def test_a_truncated_store_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from clawtrace.cli import cli

    db = tmp_path / "s.duckdb"
    assert CliRunner().invoke(cli, ["--db", str(db), "import", "otlp", "--sample"]).exit_code == 0
    cut = tmp_path / "cut.duckdb"
    data = db.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # a copy that stopped half way
    r = CliRunner().invoke(cli, ["--db", str(cut), "sessions"])
    assert r.exit_code == 1, r.output
    assert "is damaged" in r.stderr and "restore it from a copy" in r.stderr, r.stderr
    assert "Traceback" not in r.output


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["word", "x" * 50, " ", "\n", "\t", "   ", "é", "longerword"]), max_size=400),
    st.integers(5, 60),
)
def test_clip_is_the_whole_text_normalised_and_cut(parts: list[str], n: int) -> None:
    # clip normalises only a prefix when it can; the answer must be the whole text's.
    text = "".join(parts)
    whole = " ".join(text.split())
    assert clip(text, n) == (whole if len(whole) <= n else whole[: n - 3] + "...")
    # a text whose first 4 n characters are blank: the rest still makes the summary
    assert clip(" " * 4 * n + text + " tail", n) == clip(text + " tail", n)


def _memory_limit(db: Path, *, read_only: bool = False) -> int:
    with Store.open(db, read_only=read_only) as s:
        row = s.con.execute("SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'").fetchone()
    assert row is not None
    num, unit = row[0].split()
    return int(float(num) * {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit])


def test_duckdb_memory_is_capped_by_the_memory_limit_setting(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB caches up to 80% of RAM by default: a long import on the agent's own machine
    grew past 2 GB. The store caps it at CLAWTRACE_MEMORY_LIMIT (default 2GB), readers too."""
    monkeypatch.delenv("CLAWTRACE_MEMORY_LIMIT", raising=False)
    # DuckDB shows the limit rounded ("1.8 GiB"): compare within its display's precision.
    assert _memory_limit(db) == pytest.approx(2e9, rel=0.05)
    assert _memory_limit(db, read_only=True) == pytest.approx(2e9, rel=0.05)
    monkeypatch.setenv("CLAWTRACE_MEMORY_LIMIT", "512MB")
    assert _memory_limit(db) == pytest.approx(512e6, rel=0.05)
    # And DuckDB draws no progress bar over clawtrace's own progress lines.
    with Store.open(db) as s:
        assert s.con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    monkeypatch.setenv("CLAWTRACE_MEMORY_LIMIT", "0")  # DuckDB's own default, whatever the machine
    with duckdb.connect() as plain:
        own = plain.execute("SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'").fetchone()
    with Store.open(db) as s:
        mine = s.con.execute("SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'").fetchone()
    assert mine == own


def test_a_bad_memory_limit_is_a_one_line_error_naming_the_variable(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from clawtrace.cli import cli

    Store.open(db).close()
    monkeypatch.setenv("CLAWTRACE_MEMORY_LIMIT", "lots")
    r = CliRunner().invoke(cli, ["--db", str(db), "sessions"])
    assert r.exit_code == 1
    assert "CLAWTRACE_MEMORY_LIMIT='lots' is not a memory size" in r.stderr and "4GB" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_running_out_of_the_memory_limit_says_which_setting_to_raise(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from clawtrace.cli import cli

    monkeypatch.delenv("CLAWTRACE_MEMORY_LIMIT", raising=False)
    assert CliRunner().invoke(cli, ["--db", str(db), "import", "otlp", "--sample"]).exit_code == 0
    monkeypatch.setenv("CLAWTRACE_MEMORY_LIMIT", "1MB")
    for args in (["hunt"], ["why", "c7a306ea"]):
        r = CliRunner().invoke(cli, ["--db", str(db), *args, "--format", "json"])
        assert r.exit_code == 1, r.output
        assert "Out of Memory Error" in r.stderr
        assert "CLAWTRACE_MEMORY_LIMIT=1MB): raise it, e.g. CLAWTRACE_MEMORY_LIMIT=8GB" in r.stderr
        assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    monkeypatch.delenv("CLAWTRACE_MEMORY_LIMIT")
    assert CliRunner().invoke(cli, ["--db", str(db), "why", "c7a306ea", "--format", "json"]).exit_code == 0
