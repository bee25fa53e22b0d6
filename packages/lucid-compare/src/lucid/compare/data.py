"""The data of a run: NumPy arrays from ``lucid.datasets``, batches from one ``lucid.data``
loader design, so every framework sees the same batches in the same order.

Epoch ``e`` of the train loader visits ``default_rng([seed, e]).permutation(n)`` and
augments batch ``b`` with ``default_rng([seed, e, b])``; nothing depends on global random
state. ``order_hash`` fingerprints the indices of an epoch, and the trainer hashes the
content of every batch it feeds, so a history proves what its framework was given.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .errors import DataUnavailableError


@dataclass
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    base_transform: object  # batch transform t(x, rng) applied to every train batch, or None
    augment_transform: object  # the same with augmentation (``augment=True``), or None
    source: str

    def describe(self) -> dict:
        return {
            "source": self.source,
            "train": list(self.x_train.shape),
            "test": list(self.x_test.shape),
            "train_transform": repr(self.base_transform) if self.base_transform else None,
            "augmentation": repr(self.augment_transform) if self.augment_transform else None,
        }


def load_data(dataset: str, data_dir=None, download: bool = False, progress: bool = True) -> Data:
    """Arrays of ``dataset`` (``mnist-sample``, ``mnist`` or ``cifar10``) and its transforms.

    MNIST comes normalised and has no augmentation. CIFAR-10 keeps its train images as
    the cached uint8 pixels and converts each batch after the augmentation
    (``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip()``): ``ToFloat()`` (``x / 255``)
    then ``Normalize``, as torchvision's usual pipeline; cropping and flipping move pixels
    and pad with 0, so the batches equal those of float images in [0, 1] bit for bit.
    Test images are converted and normalised once, in memory.

    Raises ``DataUnavailableError`` with the data package's own message when the data is
    not on disk (and not downloaded) or is damaged.
    """
    from lucid import datasets as ds
    from lucid.data import transforms as T

    try:
        if dataset == "mnist-sample":
            x_tr, y_tr, x_te, y_te = ds.mnist_sample()
            return Data(x_tr, y_tr, x_te, y_te, None, None, "embedded MNIST sample (lucid-data)")
        if dataset == "mnist":
            x_tr, y_tr, x_te, y_te = ds.get_mnist_numpy(
                root=data_dir, download=download, progress=progress)
            return Data(x_tr, y_tr, x_te, y_te, None, None,
                        f"MNIST from {data_dir or ds.data_home()}")
        if dataset == "cifar10":
            x_tr, y_tr, x_te, y_te = ds.get_cifar10_numpy(
                root=data_dir, raw=True, download=download, progress=progress)
            to_float, norm = T.ToFloat(), T.Normalize(ds.CIFAR10_MEAN, ds.CIFAR10_STD)
            base = T.Compose([to_float, norm])
            augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                                 to_float, norm])
            return Data(x_tr, y_tr, norm(to_float(x_te)), y_te, base, augment,
                        f"CIFAR-10 from {data_dir or ds.data_home()}")
    except ds.DatasetError as err:
        raise DataUnavailableError(str(err)) from err
    raise DataUnavailableError(f"unknown dataset {dataset!r}")


def make_loaders(data: Data, cfg):
    """``(train_loader, test_loader)`` for one framework's effective config."""
    from lucid.data import ArrayDataset, DataLoader

    n = cfg.subset or len(data.x_train)
    m = cfg.test_subset or len(data.x_test)
    train = ArrayDataset(data.x_train[:n], data.y_train[:n])
    test = ArrayDataset(data.x_test[:m], data.y_test[:m])
    transform = data.augment_transform if cfg.augment else data.base_transform
    train_loader = DataLoader(train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed,
                              transform=transform, prefetch=2 if transform else 0)
    test_loader = DataLoader(test, batch_size=cfg.eval_batch_size, shuffle=False)
    return train_loader, test_loader


def order_hash(batches) -> str:
    """SHA-256 (first 16 hex digits) of an epoch's batch indices, batch boundaries included."""
    h = hashlib.sha256()
    for idx in batches:
        h.update(np.int64(len(idx)).tobytes())
        h.update(np.ascontiguousarray(idx, dtype=np.int64))
    return h.hexdigest()[:16]


class BatchHasher:
    """Running BLAKE2b of the bytes of every (x, y) batch fed during an epoch."""

    def __init__(self):
        self._h = hashlib.blake2b(digest_size=8)

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        self._h.update(np.ascontiguousarray(x))
        self._h.update(np.ascontiguousarray(y))

    def hexdigest(self) -> str:
        return self._h.hexdigest()
