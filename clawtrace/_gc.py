"""Pause Python's cyclic garbage collector around bulk work in clawtrace's own processes.

An import holds tens of thousands of live events; each full collection walks all of them,
and the allocation counters trigger one every few thousand new objects, which cost a
quarter of an import's time. Nothing an import builds is cyclic garbage worth collecting
early (reference counting frees the rest), so bulk paths run with the collector paused.

Only for clawtrace's own entry points (CLI commands, the receiver, benchmarks): never in
a host program the SDK instruments, whose collector is not ours to touch.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Run the body with the cyclic collector disabled; nestable and thread-safe.

    The collector is re-enabled (if it was enabled on entry to the outermost pause) when
    the last concurrent pause ends.
    """
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
