"""``DistributedSampler``: each of ``num_replicas`` processes takes its share of one epoch.

Every rank computes the same epoch order (``RandomSampler(n, seed).order(epoch)`` when
shuffling, ``0 .. n-1`` otherwise), pads it by repeating its start to a multiple of
``num_replicas`` (or, with ``drop_last``, cuts the tail) and keeps every
``num_replicas``-th index from position ``rank``, as PyTorch's sampler does. So with a
per-rank batch ``b``, the ``k``-th batches of all ranks together hold exactly the indices
``order[k*b*N : (k+1)*b*N]``: the ``k``-th batch of one process with batch ``b*N`` and the
same seed (in another order within the batch, which a mean loss does not see).
"""

from __future__ import annotations

import os

import numpy as np

from .sampler import RandomSampler, Sampler


def _from_env(name: str, value):
    """``value``, else the launcher's variable (torchrun's ``WORLD_SIZE``/``RANK``)."""
    if value is not None:
        return int(value)
    if name in os.environ:
        return int(os.environ[name])
    raise ValueError(
        f"DistributedSampler: pass num_replicas= and rank= (for example "
        f"lucid.distributed.get_world_size() and get_rank()); ${name} is not set")


class DistributedSampler(Sampler):
    """Rank ``rank``'s share of every epoch, for ``num_replicas`` processes.

    ``n``: the dataset's length, or the dataset itself. ``seed`` must be the same on every
    rank (default 0, as PyTorch); call ``set_epoch(e)`` before each epoch when shuffling.
    """

    def __init__(self, n, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        self.n = int(n) if isinstance(n, (int, np.integer)) else len(n)
        self.num_replicas = _from_env("WORLD_SIZE", num_replicas)
        self.rank = _from_env("RANK", rank)
        if self.num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got "
                             f"{self.num_replicas}")
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank {self.rank} is not in "
                             f"[0, {self.num_replicas})")
        if self.n < self.num_replicas:
            raise ValueError(f"DistributedSampler: {self.n} samples cannot be shared by "
                             f"{self.num_replicas} processes")
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)

    def __len__(self) -> int:
        if self.drop_last:
            return self.n // self.num_replicas
        return -(-self.n // self.num_replicas)

    def order(self, epoch: int) -> np.ndarray:
        if self.shuffle:
            order = RandomSampler(self.n, self.seed).order(epoch)
        else:
            order = np.arange(self.n, dtype=np.int64)
        total = len(self) * self.num_replicas
        if total > self.n:  # pad with the order's start, repeated as often as needed
            order = np.resize(order, total)
        return order[:total][self.rank::self.num_replicas]
