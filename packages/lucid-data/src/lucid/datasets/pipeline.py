"""The road every ``get_*_numpy`` takes: cache hit, else locate/download, parse, cache.

1. Resolve the data folder (``root``, see :func:`~lucid.datasets.home.data_home`) and the
   cache folder: ``<cache root>/<name>-<key>/``, the cache root being ``$LUCID_DATA_HOME``
   (default ``~/.cache/lucid``) and ``key`` 12 hex digits of the SHA-256 of the data
   folder's absolute path, so two data folders never share a cache. Nothing is written
   into the data folder (unless it is where a download goes).
2. Only the uint8 images and int64 labels are cached. A valid cache is returned at once
   (memory-mapped with ``mmap_mode``).
3. Otherwise, holding the dataset's lock: check the cache again (another process may
   have just built it), else locate the official files (downloading them when missing and
   allowed), parse them, cache them and print one line saying what, where and how large.
4. Float images (``x / 255``, normalised or not) are computed in memory from the uint8
   arrays on every call: float32 is never cached.

A cache folder that cannot be written only costs speed: a warning says so and the arrays
are returned uncached.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import cache as _cache
from .home import data_home, missing_dirs, remove_empty_dirs
from .preprocess import prepare_images, resolve_normalize

SPLITS = ("x_train", "y_train", "x_test", "y_test")


class Spec:
    """What a dataset module tells the pipeline (see ``mnist.py`` and ``cifar.py``)."""

    name: str  # cache key prefix, e.g. "cifar10"
    title: str  # for messages, e.g. "CIFAR-10"
    channels: int
    default_stats: tuple

    def locate(self, home: Path) -> Path | None:
        """The folder holding every file the parser needs, or None."""
        raise NotImplementedError

    def source_sizes(self, folder: Path) -> dict[str, dict]:
        """File name -> ``cache.file_record`` (size, mtime_ns) of the source files in
        ``folder`` (staleness check)."""
        raise NotImplementedError

    def fetch(self, home: Path, download: bool, mirrors, progress: bool) -> Path:
        """Get the files (extract, download); raise DatasetNotFoundError with instructions."""
        raise NotImplementedError

    def parse(self, folder: Path) -> tuple[dict[str, np.ndarray], dict]:
        """uint8 NCHW images and int64 labels for both splits, and the sources' checksums."""
        raise NotImplementedError

    def meta(self) -> dict:
        """Extra sidecar entries that must match (e.g. CIFAR-100's label mode)."""
        return {}


def folder_key(data_folder: str | os.PathLike) -> str:
    """12 hex digits of the SHA-256 of ``data_folder``'s absolute, resolved path."""
    path = os.fsencode(Path(data_folder).expanduser().resolve())
    return hashlib.sha256(path).hexdigest()[:12]


def default_cache_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """``<$LUCID_DATA_HOME or ~/.cache/lucid>/<name>-<folder_key(data folder)>``.

    The data folder is ``root``, or the cache root itself when ``root`` is None.
    """
    return data_home() / f"{name}-{folder_key(data_home(root))}"


def _size_text(nbytes: int) -> str:
    mb = nbytes / 1e6
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB"


def _announce(spec: Spec, cdir: Path, key: str) -> None:
    """One line on stderr: what was cached, how large, where."""
    side = _cache.read_sidecar(cdir, key) or {}
    files = [side.get("npz") or {}, *(side.get("npy") or {}).values()]
    nbytes = sum(f.get("size", 0) for f in files)
    print(f"lucid-data: cached {spec.title} (uint8, {_size_text(nbytes)}) in {cdir}{os.sep}",
          file=sys.stderr, flush=True)


def _try_write(spec: Spec, cdir: Path, key: str, arrays, meta, sources, npy: bool) -> bool:
    try:
        _cache.write_cache(cdir, key, arrays, meta, sources=sources, npy=npy)
    except OSError as e:
        warnings.warn(
            f"could not write the dataset cache in {cdir} ({e}); arrays are returned "
            "uncached. Set LUCID_DATA_HOME or pass cache_dir= a writable folder, or "
            "cache=False.",
            RuntimeWarning,
            stacklevel=4,
        )
        return False
    _announce(spec, cdir, key)
    return True


def _build(spec: Spec, req: dict, cached) -> dict[str, np.ndarray]:
    """The uint8 arrays parsed from the source files (fetched if needed), cached."""
    folder = req["folder"]
    if folder is None:
        folder = spec.fetch(req["home"], req["download"], req["mirrors"], req["progress"])
    arrays, sources = spec.parse(folder)
    if req["cache"]:
        npy = bool(req["mmap_mode"])
        if _try_write(spec, req["cdir"], req["key"], arrays, req["meta"], sources, npy):
            if npy and (hit := cached()) is not None:
                return hit
    return arrays


def _images(arrays: dict, raw: bool, stats) -> tuple[np.ndarray, ...]:
    """The four splits, images converted to float32 in memory unless ``raw``."""
    if raw:
        return tuple(arrays[k] for k in SPLITS)
    return (
        prepare_images(arrays["x_train"], stats),
        arrays["y_train"],
        prepare_images(arrays["x_test"], stats),
        arrays["y_test"],
    )


def load(
    spec: Spec,
    *,
    root: str | os.PathLike | None,
    normalize,
    mmap_mode: str | None,
    download: bool,
    cache: bool,
    cache_dir: str | os.PathLike | None,
    raw: bool,
    mirrors,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_train, y_train, x_test, y_test`` for ``spec``; see the module docstring."""
    if mmap_mode not in _cache.MMAP_MODES:
        raise ValueError(f"mmap_mode must be one of {_cache.MMAP_MODES}, got {mmap_mode!r}")
    if mmap_mode and not cache:
        raise ValueError("mmap_mode maps the cached .npy files: it needs cache=True")
    home = data_home(root)
    stats = None if raw else resolve_normalize(normalize, spec.default_stats, spec.channels)
    if cache_dir is not None:
        cdir = Path(cache_dir).expanduser()
    else:
        cdir = default_cache_dir(spec.name, root)
    # the data folder is part of the meta: a cache_dir shared by two folders rebuilds
    meta = {"dataset": spec.name, **spec.meta(), "dtype": "uint8", "data_folder": str(home.resolve())}
    key = f"{spec.name}-uint8"
    folder = spec.locate(home)
    sizes = spec.source_sizes(folder) if folder is not None else None

    def cached():
        return _cache.read_cache(cdir, key, meta, mmap_mode=mmap_mode, sources=sizes)

    if cache:
        _cache.remove_stale_temps(cdir)  # temporaries of a writer that was killed
        if (hit := cached()) is not None:
            return _images(hit, raw, stats)
    req = dict(
        cache=cache, cdir=cdir, meta=meta, key=key, folder=folder, home=home,
        download=download, mirrors=mirrors, progress=progress, mmap_mode=mmap_mode,
    )  # fmt: skip
    lock_path = cdir / f"{spec.name}.lock"
    created = missing_dirs(cdir) if cache else []
    try:
        with _cache.FileLock(lock_path) if cache else contextlib.nullcontext():
            arrays = cached() if cache else None  # built meanwhile by another process?
            if arrays is None:
                arrays = _build(spec, req, cached)
    except BaseException:
        if created:  # a failed first call leaves no empty cache folder behind
            lock_path.unlink(missing_ok=True)
            remove_empty_dirs(created)
        raise
    return _images(arrays, raw, stats)


def numpy_getter(choose_spec):
    """Decorator that makes a public ``get_*_numpy`` out of ``choose_spec(**own) -> Spec``.

    The result takes the options every dataset shares, ``(root=None, normalize=True,
    mmap_mode=None, download=True, *, raw=False, cache=True, cache_dir=None, mirrors=None,
    progress=True)``, plus ``choose_spec``'s own keyword-only ones (e.g. CIFAR-100's
    ``label_mode``), and returns :func:`load` of the chosen spec. It keeps ``choose_spec``'s
    name and docstring.
    """

    def get(
        root: str | os.PathLike | None = None,
        normalize=True,
        mmap_mode: str | None = None,
        download: bool = True,
        *,
        raw: bool = False,
        cache: bool = True,
        cache_dir: str | os.PathLike | None = None,
        mirrors: Sequence[str] | None = None,
        progress: bool = True,
        **own,
    ):
        return load(
            choose_spec(**own),
            root=root,
            normalize=normalize,
            mmap_mode=mmap_mode,
            download=download,
            cache=cache,
            cache_dir=cache_dir,
            raw=raw,
            mirrors=mirrors,
            progress=progress,
        )

    shared = list(inspect.signature(get).parameters.values())[:-1]  # all but **own
    get.__signature__ = inspect.Signature(
        shared + list(inspect.signature(choose_spec).parameters.values())
    )
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(get, attr, getattr(choose_spec, attr))
    return get
