"""Load an optimised BLAS into the process before MLX, on Linux.

MLX's Linux wheels link the reference (netlib) BLAS, about 15x slower than OpenBLAS on a
matrix product. When an OpenBLAS with unprefixed symbols (the ``cmeel-openblas`` wheel) is
opened with ``RTLD_GLOBAL`` before ``mlx.core`` is imported, the dynamic linker resolves
MLX's BLAS calls to it. Set ``LUCID_NO_OPENBLAS=1`` to keep MLX's own BLAS.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys
import sysconfig
import time
import warnings

OPT_OUT_VAR = "LUCID_NO_OPENBLAS"
state = {"path": None, "status": "not attempted"}


def _candidates() -> list[str]:
    roots = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    roots.update(p for p in sys.path if p.endswith("site-packages"))
    found = []
    for root in sorted(roots):
        found += sorted(glob.glob(os.path.join(root, "cmeel.prefix", "lib", "libopenblas*.so*")))
    return found


def preload() -> None:
    """Open OpenBLAS ``RTLD_GLOBAL``; called by ``import lucid`` before ``mlx.core``."""
    if not sys.platform.startswith("linux"):
        state["status"] = "not needed (not Linux)"
        return
    if os.environ.get(OPT_OUT_VAR, "") not in ("", "0"):
        state["status"] = f"disabled by {OPT_OUT_VAR}"
        return
    if "mlx.core" in sys.modules:
        state["status"] = "mlx.core was imported before lucid"
        warnings.warn(
            "mlx.core was imported before lucid, so Lucid could not give MLX an optimised "
            "BLAS: matrix products and convolutions may be ~15x slower. Import lucid first.",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    for path in _candidates():
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        state.update(path=path, status="loaded")
        return
    state["status"] = "no OpenBLAS found (pip install cmeel-openblas)"


def measure_sgemm_gflops(n: int = 1024, repeats: int = 3) -> float:
    """GFLOP/s of an n x n float32 matrix product through MLX on the CPU."""
    import mlx.core as mx

    a = mx.random.normal((n, n), stream=mx.cpu)
    b = mx.random.normal((n, n), stream=mx.cpu)
    mx.eval(a, b, mx.matmul(a, b, stream=mx.cpu))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        mx.eval(mx.matmul(a, b, stream=mx.cpu))
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def info() -> dict:
    """Which BLAS MLX uses here: ``{"status", "path"}``."""
    return dict(state)
