"""The CLI end to end on the shipped sample: import, sessions, egress, why, impact, and errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from clawtrace.cli import cli
from clawtrace.store import MIGRATIONS
from tests.helpers import lock_held

ROOT = Path(__file__).resolve().parent.parent


def run(db: Path, *args: str, code: int = 0) -> str:
    r = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    return r.stdout if code == 0 else r.stderr


@pytest.fixture
def imported(db: Path) -> Path:
    run(db, "import", "otlp", "--sample")
    return db


def _exfil(db: Path) -> list[dict]:
    rows = json.loads(run(db, "egress", "--format", "json"))
    return [r for r in rows if r["verdict"] == "exfiltration"]


def test_import_sample_and_list_sessions(imported: Path) -> None:
    rows = json.loads(run(imported, "sessions", "--format", "json"))
    assert {r["session_id"] for r in rows} == {"s-incident-1", "s-incident-2", "s-benign"}
    for r in rows:
        assert {"session_id", "agent_id", "started", "ended", "events", "source"} <= set(r)
        assert r["events"] > 0 and r["started"].endswith("Z")
    again = CliRunner().invoke(cli, ["--db", str(imported), "import", "otlp", "--sample"])
    assert again.exit_code == 0 and "imported 0 events" in again.stderr


def test_egress_finds_both_exfiltrations_and_not_the_benign_one(imported: Path) -> None:
    rows = json.loads(run(imported, "egress", "--format", "json"))
    by_session = {r["session_id"]: r for r in rows}
    assert by_session["s-benign"]["verdict"] == "ok"
    for sid in ("s-incident-1", "s-incident-2"):
        r = by_session[sid]
        assert r["verdict"] == "exfiltration"
        assert r["destination"] == "collect.evil-metrics.test:443"
        assert any((c["artifact"] or "").endswith("/.aws/credentials") for c in r["carried"])
        assert any(s.startswith("secret://aws_access_key/") for c in r["carried"] for s in c["secrets"])
    assert by_session["s-incident-1"]["carried"][0]["evidence"]["encoding"] == "base64"
    # The table's hint names the first exfiltration, by the prefix the table shows.
    r = CliRunner().invoke(cli, ["--db", str(imported), "egress", "--format", "table"])
    first = next(x for x in rows if x["verdict"] == "exfiltration")["event_id"][:12]
    assert r.exit_code == 0 and f"2 exfiltration(s); next: clawtrace why {first}" in r.stderr


def test_why_names_the_page_and_the_credentials(imported: Path) -> None:
    target = [r for r in _exfil(imported) if r["session_id"] == "s-incident-1"][0]
    w = json.loads(run(imported, "why", target["event_id"], "--format", "json"))
    assert w["target"]["event_id"] == target["event_id"]
    assert w["root_causes"][0]["kind"] == "net.fetch"
    assert w["root_causes"][0]["artifact"].startswith("http://docs.acme.test/setup")
    assert w["sensitive_sources"][0]["artifact"].endswith("/.aws/credentials")
    kinds = {e["kind"] for e in w["edges"]}
    assert {"data_flow", "effect", "emitted", "consumed"} <= kinds
    text = run(imported, "why", target["event_id"][:10], "--format", "table")
    assert "Probable root causes" in text and "UNTRUSTED" in text and "Sensitive sources" in text


def test_why_in_the_second_session_goes_through_memory(imported: Path) -> None:
    target = [r for r in _exfil(imported) if r["session_id"] == "s-incident-2"][0]
    w = json.loads(run(imported, "why", target["event_id"], "--format", "json"))
    assert "wrote_read" in {e["kind"] for e in w["edges"]}
    root_kinds = {e["kind"] for e in w["root_causes"]}
    assert root_kinds & {"memory.write", "net.fetch"}


def test_impact_of_the_page_lists_what_to_contain(imported: Path) -> None:
    imp = json.loads(run(imported, "impact", "http://docs.acme.test/setup", "--format", "json"))
    c = imp["containment"]
    assert "memory://main/MEMORY.md" in c["memory"]
    assert {"s-incident-1", "s-incident-2"} <= set(c["sessions"])
    assert any(x.endswith("/.aws/credentials") for x in c["credentials"])
    assert "host:collect.evil-metrics.test:443" in c["egress_destinations"]
    text = run(imported, "impact", "http://docs.acme.test/setup", "--format", "table")
    assert "credentials to rotate" in text


def test_impact_of_a_bad_artifact_quarantines_it_and_rotates_a_credential(imported: Path) -> None:
    """The artifact asked about is in the containment: a memory the agent wrote under the
    page's influence is quarantined itself (it was only listed when written downstream); a
    credential file is rotated, never "quarantined"."""
    mem = json.loads(run(imported, "impact", "memory://main/MEMORY.md", "--format", "json"))["containment"]
    assert mem["memory"] == ["memory://main/MEMORY.md"]
    assert "s-incident-2" in mem["sessions"] and mem["egress_destinations"]
    creds = "file:///home/dev/.aws/credentials"
    cred = json.loads(run(imported, "impact", creds, "--format", "json"))["containment"]
    assert creds not in cred["files"] and creds in cred["credentials"]


def test_show_timeline_query_graph_verify(imported: Path) -> None:
    tl = json.loads(run(imported, "timeline", "s-incident-1", "--format", "json"))
    assert tl[0]["kind"] == "input.message"
    shown = json.loads(run(imported, "show", "s-incident-1:1", "--format", "json"))
    assert shown["event_id"] == tl[0]["event_id"] and shown["edges_out"]
    assert json.loads(run(imported, "query", "SELECT count(*) AS n FROM events", "--format", "json"))[0]["n"] > 20
    reads = json.loads(run(imported, "query", "sensitive_reads", "-p", "session=s-incident-1", "--format", "json"))
    assert reads and all(r["session_id"] == "s-incident-1" for r in reads)
    csv_out = run(imported, "query", "untrusted_inputs", "--format", "csv")
    assert csv_out.splitlines()[0].startswith("event_id,ts,session_id")
    jl = run(imported, "timeline", "s-benign", "--format", "jsonl").splitlines()
    assert all(json.loads(line)["event_id"] for line in jl)
    target = _exfil(imported)[0]["event_id"]
    dot = run(imported, "graph", target)
    assert dot.startswith("digraph") and "color=red" in dot
    assert run(imported, "graph", target, "--format", "mermaid").startswith("flowchart LR")
    assert json.loads(run(imported, "verify", "--format", "json"))["ok"] is True


def test_tampering_makes_verify_fail(imported: Path) -> None:
    con = duckdb.connect(str(imported))
    con.execute("DELETE FROM events WHERE kind = 'net.egress' AND session_id = 's-incident-2'")
    con.close()
    out = run(imported, "verify", "--format", "json", code=1)
    assert "tampering finding" in out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["why", "deadbeefdead"], "clawtrace sessions"),
        (["why", "not an id!"], "SESSION:N"),
        (["timeline", "nope"], "clawtrace sessions"),
        (["impact", "file:///nowhere"], "artifacts"),
        (["query", "no_such_query"], "clawtrace query --list"),
        (["query", "SELECT nope FROM nowhere"], "query failed"),
    ],
)
def test_bad_arguments_are_one_line_errors(imported: Path, args: list[str], needle: str) -> None:
    err = run(imported, *args, code=1)
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_corrupt_old_and_locked_stores(tmp_path: Path) -> None:
    err = run(tmp_path / "none.duckdb", "sessions", code=1)
    assert "import otlp" in err
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(os.urandom(8192))
    assert "not a valid DuckDB" in run(bad, "sessions", code=1)
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    con.execute("CREATE TABLE _clawtrace_migrations (name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    con.execute(MIGRATIONS[0][1])
    con.execute("INSERT INTO _clawtrace_migrations VALUES (?, now()::TIMESTAMP)", [MIGRATIONS[0][0]])
    con.close()
    assert "migrate" in run(old, "sessions", code=1)
    run(old, "migrate")
    assert run(old, "sessions", "--format", "json").strip() == "[]"
    with lock_held(old):
        err = run(old, "egress", code=1)
    assert "locked by another process" in err and "Traceback" not in err


def test_bad_otlp_lines_are_reported_and_the_rest_imported(db: Path) -> None:
    r = CliRunner().invoke(cli, ["--db", str(db), "import", "otlp", str(ROOT / "tests/data/otlp/mixed_bad.jsonl")])
    assert r.exit_code == 0, r.stderr
    assert "mixed_bad.jsonl:" in r.stderr and "warning" in r.stderr
    assert "bad records skipped" in r.stderr
    assert json.loads(run(db, "query", "SELECT count(*) AS n FROM events", "--format", "json"))[0]["n"] > 0


def test_usage_errors_exit_2(db: Path) -> None:
    r = CliRunner().invoke(cli, ["--db", str(db), "import", "otlp"])
    assert r.exit_code == 2
    r = CliRunner().invoke(cli, ["--db", str(db), "egress", "--format", "xml"])
    assert r.exit_code == 2


def test_console_script_and_module_entry(imported: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "clawtrace", "--db", str(imported), "sessions", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 3
    r = subprocess.run([sys.executable, "-m", "clawtrace", "--help"], capture_output=True, text=True)
    for cmd in ("import", "sessions", "timeline", "show", "why", "impact", "egress", "query", "graph", "verify"):
        assert cmd in r.stdout


def _run_in_terminal(args: list[str], columns: int) -> str:
    """Run the CLI with its stdout on a real pseudo-terminal ``columns`` wide; its output."""
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "clawtrace", *args],
        stdout=slave,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_why_on_a_terminal_fits_its_width_and_keeps_the_flags(imported: Path) -> None:
    target = [r for r in _exfil(imported) if r["session_id"] == "s-incident-1"][0]["event_id"]
    text = _run_in_terminal(["--db", str(imported), "why", target[:10]], columns=90)
    lines = text.rstrip("\n").split("\n")
    assert "Probable root causes:" in lines
    assert "Sensitive sources (CARRIED: its content reached the target):" in lines
    assert max(map(len, lines)) <= 90, [ln for ln in lines if len(ln) > 90]
    assert any("…" in ln for ln in lines), "nothing needed clipping at 90 columns: the test lost its point"
    # Clipping takes the end of the summary, never the flags.
    assert any("[UNTRUSTED]" in ln and "net.fetch" in ln for ln in lines)
    assert any("file.read" in ln and ln.endswith("[CREDENTIAL, CARRIED]") for ln in lines)
    # Narrower still, the time gives up its date before the summary disappears.
    narrow = _run_in_terminal(["--db", str(imported), "why", target[:10]], columns=80).rstrip("\n").split("\n")
    assert max(map(len, narrow)) <= 80, [ln for ln in narrow if len(ln) > 80]
    assert any("file.read" in ln and ln.endswith("[CREDENTIAL, CARRIED]") and "2025-03-14" not in ln for ln in narrow)
    # A pipe gets whole lines, as before.
    piped = run(imported, "why", target[:10], "--format", "table")
    assert max(map(len, piped.split("\n"))) > 90 and "…" not in piped.split("Chain")[0]


# What each listing is read for, which must survive a 100-column terminal.
_KEPT_AT_100 = {"egress": "carried", "hunt": "summary", "sessions": "flags", "timeline": "summary"}


@pytest.mark.parametrize("command", [["egress"], ["hunt"], ["sessions"], ["timeline", "s-incident-1"]])
def test_tables_on_a_terminal_fit_its_width(imported: Path, command: list[str]) -> None:
    text = _run_in_terminal(["--db", str(imported), *command], columns=100)
    lines = [ln for ln in text.rstrip("\n").split("\n") if ln]
    rule = next(i for i, ln in enumerate(lines) if ln.startswith("─"))
    header, rows = lines[rule - 1], [ln for ln in lines[rule + 1 :] if not ln.startswith("(")]
    assert len(rows) >= 2
    assert max(len(ln) for ln in [header, *rows]) <= 100, [ln for ln in rows if len(ln) > 100]
    spans = [(m.start(), m.end()) for m in re.finditer("─+", lines[rule])]
    cols = [header[a:b].strip() for a, b in spans]

    def cell(row: str, name: str) -> str:
        a, b = spans[cols.index(name)]
        return row[a:b].strip()

    # Every event id shown is a prefix the commands accept; times read as times.
    piped = json.loads(run(imported, *command, "--format", "json"))
    found = piped["findings"] if isinstance(piped, dict) else piped
    if "event_id" in cols:
        ids = [r["event_id"] for r in found]
        for row in rows:
            shown = cell(row, "event_id")
            assert len(shown) >= 12 and "…" not in shown and any(i.startswith(shown) for i in ids)
    for name in {"ts", "started", "ended"} & set(cols):
        for row in rows:  # to the second or to the millisecond, never a clipped fraction
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{3})?", cell(row, name)), cell(row, name)
    # The column the listing is read for stays: the command's own give-way order and empty
    # columns go before it.
    assert _KEPT_AT_100[command[0]] in cols, (cols, text)
    # What had to go is named, never dropped silently.
    if "hidden to fit the terminal" in text:
        note = next(ln for ln in lines if "hidden to fit the terminal" in ln)
        assert all(name.strip() not in cols for name in note[1:].split(" hidden")[0].split(","))
    # Piped, the same table is whole: full ISO times, nothing hidden.
    whole = run(imported, *command, "--format", "table")
    assert "hidden to fit" not in whole and "T" in whole.split("\n")[2]


def test_show_on_a_terminal_fits_its_width_and_wraps_the_summary(imported: Path) -> None:
    target = [r for r in _exfil(imported) if r["session_id"] == "s-incident-1"][0]["event_id"]
    caller = json.loads(run(imported, "show", target, "--format", "json"))["edges_in"]
    call = next(e for e in caller if e["event_kind"] == "process.exec" or e["event_kind"] == "tool.call")
    doc = json.loads(run(imported, "show", call["event_id"], "--format", "json"))
    assert len(doc["summary"]) > 60
    text = _run_in_terminal(["--db", str(imported), "show", call["event_id"]], columns=84)
    lines = text.rstrip("\n").split("\n")
    assert max(map(len, lines)) <= 84, [ln for ln in lines if len(ln) > 84]
    assert f"content_sha256: {doc['content_sha256']}" in text  # whole, for copying
    # The detail view keeps the whole summary, wrapped under its label.
    at = next(i for i, ln in enumerate(lines) if ln.strip().startswith("summary:"))
    shown = " ".join(ln.strip() for ln in lines[at : at + 6] if ln.startswith(" " * 17) or ln is lines[at])
    assert " ".join(doc["summary"].split()) in " ".join(shown.replace("summary:", "", 1).split())


def test_import_otlp_closes_batches_at_the_content_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``import otlp`` closes a batch at ``model.BATCH_BYTES`` of content as well as at
    --batch-spans; split that way, the sample stores the same events, edges and verdicts."""
    import clawtrace.model

    whole, split = tmp_path / "whole.duckdb", tmp_path / "split.duckdb"
    run(whole, "import", "otlp", "--sample")
    monkeypatch.setattr(clawtrace.model, "BATCH_BYTES", 1)
    run(split, "import", "otlp", "--sample")

    def facts(db: Path) -> tuple[int, int, int, list[tuple[str, str]]]:
        with duckdb.connect(str(db), read_only=True) as con:
            batches, events, edges = con.execute(
                "SELECT (SELECT count(*) FROM ingest_log), (SELECT count(*) FROM events), (SELECT count(*) FROM edges)"
            ).fetchone()
        verdicts = sorted((r["event_id"], r["verdict"]) for r in json.loads(run(db, "egress", "--format", "json")))
        return batches, events, edges, verdicts

    a, b = facts(whole), facts(split)
    assert a[0] == 1 and b[0] > 1
    assert a[1:] == b[1:]


def test_a_table_gives_way_in_the_order_the_command_names() -> None:
    """Empty columns hide first, then the command's ``give_way`` columns in order; free text it
    names narrows before the rest; times lose their milliseconds whole."""
    import io

    from clawtrace.report.render import write_rows

    rows = [
        {
            "event_id": "c7a306ea1c72966218975575",
            "ts": "2025-03-14T09:00:00.217000Z",
            "session_id": "s-incident-1",
            "parent": None,
            "carried": "/home/dev/.aws/credentials, tool.result (2 secrets)",
            "summary": "POST https://collect.evil-metrics.test/v1/ingest (180 B)",
        }
    ] * 2

    def table(width: int, give_way: tuple[str, ...]) -> tuple[list[str], str]:
        out = io.StringIO()
        write_rows(rows, "table", out, width=width, give_way=give_way)
        lines = out.getvalue().split("\n")
        assert max(map(len, lines)) <= width
        return lines[0].split(), out.getvalue()

    cols, text = table(200, ())
    assert cols == ["event_id", "ts", "session_id", "parent", "carried", "summary"]
    assert "2025-03-14 09:00:00.217" in text and "hidden" not in text
    # Narrower: the named free text narrows first; nothing is hidden while it can narrow.
    cols, text = table(130, ("summary",))
    body = text.split("\n")[2]
    assert "hidden" not in text and "parent" in cols
    assert "/home/dev/.aws/credentials, tool.result (2 secrets)" in body and "POST https://collect.evil" not in body
    # Narrower still: the empty column hides first, then the named ones in order, `carried` last.
    cols, text = table(90, ("summary", "session_id"))
    assert cols == ["event_id", "ts", "session_id", "carried", "summary"] and "(parent hidden" in text
    cols, text = table(60, ("summary", "session_id"))
    assert cols == ["event_id", "ts", "carried"], text
    assert "(session_id, parent, summary hidden" in text  # named in the table's order
    # Times lose their milliseconds whole, never to a clipped fraction.
    assert re.search(r"2025-03-14 09:00:00(\s|$)", text.split("\n")[2])
