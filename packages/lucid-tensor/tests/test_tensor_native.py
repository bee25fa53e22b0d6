"""The native CPU kernels (lucid._native): build cache, switches, fallbacks, and parity with
PyTorch of the native conv2d and BatchNorm(+ReLU), forward and gradients."""

import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from lucid import _native

SUPPORTED = sys.platform == "linux" and platform.machine() == "x86_64"
def _installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


HAVE_TOOLS = (shutil.which(os.environ.get("CXX", "g++")) is not None and _installed("nanobind")
              and _installed("onednn-devel-cpu-gomp") and _installed("onednn-cpu-gomp"))
needs_native = pytest.mark.skipif(
    not (SUPPORTED and HAVE_TOOLS and _native.enabled_by_env()),
    reason="native kernels are built on Linux x86-64 with g++, nanobind and oneDNN installed "
           "only, and are off under LUCID_NATIVE=0")


def run_python(code: str, **env_changes) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=600)


# PyTorch warns that it copies the input for 'same' padding with even kernels
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

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


# ----- native conv2d against PyTorch ------------------------------------------------
NATIVE_CONV2D = [
    # (input shape, weight shape, kwargs)
    ((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 1, "padding": 1}),
    ((2, 3, 9, 9), (4, 3, 3, 3), {"stride": 2, "padding": 0}),
    ((2, 3, 9, 7), (5, 3, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 3, 11, 9), (4, 3, 3, 3), {"stride": 1, "padding": 2, "dilation": 2}),
    ((2, 3, 11, 9), (4, 3, 3, 3), {"stride": 2, "padding": 1, "dilation": 2}),
    ((2, 4, 9, 7), (6, 2, 3, 3), {"stride": 1, "padding": 1, "groups": 2}),
    ((2, 4, 9, 7), (6, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0), "groups": 2}),
    ((2, 4, 8, 8), (8, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 4}),  # depthwise x2
    ((1, 3, 7, 5), (4, 3, 3, 3), {"padding": 1}),  # batch 1, odd sizes
    ((2, 4, 7, 9), (5, 4, 1, 1), {"stride": 2}),  # 1x1 projection
    ((2, 3, 8, 8), (4, 3, 4, 2), {"padding": "same"}),  # asymmetric padding
    ((2, 1, 28, 28), (6, 1, 5, 5), {"padding": 2}),  # LeNet-5's first layer
    ((4, 16, 12, 12), (32, 16, 3, 3), {"stride": 2, "padding": 1}),  # longer sums
]


def _conv_module():
    """lucid.ops.nn.conv, imported once the engine is loaded (``lucid.Tensor`` loads it)."""
    import lucid

    assert lucid.Tensor is not None
    return importlib.import_module("lucid.ops.nn.conv")


def _native_conv_ids(cases):
    return [f"{x}-{w}-{kw}" for x, w, kw in cases]


@needs_native
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("xs", "ws", "kw"), NATIVE_CONV2D, ids=_native_conv_ids(NATIVE_CONV2D))
def test_native_conv2d_matches_torch(xs, ws, kw, bias):
    import lucid
    import torch.nn.functional as F
    from tensor_parity import check_op, randn

    conv = _conv_module()
    x, w = lucid.tensor(randn(*xs, seed=1)), lucid.tensor(randn(*ws, seed=2))

    stride, pads, dilation, groups = conv.conv_args("conv2d", x, w, None, kw.get("stride", 1),
                                                    kw.get("padding", 0), kw.get("dilation", 1),
                                                    kw.get("groups", 1), spatial=2)
    algorithm, _ = conv._algorithm(x._data, w._data, None, stride, dilation, pads, groups,
                                   (1, 1), True)
    assert algorithm == "native"
    b = randn(ws[0], seed=3) if bias else None
    check_op(lambda x, w, b: lucid.conv2d(x, w, b, **kw),
             lambda x, w, b: F.conv2d(x, w, b, **kw),
             randn(*xs, seed=1), randn(*ws, seed=2), b, rtol=1e-4, atol=1e-4)


@needs_native
def test_native_conv1d_matches_torch():
    import lucid
    import torch.nn.functional as F
    from tensor_parity import check_op, randn

    kw = {"stride": 2, "padding": 1, "dilation": 2}
    check_op(lambda x, w, b: lucid.conv1d(x, w, b, **kw),
             lambda x, w, b: F.conv1d(x, w, b, **kw),
             randn(3, 4, 17, seed=1), randn(6, 4, 3, seed=2), randn(6, seed=3),
             rtol=1e-4, atol=1e-4)


@needs_native
def test_native_conv_only_weight_or_only_input_gradient():
    """dW without dx (a first layer) and dx without dW (a frozen layer), against torch."""
    import lucid
    import torch
    import torch.nn.functional as F
    from tensor_parity import assert_close, randn

    xs, ws, g = randn(2, 3, 9, 9, seed=1), randn(4, 3, 3, 3, seed=2), randn(2, 4, 5, 5, seed=4)
    for x_grad, w_grad in ((False, True), (True, False)):
        x = lucid.tensor(xs, requires_grad=x_grad)
        w = lucid.tensor(ws, requires_grad=w_grad)
        b = lucid.tensor(np.zeros(4, np.float32), requires_grad=True)
        tx = torch.tensor(xs, requires_grad=x_grad)
        tw = torch.tensor(ws, requires_grad=w_grad)
        tb = torch.zeros(4, requires_grad=True)
        (lucid.conv2d(x, w, b, stride=2, padding=1) * lucid.tensor(g)).sum().backward()
        (F.conv2d(tx, tw, tb, stride=2, padding=1) * torch.tensor(g)).sum().backward()
        assert_close(b.grad, tb.grad, rtol=1e-4, atol=1e-4)
        if x_grad:
            assert_close(x.grad, tx.grad, rtol=1e-4, atol=1e-4)
        else:
            assert_close(w.grad, tw.grad, rtol=1e-4, atol=1e-4)


def test_native_is_never_taken_for_other_dtypes_or_the_gpu(monkeypatch):
    import lucid
    import mlx.core as mx

    conv = _conv_module()
    x16 = lucid.randn(1, 2, 5, 5)._data.astype(mx.float16)
    w16 = lucid.randn(3, 2, 3, 3)._data.astype(mx.float16)
    assert _native.for_cpu_float32(x16, w16) is None
    algorithm, _ = conv._algorithm(x16, w16, None, (1, 1), (1, 1), (0, 0, 0, 0), 1, (3, 3), True)
    assert algorithm != "native"

    class Gpu:
        type = mx.DeviceType.gpu

    monkeypatch.setattr(mx, "default_device", lambda: Gpu())
    x, w = lucid.randn(1, 2, 5, 5)._data, lucid.randn(3, 2, 3, 3)._data
    assert _native.for_cpu_float32(x, w) is None
    algorithm, _ = conv._algorithm(x, w, None, (1, 1), (1, 1), (0, 0, 0, 0), 1, (3, 3), True)
    assert algorithm != "native"


# ----- native pooling against PyTorch -----------------------------------------------
NATIVE_POOL = [
    # (input shape, kwargs)
    ((2, 3, 8, 8), {"kernel_size": 2}),  # LeNet-5's pooling
    ((2, 3, 9, 7), {"kernel_size": 3, "stride": 2, "padding": 1}),  # ImageNet stem
    ((1, 4, 10, 9), {"kernel_size": (3, 2), "stride": (1, 2), "padding": (1, 0)}),
    ((2, 2, 11, 11), {"kernel_size": 3, "stride": 2}),
]


def _pool_module():
    import lucid

    assert lucid.Tensor is not None
    return importlib.import_module("lucid.ops.nn.pool")


@needs_native
@pytest.mark.parametrize("kind", ["max", "avg", "avg_exclude_pad"])
@pytest.mark.parametrize(("xs", "kw"), NATIVE_POOL, ids=[str(c) for c in NATIVE_POOL])
def test_native_pool2d_matches_torch(xs, kw, kind):
    import lucid
    import torch.nn.functional as F
    from tensor_parity import check_op, randn

    extra = {"count_include_pad": False} if kind == "avg_exclude_pad" else {}
    name = "max_pool2d" if kind == "max" else "avg_pool2d"
    x = lucid.tensor(randn(*xs, seed=1))
    assert _pool_module()._native_pooling(x, ceil_mode=False) is not None
    check_op(lambda x: getattr(lucid, name)(x, **kw, **extra),
             lambda x: getattr(F, name)(x, **kw, **extra), randn(*xs, seed=1))


@needs_native
def test_native_max_pool_sends_ties_to_the_first_maximum_and_dilates():
    import lucid
    import torch
    import torch.nn.functional as F
    from tensor_parity import assert_close

    a = np.array([[1, 1, 0, 2], [1, 1, 2, 2], [0, 0, 3, 3], [0, 0, 3, 3]], np.float32)
    a = np.tile(a, (2, 3, 2, 2))  # (2, 3, 8, 8) with ties in every window
    for kw in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1},
               {"kernel_size": 2, "dilation": 2, "stride": 2}):
        x, t = lucid.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        lucid.max_pool2d(x, **kw).sum().backward()
        F.max_pool2d(t, **kw).sum().backward()
        assert_close(x.grad, t.grad)


@needs_native
def test_native_pooling_is_not_taken_for_ceil_mode_or_other_dtypes():
    import lucid

    pool = _pool_module()
    x = lucid.randn(1, 2, 5, 5)
    assert pool._native_pooling(x, ceil_mode=True) is None
    assert pool._native_pooling(x.astype(lucid.float16), ceil_mode=False) is None
    assert pool._native_pooling(lucid.randn(2, 5, 5), ceil_mode=False) is None


# ----- the build cache under concurrency ---------------------------------------------
FAKE_COMPILER = """#!/bin/sh
# stands in for g++: names its OpenMP runtime; records a compile, takes a while, writes
# the file after -o
case "$1" in -print-file-name=*) echo "$FAKE_GOMP"; exit 0;; esac
echo call >> "$FAKE_CXX_LOG"
sleep 1
while [ "$#" -gt 0 ]; do
  if [ "$1" = "-o" ]; then echo built > "$2"; fi
  shift
done
"""


@pytest.mark.skipif(not SUPPORTED, reason="the build cache uses fcntl locks (Linux)")
def test_concurrent_builds_compile_once_and_publish_whole_files(tmp_path):
    """Three processes asking at once for the same key: one compiles, all load its file."""
    compiler = tmp_path / "fake-g++"
    compiler.write_text(FAKE_COMPILER)
    compiler.chmod(0o755)
    log, cache = tmp_path / "calls.log", tmp_path / "cache"
    libs = tmp_path / "libs"  # stand-ins for libgomp and oneDNN, with the names renamed
    libs.mkdir()
    for name in ("libgomp.so.1", "libdnnl.so.3"):
        (libs / name).write_bytes(b"ELF\0libgomp.so.1\0" + name.encode() + b"\0")
    code = f"""
from pathlib import Path
from lucid._native.build import Toolchain, ensure_built
tc = Toolchain(compiler={str(compiler)!r}, compiler_version="fake 1", python_include="/x",
               nanobind_dir=Path("/x"), mlx_dir=Path("/x"), onednn_include=Path("/x"),
               onednn_lib=Path({str(libs)!r}), versions={{}})
path, _ = ensure_built(tc)
print(path, path.read_text().strip())
"""
    env = dict(os.environ, FAKE_CXX_LOG=str(log), LUCID_NATIVE_CACHE=str(cache),
               FAKE_GOMP=str(libs / "libgomp.so.1"))
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    outputs = {out.strip() for out, _ in results}
    assert len(outputs) == 1 and outputs.pop().endswith(" built")
    assert log.read_text().count("call") == 1
    leftovers = [p.name for p in cache.rglob("build-*")]
    assert leftovers == []  # the temporary build folder is gone


# ----- ReLU and tanh kernels -----------------------------------------------------------
@needs_native
@pytest.mark.parametrize("shape", [(7,), (2, 3, 33, 65), (300_001,)], ids=str)
def test_native_relu_and_tanh_match_torch(shape):
    import mlx.core as mx
    import torch
    from tensor_parity import assert_close, randn

    lib = _native.load()
    x = randn(*shape, seed=1) * 4
    x.reshape(-1)[:3] = [0.0, 1e-5, -3e-4]  # zero, and tanh's small-argument branch
    g = randn(*shape, seed=2)
    tx = torch.tensor(x, requires_grad=True)
    for name, native, native_backward, torch_fn in (
            ("relu", lib.relu, lambda g, x, out: lib.relu_backward(g, x), torch.relu),
            ("tanh", lib.tanh, lambda g, x, out: lib.tanh_backward(g, out), torch.tanh)):
        out = native(mx.array(x))
        dx = native_backward(mx.array(g), mx.array(x), out)
        t_out = torch_fn(tx)
        (t_dx,) = torch.autograd.grad(t_out, tx, torch.tensor(g))
        assert_close(np.array(out), t_out, rtol=1e-6, atol=1e-6, what=name)
        # near saturation 1 - out^2 is ~1e-6 and sensitive to out's last bit
        assert_close(np.array(dx), t_dx, what=f"grad of {name}")


@needs_native
def test_native_unary_takes_strided_views():
    import mlx.core as mx

    lib = _native.load()
    x = mx.array(np.arange(-6, 6, dtype=np.float32).reshape(3, 4)).T  # not row-contiguous
    assert np.array_equal(np.array(lib.relu(x)), np.maximum(np.array(x), 0))
    assert np.allclose(np.array(lib.tanh(x)), np.tanh(np.array(x)), atol=1e-6)


@needs_native
@pytest.mark.parametrize("torch_first", [False, True])
def test_kernels_have_an_openmp_runtime_of_their_own(torch_first):
    """Lucid's kernels run on a private copy of libgomp (another SONAME), so PyTorch in the
    same process keeps its own OpenMP runtime, thread counts and wait policy."""
    pytest.importorskip("torch")
    code = """
import json
{first}
import lucid
x, w = lucid.randn(2, 3, 8, 8), lucid.randn(4, 3, 3, 3)
lucid.conv2d(x, w, padding=1).sum().item()
import torch
torch.randn(64, 64).mm(torch.randn(64, 64)).sum().item()
gomps = sorted({{line.split()[-1] for line in open("/proc/self/maps")
                 if "gomp" in line.split()[-1]}})
print(json.dumps(gomps))
""".format(first="import torch" if torch_first else "")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={k: v for k, v in os.environ.items()
                                           if k != "LUCID_NATIVE"})
    assert out.returncode == 0, out.stderr
    gomps = json.loads(out.stdout.strip().splitlines()[-1])
    names = sorted(p.rsplit("/", 1)[-1] for p in gomps)
    assert "liblgomp.so1" in names, gomps  # Lucid's
    assert any(n.startswith("libgomp") for n in names), gomps  # PyTorch's, a separate one


@needs_native
def test_idle_openmp_threads_spin_briefly_and_the_environment_is_left_alone():
    """Unless the environment chooses, Lucid's OpenMP runtime loads with a short spin
    (``GOMP_SPINCOUNT``), which is not left in the environment; a choice made there wins."""
    code = INFO + "\nimport os; print(json.dumps(sorted(k for k in os.environ if 'SPIN' in k)))"
    proc = run_python(code, GOMP_SPINCOUNT=None, OMP_WAIT_POLICY=None)
    assert proc.returncode == 0, proc.stderr
    info_line, env_line = proc.stdout.strip().splitlines()[-2:]
    assert json.loads(info_line)["omp_wait_policy"] == (
        f"spin {_native.SPIN_COUNT} iterations, then sleep (GOMP_SPINCOUNT={_native.SPIN_COUNT})")
    assert json.loads(env_line) == []
    proc = run_python(INFO, GOMP_SPINCOUNT=None, OMP_WAIT_POLICY="PASSIVE")
    assert proc.returncode == 0, proc.stderr
    policy = json.loads(proc.stdout.strip().splitlines()[-1])["omp_wait_policy"]
    assert policy == "OMP_WAIT_POLICY=PASSIVE (from the environment)"


def _address(a) -> int:
    """Where an evaluated MLX array's data starts (NumPy views its buffer without a copy)."""
    view = np.asarray(memoryview(a))
    assert np.shares_memory(view, np.asarray(memoryview(a)))
    return view.ctypes.data


@needs_native
def test_native_outputs_start_on_64_byte_boundaries_and_stay_usable():
    """Native kernels' outputs are 64-byte aligned (a vector load never spans two cache
    lines); MLX ops read them, and reuse their buffers, like any other array."""
    import lucid
    import mlx.core as mx

    lib = _native.load()
    rng = np.random.default_rng(0)
    for shape in [(7,), (3, 5), (2, 3, 4, 5), (1,), ()]:
        x = mx.array(rng.standard_normal(shape).astype(np.float32))
        y = mx.array(rng.standard_normal(shape).astype(np.float32))
        outs = [lib.relu(x), lib.add_relu(x, y)]
        mx.eval(outs)
        for out in outs:
            assert _address(out) % 64 == 0, shape
        assert np.array_equal(np.array(outs[1]), np.maximum(np.array(x) + np.array(y), 0))
        later = mx.exp(outs[0] * 2 + 1)  # elementwise ops may take over the buffer
        assert np.allclose(np.array(later), np.exp(np.maximum(np.array(x), 0) * 2 + 1))
    conv = lucid.conv2d(lucid.randn(2, 3, 9, 9), lucid.randn(5, 3, 3, 3), padding=1)
    mx.eval(conv._data)
    assert _address(conv._data) % 64 == 0


@needs_native
@pytest.mark.parametrize("relu", [True, False])
def test_conv2d_affine_applies_the_epilogue_inside_the_convolution(relu, monkeypatch):
    """conv2d_batch_norm runs as the native conv2d_affine (oneDNN post-ops): its values are
    PyTorch's conv2d, inference batch_norm and relu."""
    import lucid
    import torch
    import torch.nn.functional as F
    from lucid.ops.nn import conv_batch_norm

    lib, calls = _native.load(), []

    class Spy:
        def conv2d_affine(self, *args):
            calls.append(args)
            return lib.conv2d_affine(*args)

    monkeypatch.setattr(conv_batch_norm._native, "for_cpu_float32", lambda *arrays: Spy())
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 16, 10, 10)), rng.standard_normal((32, 16, 3, 3)) * 0.2
    b, mean, var, gamma, beta = (rng.standard_normal(32) for _ in range(5))
    var = np.abs(var) + 0.5
    arrays = [a.astype(np.float32) for a in (x, w, b, mean, var, gamma, beta)]
    with lucid.no_grad():
        out = lucid.conv2d_batch_norm(*map(lucid.tensor, arrays), relu=relu, stride=2,
                                      padding=1)
    t = [torch.tensor(a) for a in arrays]
    expected = F.batch_norm(F.conv2d(t[0], t[1], t[2], stride=2, padding=1), *t[3:5], *t[5:],
                            False, 0.1, 1e-5)
    expected = F.relu(expected) if relu else expected
    assert len(calls) == 1 and calls[0][5] is relu
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
    if relu:
        assert out.numpy().min() == 0.0
