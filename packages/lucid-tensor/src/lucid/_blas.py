"""Load an optimised BLAS into the process before MLX, on Linux.

MLX's Linux wheels link the reference (netlib) BLAS, about 15x slower than OpenBLAS on a
matrix product. MLX calls ``cblas_sgemm`` and friends by name, and the dynamic linker looks
a name up in the process's global scope before a library's own dependencies. So an
OpenBLAS with unprefixed symbols (the ``ngsolve-openblas`` wheel, built for every x86-64
CPU type; or ``cmeel-openblas``, built for one) opened ``RTLD_GLOBAL`` before ``mlx.core``
is imported serves every BLAS and LAPACK call MLX makes.

That OpenBLAS needs ``libgfortran.so.5``, which a bare Linux machine lacks. The wheels that
Lucid already depends on (``mlx[cpu]``, ``numpy``) ship a copy, renamed with a hash so it
cannot clash (``mlx_cpu.libs/libgfortran-f7379c93.so.5.0.0``). The linker matches a needed
library against the ``SONAME`` of the libraries already loaded, so Lucid loads an in-memory
copy of that file whose ``SONAME`` reads ``libgfortran.so.5``; nothing is written to disk.

``info()`` tells what happened. Set ``LUCID_NO_OPENBLAS=1`` to keep MLX's own BLAS.
"""

from __future__ import annotations

import ctypes
import glob
import os
import struct
import sys
import tempfile
import time
import warnings

OPT_OUT_VAR = "LUCID_NO_OPENBLAS"
GFORTRAN = "libgfortran.so.5"
OPENBLAS_NAMES = ("libopenblas.so.0", "libopenblas.so")
# CPU feature each single-target OpenBLAS build needs (a DYNAMIC_ARCH build picks at run time)
TARGET_FEATURE = {
    "HASWELL": "avx2", "ZEN": "avx2", "SKYLAKEX": "avx512f", "COOPERLAKE": "avx512_bf16",
    "SAPPHIRERAPIDS": "amx_tile", "NEOVERSEV1": "sve", "NEOVERSEN2": "sve2", "ARMV8SVE": "sve",
}
state: dict = {"status": "not attempted", "path": None, "gfortran": None}
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


def _dynamic(data: bytes) -> tuple[int | None, list[int]]:
    """File offsets of the ``SONAME`` and ``NEEDED`` strings of a 64-bit little-endian ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    loads, dynamic = [], None
    for i in range(phnum):
        ptype, _, offset, vaddr, _, filesz, _, _ = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if ptype == 1:  # PT_LOAD
            loads.append((vaddr, offset, filesz))
        elif ptype == 2:  # PT_DYNAMIC
            dynamic = offset
    if dynamic is None:
        raise ValueError("no dynamic section")
    tags: dict[int, list[int]] = {}
    for pos in range(dynamic, len(data), 16):
        tag, val = struct.unpack_from("<qQ", data, pos)
        if tag == 0:  # DT_NULL
            break
        tags.setdefault(tag, []).append(val)
    strtab = next(off + tags[5][0] - va for va, off, size in loads if va <= tags[5][0] < va + size)
    soname = strtab + tags[14][0] if 14 in tags else None
    return soname, [strtab + v for v in tags.get(1, [])]


def _cstring(data: bytes, pos: int) -> str:
    return data[pos:data.index(b"\0", pos)].decode()


def _open_image(data: bytes, name: str) -> None:
    """dlopen an ELF image held in memory (a memfd), or via a temporary file."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(name)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            ctypes.CDLL(f"/proc/self/fd/{fd}")
            return
        except OSError:
            pass
        finally:
            os.close(fd)
    with tempfile.TemporaryDirectory(prefix="lucid-blas-") as folder:
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        ctypes.CDLL(path)


def _load_as(src: str, soname: str) -> None:
    """Load a copy of library ``src`` whose ``SONAME`` is rewritten to ``soname``."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    at, needed = _dynamic(data)
    end = data.index(b"\0", at) if at is not None else -1
    if at is None or end - at < len(soname):
        raise ValueError(f"{src}: SONAME too short to rewrite")
    data[at:end] = soname.encode().ljust(end - at, b"\0")
    folder = os.path.dirname(src)
    for pos in needed:  # siblings it finds through RPATH $ORIGIN, e.g. libquadmath-<hash>.so
        sibling = os.path.join(folder, _cstring(data, pos))
        if os.path.exists(sibling):
            ctypes.CDLL(sibling)
    _open_image(bytes(data), soname)


def _load_gfortran() -> str:
    errors = []
    for src in _gfortran_copies():
        try:
            _load_as(src, GFORTRAN)
            return src
        except (OSError, ValueError, struct.error, StopIteration, KeyError) as err:
            errors.append(f"{src}: {err}")
    raise OSError(f"no usable copy of {GFORTRAN} in a wheel ({'; '.join(errors) or 'none'})")


def _open_openblas(path: str) -> ctypes.CDLL:
    try:
        return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError as err:
        if GFORTRAN not in str(err) or state["gfortran"]:
            raise
    state["gfortran"] = _load_gfortran()
    return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


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
    """Which library a ``cblas_sgemm`` call from a library loaded now would bind to."""
    address = _address(ctypes.CDLL(None), "cblas_sgemm")
    return None if address is None else (_library_of(address) or hex(address))


def preload() -> None:
    """Open OpenBLAS ``RTLD_GLOBAL``; called by ``import lucid`` before ``mlx.core``."""
    global _lib
    if not sys.platform.startswith("linux"):
        state["status"] = "not needed (not Linux)"
        return
    if os.environ.get(OPT_OUT_VAR, "") not in ("", "0"):
        state["status"] = f"disabled by {OPT_OUT_VAR}"
        return
    if "mlx.core" in sys.modules:
        provider = global_sgemm()
        if provider is not None:  # e.g. an OpenBLAS in LD_PRELOAD
            state.update(status="loaded", path=provider)
            return
        state["status"] = "mlx.core was imported before lucid"
        warnings.warn(
            "mlx.core was imported before lucid, so Lucid could not give MLX an optimised "
            "BLAS: matrix products and convolutions may be ~15x slower. Import lucid first.",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    errors = []
    for path in _candidates():
        reason = _unsupported(path)
        if reason:
            errors.append(reason)
            continue
        try:
            lib = _open_openblas(path)
        except OSError as err:
            errors.append(str(err))
            continue
        own = _address(lib, "cblas_sgemm")
        if own is None:
            errors.append(f"{path}: no cblas_sgemm")
            continue
        _lib = lib
        state["path"] = path
        if _address(ctypes.CDLL(None), "cblas_sgemm") == own:
            state["status"] = "loaded"
        else:
            state["status"] = f"loaded, but cblas_sgemm resolves to {global_sgemm()}"
        return
    state["status"] = "no OpenBLAS found (pip install ngsolve-openblas): " + "; ".join(errors)


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
    """Which BLAS MLX uses: ``status``, ``path``, ``gfortran``, ``threads``, ``config``.

    ``measure=True`` adds ``sgemm_gflops`` (a 1024 x 1024 product, about 0.1 s).
    """
    out = dict(state, threads=num_threads(), config=None)
    if _lib is not None:
        _lib.openblas_get_config.restype = ctypes.c_char_p
        out["config"] = _lib.openblas_get_config().decode()
    if measure:
        out["sgemm_gflops"] = round(measure_sgemm_gflops(), 1)
    return out
