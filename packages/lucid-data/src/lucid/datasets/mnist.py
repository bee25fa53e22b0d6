"""MNIST and Fashion-MNIST as NumPy arrays: ``(N, 1, 28, 28)`` float32 images, int64 labels.

The four official IDX files (gzipped or not) are looked for in ``root``, then in
``root/mnist``, ``root/MNIST/raw`` (torchvision's layout) and ``root/MNIST``, then in any
other sub-folder of ``root`` that holds all four. Missing files are downloaded from
:data:`MNIST_MIRRORS` in order and checked against the official md5s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import pipeline
from .cache import file_record
from .download import download_or_explain, join_url, source_record
from .errors import CorruptFileError, DatasetNotFoundError
from .idx import IMAGES_MAGIC, LABELS_MAGIC, parse_idx, read_bytes
from .preprocess import FASHION_MNIST_MEAN, FASHION_MNIST_STD, MNIST_MEAN, MNIST_STD

#: Base URLs tried in order; the original host has been answering 403/404.
MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]
FASHION_MNIST_MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]

#: role -> (official file name, md5), as torchvision lists them.
MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
FASHION_MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}
MNIST_CLASSES = tuple(str(i) for i in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# Sub-folders that belong to one of the IDX datasets: never scanned for another one.
_KNOWN_FOLDERS = {"mnist", "MNIST", "fashion-mnist", "FashionMNIST"}


def find_idx_file(folder: Path, gz_name: str) -> Path | None:
    """``folder/name`` without ``.gz`` if present, else ``folder/name.gz``, else None."""
    for cand in (folder / gz_name.removesuffix(".gz"), folder / gz_name):
        if cand.is_file():
            return cand
    return None


def parse_mnist_pair(images_path, labels_path, num_classes: int = 10):
    """Images ``(N, 1, 28, 28)`` uint8 and labels ``(N,)`` int64 from two IDX files."""
    images_path, labels_path = Path(images_path), Path(labels_path)
    images = parse_idx(read_bytes(images_path), str(images_path), IMAGES_MAGIC)
    labels = parse_idx(read_bytes(labels_path), str(labels_path), LABELS_MAGIC)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise CorruptFileError(
            f"{images_path}: expected uint8 images of shape (N, 28, 28), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise CorruptFileError(f"{labels_path}: expected uint8 labels (N,), got {labels.shape}")
    if len(images) != len(labels):
        raise CorruptFileError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    if labels.size and int(labels.max()) >= num_classes:
        raise CorruptFileError(f"{labels_path}: label {int(labels.max())} >= {num_classes}")
    return images.reshape(-1, 1, 28, 28), labels.astype(np.int64)


class IdxSpec(pipeline.Spec):
    channels = 1

    def __init__(self, name, title, folders, files, mirrors_attr, stats):
        self.name, self.title, self.folders, self.files = name, title, folders, files
        self.mirrors_attr = mirrors_attr
        self.default_stats = stats

    def _candidates(self, home: Path) -> list[Path]:
        cands = [home] + [home / f for f in self.folders]
        if home.is_dir():
            cands += sorted(
                p for p in home.iterdir() if p.is_dir() and p.name not in _KNOWN_FOLDERS
            )
        return cands

    def _present(self, folder: Path) -> dict[str, Path]:
        found = {role: find_idx_file(folder, name) for role, (name, _) in self.files.items()}
        return {role: p for role, p in found.items() if p is not None}

    def locate(self, home):
        for cand in self._candidates(home):
            if len(self._present(cand)) == len(self.files):
                return cand
        return None

    def source_sizes(self, folder):
        return {p.name: file_record(p) for p in self._present(folder).values()}

    def _instructions(self, home: Path, target: Path, reason: str, mirrors) -> str:
        missing = [
            (name, md5)
            for role, (name, md5) in self.files.items()
            if role not in self._present(target)
        ]
        lines = [
            f"{self.title} was not found under {home}, and {reason}",
            f"Put these files in {target}/ (gzipped as downloaded, or gunzipped):",
        ]
        for name, md5 in missing:
            urls = [join_url(m, name) for m in mirrors]
            lines.append(f"  {name}  (md5 {md5})  from {urls[0]}")
            lines += [f"      or {u}" for u in urls[1:]]
        lines.append("then call again, or pass root= the folder that holds the four files.")
        return "\n".join(lines)

    def fetch(self, home, download, mirrors, progress):
        mirrors = list(mirrors if mirrors is not None else globals()[self.mirrors_attr])
        partial = [c for c in self._candidates(home) if self._present(c)]
        target = partial[0] if partial else home / self.folders[0]
        if not download:
            raise DatasetNotFoundError(self._instructions(home, target, "download=False.", mirrors))
        present = self._present(target)
        for role, (name, md5) in self.files.items():
            if role in present:
                continue
            download_or_explain(
                [join_url(m, name) for m in mirrors],
                target / name,
                md5,
                progress,
                lambda reason: self._instructions(home, target, reason, mirrors),
            )
        return target

    def parse(self, folder):
        present = self._present(folder)
        sources = {}
        for p in present.values():
            stat = file_record(p)  # before reading: a later change reads as stale
            sources[p.name] = {**source_record(p.read_bytes()), "mtime_ns": stat["mtime_ns"]}
        x_train, y_train = parse_mnist_pair(present["train_images"], present["train_labels"])
        x_test, y_test = parse_mnist_pair(present["test_images"], present["test_labels"])
        arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
        return arrays, sources


MNIST = IdxSpec(
    "mnist",
    "MNIST",
    ("mnist", "MNIST/raw", "MNIST"),
    MNIST_FILES,
    "MNIST_MIRRORS",
    (MNIST_MEAN, MNIST_STD),
)
FASHION_MNIST = IdxSpec(
    "fashion-mnist",
    "Fashion-MNIST",
    ("fashion-mnist", "FashionMNIST/raw", "FashionMNIST"),
    FASHION_MNIST_FILES,
    "FASHION_MNIST_MIRRORS",
    (FASHION_MNIST_MEAN, FASHION_MNIST_STD),
)


@pipeline.numpy_getter
def get_mnist_numpy():
    """MNIST as ``x_train, y_train, x_test, y_test`` (60,000 / 10,000 images).

    Images are float32 ``(N, 1, 28, 28)``: ``normalize=True`` gives ``(x/255 - 0.1307) /
    0.3081``, ``False`` gives ``x/255`` in [0, 1], a ``(mean, std)`` pair uses those stats;
    ``raw=True`` returns the stored uint8 pixels instead. Labels are int64.

    ``root``: folder holding the four IDX files (or its parent; default
    ``$LUCID_DATA_HOME`` or ``~/.cache/lucid``). ``mirrors``: base URLs to download from
    (default :data:`MNIST_MIRRORS`). Only the uint8 arrays are cached, in ``cache_dir``
    (default ``$LUCID_DATA_HOME/mnist-<key of root>/``, never in ``root``); float images
    are computed from them on each call. ``mmap_mode`` ("r", "c", "r+") memory-maps the
    cached uint8 arrays (returned as they are with ``raw=True``).
    """
    return MNIST


@pipeline.numpy_getter
def get_fashion_mnist_numpy():
    """Fashion-MNIST, same layout and options as :func:`get_mnist_numpy`.

    ``normalize=True`` uses mean 0.2860, std 0.3530; files are looked for in ``root``,
    ``root/fashion-mnist``, ``root/FashionMNIST/raw`` and ``root/FashionMNIST``.
    """
    return FASHION_MNIST
