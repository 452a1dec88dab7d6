"""The HTML graph and report in a real headless Chromium (Debian's chromium, over CDP).

Each page is loaded from file:// with the network domain watched: it must request nothing
but itself, log no error or warning (CSP violations included), render one SVG node per
event of the chain, show an event's details on a real mouse click, show edge evidence on
hover, zoom on the wheel, and look like something in a screenshot (decoded with Pillow).
Set CLAWTRACE_SCREENSHOTS=DIR to keep the screenshots for a human to look at.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from clawtrace.cli import cli
from tests.browser import Browser, chromium_or_skip
from tests.incident_data import HOSTILE, build_store, demo_store, wide_incident

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    b = Browser(chromium_or_skip())
    try:
        yield b
    finally:
        b.close()


def cli_json(db: Path, *args: str) -> Any:
    r = CliRunner().invoke(cli, ["--db", str(db), *args, "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def write(db: Path, out: Path, *args: str) -> Path:
    r = CliRunner().invoke(cli, ["--db", str(db), *args, "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    return out


def center(b: Browser, selector: str) -> tuple[float, float]:
    r = b.eval(
        f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2, r.width]; }})()"
    )
    assert r[2] > 0, f"{selector} is not laid out"
    return r[0], r[1]


def _translate(transform: str) -> tuple[float, float]:
    x, y = transform.split("translate(")[1].split(")")[0].split(",")
    return float(x), float(y)


def _scale(transform: str) -> float:
    return float(transform.split("scale(")[1].rstrip(")"))


def check_screenshot(png: bytes, name: str, tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / name).write_bytes(png)
    if os.environ.get("CLAWTRACE_SCREENSHOTS"):
        keep = Path(os.environ["CLAWTRACE_SCREENSHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / name, keep / name)
    img = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = img.size
    assert w >= 800 and h >= 500
    counts = img.getcolors(maxcolors=w * h)  # [(count, (r, g, b)), ...]
    assert counts is not None
    _, commonest = max(counts)
    busy = sum(n for n, c in counts if sum(abs(x - y) for x, y in zip(c, commonest)) > 40) / (w * h)
    assert len(counts) > 200, f"{name}: only {len(counts)} colours, the page looks blank"
    assert busy > 0.05, f"{name}: {busy:.1%} of the pixels differ from the background"


def test_graph_page_of_a_250_event_chain(browser: Browser, tmp_path: Path) -> None:
    db = build_store(tmp_path / "wide.duckdb", wide_incident())
    target = next(r for r in cli_json(db, "egress") if r["verdict"] == "exfiltration")["event_id"]
    why = cli_json(db, "why", target)
    assert len(why["events"]) >= 250
    page = write(db, tmp_path / "chain.html", "graph", target, "--format", "html", "--max-nodes", "400")
    b = browser
    b.load(page.as_uri())
    assert b.wait_for("document.querySelector('.ct-graph').dataset.rendered") == str(len(why["events"]) + 1)
    assert b.problems() == []
    assert b.requests() == [page.as_uri()]
    assert b.eval("typeof window.PWNED") == "undefined"
    # One node per event of the chain, one path per edge.
    ids = b.eval("[...document.querySelectorAll('.ct-canvas g.ct-node')].map(g => g.dataset.id)")
    assert sorted(ids) == sorted([target, *(e["event_id"] for e in why["events"])])
    assert b.eval("document.querySelectorAll('.ct-canvas g.ct-edge').length") == len(why["edges"])
    root = why["root_causes"][0]["event_id"]
    assert b.eval(f"document.querySelector('g.ct-node[data-id=\"{root}\"]').classList.contains('is-root')")
    sens = {e["event_id"] for e in why["sensitive_sources"]}
    assert (
        set(b.eval("[...document.querySelectorAll('.ct-canvas g.ct-node.is-sensitive')].map(g => g.dataset.id)"))
        == sens
    )
    # Everything fits the canvas after the initial fit.
    assert b.eval(
        "(() => { const c = document.querySelector('.ct-canvas > svg').getBoundingClientRect();"
        " return [...document.querySelectorAll('.ct-canvas g.ct-node')].every(g => { const r = g.getBoundingClientRect();"
        " return r.left >= c.left - 1 && r.right <= c.right + 1 && r.top >= c.top - 1 && r.bottom <= c.bottom + 1; }); })()"
    )
    # Hover a data-flow edge: its evidence and confidence.
    x, y = b.eval(
        "(() => { const p = document.querySelector('.ct-canvas g.ct-edge.k-data_flow[data-dst=\""
        + target
        + "\"] path.ct-line'); const pt = p.getPointAtLength(p.getTotalLength() * 0.7).matrixTransform(p.getScreenCTM());"
        " return [pt.x, pt.y]; })()"
    )
    b.hover(x, y)
    tip = b.wait_for(
        "(() => { const t = document.querySelector('.ct-tooltip'); return t.style.display === 'block' && t.textContent; })()"
    )
    assert "data_flow" in tip and "confidence" in tip and "bytes matched" in tip
    # A real click on the root cause shows its event.
    b.click(*center(b, f'g.ct-node[data-id="{root}"] .ct-shape'))
    assert b.wait_for("document.querySelector('.ct-details').dataset.eventId") == root
    details = b.eval("document.querySelector('.ct-details').textContent")
    assert f"clawtrace why {root}" in details and "ROOT CAUSE" in details and "s-wide" in details
    assert HOSTILE in details
    assert b.eval("typeof window.PWNED") == "undefined"
    check_screenshot(b.screenshot(), "graph-250.png", tmp_path)
    # The wheel zooms around the cursor.
    before = b.eval("document.querySelector('.ct-viewport').getAttribute('transform')")
    b.wheel(500, 400, -600)
    after = b.wait_for(
        f"(() => {{ const t = document.querySelector('.ct-viewport').getAttribute('transform'); return t !== {json.dumps(before)} && t; }})()"
    )
    assert _scale(after) > _scale(before)
    # Dragging pans by as much as the mouse moved, and is not taken for a click.
    selected = b.eval("document.querySelector('.ct-details').dataset.eventId")
    b.drag(300, 300, 420, 360)
    moved = b.eval("document.querySelector('.ct-viewport').getAttribute('transform')")
    assert _translate(moved)[0] - _translate(after)[0] == pytest.approx(120, abs=1)
    assert _translate(moved)[1] - _translate(after)[1] == pytest.approx(60, abs=1)
    assert b.eval("document.querySelector('.ct-details').dataset.eventId") == selected
    assert b.problems() == []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return demo_store(tmp_path_factory.mktemp("demo"))


def test_report_page_of_the_demo_store(browser: Browser, demo: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    db, found = demo
    page = write(db, tmp_path / "incident.html", "report", "--format", "html")
    b = browser
    b.load(page.as_uri())
    why = found["why"]
    assert b.wait_for(
        "document.querySelector('.ct-graph') && document.querySelector('.ct-graph').dataset.rendered"
    ) == str(len(why["events"]) + 1)
    assert b.problems() == []
    assert b.requests() == [page.as_uri()]
    headings = b.eval("[...document.querySelectorAll('h2')].map(h => h.textContent)")
    assert headings == [
        "Summary",
        "Sessions",
        "Timeline",
        "Egress",
        "Causal chain",
        "Containment",
        "Tamper evidence",
        "Next commands",
    ]
    text = b.eval("document.body.innerText")
    assert found["exfiltrations"][0]["destination"] in text and "VERIFIED" in text
    sens = why["sensitive_sources"][0]["event_id"]
    b.eval(f"document.querySelector('g.ct-node[data-id=\"{sens}\"]').scrollIntoView({{block: 'center'}})")
    b.click(*center(b, f'g.ct-node[data-id="{sens}"] .ct-shape'))
    assert b.wait_for("document.querySelector('.ct-details').dataset.eventId") == sens
    assert ".aws/credentials" in b.eval("document.querySelector('.ct-details').textContent")
    check_screenshot(b.screenshot(), "report-graph.png", tmp_path)
    assert b.problems() == []


def test_graph_of_a_real_openclaw_chain_reads_in_causal_order(browser: Browser, tmp_path: Path) -> None:
    """The real 2026.9.6 injection run: the model fetched a page, and the page's instruction
    made it upload ~/.aws/credentials. The call, its file read and its egress share one
    millisecond, and the fetch's URL is found in the call that fetched it (a data-flow edge
    against the structure). The layout must still read like the story: every event after
    its causes, the egress last, and edges to a later row running in the gaps between
    nodes, not across them."""
    import shutil as _shutil

    from clawtrace.ingest.openclaw import import_openclaw
    from clawtrace.store import Store, ingest

    state = tmp_path / "fixture"
    src = Path(__file__).parent / "data" / "openclaw" / "2026.9.6" / "injection"
    _shutil.copytree(src, state, ignore=_shutil.ignore_patterns("*-shm"))
    db = tmp_path / "oc.duckdb"
    with Store.open(db) as st:
        import_openclaw(state / "state", lambda bt: ingest(st, bt, source="openclaw"))
    target = next(r for r in cli_json(db, "egress") if r["verdict"] == "exfiltration")["event_id"]
    page = write(db, tmp_path / "oc.html", "report", target, "--format", "html")
    b = browser
    b.load(page.as_uri())
    b.wait_for("document.querySelector('.ct-graph') && document.querySelector('.ct-graph').dataset.rendered")
    assert b.problems() == []
    nodes = b.eval(
        "[...document.querySelectorAll('.ct-canvas g.ct-node')].map(g => { const r = g.querySelector('.ct-shape')"
        ".getBoundingClientRect(); return {id: g.dataset.id, kind: g.dataset.kind, layer: +g.dataset.layer,"
        " row: +g.dataset.row, box: [r.left, r.top, r.right, r.bottom]}; })"
    )
    by_id = {n["id"]: n for n in nodes}
    edges = b.eval(
        "[...document.querySelectorAll('.ct-canvas g.ct-edge')].map(g => { const p = g.querySelector('path.ct-line');"
        " const m = p.getScreenCTM(), len = p.getTotalLength(); const pts = [];"
        " for (let i = 1; i < 40; i++) { const q = p.getPointAtLength(len * i / 40).matrixTransform(m); pts.push([q.x, q.y]); }"
        " return {src: g.dataset.src, dst: g.dataset.dst, kind: g.dataset.kind, pts: pts}; })"
    )
    assert len(nodes) >= 10 and len(edges) >= 20
    # The structure reads forward: each turn before its calls, each call before what it did.
    structural = [e for e in edges if e["kind"] in ("emitted", "effect", "returned", "consumed")]
    assert structural
    for e in structural:
        s, d = by_id[e["src"]], by_id[e["dst"]]
        assert s["layer"] < d["layer"], f"{e['kind']} {s['kind']} -> {d['kind']} runs backwards"
    # The egress is the last thing that happened, and the fetch comes after its call.
    assert by_id[target]["layer"] == max(n["layer"] for n in nodes)
    fetch = next(n for n in nodes if n["kind"] == "net.fetch")
    calls = [e["src"] for e in edges if e["kind"] == "effect" and e["dst"] == fetch["id"]]
    assert calls and all(by_id[c]["layer"] < fetch["layer"] for c in calls)
    # An edge to a later row crosses no other node on its way.
    rows = {n["row"] for n in nodes}
    assert len(rows) > 1, "this chain is long enough to wrap; the test needs a wrapped layout"
    crossing = []
    for e in edges:
        s, d = by_id[e["src"]], by_id[e["dst"]]
        if d["row"] <= s["row"]:
            continue
        for x, y in e["pts"]:
            for n in nodes:
                left, top, right, bottom = n["box"]
                if n["id"] not in (s["id"], d["id"]) and left + 2 < x < right - 2 and top + 2 < y < bottom - 2:
                    crossing.append((e["kind"], s["kind"], d["kind"], n["kind"]))
    assert crossing == []
    check_screenshot(b.screenshot(), "openclaw-chain.png", tmp_path)
