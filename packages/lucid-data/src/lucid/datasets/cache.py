"""Cache of parsed arrays: ``.npz`` (one file) and ``.npy`` per array (for ``mmap_mode``).

Files for a cache ``key`` in ``cache_dir``::

    <key>.json          sidecar: format version, dataset meta, sources, shapes, file sizes
    <key>.npz           all arrays, uncompressed
    <key>.<array>.npy   one file per array, written when a memory-mapped load is asked for
    <key>.lock          lock file serialising builders

Every file is written to a temporary name and renamed with ``os.replace``; the sidecar is
written last and removed first, so a reader sees either a complete cache or none. A cache is
used only when its sidecar matches what the caller expects (format version, meta such as the
normalisation) and the files agree with it (sizes, array names, shapes, dtypes); anything
else (another version, other normalisation, a truncated or corrupted file) reads as a miss
and the caller rebuilds it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: Bump when the layout or the content of cached arrays changes.
FORMAT_VERSION = 1
MMAP_MODES = (None, "r", "c", "r+")

log = logging.getLogger(__name__)


class FileLock:
    """An exclusive advisory lock on a file (``fcntl.flock`` / ``msvcrt.locking``).

    Used as a context manager. When the lock file cannot be created (read-only folder)
    the lock is a no-op: writers still never corrupt a cache, thanks to atomic renames.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            self._fd = None
            return self
        try:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows
            import msvcrt

            while True:
                try:
                    msvcrt.locking(self._fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
        return self

    def __exit__(self, *exc):
        if self._fd is None:
            return
        try:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
        except ImportError:  # pragma: no cover - Windows
            import msvcrt

            msvcrt.locking(self._fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(self._fd)
            self._fd = None


def paths(cache_dir: str | os.PathLike, key: str) -> dict[str, Path]:
    """The sidecar, npz and lock paths of a cache."""
    d = Path(cache_dir)
    return {"json": d / f"{key}.json", "npz": d / f"{key}.npz", "lock": d / f"{key}.lock"}


def npy_path(cache_dir: str | os.PathLike, key: str, name: str) -> Path:
    return Path(cache_dir) / f"{key}.{name}.npy"


def _atomic_write(path: Path, write) -> int:
    """Write through ``write(fileobj)`` to a temp file, fsync, rename; return the size."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        size = os.path.getsize(tmp)
        os.replace(tmp, path)
        return size
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_sidecar(path: Path, sidecar: dict) -> None:
    text = json.dumps(sidecar, indent=2, sort_keys=True).encode()
    _atomic_write(path, lambda f: f.write(text))


def _describe(arrays: Mapping[str, np.ndarray]) -> dict:
    return {k: {"shape": list(v.shape), "dtype": np.dtype(v.dtype).str} for k, v in arrays.items()}


def _write_npy(cache_dir: Path, key: str, arrays: Mapping[str, np.ndarray]) -> dict:
    out = {}
    for name, arr in arrays.items():
        p = npy_path(cache_dir, key, name)
        size = _atomic_write(p, lambda f, a=arr: np.save(f, np.ascontiguousarray(a)))
        out[name] = {"file": p.name, "size": size}
    return out


def write_cache(
    cache_dir: str | os.PathLike,
    key: str,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping | None = None,
    *,
    sources: Mapping | None = None,
    npy: bool = False,
) -> Path:
    """Save ``arrays`` under ``key`` with a sidecar recording ``meta`` and ``sources``.

    ``npy=True`` also writes one ``.npy`` per array so that a later load can memory-map
    them. Returns the sidecar path. Raises ``OSError`` when the folder is not writable.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    p = paths(cache_dir, key)
    p["json"].unlink(missing_ok=True)
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    npz_size = _atomic_write(p["npz"], lambda f: np.savez(f, **arrays))
    sidecar = {
        "format_version": FORMAT_VERSION,
        "key": key,
        "meta": dict(meta or {}),
        "sources": dict(sources or {}),
        "arrays": _describe(arrays),
        "npz": {"file": p["npz"].name, "size": npz_size},
    }
    if npy:
        sidecar["npy"] = _write_npy(cache_dir, key, arrays)
    _write_sidecar(p["json"], sidecar)
    return p["json"]


def read_sidecar(cache_dir: str | os.PathLike, key: str) -> dict | None:
    """The parsed sidecar, or None when missing or not valid JSON."""
    try:
        side = json.loads(paths(cache_dir, key)["json"].read_text())
    except (OSError, ValueError):
        return None
    return side if isinstance(side, dict) else None


def _matches(side: dict, key: str, expect: Mapping) -> str | None:
    """Why ``side`` does not fit, or None when it does."""
    if side.get("format_version") != FORMAT_VERSION:
        return f"format version {side.get('format_version')} != {FORMAT_VERSION}"
    if side.get("key") != key:
        return f"key {side.get('key')!r} != {key!r}"
    meta = side.get("meta", {})
    want = json.loads(json.dumps(dict(expect)))  # tuples -> lists, as stored
    for k, v in want.items():
        if meta.get(k) != v:
            return f"meta {k}: cached {meta.get(k)!r}, wanted {v!r}"
    if not isinstance(side.get("arrays"), dict) or not isinstance(side.get("npz"), dict):
        return "sidecar lacks arrays/npz"
    return None


def _check_arrays(side: dict, arrays: Mapping[str, np.ndarray]) -> str | None:
    if set(arrays) != set(side["arrays"]):
        return f"arrays {sorted(arrays)} != {sorted(side['arrays'])}"
    for name, spec in side["arrays"].items():
        a = arrays[name]
        if list(a.shape) != spec.get("shape") or a.dtype.str != spec.get("dtype"):
            return f"array {name}: {a.shape} {a.dtype.str} != {spec}"
    return None


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _load_npy(cache_dir: Path, key: str, side: dict, mmap_mode) -> dict | None:
    entries = side.get("npy")
    if not isinstance(entries, dict) or set(entries) != set(side["arrays"]):
        return None
    out = {}
    for name, info in entries.items():
        p = Path(cache_dir) / str(info.get("file"))
        if p.parent != Path(cache_dir) or not p.is_file() or p.stat().st_size != info.get("size"):
            return None
        out[name] = np.load(p, mmap_mode=mmap_mode, allow_pickle=False)
    return out


def read_cache(
    cache_dir: str | os.PathLike,
    key: str,
    expect: Mapping | None = None,
    *,
    mmap_mode: str | None = None,
    sources: Mapping | None = None,
) -> dict[str, np.ndarray] | None:
    """Load the cache ``key``, or return None when it is missing, stale or damaged.

    ``expect`` entries must equal the sidecar's meta. ``sources`` (file name -> size) is
    compared with the sizes the sidecar recorded for those names. With ``mmap_mode`` the
    ``.npy`` files are memory-mapped (created from the ``.npz`` first if missing); without
    it they are read into memory when present, else the ``.npz`` is.
    """
    if mmap_mode not in MMAP_MODES:
        raise ValueError(f"mmap_mode must be one of {MMAP_MODES}, got {mmap_mode!r}")
    cache_dir = Path(cache_dir)
    side = read_sidecar(cache_dir, key)
    if side is None:
        return None
    why = _matches(side, key, expect or {})
    if why is None and sources:
        recorded = side.get("sources", {})
        for name, size in sources.items():
            rec = recorded.get(name)
            if isinstance(rec, dict) and rec.get("size") != size:
                why = f"source {name} changed size ({rec.get('size')} -> {size})"
                break
    if why is not None:
        log.info("cache %s/%s is stale: %s", cache_dir, key, why)
        return None
    try:
        # .npy files, when present, are read (or mapped) without the zip's CRC pass
        arrays = _load_npy(cache_dir, key, side, mmap_mode)
        if arrays is None:
            npz = cache_dir / side["npz"].get("file", "")
            if npz.parent != cache_dir or npz.stat().st_size != side["npz"].get("size"):
                log.info("cache %s/%s: npz size differs from sidecar", cache_dir, key)
                return None
            arrays = _load_npz(npz)
            if _check_arrays(side, arrays) is None and mmap_mode:
                try:  # first memory-mapped load: add the .npy files
                    side["npy"] = _write_npy(cache_dir, key, arrays)
                    _write_sidecar(paths(cache_dir, key)["json"], side)
                    arrays = _load_npy(cache_dir, key, side, mmap_mode) or arrays
                except OSError as e:  # read-only cache: in-memory arrays do as well
                    log.info("cache %s/%s: cannot add .npy files: %s", cache_dir, key, e)
    except Exception as e:  # damaged zip, bad npy header, I/O error: rebuild
        log.info("cache %s/%s unreadable: %s", cache_dir, key, e)
        return None
    if arrays is None:
        return None
    why = _check_arrays(side, arrays)
    if why is not None:
        log.info("cache %s/%s: %s", cache_dir, key, why)
        return None
    return arrays
