"""Give MLX an optimised BLAS on Linux, without lending it to any other library.

MLX's Linux wheels link the reference (netlib) BLAS, about 15x slower than OpenBLAS on a
matrix product: ``libmlx.so`` needs ``libblas-<hash>.so.3`` and ``liblapack-<hash>.so.3``,
shipped beside it. The dynamic linker satisfies a ``NEEDED`` name with any library already
loaded under that ``SONAME``. So before ``mlx.core`` is imported, Lucid opens OpenBLAS (the
``ngsolve-openblas`` wheel, built for every x86-64 CPU type; or ``cmeel-openblas``)
``RTLD_LOCAL`` and loads, under each of those two names, an alias: a library with no code
whose only dependency is OpenBLAS (``lucid._elf``). MLX then binds every BLAS and LAPACK
call to OpenBLAS, and the reference libraries are never loaded.

Nothing enters the process's global symbol scope: a library loaded later (PyTorch, whose
``libtorch_cpu`` exports and calls ``sgemm_`` through its PLT) still binds to its own BLAS.
Opening OpenBLAS ``RTLD_GLOBAL`` instead, as Lucid once did, made PyTorch's matrix
products run in OpenBLAS beside PyTorch's own OpenMP threads: 4x slower LeNet-5 steps.

That OpenBLAS needs ``libgfortran.so.5``, which a bare Linux machine lacks. The wheels that
Lucid already depends on (``mlx[cpu]``, ``numpy``) ship a copy, renamed with a hash so it
cannot clash (``mlx_cpu.libs/libgfortran-f7379c93.so.5.0.0``); Lucid loads an in-memory
copy of it whose ``SONAME`` reads ``libgfortran.so.5``.

OpenBLAS's idle threads spin for ``2^OPENBLAS_THREAD_TIMEOUT`` cycles (default 2^28, about
0.1 s) after each product; beside the native kernels' OpenMP threads on few cores they took
a core away from each following kernel (LeNet-5 batch 128 on 2 loaded cores: backward
median 8 ms, 4.3 ms with the timeout at its minimum, 4, which Lucid sets unless the
environment does).

``info()`` tells what happened. Set ``LUCID_NO_OPENBLAS=1`` to keep MLX's own BLAS.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
import sys
import time
import warnings

from . import _elf

OPT_OUT_VAR = "LUCID_NO_OPENBLAS"
GFORTRAN = "libgfortran.so.5"
OPENBLAS_NAMES = ("libopenblas.so.0", "libopenblas.so")
THREAD_TIMEOUT_VAR, THREAD_TIMEOUT = "OPENBLAS_THREAD_TIMEOUT", "4"  # spin 2^4 cycles when idle
# CPU feature each single-target OpenBLAS build needs (a DYNAMIC_ARCH build picks at run time)
TARGET_FEATURE = {
    "HASWELL": "avx2", "ZEN": "avx2", "SKYLAKEX": "avx512f", "COOPERLAKE": "avx512_bf16",
    "SAPPHIRERAPIDS": "amx_tile", "NEOVERSEV1": "sve", "NEOVERSEN2": "sve2", "ARMV8SVE": "sve",
}
state: dict = {"status": "not attempted", "path": None, "gfortran": None, "aliases": []}
_lib: ctypes.CDLL | None = None


def _site_dirs() -> list[str]:
    return [p for p in dict.fromkeys(sys.path) if p and os.path.isdir(p)]


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return set()
    return {w for line in text.splitlines() if line.startswith(("flags", "Features"))
            for w in line.split(":", 1)[1].split()}


def _unsupported(lib: str) -> str | None:
    """Why a single-target OpenBLAS build would crash on this CPU, from its openblas.pc."""
    if not os.path.isabs(lib):
        return None
    try:
        with open(os.path.join(os.path.dirname(lib), "pkgconfig", "openblas.pc")) as f:
            config = next((ln for ln in f if ln.startswith("openblas_config=")), "")
    except OSError:
        return None
    words = config.partition("=")[2].split()
    if "DYNAMIC_ARCH=OFF" not in words:
        return None
    feature = next((TARGET_FEATURE[w] for w in words if w in TARGET_FEATURE), None)
    if feature is None or feature in _cpu_flags():
        return None
    return f"{lib} is built for one CPU type ({config.strip()}) and this CPU lacks {feature}"


def _candidates() -> list[str]:
    """OpenBLAS libraries to try, best first: the ``ngsolve-openblas`` wheel (built for
    every x86-64 CPU type), the ``cmeel-openblas`` wheel, then the system's."""
    wheel, cmeel = [], []
    for root in _site_dirs():
        wheel += sorted(glob.glob(os.path.join(root, "ngsolve_openblas", "libopenblas*.so*")))
        for name in OPENBLAS_NAMES:
            path = os.path.join(root, "cmeel.prefix", "lib", name)
            if os.path.exists(path):
                cmeel.append(path)
                break
    return wheel + cmeel + ["libopenblas.so.0"]


def _gfortran_copies() -> list[str]:
    """Renamed ``libgfortran.so.5`` files bundled in wheels (``mlx_cpu.libs`` first)."""
    found = []
    for root in _site_dirs():
        found += sorted(glob.glob(os.path.join(root, "*.libs", "libgfortran-*.so.5*")))
    return sorted(found, key=lambda p: "mlx" not in os.path.basename(os.path.dirname(p)))


def _load_gfortran() -> str:
    errors = []
    for src in _gfortran_copies():
        try:
            _elf.load_as(src, GFORTRAN)
            return src
        except (OSError, ValueError, StopIteration, KeyError) as err:
            errors.append(f"{src}: {err}")
    raise OSError(f"no usable copy of {GFORTRAN} in a wheel ({'; '.join(errors) or 'none'})")


def _open_openblas(path: str) -> ctypes.CDLL:
    """Open OpenBLAS with its idle threads' spin shortened (read once, as it loads; not
    left in the environment for other libraries)."""
    set_here = THREAD_TIMEOUT_VAR not in os.environ
    if set_here:
        os.environ[THREAD_TIMEOUT_VAR] = THREAD_TIMEOUT
    try:
        try:
            return ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        except OSError as err:
            if GFORTRAN not in str(err) or state["gfortran"]:
                raise
        state["gfortran"] = _load_gfortran()
        return ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
    finally:
        if set_here:
            del os.environ[THREAD_TIMEOUT_VAR]


def _address(lib: ctypes.CDLL, name: str) -> int | None:
    try:
        return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
    except AttributeError:
        return None


def _library_of(address: int) -> str | None:
    """The file defining ``address`` (glibc ``dladdr``), or None."""

    class DlInfo(ctypes.Structure):
        _fields_ = [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p),
                    ("sname", ctypes.c_char_p), ("saddr", ctypes.c_void_p)]

    for libname in (None, "libdl.so.2"):
        try:
            dladdr = ctypes.CDLL(libname).dladdr
        except (OSError, AttributeError):
            continue
        info = DlInfo()
        if dladdr(ctypes.c_void_p(address), ctypes.byref(info)) and info.fname:
            return info.fname.decode(errors="replace")
    return None


def global_sgemm() -> str | None:
    """Which library a ``cblas_sgemm`` call from a library loaded now would bind to through
    the global scope (None: no library there defines it, as Lucid intends)."""
    address = _address(ctypes.CDLL(None), "cblas_sgemm")
    return None if address is None else (_library_of(address) or hex(address))


def _libmlx() -> str | None:
    """Path of the ``libmlx.so`` that ``import mlx.core`` will load, found without
    importing it."""
    try:
        spec = importlib.util.find_spec("mlx")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, "lib", "libmlx.so")
        if os.path.exists(path):
            return path
    return None


def mlx_sgemm() -> str | None:
    """The library that MLX's ``cblas_sgemm`` binds to (after ``mlx.core`` is loaded)."""
    path = _libmlx()
    if path is None or "mlx.core" not in sys.modules:
        return None
    address = _address(ctypes.CDLL(path), "cblas_sgemm")
    return None if address is None else (_library_of(address) or hex(address))


def _reference_blas_names(libmlx: str) -> list[str]:
    """The reference BLAS/LAPACK libraries ``libmlx.so`` needs (``libblas-<hash>.so.3``)."""
    _, needed = _elf.read_names(libmlx)
    return [n for n in needed if n.startswith(("libblas", "liblapack", "libcblas"))]


def preload() -> None:
    """Give MLX OpenBLAS through aliases (module docstring); call before ``mlx.core``."""
    global _lib
    if state["status"] != "not attempted":
        return
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
            stacklevel=4,
        )
        return
    libmlx = _libmlx()
    names = _reference_blas_names(libmlx) if libmlx else []
    if not names:
        state["status"] = "not needed (MLX links no reference BLAS)"
        return
    errors = []
    for path in _candidates():
        reason = _unsupported(path)
        if reason:
            errors.append(reason)
            continue
        try:
            lib = _open_openblas(path)
            soname, _ = _elf.read_names(path) if os.path.isabs(path) else (path, [])
        except (OSError, ValueError) as err:
            errors.append(str(err))
            continue
        if _address(lib, "cblas_sgemm") is None:
            errors.append(f"{path}: no cblas_sgemm")
            continue
        try:
            for name in names:
                _elf.load_alias(name, soname or os.path.basename(path), _elf.machine(libmlx))
        except (OSError, ValueError) as err:
            errors.append(f"{path}: aliasing {names} failed: {err}")
            continue
        _lib = lib
        state.update(status="loaded", path=path, aliases=names)
        return
    state["status"] = "no OpenBLAS found (pip install ngsolve-openblas): " + "; ".join(errors)


class _BeforeMLX:
    """A meta-path finder that runs ``preload`` as ``mlx.core`` is about to be imported, by
    Lucid's engine or by anyone else; it finds nothing itself."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "mlx.core" and state["status"] == "not attempted":
            preload()
        return None


def install_import_hook() -> None:
    """Make the next ``import mlx.core`` preload OpenBLAS for MLX (``import lucid`` calls
    this; it loads nothing now)."""
    if not any(isinstance(f, _BeforeMLX) for f in sys.meta_path):
        sys.meta_path.insert(0, _BeforeMLX())


def num_threads() -> int | None:
    """Threads OpenBLAS uses (None when it is not loaded)."""
    return _lib.openblas_get_num_threads() if _lib is not None else None


def set_num_threads(n: int) -> None:
    """Set the number of threads OpenBLAS uses (no effect when it is not loaded)."""
    if _lib is not None:
        _lib.openblas_set_num_threads(int(n))


def measure_sgemm_gflops(n: int = 1024, repeats: int = 3) -> float:
    """GFLOP/s of an n x n float32 matrix product through MLX on the CPU (best of repeats)."""
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


def info(measure: bool = False) -> dict:
    """Which BLAS MLX uses: ``status``, ``path``, ``gfortran``, ``aliases`` (the reference
    libraries OpenBLAS stands in for), ``threads``, ``config``, ``mlx_sgemm`` (the library
    MLX's ``cblas_sgemm`` binds to) and ``global_sgemm`` (the one a library loaded now
    would bind to: None, since Lucid puts nothing in the global scope).

    ``measure=True`` adds ``sgemm_gflops`` (a 1024 x 1024 product, about 0.1 s).
    """
    out = dict(state, threads=num_threads(), config=None, mlx_sgemm=mlx_sgemm(),
               global_sgemm=global_sgemm())
    if _lib is not None:
        _lib.openblas_get_config.restype = ctypes.c_char_p
        out["config"] = _lib.openblas_get_config().decode()
    if measure:
        out["sgemm_gflops"] = round(measure_sgemm_gflops(), 1)
    return out
