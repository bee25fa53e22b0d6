"""OpenBLAS's idle-thread spin (``OPENBLAS_THREAD_TIMEOUT``): Lucid opens it with the
shortest spin unless the environment sets one, and leaves the environment as it was.

Each check runs in a fresh interpreter (OpenBLAS reads the variable once, as it loads).
"""

import json
import os
import platform
import subprocess
import sys

import pytest
from lucid import _blas

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.machine() != "x86_64",
    reason="Lucid loads OpenBLAS for MLX on x86-64 Linux only")

CODE = """
import ctypes, json, os
import lucid, lucid._blas as b
import mlx.core as mx
mx.eval(mx.ones((64, 64)) @ mx.ones((64, 64)))
timeout = b._lib.openblas_thread_timeout() if b._lib is not None else None
print(json.dumps({"status": b.state["status"], "timeout": timeout,
                  "env": os.environ.get("OPENBLAS_THREAD_TIMEOUT")}))
"""


def _run(**env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("LD_PRELOAD", _blas.OPT_OUT_VAR, _blas.THREAD_TIMEOUT_VAR)}
    full.update(env)
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                          env=full, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["status"] != "loaded":
        pytest.skip(f"OpenBLAS is not loaded here ({out['status']})")
    return out


def test_openblas_spins_briefly_and_the_environment_is_left_alone():
    out = _run()
    assert out["timeout"] == int(_blas.THREAD_TIMEOUT)
    assert out["env"] is None


def test_an_explicit_thread_timeout_wins():
    out = _run(OPENBLAS_THREAD_TIMEOUT="12")
    assert out["timeout"] == 12
    assert out["env"] == "12"
