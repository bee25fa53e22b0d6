"""CIFAR-10 and CIFAR-100 as NumPy arrays: ``(N, 3, 32, 32)`` float32 images, int64 labels.

The official "python version" archive holds ``cifar-10-batches-py/`` (``data_batch_1`` ..
``data_batch_5``, ``test_batch``, ``batches.meta``) or ``cifar-100-python/`` (``train``,
``test``, ``meta``): pickled dicts whose ``data`` is uint8 ``(N, 3072)`` in CHW order.
They are read with a restricted unpickler (:mod:`~lucid.datasets.safe_pickle`).

``root`` may be the folder that contains the extracted folder (torchvision's ``root``) or
that folder itself; an extracted folder is accepted as it is, without checksums. When it
is missing, ``root/<archive>`` is used if present (its md5 must be the official one), else
the archive is downloaded from :data:`CIFAR_MIRRORS` and extracted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import pipeline
from .archive import extract_tar
from .cache import file_record
from .download import download_or_explain, join_url, md5sum, source_record
from .errors import ChecksumError, CorruptFileError, DatasetNotFoundError
from .preprocess import CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD
from .safe_pickle import safe_loads

#: Base URLs tried in order for the archives.
CIFAR_MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]

CIFAR10_ARCHIVE = ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
CIFAR100_ARCHIVE = ("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85")
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def _text_keys(d):
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}


def parse_cifar_batch(data: bytes, name: str, label_key: str, num_classes: int):
    """One pickled batch -> images ``(N, 3, 32, 32)`` uint8 and labels ``(N,)`` int64."""
    d = safe_loads(data, name)
    if not isinstance(d, dict):
        raise CorruptFileError(f"{name}: expected a pickled dict, got {type(d).__name__}")
    d = _text_keys(d)
    if "data" not in d or label_key not in d:
        raise CorruptFileError(f"{name}: missing key 'data' or {label_key!r} (has {sorted(d)})")
    x = d["data"]
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
        got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise CorruptFileError(f"{name}: 'data' must be uint8 (N, 3072), got {got}")
    try:
        y = np.asarray(d[label_key], dtype=np.int64)
    except (TypeError, ValueError) as e:
        raise CorruptFileError(f"{name}: {label_key!r} is not a list of ints ({e})") from e
    if y.shape != (len(x),):
        raise CorruptFileError(f"{name}: {len(x)} images but {label_key!r} has shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise CorruptFileError(f"{name}: labels outside [0, {num_classes}): {y.min()}..{y.max()}")
    return x.reshape(-1, 3, 32, 32), y


class CifarSpec(pipeline.Spec):
    channels = 3

    def __init__(self, name, title, folder, archive, train, test, label_key, num_classes, stats):
        self.name, self.title, self.folder, self.archive = name, title, folder, archive
        self.train, self.test, self.label_key = train, test, label_key
        self.num_classes = num_classes
        self.default_stats = stats

    def meta(self):
        return {"label_key": self.label_key}

    def _complete(self, folder: Path) -> bool:
        return all((folder / f).is_file() for f in self.train + self.test)

    def locate(self, home):
        for cand in (home / self.folder, home):
            if self._complete(cand):
                return cand
        return None

    def source_sizes(self, folder):
        return {f: file_record(folder / f) for f in self.train + self.test}

    def _instructions(self, home: Path, reason: str, mirrors) -> str:
        name, md5 = self.archive
        urls = [join_url(m, name) for m in mirrors]
        files = ", ".join(self.train + self.test)
        return "\n".join(
            [
                f"{self.title} was not found under {home}, and {reason}",
                "Either",
                f"  - put {urls[0]} (md5 {md5}) at {home / name}, or",
                f"  - extract it so that {home / self.folder}/ holds {files}",
                f"then call again (root= may also be the {self.folder} folder itself).",
            ]
        )

    def fetch(self, home, download, mirrors, progress):
        mirrors = list(mirrors if mirrors is not None else CIFAR_MIRRORS)
        name, md5 = self.archive
        archive = home / name
        if archive.is_file():
            actual = md5sum(archive)
            if actual != md5:
                raise ChecksumError(archive, md5, actual, deleted=False)
        elif not download:
            raise DatasetNotFoundError(self._instructions(home, "download=False.", mirrors))
        else:
            download_or_explain(
                [join_url(m, name) for m in mirrors],
                archive,
                md5,
                progress,
                lambda reason: self._instructions(home, reason, mirrors),
            )
        folder = extract_tar(archive, home, self.folder)
        if not self._complete(folder):
            missing = [f for f in self.train + self.test if not (folder / f).is_file()]
            raise CorruptFileError(f"{archive}: extracted, but {folder} lacks {missing}")
        return folder

    def parse(self, folder):
        sources, parts = {}, {"train": [], "test": []}
        for split, files in (("train", self.train), ("test", self.test)):
            for f in files:
                path = folder / f
                try:
                    stat = file_record(path)  # before reading: a later change reads as stale
                    data = path.read_bytes()
                except OSError as e:
                    raise CorruptFileError(f"cannot read {path}: {e}") from e
                sources[f] = {**source_record(data), "mtime_ns": stat["mtime_ns"]}
                parts[split].append(
                    parse_cifar_batch(data, str(path), self.label_key, self.num_classes)
                )
        arrays = {}
        for split in ("train", "test"):
            arrays[f"x_{split}"] = np.concatenate([x for x, _ in parts[split]])
            arrays[f"y_{split}"] = np.concatenate([y for _, y in parts[split]])
        return arrays, sources


CIFAR10 = CifarSpec(
    "cifar10",
    "CIFAR-10",
    "cifar-10-batches-py",
    CIFAR10_ARCHIVE,
    tuple(f"data_batch_{i}" for i in range(1, 6)),
    ("test_batch",),
    "labels",
    10,
    (CIFAR10_MEAN, CIFAR10_STD),
)
_CIFAR100 = {
    mode: CifarSpec(
        f"cifar100-{mode}",
        "CIFAR-100",
        "cifar-100-python",
        CIFAR100_ARCHIVE,
        ("train",),
        ("test",),
        f"{mode}_labels",
        100 if mode == "fine" else 20,
        (CIFAR100_MEAN, CIFAR100_STD),
    )
    for mode in ("fine", "coarse")
}


@pipeline.numpy_getter
def get_cifar10_numpy():
    """CIFAR-10 as ``x_train, y_train, x_test, y_test`` (50,000 / 10,000 images).

    Images are float32 ``(N, 3, 32, 32)``: ``normalize=True`` gives ``(x/255 - mean) / std``
    with mean ``(0.4914, 0.4822, 0.4465)`` and std ``(0.2023, 0.1994, 0.2010)``; ``False``
    gives ``x/255`` in [0, 1]; a ``(mean, std)`` pair uses those stats; ``raw=True`` returns
    the stored uint8 pixels. Labels are int64 in [0, 10).

    ``root``: folder containing ``cifar-10-batches-py/``, or that folder itself (default
    ``$LUCID_DATA_HOME`` or ``~/.cache/lucid``). ``mirrors``: base URLs for the archive
    (default :data:`CIFAR_MIRRORS`). Only the uint8 arrays are cached, in
    ``cache_dir`` (default ``$LUCID_DATA_HOME/cifar10-<key of root>/``, never in ``root``);
    float images are computed from them on each call. ``mmap_mode`` ("r", "c", "r+")
    memory-maps the cached uint8 arrays (returned as they are with ``raw=True``).
    """
    return CIFAR10


@pipeline.numpy_getter
def get_cifar100_numpy(*, label_mode: str = "fine"):
    """CIFAR-100, same layout and options as :func:`get_cifar10_numpy`.

    ``label_mode="fine"`` gives the 100 class labels, ``"coarse"`` the 20 superclasses.
    ``normalize=True`` uses mean ``(0.5071, 0.4865, 0.4409)``, std ``(0.2673, 0.2564,
    0.2762)``. ``root`` contains ``cifar-100-python/`` or is that folder.
    """
    if label_mode not in _CIFAR100:
        raise ValueError(f"label_mode must be 'fine' or 'coarse', got {label_mode!r}")
    return _CIFAR100[label_mode]
