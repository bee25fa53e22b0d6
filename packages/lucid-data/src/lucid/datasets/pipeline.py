"""The road every ``get_*_numpy`` takes: cache hit, else locate/download, parse, cache.

1. Resolve the root (:func:`~lucid.datasets.home.data_home`) and the cache variant
   (``uint8``, ``float01`` or ``norm-<hash>``).
2. A valid cache of that variant is returned at once (memory-mapped with ``mmap_mode``).
3. Otherwise, holding the dataset's lock: check the cache again (another process may
   have just built it), derive the variant from the ``uint8`` cache if that one is valid,
   else locate the official files (downloading them when missing and allowed), parse
   them, and cache the ``uint8`` arrays and the variant.

A cache folder that cannot be written (read-only data folder) only costs speed: a warning
says so and the arrays are returned uncached.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import cache as _cache
from .home import data_home, missing_dirs, remove_empty_dirs
from .preprocess import prepare_images, resolve_normalize, variant_name

CACHE_FOLDER = "lucid-cache"
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


def _try_write(cdir: Path, key: str, arrays, meta, sources, npy: bool) -> bool:
    try:
        _cache.write_cache(cdir, key, arrays, meta, sources=sources, npy=npy)
        return True
    except OSError as e:
        warnings.warn(
            f"could not write the dataset cache in {cdir} ({e}); arrays are returned "
            "uncached. Pass cache_dir= a writable folder, or cache=False.",
            RuntimeWarning,
            stacklevel=4,
        )
        return False


def _build(spec: Spec, req: dict) -> dict[str, np.ndarray]:
    """Arrays of the wanted variant, from the uint8 cache or the source files; cached."""
    cache, cdir, sizes = req["cache"], req["cdir"], req["sizes"]
    u8_key = f"{spec.name}-uint8"
    u8_meta = {**req["base_meta"], "variant": "uint8", "dtype": "uint8", "normalization": None}
    arrays = None
    sources: dict = {}
    if cache and not req["raw"]:
        arrays = _cache.read_cache(cdir, u8_key, u8_meta, sources=sizes)
        if arrays is not None:
            sources = (_cache.read_sidecar(cdir, u8_key) or {}).get("sources", {})
    if arrays is None:
        folder = req["folder"]
        if folder is None:
            folder = spec.fetch(req["home"], req["download"], req["mirrors"], req["progress"])
        arrays, sources = spec.parse(folder)
        if cache and not req["raw"]:
            _try_write(cdir, u8_key, arrays, u8_meta, sources, npy=False)
    if not req["raw"]:
        arrays = {
            "x_train": prepare_images(arrays["x_train"], req["stats"]),
            "y_train": arrays["y_train"],
            "x_test": prepare_images(arrays["x_test"], req["stats"]),
            "y_test": arrays["y_test"],
        }
    if cache:
        _try_write(cdir, req["key"], arrays, req["meta"], sources, npy=bool(req["mmap_mode"]))
    return arrays


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
    variant = variant_name(stats, raw)
    cdir = Path(cache_dir).expanduser() if cache_dir is not None else home / CACHE_FOLDER
    base_meta = {"dataset": spec.name, **spec.meta()}
    meta = {
        **base_meta,
        "variant": variant,
        "dtype": "uint8" if raw else "float32",
        "normalization": None if stats is None else {"mean": stats[0], "std": stats[1]},
    }
    key = f"{spec.name}-{variant}"
    folder = spec.locate(home)
    sizes = spec.source_sizes(folder) if folder is not None else None

    def cached():
        hit = _cache.read_cache(cdir, key, meta, mmap_mode=mmap_mode, sources=sizes)
        return None if hit is None else tuple(hit[k] for k in SPLITS)

    if cache:
        _cache.remove_stale_temps(cdir)  # temporaries of a writer that was killed
        if (hit := cached()) is not None:
            return hit
    req = dict(
        cache=cache, cdir=cdir, sizes=sizes, base_meta=base_meta, meta=meta, key=key, raw=raw,
        stats=stats, folder=folder, home=home, download=download, mirrors=mirrors,
        progress=progress, mmap_mode=mmap_mode,
    )  # fmt: skip
    lock_path = cdir / f"{spec.name}.lock"
    created = missing_dirs(cdir) if cache else []
    try:
        with _cache.FileLock(lock_path) if cache else contextlib.nullcontext():
            if cache and (hit := cached()) is not None:  # built meanwhile by another process
                return hit
            arrays = _build(spec, req)
            if mmap_mode and (hit := cached()) is not None:
                return hit
    except BaseException:
        if created:  # a failed first call leaves no empty cache folder behind
            lock_path.unlink(missing_ok=True)
            remove_empty_dirs(created)
        raise
    return tuple(arrays[k] for k in SPLITS)


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
