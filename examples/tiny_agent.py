"""A tiny scripted tool-calling agent (no LLM), instrumented with clawtrace.

Run it with ``python examples/tiny_agent.py [WORKSPACE]``: it stores its provenance with
``clawtrace.configure()`` (./clawtrace.duckdb) when available, otherwise prints spans.
Then try ``clawtrace sessions`` and ``clawtrace timeline <session>``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import clawtrace.instrument as ct


@ct.tool_call("read_file")
def read_file(path: str) -> str:
    """A tool: the decorator records the call, its arguments and its return value."""
    return Path(path).read_text()


@ct.tool_call("write_file")
def write_file(path: str, text: str) -> str:
    Path(path).write_text(text)
    return f"wrote {len(text)} characters"


@ct.tool_call("word_count")
def word_count(path: str) -> str:
    return subprocess.run(["wc", "-w", path], capture_output=True, text=True, check=True).stdout.split()[0]


def main(workspace: str | Path | None = None) -> str:
    """Run the scripted agent in ``workspace``; return its session id."""
    ws = Path(workspace or tempfile.mkdtemp(prefix="tiny-agent-"))
    ws.mkdir(parents=True, exist_ok=True)
    notes = ws / "notes.txt"
    notes.write_text("clawtrace records what an agent read, called and sent.\nIt keeps fingerprints, not secrets.\n")
    ct.enable_capture()  # file, socket, DNS and process activity inside tool calls
    with ct.session(agent_id="tiny", cwd=str(ws)) as s:
        ct.input_message("Summarise notes.txt into summary.txt", sender="owner", channel="cli")
        with ct.turn(model="scripted-1", provider="none"):
            text = read_file(str(notes))  # the model asked for read_file
        with ct.turn(model="scripted-1", provider="none"):
            summary = text.splitlines()[0]
            write_file(str(ws / "summary.txt"), summary)
            words = word_count(str(ws / "summary.txt"))
        with ct.turn(model="scripted-1", provider="none") as t:
            t.usage(input_tokens=120, output_tokens=12)
            with ct.tool_call("reply", {"text": f"Done: {words} words."}) as call:
                call.result("sent")
    return s.session_id


if __name__ == "__main__":
    import clawtrace

    try:
        clawtrace.configure()
    except AttributeError:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
        trace.set_tracer_provider(provider)
    print(main(sys.argv[1] if len(sys.argv) > 1 else None))
