"""DataLoader: batches of NumPy arrays in an order fixed by ``(seed, epoch)``.

Epoch ``e`` visits the dataset in the order ``np.random.default_rng([seed, e]).permutation(n)``
(``shuffle=True``) or ``0..n-1`` (``shuffle=False``), cut into batches of ``batch_size``;
batch ``b`` is augmented by ``transform(x, np.random.default_rng([seed, e, b]))``. Nothing
depends on global random state, so two runs, or a Lucid and a PyTorch model fed by the
same loader, see the same batches in the same order. ``batch_indices(e)`` returns that
order for a harness to record or compare.

Each ``iter(loader)`` is one epoch: it uses ``loader.epoch`` and then advances it by one,
so iterating twice gives two different epochs; ``set_epoch(e)`` picks the next one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .dataset import fetch_batch
from .prefetch import PrefetchIterator
from .sampler import RandomSampler, SequentialSampler, epoch_rng, sampler_order


class DataLoader:
    """Iterate ``dataset`` in batches: tuples of NumPy arrays (``(x, y)`` for ``(x, y)`` data).

    Args:
        dataset: anything with ``__len__`` and ``__getitem__``; a dataset with
            ``get_batch(indices)`` (``ArrayDataset``, ``Subset`` of one) is gathered with
            one fancy-indexing copy per array instead of item by item.
        batch_size: items per batch; the last batch is smaller unless ``drop_last``.
        shuffle: a new seeded permutation per epoch (exclusive with ``sampler``).
        sampler: a :class:`~lucid.data.sampler.Sampler` (``order(epoch)``) or any iterable
            of indices (its ``set_epoch`` is called when it has one).
        collate_fn: turns a list of items into a batch (then items are fetched one by one).
        seed: seeds the shuffling and the transforms.
        prefetch: number of batches a background thread prepares ahead (0: none).
        transform: batch transform ``t(x, rng) -> x`` applied to the first array of the batch.
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        sampler=None,
        collate_fn: Callable | None = None,
        seed: int = 0,
        prefetch: int = 0,
        transform: Callable | None = None,
    ):
        if int(batch_size) < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive")
        if int(prefetch) < 0:
            raise ValueError(f"DataLoader: prefetch must be >= 0, got {prefetch}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        if sampler is None:
            sampler = (
                RandomSampler(len(dataset), self.seed)
                if shuffle
                else SequentialSampler(len(dataset))
            )
        self.sampler = sampler
        self.collate_fn = collate_fn
        self.prefetch = int(prefetch)
        self.transform = transform
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter(loader)`` run epoch ``epoch``."""
        self.epoch = int(epoch)

    def _num_items(self) -> int:
        try:
            return len(self.sampler)
        except TypeError:
            return len(self.dataset)

    def __len__(self) -> int:
        n, b = self._num_items(), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def order(self, epoch: int) -> np.ndarray:
        """All indices of ``epoch``, in visiting order."""
        return sampler_order(self.sampler, epoch)

    def batch_indices(self, epoch: int) -> list[np.ndarray]:
        """The indices of every batch of ``epoch``, in order (``drop_last`` applied)."""
        order = self.order(epoch)
        b = self.batch_size
        stop = len(order) - len(order) % b if self.drop_last else len(order)
        return [order[i : i + b] for i in range(0, stop, b)]

    def batch_rng(self, epoch: int, batch: int) -> np.random.Generator:
        """The generator handed to ``transform`` for batch ``batch`` of ``epoch``."""
        return epoch_rng(self.seed, epoch, batch)

    def _batches(self, epoch: int):
        for b, idx in enumerate(self.batch_indices(epoch)):
            batch = fetch_batch(self.dataset, idx, self.collate_fn)
            if self.transform is not None:
                rng = self.batch_rng(epoch, b)
                if isinstance(batch, tuple | list):
                    batch = (self.transform(batch[0], rng), *batch[1:])
                else:
                    batch = self.transform(batch, rng)
            yield batch

    def __iter__(self):
        epoch = self.epoch
        self.epoch = epoch + 1
        if self.prefetch > 0:
            return PrefetchIterator(lambda: self._batches(epoch), self.prefetch)
        return self._batches(epoch)

    def __repr__(self) -> str:
        return (
            f"DataLoader(n={self._num_items()}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, seed={self.seed}, epoch={self.epoch}, "
            f"prefetch={self.prefetch})"
        )
