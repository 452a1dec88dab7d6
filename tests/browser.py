"""A real headless Chromium driven over the Chrome DevTools Protocol, for the HTML tests.

``chromium_or_skip()`` finds Debian's ``chromium``; when it is missing and ``CI=true`` it
installs it with apt-get (CI runs as root), otherwise the test is skipped with the command
to run. ``Browser`` starts one Chromium with a fresh profile and ``--remote-debugging-port=0``,
talks CDP over a websocket (websocket-client), records console messages, exceptions, log
entries (CSP violations land there) and every network request, and is stopped by its pid.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,900",
]


def chromium_or_skip() -> str:
    """The chromium binary; installed by apt-get under CI=true, else a skip naming the fix."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.environ.get("CI") != "true":
        pytest.skip(
            "Debian's chromium is not installed (apt-get install -y chromium); under CI=true the test installs it"
        )
    if os.geteuid() != 0:
        pytest.fail("CI=true but not root: cannot apt-get install chromium for the browser tests")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]):
        r = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    exe = shutil.which("chromium")
    assert exe, "apt-get installed chromium but it is not on PATH"
    return exe


class Browser:
    """One headless Chromium and a CDP session on its first page."""

    def __init__(self, exe: str) -> None:
        import websocket  # websocket-client, a test dependency

        self.profile = tempfile.mkdtemp(prefix="clawtrace-chromium-")
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: zygote and renderers stop with it
        )
        try:
            port = self._port()
            page_ws = self._page_target(port)
            # suppress_origin: Chromium refuses websocket clients that send an Origin it does not allow.
            self.ws = websocket.create_connection(page_ws, timeout=30, suppress_origin=True)
        except BaseException:
            self.close()
            raise
        self._id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def _port(self) -> int:
        active = Path(self.profile) / "DevToolsActivePort"
        for _ in range(300):
            if active.exists() and active.read_text().strip():
                return int(active.read_text().split()[0])
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode} before it listened")
            time.sleep(0.1)
        raise RuntimeError("chromium did not write DevToolsActivePort")

    def _page_target(self, port: int) -> str:
        for _ in range(100):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.1)
        raise RuntimeError("chromium has no page target")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One CDP command; events that arrive meanwhile are kept in ``events``."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result") or {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, tries: int = 600) -> dict[str, Any]:
        """Wait for an event (bounded by a number of reads, each with the socket's timeout)."""
        for e in self.events:
            if e["method"] == method:
                self.events.remove(e)
                return e
        for _ in range(tries):
            msg = json.loads(self.ws.recv())
            if msg.get("method") == method:
                return dict(msg)
            if "method" in msg:
                self.events.append(msg)
        raise RuntimeError(f"no {method} event")

    def load(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def eval(self, expression: str) -> Any:
        """Evaluate JavaScript in the page and return its JSON value."""
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page exception: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression: str, tries: int = 100) -> Any:
        """Poll ``expression`` until it is truthy (bounded tries)."""
        for _ in range(tries):
            v = self.eval(expression)
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError(f"never true in the page: {expression}")

    def click(self, x: float, y: float) -> None:
        """A real mouse click at viewport coordinates."""
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", buttons=1, clickCount=1)

    def hover(self, x: float, y: float) -> None:
        """Move the mouse to viewport coordinates."""
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def drag(self, x0: float, y0: float, x1: float, y1: float, steps: int = 5) -> None:
        """Press the left button at (x0, y0), move to (x1, y1) in steps, release."""
        self.send("Input.dispatchMouseEvent", type="mousePressed", x=x0, y=y0, button="left", buttons=1, clickCount=1)
        for i in range(1, steps + 1):
            x, y = x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps
            self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y, button="left", buttons=1)
        self.send("Input.dispatchMouseEvent", type="mouseReleased", x=x1, y=y1, button="left", buttons=1, clickCount=1)

    def wheel(self, x: float, y: float, delta_y: float) -> None:
        """A mouse-wheel turn at viewport coordinates (negative: zoom in)."""
        self.send("Input.dispatchMouseEvent", type="mouseWheel", x=x, y=y, deltaX=0, deltaY=delta_y)

    def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        return base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, and error log entries so far."""
        self.send("Runtime.evaluate", expression="0")  # flush pending events
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(
                    f"console.{p.get('type')}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}"
                )
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(f"log {p['entry'].get('level')}: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def requests(self) -> list[str]:
        """Every URL the page requested so far."""
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        """Close the CDP socket, stop the browser we started (by its pid) and remove its profile."""
        ws = getattr(self, "ws", None)
        if ws is not None:
            try:
                ws.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
