"""clawtrace: provenance tracing and forensics for AI agents.

``import clawtrace`` stays cheap: it loads neither duckdb, click nor the OpenTelemetry
SDK. The store opens on ``clawtrace.open(path)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["__version__", "configure", "open"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from clawtrace._configure import ClawtraceHandle
    from clawtrace.api import Investigation


def configure(**kwargs: Any) -> ClawtraceHandle:
    """Wire the OpenTelemetry SDK to clawtrace (see ``clawtrace._configure.configure``).

    The SDK and exporters load only now, so ``import clawtrace`` stays cheap.
    """
    from clawtrace._configure import configure as _configure

    return _configure(**kwargs)


def open(path: str | None = None, *, read_only: bool = True) -> Investigation:  # noqa: A001
    """Open a store for investigation; rows come back as pandas DataFrames."""
    from clawtrace.api import Investigation

    return Investigation(path, read_only=read_only)


def __getattr__(name: str) -> Any:
    raise AttributeError(f"module 'clawtrace' has no attribute {name!r}")
