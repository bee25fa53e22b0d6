"""A rank's share of every batch, when ``--nproc N`` trains one run in N processes.

Every rank iterates the same loader as a single process would (same seeded order, same
augmentation of the whole global batch) and keeps one contiguous slice of each global
batch of ``m`` images: rank ``r`` of ``N`` takes ``[m*r//N, m*(r+1)//N)``. So the N ranks
together see exactly the batches one process sees, step for step.

Each rank's loss is the mean over its ``n_r`` images. The data-parallel wrappers average
gradients over ranks, ``(1/N) * sum_r g_r``; scaling rank ``r``'s loss by
``w_r = n_r * N / m`` before ``backward`` makes that average

    (1/N) * sum_r (n_r * N / m) * grad(mean_r) = grad((1/m) * sum_i loss_i),

the gradient of the global batch's mean loss, also for a last batch that ``N`` does not
divide. Metrics are summed over ranks (``Backend.all_sum``): the batch loss is
``sum_r n_r * loss_r / m``, as one process would compute it.
"""

from __future__ import annotations

import os

#: variables the launchers set in each rank: MLX's (``mlx.launch``) and torchrun's
RANK_VARS = ("MLX_RANK", "RANK")


def env_rank() -> int:
    """This process's rank as its launcher set it (0 when started alone)."""
    for name in RANK_VARS:
        if os.environ.get(name, "").strip().isdigit():
            return int(os.environ[name])
    return 0


def bounds(m: int, rank: int, world: int) -> tuple[int, int]:
    """``[start, stop)`` of rank ``rank``'s slice of a batch of ``m``."""
    return m * rank // world, m * (rank + 1) // world


def shard(x, y, rank: int, world: int):
    """``(x, y, weight)``: rank ``rank``'s slice of a global batch and its loss weight
    ``n_r * world / m`` (see the module docstring)."""
    m = len(y)
    start, stop = bounds(m, rank, world)
    return x[start:stop], y[start:stop], (stop - start) * world / m


def check_split(n_train: int, batch_size: int, nproc: int) -> str | None:
    """Why ``n_train`` images in batches of ``batch_size`` cannot be shared by ``nproc``
    processes (every rank needs at least one image of every batch), or ``None``."""
    if nproc <= 1:
        return None
    if nproc > batch_size:
        return (f"--nproc {nproc} is larger than the batch size {batch_size}: every process "
                "needs at least one image of each batch")
    if nproc > n_train:
        return (f"--nproc {nproc} is larger than the {n_train} training images: every "
                "process needs at least one image")
    last = n_train % batch_size
    if 0 < last < nproc:
        return (f"--nproc {nproc}: the last batch holds {last} image(s) ({n_train} images in "
                f"batches of {batch_size}), fewer than the processes; change --subset or "
                "--batch-size")
    return None
