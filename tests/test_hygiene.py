"""Architecture and conventions as tests: import hygiene, layers, semconv names, docs, queries."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clawtrace import queries, semconv
from clawtrace.store import Store

ROOT = Path(__file__).resolve().parent.parent


def test_import_clawtrace_is_cheap() -> None:
    code = (
        "import sys, clawtrace, clawtrace.model, clawtrace.semconv;"
        "bad = [m for m in ('duckdb', 'click', 'opentelemetry.sdk', 'pandas', 'pyarrow') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_layers_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a test dependency: pip install -e '.[test]'"
    r = subprocess.run([exe, str(ROOT / "pyproject.toml")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_clawtrace_names_only_in_semconv() -> None:
    offenders = []
    for p in (ROOT / "clawtrace").rglob("*.py"):
        if p.name == "semconv.py":
            continue
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if re.search(r"[\"']clawtrace\.[a-z_]+\.[a-z_]", line):
                offenders.append(f"{p.relative_to(ROOT)}:{i}: {line.strip()}")
    assert offenders == []


def test_semconv_doc_is_current() -> None:
    doc = (ROOT / "docs" / "semconv.md").read_text()
    assert doc == semconv.render_markdown(), "regenerate: python -m clawtrace.semconv > docs/semconv.md"


def test_every_named_query_declares_its_params_and_binds(tmp_path: Path) -> None:
    qs = queries.load_all()
    assert len(qs) >= 5
    with Store.open(tmp_path / "empty.duckdb") as store:
        for q in qs.values():
            assert q.description, q.path
            assert set(q.params) == q.used_params(), q.path
            store.explain(q.sql, {p: None for p in q.params} or None)  # type: ignore[arg-type]


def test_queries_and_sample_ship_in_the_wheel(tmp_path: Path) -> None:
    import zipfile

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("clawtrace-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for q in queries.load_all().values():
        assert f"clawtrace/_queries/{Path(q.path).name}" in names
    assert "clawtrace/samples/incident.otlp.jsonl" in names
    assert "clawtrace/py.typed" in names
    assert {"clawtrace/report/assets/graph.js", "clawtrace/report/assets/graph.css"} <= names


@pytest.mark.parametrize("mod", ["clawtrace.store", "clawtrace.graph", "clawtrace.cli", "clawtrace.api"])
def test_modules_import(mod: str) -> None:
    __import__(mod)


def test_cli_doc_is_current() -> None:
    from clawtrace.cli import render_cli_docs

    doc = (ROOT / "docs" / "cli.md").read_text()
    assert doc == render_cli_docs(), "regenerate: python -m clawtrace.cli docs > docs/cli.md"
    for cmd in ("import otlp", "sessions", "timeline", "show", "why", "impact", "egress", "query", "graph", "verify"):
        assert f"## `clawtrace {cmd}`" in doc


def test_types_check_strict() -> None:
    """mypy --strict over the package (configured in pyproject.toml)."""
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


def test_ruff_lint_and_format() -> None:
    """`ruff check` (pyflakes, syntax, import order: pyproject.toml) and `ruff format --check`."""
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent))
    assert exe, "ruff is a test dependency: pip install -e '.[test]'"
    for args in (["check", "."], ["format", "--check", "."]):
        r = subprocess.run([exe, *args], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, f"ruff {' '.join(args)}:\n{r.stdout[-4000:]}{r.stderr[-2000:]}"
