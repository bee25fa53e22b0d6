"""The machine a run happened on, and its peak memory.

Peak memory: every run trains in a worker process of its own (``lucid.compare.worker``).
On Linux the kernel's peak resident set size (``VmHWM``) is reset before training (writing
``5`` to ``/proc/self/clear_refs``), so each history's figure is that run's own peak.
Where that is not possible, ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is recorded
instead: the worker's peak, framework import included, and the history says so
(``peak_memory_method``).
"""

from __future__ import annotations

import os
import platform
import resource
import sys

METHOD_HWM = "VmHWM (reset at the start of this run)"
METHOD_RUSAGE = "ru_maxrss (peak of the whole worker process, framework import included)"


def reset_peak_memory() -> str:
    """Reset the process's peak RSS where the OS allows; returns the method in use."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        if _vm_hwm_kb() is not None:
            return METHOD_HWM
    except OSError:
        pass
    return METHOD_RUSAGE


def _vm_hwm_kb() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_memory_mb(method: str) -> float:
    """Peak resident memory in MiB, by ``method`` (from ``reset_peak_memory``)."""
    if method == METHOD_HWM:
        kb = _vm_hwm_kb()
        if kb is not None:
            return kb / 1024.0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0


def thread_env() -> dict:
    """Environment variables that change threading or allocation (MALLOC_*, *_NUM_THREADS)."""
    keys = sorted(k for k in os.environ
                  if k.startswith("MALLOC_") or k.endswith("_NUM_THREADS")
                  or k in ("LD_PRELOAD", "LUCID_NO_OPENBLAS", "KMP_AFFINITY", "GOMP_CPU_AFFINITY",
                           "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    return {k: os.environ[k] for k in keys}


def machine() -> dict:
    import numpy as np

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "numpy": np.__version__,
        "env": thread_env(),
    }
