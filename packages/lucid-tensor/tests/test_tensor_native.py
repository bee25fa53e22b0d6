"""The native CPU kernels (lucid._native): build cache, switches, fallbacks, and parity with
PyTorch of the native conv2d and BatchNorm(+ReLU), forward and gradients."""

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from lucid import _native

SUPPORTED = sys.platform == "linux" and platform.machine() == "x86_64"
HAVE_TOOLS = all(importlib.util.find_spec(m) for m in ("nanobind",)) and shutil.which("g++")
needs_native = pytest.mark.skipif(
    not (SUPPORTED and HAVE_TOOLS),
    reason="native kernels are built on Linux x86-64 with g++ and nanobind installed only")


def run_python(code: str, **env_changes) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=600)


INFO = "import json; from lucid._native import native_info; print(json.dumps(native_info()))"


@needs_native
def test_native_info_says_what_is_in_use():
    info = _native.native_info()
    assert info["enabled"], info["reason"]
    assert info["reason"] == "in use"
    assert Path(info["path"]).exists()
    assert info["onednn"].startswith("3.")
    assert info["threads"] >= 1
    for field in ("compiler", "mlx", "nanobind", "cache", "omp_wait_policy", "kernels"):
        assert info[field], field


@needs_native
def test_second_load_reuses_the_cached_build():
    path = Path(_native.native_info()["path"])  # built by now, by this process or before
    mtime = path.stat().st_mtime_ns
    proc = run_python(INFO)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["path"] == str(path)
    assert info["built_now"] is False
    assert path.stat().st_mtime_ns == mtime


def test_lucid_native_0_gives_the_mlx_ops_path():
    proc = run_python(INFO + """
import lucid, numpy as np
from lucid import _native
assert _native.load() is None
x = lucid.tensor(np.ones((1, 2, 5, 5), np.float32))
w = lucid.tensor(np.ones((3, 2, 3, 3), np.float32))
print(float(lucid.conv2d(x, w).sum()))
""", LUCID_NATIVE="0")
    assert proc.returncode == 0, proc.stderr
    info_line, total = proc.stdout.splitlines()
    info = json.loads(info_line)
    assert info["enabled"] is False
    assert "LUCID_NATIVE=0" in info["reason"]
    assert float(total) == 3 * 9 * 18  # 3 channels out, 3x3 outputs, 18 ones each
    assert "Warning" not in proc.stderr  # turning it off is not a problem to warn about


@pytest.mark.skipif(not SUPPORTED, reason="only Linux x86-64 builds native kernels")
def test_broken_compiler_warns_once_and_falls_back(tmp_path):
    proc = run_python("""
import json, warnings
import lucid, numpy as np
from lucid import _native
warnings.simplefilter("always")
x = lucid.tensor(np.ones((1, 2, 5, 5), np.float32))
w = lucid.tensor(np.ones((3, 2, 3, 3), np.float32))
a = float(lucid.conv2d(x, w).sum())
b = float(lucid.conv2d(x, w, padding=1).sum())
print(json.dumps(_native.native_info()))
print(a, b)
""", CXX="/bin/false", LUCID_NATIVE_CACHE=str(tmp_path), LUCID_NATIVE=None)
    assert proc.returncode == 0, proc.stderr
    info_line, totals = proc.stdout.splitlines()
    info = json.loads(info_line)
    assert info["enabled"] is False
    assert "compiler" in info["reason"] and "fix" in info["reason"]
    assert proc.stderr.count("RuntimeWarning") == 1, proc.stderr
    assert "native CPU kernels are unavailable" in proc.stderr
    a, b = map(float, totals.split())
    # each 3x3 window of ones over 2 channels; with padding 1, a row of 5 is covered 13 times
    assert a == 3 * 9 * 18 and b == 3 * 2 * 13 * 13
