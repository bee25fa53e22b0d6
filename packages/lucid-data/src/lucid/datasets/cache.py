"""Cache of parsed arrays: ``.npz`` (one file) and ``.npy`` per array (for ``mmap_mode``).

Files for a cache ``key`` in ``cache_dir``::

    <key>.json          sidecar: format version, dataset meta, sources (size, mtime, md5),
                        array shapes, dtypes and CRC-32s, file sizes and mtimes
    <key>.npz           all arrays, uncompressed
    <key>.<array>.npy   one file per array, written when a memory-mapped load is asked for
    <key>.lock          lock file serialising builders

Every file is written to a temporary name and renamed with ``os.replace``; the sidecar is
written last and removed first, so a reader sees either a complete cache or none. A cache is
used only when its sidecar matches what the caller expects (format version, meta such as the
normalisation) and the files agree with it (sizes, array names, shapes, dtypes); anything
else (another version, other normalisation, a truncated or corrupted file, a sidecar that
is not of the expected shape) reads as a miss and the caller rebuilds it.

What a load checks before returning data:

- every load: the source files' size and ``mtime_ns`` against those recorded (a source
  replaced by another file, even of the same size, is a miss), the cache files' sizes;
- a normal (in-memory) load: the CRC-32 of every array's bytes (a flipped byte is a miss);
- a memory-mapped load: the ``.npy`` files' ``mtime_ns`` too, but not their bytes (reading
  them all would defeat the mapping). ``verify=True``, or ``LUCID_VERIFY_CACHE=1`` in the
  environment, checks the CRC-32s of mapped arrays as well.

Temporaries (``<file>.<pid>.<random>.tmp``) of killed writers are removed by
:func:`remove_stale_temps`; published files get the mode the umask gives (not 0600).
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from . import tempfiles

#: Bump when the layout or the content of cached arrays changes.
FORMAT_VERSION = 2
MMAP_MODES = (None, "r", "c", "r+")
#: Set to 1 to check the CRC-32 of memory-mapped cache arrays too.
VERIFY_ENV = "LUCID_VERIFY_CACHE"
_TEMP_PATTERN = r".+\.(?:npz|npy|json)\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]+\.tmp"

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


def remove_stale_temps(cache_dir: str | os.PathLike) -> list[Path]:
    """Remove cache temporaries left by killed writers (see :mod:`.tempfiles`)."""
    return tempfiles.remove_stale(cache_dir, _TEMP_PATTERN)


def file_record(path: str | os.PathLike) -> dict:
    """``{"size", "mtime_ns"}`` of a file, as sources and cache files are compared."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def crc32(a: np.ndarray) -> int:
    """CRC-32 of an array's bytes in C order."""
    a = np.ascontiguousarray(a)
    return zlib.crc32(memoryview(a.reshape(-1)).cast("B")) if a.size else 0


def _atomic_write(path: Path, write) -> dict:
    """Write through ``write(fileobj)`` to a temp file, fsync, rename; return its record."""
    fd, tmp = tempfiles.mkstemp(path, ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        tempfiles.publish_mode(tmp)
        rec = file_record(tmp)
        os.replace(tmp, path)
        return rec
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_sidecar(path: Path, sidecar: dict) -> None:
    text = json.dumps(sidecar, indent=2, sort_keys=True).encode()
    _atomic_write(path, lambda f: f.write(text))


def _describe(arrays: Mapping[str, np.ndarray]) -> dict:
    return {
        k: {"shape": list(v.shape), "dtype": np.dtype(v.dtype).str, "crc32": crc32(v)}
        for k, v in arrays.items()
    }


def _write_npy(cache_dir: Path, key: str, arrays: Mapping[str, np.ndarray]) -> dict:
    out = {}
    for name, arr in arrays.items():
        p = npy_path(cache_dir, key, name)
        rec = _atomic_write(p, lambda f, a=arr: np.save(f, np.ascontiguousarray(a)))
        out[name] = {"file": p.name, **rec}
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
    remove_stale_temps(cache_dir)
    npz = _atomic_write(p["npz"], lambda f: np.savez(f, **arrays))
    sidecar = {
        "format_version": FORMAT_VERSION,
        "key": key,
        "meta": dict(meta or {}),
        "sources": dict(sources or {}),
        "arrays": _describe(arrays),
        "npz": {"file": p["npz"].name, **npz},
    }
    if npy:
        sidecar["npy"] = _write_npy(cache_dir, key, arrays)
    _write_sidecar(p["json"], sidecar)
    return p["json"]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _file_entry_ok(e) -> bool:
    return (
        isinstance(e, dict)
        and isinstance(e.get("file"), str)
        and _is_int(e.get("size"))
        and _is_int(e.get("mtime_ns"))
    )


def sidecar_problem(side) -> str | None:
    """Why ``side`` is not a sidecar of this format's shape, or None when it is."""
    if not isinstance(side, dict):
        return f"sidecar is a {type(side).__name__}, not an object"
    if side.get("format_version") != FORMAT_VERSION:
        return f"format version {side.get('format_version')!r} != {FORMAT_VERSION}"
    if not isinstance(side.get("key"), str):
        return "sidecar key is not a string"
    for field in ("meta", "sources", "arrays"):
        if not isinstance(side.get(field), dict):
            return f"sidecar {field} is not an object"
    if not all(isinstance(v, dict) for v in side["sources"].values()):
        return "sidecar sources are not objects"
    for name, spec in side["arrays"].items():
        if not (
            isinstance(spec, dict)
            and isinstance(spec.get("shape"), list)
            and all(_is_int(n) and n >= 0 for n in spec["shape"])
            and isinstance(spec.get("dtype"), str)
            and _is_int(spec.get("crc32"))
        ):
            return f"sidecar entry of array {name!r} is malformed"
    if not _file_entry_ok(side.get("npz")):
        return "sidecar npz entry is malformed"
    npy = side.get("npy")
    if npy is not None and not (
        isinstance(npy, dict) and all(_file_entry_ok(e) for e in npy.values())
    ):
        return "sidecar npy entries are malformed"
    return None


def read_sidecar(cache_dir: str | os.PathLike, key: str) -> dict | None:
    """The parsed sidecar, or None when missing, not valid JSON or not of the expected shape."""
    path = paths(cache_dir, key)["json"]
    try:
        side = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    why = sidecar_problem(side)
    if why is not None:
        log.info("cache sidecar %s ignored: %s", path, why)
        return None
    return side


def _matches(side: dict, key: str, expect: Mapping) -> str | None:
    """Why ``side`` (of the right shape, see :func:`sidecar_problem`) does not fit, or None."""
    if side["key"] != key:
        return f"key {side['key']!r} != {key!r}"
    meta = side["meta"]
    want = json.loads(json.dumps(dict(expect)))  # tuples -> lists, as stored
    for k, v in want.items():
        if meta.get(k) != v:
            return f"meta {k}: cached {meta.get(k)!r}, wanted {v!r}"
    return None


def _sources_changed(side: dict, sources: Mapping) -> str | None:
    """Why the source files differ from those the cache was built from, or None."""
    recorded = side["sources"]
    for name, now in sources.items():
        now = {"size": now} if _is_int(now) else dict(now)
        rec = recorded.get(name)
        if rec is None:
            return f"source {name} is not in the sidecar"
        for field, value in now.items():
            if rec.get(field) != value:
                return f"source {name} changed ({field} {rec.get(field)!r} -> {value!r})"
    return None


def _check_arrays(side: dict, arrays: Mapping[str, np.ndarray], verify: bool) -> str | None:
    if set(arrays) != set(side["arrays"]):
        return f"arrays {sorted(arrays)} != {sorted(side['arrays'])}"
    for name, spec in side["arrays"].items():
        a = arrays[name]
        if list(a.shape) != spec["shape"] or a.dtype.str != spec["dtype"]:
            return f"array {name}: {a.shape} {a.dtype.str} != {spec}"
        if verify and crc32(a) != spec["crc32"]:
            return f"array {name}: CRC-32 {crc32(a)} != {spec['crc32']} (damaged file)"
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
        p = Path(cache_dir) / info["file"]
        if p.parent != Path(cache_dir) or not p.is_file():
            return None
        rec = file_record(p)
        if rec["size"] != info["size"] or (mmap_mode and rec["mtime_ns"] != info["mtime_ns"]):
            log.info("cache %s/%s: %s changed since it was written", cache_dir, key, p.name)
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
    verify: bool | None = None,
) -> dict[str, np.ndarray] | None:
    """Load the cache ``key``, or return None when it is missing, stale or damaged.

    ``expect`` entries must equal the sidecar's meta. ``sources`` (file name -> a
    :func:`file_record`, or a bare size) is compared with what the sidecar recorded for
    those names. With ``mmap_mode`` the ``.npy`` files are memory-mapped (created from the
    ``.npz`` first if missing); without it they are read into memory when present, else the
    ``.npz`` is. In-memory arrays are checked against their CRC-32; mapped ones only when
    ``verify`` (default: ``$LUCID_VERIFY_CACHE`` is ``1``).
    """
    if mmap_mode not in MMAP_MODES:
        raise ValueError(f"mmap_mode must be one of {MMAP_MODES}, got {mmap_mode!r}")
    if verify is None:
        verify = os.environ.get(VERIFY_ENV, "") not in ("", "0")
    verify = bool(verify) or not mmap_mode
    cache_dir = Path(cache_dir)
    side = read_sidecar(cache_dir, key)
    if side is None:
        return None
    why = _matches(side, key, expect or {})
    if why is None and sources:
        why = _sources_changed(side, sources)
    if why is not None:
        log.info("cache %s/%s is stale: %s", cache_dir, key, why)
        return None
    checked = False  # arrays already verified against the sidecar's CRC-32s
    try:
        # .npy files, when present, are read (or mapped) without the zip's CRC pass
        arrays = _load_npy(cache_dir, key, side, mmap_mode)
        if arrays is None:
            npz = cache_dir / side["npz"]["file"]
            if npz.parent != cache_dir or npz.stat().st_size != side["npz"]["size"]:
                log.info("cache %s/%s: npz size differs from sidecar", cache_dir, key)
                return None
            arrays = _load_npz(npz)
            why = _check_arrays(side, arrays, True)
            if why is not None:
                log.info("cache %s/%s: %s", cache_dir, key, why)
                return None
            checked = True
            if mmap_mode:
                try:  # first memory-mapped load: add the .npy files (from verified arrays)
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
    try:
        why = _check_arrays(side, arrays, verify and not checked)
    except OSError as e:  # a mapped file that cannot be read
        why = f"unreadable: {e}"
    if why is not None:
        log.info("cache %s/%s: %s", cache_dir, key, why)
        return None
    return arrays
