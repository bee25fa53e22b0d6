"""Native CPU kernels: MLX custom primitives in C++ (oneDNN convolutions and pooling,
OpenMP BatchNorm with an optional fused ReLU).

``load()`` returns the compiled module, building it at first use (``lucid._native.build``),
or ``None`` when the MLX-ops path must run instead: ``LUCID_NATIVE=0``, a platform other
than Linux x86-64, or a failed build (then Lucid warns once, naming the cause and the fix).
``native_info()`` says what is in use and why. Ops choose the native path at their entry,
on the CPU and for float32 only.

Threads: one count for every kernel, ``LUCID_NUM_THREADS`` or the CPUs this process may
use. Idle OpenMP threads spin briefly, then sleep: ``GOMP_SPINCOUNT=30000`` (a third of a
millisecond by libgomp's reckoning) while the library loads, unless ``GOMP_SPINCOUNT`` or
``OMP_WAIT_POLICY`` is set. Back-to-back kernels find their threads awake (waking sleeping
threads cost 2-3% of a ResNet-18 step), and so short a spin leaves the cores to the BLAS
that follows.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import threading
import warnings

from .build import BuildError, cache_root, ensure_built, toolchain

_lock = threading.Lock()
_state: dict = {}


def enabled_by_env() -> bool:
    return os.environ.get("LUCID_NATIVE", "1").strip().lower() not in ("0", "false", "off", "no")


def set_num_threads(n: int) -> None:
    """Threads of every native kernel from now on (``lucid.set_num_threads`` calls this)."""
    _state["threads_asked"] = max(1, int(n))
    module = _state.get("module")
    if module is not None:
        module.set_num_threads(_state["threads_asked"])
        _state["threads"] = _state["threads_asked"]


def _threads() -> int:
    if "threads_asked" in _state:
        return _state["threads_asked"]
    env = os.environ.get("LUCID_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


#: idle OpenMP threads' spin (libgomp's iterations) before they sleep, unless set
SPIN_COUNT = "30000"


def _import(path):
    """Import the built library, its OpenMP runtime (a private copy: ``build.private_runtime``)
    told to spin ``SPIN_COUNT`` iterations when idle, then sleep. Only this copy reads the
    setting, as it loads, and it is not left in the environment: other libraries' OpenMP
    (PyTorch's libgomp) keep theirs. Returns the module and the wait policy in words."""
    chosen = [k for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ]
    if chosen:
        return _exec_module(path), ", ".join(f"{k}={os.environ[k]} (from the environment)"
                                             for k in chosen)
    os.environ["GOMP_SPINCOUNT"] = SPIN_COUNT  # libgomp reads it once, when it loads
    try:
        module = _exec_module(path)
    finally:
        del os.environ["GOMP_SPINCOUNT"]
    return module, f"spin {SPIN_COUNT} iterations, then sleep (GOMP_SPINCOUNT={SPIN_COUNT})"


def _exec_module(path):
    spec = importlib.util.spec_from_file_location(f"{__name__}._lucid_native", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(retry: bool = False, force: bool = False):
    if not enabled_by_env():
        return None, "off: LUCID_NATIVE=0 in the environment"
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None, f"off: native kernels are built on Linux x86-64 only (here {sys.platform} " \
                     f"{platform.machine()}); the MLX-ops path runs"
    try:
        tc = toolchain()
        path, record = ensure_built(tc, retry=retry, force=force)
        module, policy = _import(path)
    except BuildError as err:
        return None, f"unavailable: {err}"
    except (ImportError, OSError) as err:
        return None, f"unavailable: the built library does not load ({err}); fix: run " \
                     "'python -m lucid._native build' to rebuild it"
    threads = _threads()
    module.set_num_threads(threads)
    _state.update(path=str(path), build=record, toolchain=tc, omp_wait_policy=policy, threads=threads)
    return module, "in use"


def load(retry: bool = False, force: bool = False):
    """The native module, or ``None`` (warned once per process) when it cannot be used.

    ``retry``: build even after a failed build; ``force``: rebuild even if cached (both
    only take effect before the module has been loaded in this process).
    """
    if "module" in _state:  # the common case, without the lock
        return _state["module"]
    with _lock:
        if "module" in _state:
            return _state["module"]
        before = _build_count()
        module, reason = _load(retry, force)
        _state["built_now"] = _build_count() > before
        _state.update(module=module, reason=reason)
        if module is None and reason.startswith("unavailable") and not _state.get("warned"):
            _state["warned"] = True
            warnings.warn(f"Lucid's native CPU kernels are {reason}. Lucid runs its MLX-ops "
                          "path instead (correct, slower); LUCID_NATIVE=0 silences this.",
                          RuntimeWarning, stacklevel=3)
        return module


def _build_count() -> int:
    from . import build

    return build.BUILDS


def for_cpu_float32(*arrays):
    """The native module when every array is float32 and the op runs on the CPU, else None.

    The one test each op's algorithm chooser makes before taking a native kernel.
    """
    import mlx.core as mx

    if any(a is not None and a.dtype != mx.float32 for a in arrays):
        return None
    if mx.default_device().type != mx.DeviceType.cpu:
        return None
    return load()


def native_info() -> dict:
    """What native kernels are in use and why (loads or builds them if not done yet)."""
    module = load()
    info = {"enabled": module is not None, "reason": _state["reason"],
            "cache": str(cache_root())}
    if module is not None:
        tc = _state["toolchain"]
        info.update(
            path=_state["path"], built_now=_state["built_now"],
            build_seconds=_state["build"].get("seconds"), built_at=_state["build"].get("built_at"),
            compiler=f"{tc.compiler} ({tc.compiler_version})", onednn=module.onednn_version(),
            onednn_lib=str(tc.onednn_lib), mlx=tc.versions["mlx"],
            nanobind=tc.versions["nanobind"], threads=module.num_threads(),
            omp_wait_policy=_state["omp_wait_policy"],
            kernels=["conv2d (forward, backward data, backward weights; inference with a "
                     "BatchNorm(+relu) epilogue)",
                     "max_pool2d, avg_pool2d (forward, backward)",
                     "batch_norm (+relu; training forward/backward, inference forward)",
                     "relu, tanh (forward, backward), add+relu, add",
                     "adam/adamw and sgd parameter updates"],
        )
    return info


__all__ = ["for_cpu_float32", "load", "native_info"]
