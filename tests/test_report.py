"""`clawtrace report` and `clawtrace graph --format html` as files: content, containment,
escaping, self-containment and no raw secret anywhere. The browser tests are in
test_html_browser.py."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from clawtrace.cli import cli
from clawtrace.report import html_graph, incident
from clawtrace.store import Store
from tests.incident_data import HOSTILE, SECRET_LINE, SINK_HOST, benign_session, build_store, demo_store, wide_incident
from tests.secrets_corpus import fake_secrets
from tests.test_secrets_store import _batch as secrets_batch

DEMO_SECRETS = ("AKIAZQ4XKT7YB2NW5RJM", "9vQm2Lx7Rk4Tz8Wc1Hn6Pb3Js5Gd0Fy2Ae7Uo4Ki")
"""The fake AWS key pair in the demo's credentials file (clawtrace/demo.py)."""


def run(db: Path, *args: str, code: int = 0) -> tuple[str, str]:
    r = CliRunner().invoke(cli, ["--db", str(db), *args], catch_exceptions=False)
    assert r.exit_code == code, (r.exit_code, r.stdout[-2000:], r.stderr[-2000:])
    return r.stdout, r.stderr


def sections(md: str) -> dict[str, str]:
    """The report's ``## `` sections by title."""
    parts = re.split(r"^## (.+)$", md, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def subsections(text: str) -> dict[str, str]:
    parts = re.split(r"^### (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r" \(\d+\)$", "", parts[i].strip()): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def assert_self_contained(page: str) -> None:
    """Nothing in the page makes the browser fetch anything."""
    low = page.lower()
    for needle in ('src="http', "src='http", "@import", "url(http", "<link", "<iframe", 'href="http'):
        assert needle not in low, needle
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert (
        csp
        and "default-src 'none'" in csp.group(1)
        and "unsafe-inline" not in csp.group(1).split("script-src")[1].split(";")[0]
    )


def assert_no_raw(text: str, secrets: list[str] | tuple[str, ...]) -> None:
    leaked = [s for s in secrets if s in text or base64.b64encode(s.encode()).decode() in text]
    assert leaked == []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return demo_store(tmp_path_factory.mktemp("demo"))


def test_report_of_the_demo_store_tells_the_incident(demo: tuple[Path, dict[str, Any]]) -> None:
    db, found = demo
    md, _ = run(db, "report")
    sec = sections(md)
    assert list(sec) == [
        "Summary",
        "Sessions",
        "Timeline",
        "Egress",
        "Causal chain",
        "Containment",
        "Tamper evidence",
        "Next commands",
    ]
    exfil = found["exfiltrations"]
    first = next(e for e in exfil if e["session_id"] == found["sessions"][0])
    # The real destination, in the summary and the egress table, worst first.
    assert first["destination"] in sec["Summary"]
    egress_rows = [line for line in sec["Egress"].splitlines() if line.startswith("| **")]
    assert egress_rows[0].startswith("| **EXFILTRATION**") and first["destination"] in egress_rows[0]
    assert len(egress_rows) == len(json.loads(run(db, "egress", "--format", "json")[0]))
    # The chain is the worst egress's why: its root cause (the poisoned page) and the secret file.
    why = found["why"]
    chain = subsections(sec["Causal chain"])
    page_root = why["root_causes"][0]
    assert page_root["kind"] == "net.fetch"
    assert page_root["event_id"][:12] in chain["Root causes"] and page_root["artifact"] in chain["Root causes"]
    creds = why["sensitive_sources"][0]["artifact"]
    assert creds.endswith("/.aws/credentials")
    assert (
        creds.removeprefix("file://") in chain["Sensitive sources"]
        and "reached the target" in chain["Sensitive sources"]
    )
    assert "base64" in chain["Evidence"] and "data_flow" in chain["Evidence"]
    # Containment: the poisoned memory, the credentials (file and secrets by placeholder), both sessions.
    contain = subsections(sec["Containment"])
    assert "memory://demo-agent/MEMORY.md" in contain["Memory to quarantine"]
    assert creds in contain["Credentials to rotate"]
    assert "[REDACTED:aws_access_key:" in contain["Credentials to rotate"]
    assert all(s in contain["Sessions to review"] for s in found["sessions"])
    assert first["destination"] in contain["Destinations to block"]
    # Tamper evidence, as verify says.
    v = json.loads(run(db, "verify", "--format", "json")[0])
    assert "**VERIFIED**" in sec["Tamper evidence"] and f"{v['events']} events" in sec["Tamper evidence"]
    assert f"clawtrace why {first['event_id']}" in sec["Next commands"]
    assert_no_raw(md, DEMO_SECRETS)


def test_html_report_of_the_demo_store_is_self_contained(demo: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    db, found = demo
    out = tmp_path / "incident.html"
    stdout, stderr = run(db, "report", "--format", "html", "-o", str(out))
    assert stdout == "" and f"wrote {out}" in stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert_self_contained(page)
    assert_no_raw(page, DEMO_SECRETS)
    for e in found["exfiltrations"]:
        assert e["destination"] in page
    assert found["why"]["sensitive_sources"][0]["artifact"] in page
    assert "memory://demo-agent/MEMORY.md" in page and "VERIFIED" in page
    # The graph of the chain is embedded as data for the viewer.
    data = json.loads(
        re.search(r'<script type="application/json" id="ct-graph-1-data">(.*?)</script>', page, re.DOTALL).group(1)
    )  # type: ignore[union-attr]
    assert data["target"] == found["why"]["target"]["event_id"]
    assert {n["id"] for n in data["nodes"]} == {
        found["why"]["target"]["event_id"],
        *(e["event_id"] for e in found["why"]["events"]),
    }


def test_report_of_a_benign_session_has_nothing_to_contain(sample_db: Path, tmp_path: Path) -> None:
    md, _ = run(sample_db, "report", "s-benign")
    sec = sections(md)
    assert "Nothing to contain" in sec["Containment"] and "### " not in sec["Containment"]
    assert "s-incident" not in md
    assert "**OK**" in sec["Egress"] and "EXFILTRATION" not in md
    with Store.open(sample_db, read_only=True) as store:
        rep = incident.build(store, "s-benign")
    assert rep.containment == {"files": [], "memory": [], "credentials": [], "sessions": [], "destinations": []}
    assert rep.chain is None and rep.root_causes == [] and rep.verify["ok"]
    # The same on a hand-made benign session beside a real incident in the same store.
    db = build_store(tmp_path / "mixed.duckdb", wide_incident(files=12), benign_session())
    with Store.open(db, read_only=True) as store:
        calm = incident.build(store, "s-calm")
        whole = incident.build(store)
    assert not any(calm.containment.values())
    assert whole.containment["destinations"] == [SINK_HOST.removeprefix("host:")]
    assert "s-calm" not in whole.containment["sessions"]


def test_report_of_an_event_explains_that_event(sample_db: Path) -> None:
    rows = json.loads(run(sample_db, "egress", "--format", "json")[0])
    target = next(r for r in rows if r["session_id"] == "s-incident-2" and r["verdict"] == "exfiltration")
    md, _ = run(sample_db, "report", target["event_id"][:12])
    sec = sections(md)
    assert f"`{target['event_id']}`" in sec["Causal chain"]
    roots = subsections(sec["Causal chain"])["Root causes"]
    assert "memory.write" in roots or "net.fetch" in roots
    assert "memory://main/MEMORY.md" in subsections(sec["Containment"])["Memory to quarantine"]
    assert "collect.evil-metrics.test:443" in subsections(sec["Containment"])["Destinations to block"]


def test_wide_chain_report_is_bounded_and_ranked(tmp_path: Path) -> None:
    db = build_store(tmp_path / "wide.duckdb", wide_incident())
    md, _ = run(db, "report", "s-wide")
    chain = subsections(sections(md)["Causal chain"])
    ranked = [line for line in chain["Chain, ranked"].splitlines() if re.match(r"\| \d\.\d\d \|", line)]
    assert len(ranked) == 25
    scores = [float(line.split("|")[1]) for line in ranked]
    assert scores == sorted(scores, reverse=True)
    assert "230 more in" in chain["Chain, ranked"]
    assert SECRET_LINE.split(" = ")[1] not in md
    # Hostile text in a summary stays text: no HTML, no link, no table break.
    assert "&lt;/script&gt;" in md and "</script>" not in md


def test_tampering_shows_in_the_report(sample_db: Path) -> None:
    con = duckdb.connect(str(sample_db))
    con.execute(
        "UPDATE events SET summary = 'nothing to see' WHERE kind = 'net.egress' AND session_id = 's-incident-1'"
    )
    con.close()
    md, err = run(sample_db, "report")
    sec = sections(md)
    assert "**TAMPERED**" in sec["Tamper evidence"] and "| edited | events |" in sec["Tamper evidence"]
    assert "TAMPERING" in sec["Summary"]
    assert "tampering finding" in err


@pytest.mark.parametrize("ref", ["no-such-session", "deadbeefdead", "s-benign:999"])
def test_unknown_session_or_event_is_a_one_line_error(sample_db: Path, ref: str) -> None:
    _, err = run(sample_db, "report", ref, code=1)
    assert "clawtrace sessions" in err or "clawtrace timeline" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unwritable_output_is_a_clear_error(sample_db: Path, tmp_path: Path) -> None:
    _, err = run(sample_db, "report", "-o", str(tmp_path / "no" / "such" / "dir" / "r.md"), code=1)
    assert "cannot write" in err and "-o" in err and "Traceback" not in err


def test_no_raw_secret_in_any_output(tmp_path: Path) -> None:
    secrets = fake_secrets()
    db = build_store(tmp_path / "s.duckdb", secrets_batch(secrets))
    raw = [s for _t, s, _tpl in secrets]
    egress = json.loads(run(db, "egress", "--format", "json")[0])
    assert egress and all(r["verdict"] == "exfiltration" for r in egress)
    outputs = [
        run(db, "report")[0],
        run(db, "report", "leak", "--format", "html")[0],
        run(db, "report", egress[0]["event_id"])[0],
    ]
    outputs += [
        run(db, "graph", r["event_id"], "--format", fmt)[0] for r in egress[:5] for fmt in ("html", "dot", "mermaid")
    ]
    for text in outputs:
        assert_no_raw(text, raw)
    assert "[REDACTED:" in outputs[0]


def test_graph_html_escapes_hostile_text(tmp_path: Path) -> None:
    db = build_store(tmp_path / "wide.duckdb", wide_incident(files=6))
    egress = json.loads(run(db, "egress", "--format", "json")[0])
    target = next(r for r in egress if r["verdict"] == "exfiltration")["event_id"]
    out = tmp_path / "g.html"
    run(db, "graph", target, "--format", "html", "-o", str(out))
    page = out.read_text()
    assert_self_contained(page)
    assert page.count("<script") == 2 and page.count("</script>") == 2  # the data and the viewer, nothing injected
    data_text = re.search(r'id="ct-graph-1-data">(.*?)</script>', page, re.DOTALL).group(1)  # type: ignore[union-attr]
    assert "<" not in data_text and ">" not in data_text
    data = json.loads(data_text)
    assert HOSTILE in {n["summary"] for n in data["nodes"]}
    why = json.loads(run(db, "why", target, "--format", "json")[0])
    assert len(data["nodes"]) == len(why["events"]) + 1 and len(data["edges"]) == len(why["edges"])
    # DOT and Mermaid are still there, and stdout is the default.
    assert run(db, "graph", target)[0].startswith("digraph")
    assert run(db, "graph", target, "--format", "html")[0].startswith("<!DOCTYPE html>")


def test_script_json_round_trips_what_would_close_a_script() -> None:
    nasty = {"s": "</script><!-- \u2028 \u2029 & <b>", "n": [1, None]}
    text = html_graph.script_json(nasty)
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == nasty


def test_long_tables_are_cut_worst_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = fake_secrets()
    db = build_store(tmp_path / "s.duckdb", secrets_batch(secrets), benign_session())
    monkeypatch.setattr(incident, "_TABLE_ROWS", 1)
    with Store.open(db, read_only=True) as store:
        rep = incident.build(store)
    sec = sections(incident.to_markdown(rep))
    rows = [line for line in sec["Egress"].splitlines() if line.startswith("| **")]
    assert len(rows) == 1 and rows[0].startswith("| **EXFILTRATION**")
    assert f"{len(rep.egress) - 1} more" in sec["Egress"] and "`clawtrace egress`" in sec["Egress"]
    assert rep.egress[-1]["verdict"] == "ok" and len(rep.egress) == len(secrets) + 1
    # The session with flagged egress comes first; the benign one is cut and counted.
    assert "`leak`" in sec["Sessions"] and "`s-calm`" not in sec["Sessions"]
    assert "1 more (no flagged egress)" in sec["Sessions"]


def test_impact_graph_of_an_artifact_draws_where_it_starts(sample_db: Path) -> None:
    page, _ = run(sample_db, "graph", "http://docs.acme.test/setup", "--direction", "impact", "--format", "html")
    data = json.loads(re.search(r'id="ct-graph-1-data">(.*?)</script>', page, re.DOTALL).group(1))  # type: ignore[union-attr]
    assert data["direction"] == "impact"
    origins = [n for n in data["nodes"] if n["target"]]
    assert origins and all(n["artifact"] == "http://docs.acme.test/setup" and n["kind"] == "net.fetch" for n in origins)
    ids = {n["id"] for n in data["nodes"]}
    imp = json.loads(run(sample_db, "impact", "http://docs.acme.test/setup", "--format", "json")[0])
    assert ids == {e["event_id"] for e in imp["events"]} | {n["id"] for n in origins}
    assert len(data["edges"]) == len(imp["edges"])
    assert "memory://main/MEMORY.md" in {n["artifact"] for n in data["nodes"]}
