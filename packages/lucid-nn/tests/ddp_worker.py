"""A data-parallel training run for the DDP tests: ``python ddp_worker.py OUT MODE``.

Started by ``mlx.launch -n 2`` (MODE ``ddp``) or alone (MODE ``single``). Each rank seeds
its model differently (rank 0's seed is the single run's), trains ``STEPS`` SGD steps on
its half of one fixed global batch, and rank 0 writes the parameters as JSON to OUT.
MODE ``die`` makes rank 1 exit after the first step, to test that rank 0 fails, not hangs.
"""

import json
import os
import sys

import lucid
import lucid.distributed as dist
import lucid.nn as nn
import lucid.nn.functional as F
import numpy as np
from lucid.nn.parallel import DistributedDataParallel

STEPS, GLOBAL_BATCH = 5, 16


def main(out: str, mode: str) -> None:
    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()
    lucid.manual_seed(10 + rank)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((GLOBAL_BATCH, 8)).astype(np.float32)
    y = rng.integers(0, 3, GLOBAL_BATCH)
    shard = slice(rank * GLOBAL_BATCH // world, (rank + 1) * GLOBAL_BATCH // world)
    xs, ys = lucid.tensor(x[shard]), lucid.tensor(y[shard])
    if world > 1:
        model = DistributedDataParallel(model, bucket_cap_mb=0.0003)  # several buckets
    opt = lucid.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(STEPS):
        opt.zero_grad()
        F.cross_entropy(model(xs), ys).backward()
        opt.step()
        if mode == "die" and rank == 1 and step == 0:
            os._exit(3)
    if rank == 0:
        state = {k: np.asarray(v.numpy()).tolist() for k, v in model.state_dict().items()}
        with open(out, "w") as f:
            json.dump({"world": world, "state": state}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
