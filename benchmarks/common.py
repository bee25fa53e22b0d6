"""Shared helpers for the benchmark scripts: timing, thread setup, environment, JSON output.

Every benchmark measures after a warm-up, reports the median of its repeats, runs all of
its libraries in one process with the same thread count, and records the environment
(versions, threads, malloc settings) next to its figures.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Settings that change the figures and must be set before the process starts.
ENV_VARS = (
    "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "MALLOC_TOP_PAD_",
    "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "LUCID_NO_OPENBLAS",
)


def measure(fn: Callable[[], object], *, warmup: int = 1, repeats: int = 5,
            min_time: float = 0.0, max_repeats: int = 50) -> dict:
    """Time ``fn()`` (which must finish its work before returning) after ``warmup`` calls.

    Runs at least ``repeats`` times and, up to ``max_repeats``, until ``min_time`` seconds
    have been spent. Returns ``{"median_ms", "min_ms", "repeats"}``.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or (
        time.perf_counter() - start < min_time and len(times) < max_repeats
    ):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {
        "median_ms": round(statistics.median(times) * 1e3, 3),
        "min_ms": round(min(times) * 1e3, 3),
        "repeats": len(times),
    }


def set_threads(n: int | None) -> int:
    """Give PyTorch (if imported) and Lucid's OpenBLAS (if loaded) ``n`` threads (default:
    ``os.cpu_count()``). MLX's own CPU kernels take no thread setting."""
    n = n or os.cpu_count() or 1
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    if "lucid" in sys.modules:
        sys.modules["lucid"]._blas.set_num_threads(n)
    return n


def _version(module: str) -> str | None:
    if module not in sys.modules:
        try:
            importlib.import_module(module)
        except ImportError:
            return None
    return getattr(sys.modules[module], "__version__", "unknown")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(libraries: tuple[str, ...] = ("numpy",)) -> dict:
    """Versions of ``libraries`` (imported if needed), the machine, threads, settings."""
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": {name: _version(name) for name in libraries},
        "env": {name: os.environ.get(name) for name in ENV_VARS},
        "threads": {},
    }
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        env["threads"]["torch"] = torch.get_num_threads()
        env["threads"]["torch_interop"] = torch.get_num_interop_threads()
    if "lucid" in sys.modules:
        lucid = sys.modules["lucid"]
        env["blas"] = lucid.blas_info()
        env["threads"]["openblas"] = env["blas"]["threads"]
    if "mlx.core" in sys.modules:
        mx = sys.modules["mlx.core"]
        env["versions"]["mlx"] = mx.__version__
        limit = mx.set_cache_limit(0)  # read the buffer-cache limit by setting it back
        mx.set_cache_limit(limit)
        env["mlx_cache_limit_mb"] = round(limit / 2**20)
    return env


def parser(description: str, default_out: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=default_out, help=f"JSON output (default {default_out})")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for every library (default: os.cpu_count())")
    p.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    return p


def write_json(path: str | Path, results: dict) -> Path:
    """Write ``results`` as indented JSON, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
