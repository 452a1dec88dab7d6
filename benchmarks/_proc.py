"""Memory figures of the running process, for the benchmarks that report them."""

from __future__ import annotations


def status_mb(field: str) -> float:
    """``field`` of ``/proc/self/status`` (``VmRSS`` now, ``VmHWM`` the peak) in MB, DuckDB's
    native memory included; without ``/proc``, the lifetime peak (``ru_maxrss``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
