"""Compile the native kernels with one ``g++`` call into a per-machine cache.

The shared library is built on the user's machine at first use, as MLX builds its compiled
CPU kernels and as ``torch.utils.cpp_extension.load`` does, with ``-march=native`` (the
binary never leaves the machine). It lands in ``$LUCID_NATIVE_CACHE`` (default
``~/.cache/lucid/native``) under a key hashing everything the binary depends on: the
sources, the MLX, nanobind and Python versions, the compiler and its version, oneDNN's
location and the flags. Several processes may ask at once: one builds under a file lock,
in a temporary folder, and publishes with ``os.replace``; the others wait and load it.
A failed build is recorded next to it (``failed.log``) and not retried until
``python -m lucid._native build`` or a change of any input.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata as metadata
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MODULE = "_lucid_native"
SOURCES = Path(__file__).parent / "csrc"
FLAGS = ["-O3", "-march=native", "-shared", "-fPIC", "-std=c++20", "-fopenmp",
         "-fvisibility=hidden", "-fno-strict-aliasing", "-DNDEBUG", "-DNB_COMPACT_ASSERTIONS",
         "-DNB_DOMAIN=mlx"]


BUILDS = 0  # libraries compiled by this process


class BuildError(RuntimeError):
    """The native kernels cannot be built here; the message says why and what to do."""


@dataclass(frozen=True)
class Toolchain:
    """Everything the build reads, resolved on this machine."""

    compiler: str
    compiler_version: str
    python_include: str
    nanobind_dir: Path
    mlx_dir: Path
    onednn_include: Path
    onednn_lib: Path
    versions: dict

    def command(self, output: Path, private: list[Path]) -> list[str]:
        """The one g++ call; ``private``: the OpenMP runtime and oneDNN copies of
        ``private_runtime``, linked by path and found beside the library ($ORIGIN). With
        ``--as-needed`` the driver's own ``-lgomp`` (from ``-fopenmp``) is dropped: every
        OpenMP symbol is already the private runtime's."""
        nb = self.nanobind_dir
        sources = sorted(str(p) for p in SOURCES.glob("*.cpp"))
        mlx_lib = self.mlx_dir / "lib"
        return [
            self.compiler, *FLAGS,
            f"-I{self.python_include}", f"-I{nb / 'include'}",
            f"-I{nb / 'ext' / 'robin_map' / 'include'}", f"-I{self.mlx_dir / 'include'}",
            f"-I{self.onednn_include}", f"-I{SOURCES}",
            *sources, str(nb / "src" / "nb_combined.cpp"),
            f"-L{mlx_lib}", "-lmlx", "-Wl,--as-needed", *(str(p) for p in private),
            f"-Wl,-rpath,{mlx_lib}", "-Wl,-rpath,$ORIGIN",
            "-o", str(output),
        ]

    def openmp_runtime(self) -> Path:
        """The OpenMP runtime (libgomp) that ``-fopenmp`` links with this compiler."""
        proc = subprocess.run([self.compiler, "-print-file-name=libgomp.so.1"],
                              capture_output=True, text=True)
        path = Path(proc.stdout.strip())
        if proc.returncode != 0 or not path.is_absolute() or not path.exists():
            raise BuildError(f"{self.compiler} names no OpenMP runtime (libgomp.so.1); install "
                             "GCC's libgomp (Debian: libgomp1)")
        return path.resolve()

    def key(self) -> str:
        h = hashlib.sha256()
        for path in sorted(SOURCES.iterdir()):
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        facts = dict(self.versions, compiler=self.compiler, compiler_version=self.compiler_version,
                     openmp=PRIVATE_OPENMP,
                     onednn=str(self.onednn_lib), mlx_dir=str(self.mlx_dir),
                     python=sys.version, soabi=sysconfig.get_config_var("SOABI"), flags=FLAGS)
        h.update(json.dumps(facts, sort_keys=True).encode())
        return h.hexdigest()[:20]


PRIVATE_OPENMP = "liblgomp.so1"  # as long as "libgomp.so.1", whose name it takes over
_OPENMP_NAME = b"\0libgomp.so.1\0"


def _renamed_copy(src: Path, dst: Path) -> Path:
    """``src`` written to ``dst`` (atomically) with every dynamic-string ``libgomp.so.1``
    (its SONAME, a NEEDED entry, a symbol-version file name) reading ``PRIVATE_OPENMP``."""
    data = src.read_bytes()
    new = data.replace(_OPENMP_NAME, b"\0" + PRIVATE_OPENMP.encode() + b"\0")
    if new == data:
        raise BuildError(f"{src} names no libgomp.so.1 to make private; reinstall it")
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.write_bytes(new)
    os.chmod(tmp, 0o755)
    os.replace(tmp, dst)
    return dst


def private_runtime(tc: Toolchain, folder: Path) -> list[Path]:
    """Copies, in the build's folder, of the OpenMP runtime (as ``PRIVATE_OPENMP``) and of
    oneDNN (needing that copy), for the kernels to link.

    A process has one instance of each SONAME: a libgomp loaded for Lucid's kernels would
    also serve PyTorch (whose ``libtorch_cpu`` needs ``libgomp.so.1``), which then counted
    Lucid's idle OpenMP threads as its own, throttled its spinning and took its wait
    policy: 1.3x slower PyTorch LeNet-5 steps after a Lucid step. Under another name the
    copy is a runtime of Lucid's own; PyTorch keeps its libgomp and its settings.
    """
    gomp = _renamed_copy(tc.openmp_runtime(), folder / PRIVATE_OPENMP)
    dnnl = _renamed_copy(tc.onednn_lib / "libdnnl.so.3", folder / "libdnnl.so.3")
    return [gomp, dnnl]


def cache_root() -> Path:
    root = os.environ.get("LUCID_NATIVE_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "lucid" / "native"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _onednn_paths() -> tuple[Path, Path]:
    """oneDNN's include and lib folders: the wheels install into the environment's
    ``include/`` and ``lib/``, not site-packages, so they are found through their records."""
    fix = ("pip install 'onednn-cpu-gomp==2023.2.0' 'onednn-devel-cpu-gomp==2023.2.0'")
    try:
        headers = metadata.distribution("onednn-devel-cpu-gomp")
        runtime = metadata.distribution("onednn-cpu-gomp")
    except metadata.PackageNotFoundError as err:
        raise BuildError(f"oneDNN is not installed ({err.name} missing); fix: {fix}") from None
    header = next((f for f in headers.files or () if str(f).endswith("include/dnnl.hpp")), None)
    lib = next((f for f in runtime.files or () if str(f).endswith("libdnnl.so")), None)
    if header is None or lib is None:
        raise BuildError(f"oneDNN's dnnl.hpp or libdnnl.so is missing; fix: {fix}")
    header, lib = Path(headers.locate_file(header)).resolve(), Path(runtime.locate_file(lib))
    if not header.exists() or not lib.exists():
        raise BuildError(f"oneDNN's files are not where its records say ({header}, {lib}); "
                         f"fix: pip install --force-reinstall {fix.split(' ', 2)[2]}")
    return header.parent, lib.resolve().parent


def toolchain() -> Toolchain:
    """Resolve compiler, nanobind, MLX and oneDNN, or raise BuildError naming the fix."""
    cxx = os.environ.get("CXX", "g++")
    compiler = shutil.which(cxx)
    if compiler is None:
        raise BuildError(f"no C++ compiler: {cxx!r} is not on PATH; fix: install g++ "
                         "(e.g. apt-get install g++) or set CXX")
    try:
        probe = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                               timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        raise BuildError(f"the compiler {compiler} does not run ({err}); fix: install g++ "
                         "or set CXX to a working one") from None
    if probe.returncode != 0 or not probe.stdout.strip():
        raise BuildError(f"the compiler {compiler} does not run ('--version' failed); "
                         "fix: install g++ or set CXX to a working one")
    nb_version = _version("nanobind")
    if nb_version is None or int(nb_version.split(".")[0]) < 3:
        raise BuildError(f"nanobind>=3 is needed to bind to MLX's nanobind ABI, found "
                         f"{nb_version or 'none'}; fix: pip install 'nanobind>=3'")
    import mlx.core as mx  # noqa: F401  (libmlx must load before the module does)
    import nanobind

    mlx_dir = Path(mx.__file__).parent
    if not (mlx_dir / "include" / "mlx" / "primitives.h").exists():
        raise BuildError(f"MLX's C++ headers are missing under {mlx_dir}; fix: "
                         "pip install 'mlx[cpu]' (the mlx-cpu wheel ships them)")
    include, lib = _onednn_paths()
    return Toolchain(
        compiler=compiler, compiler_version=probe.stdout.splitlines()[0],
        python_include=sysconfig.get_paths()["include"],
        nanobind_dir=Path(nanobind.__file__).parent, mlx_dir=mlx_dir,
        onednn_include=include, onednn_lib=lib,
        versions={"mlx": _version("mlx"), "nanobind": nb_version,
                  "onednn": _version("onednn-cpu-gomp")},
    )


def library_name() -> str:
    return MODULE + sysconfig.get_config_var("EXT_SUFFIX")


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_built(tc: Toolchain, retry: bool = False, force: bool = False) -> tuple[Path, dict]:
    """Path of the built library (building it if needed) and the record of its build.

    ``retry``: build even if an earlier build failed; ``force``: rebuild even if cached.
    """
    folder = cache_root() / tc.key()
    target, record, failed = folder / library_name(), folder / "build.json", folder / "failed.log"
    if target.exists() and not force:
        return target, _read(record)
    with _locked(folder.parent / f"{folder.name}.lock"):
        if target.exists() and not force:  # another process built it while we waited
            return target, _read(record)
        if failed.exists() and not (retry or force):
            raise BuildError(f"the native build failed before (log: {failed}); fix the cause "
                             "and run 'python -m lucid._native build' to retry")
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix="build-") as tmp:
            out = Path(tmp) / library_name()
            cmd = tc.command(out, private_runtime(tc, folder))
            print(f"lucid: compiling native CPU kernels into {folder} (once per machine and "
                  "version, under a minute)", file=sys.stderr, flush=True)
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            seconds = round(time.perf_counter() - start, 2)
            if proc.returncode != 0 or not out.exists():
                failed.write_text(shlex.join(cmd) + "\n\n" + proc.stdout + proc.stderr)
                lines = (proc.stderr or proc.stdout).strip().splitlines()
                tail = [ln for ln in lines if "error" in ln][:5] or lines[-5:]
                raise BuildError(f"compiling the native kernels failed (log: {failed}):\n  "
                                 + "\n  ".join(tail))
            info = {"built_at": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": seconds,
                    "command": shlex.join(cmd)}
            tmp_record = Path(tmp) / "build.json"
            tmp_record.write_text(json.dumps(info, indent=1))
            os.replace(tmp_record, record)
            os.replace(out, target)  # atomic: readers see no file or the whole library
            _count_build()
            failed.unlink(missing_ok=True)
    return target, info


def _count_build() -> None:
    global BUILDS
    BUILDS += 1


def _read(record: Path) -> dict:
    try:
        return json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
