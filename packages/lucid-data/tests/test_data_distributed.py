"""DistributedSampler: N ranks with batch b see, step for step, the batches of one process
with batch b * N; padding and drop_last as PyTorch's sampler."""

import numpy as np
import pytest
from lucid.data import DataLoader, DistributedSampler, TensorDataset


@pytest.mark.parametrize("n, world, b", [(64, 2, 8), (70, 4, 4), (9, 3, 1)])
def test_ranks_together_see_the_single_process_batches(n, world, b):
    data = TensorDataset(np.arange(n))
    single = DataLoader(data, batch_size=b * world, shuffle=True, seed=7, drop_last=True)
    per_rank = [DataLoader(data, batch_size=b, drop_last=True,
                           sampler=DistributedSampler(n, world, r, seed=7, drop_last=True))
                for r in range(world)]
    for epoch in (0, 1):
        whole = [set(x.tolist()) for (x,) in _batches(single, epoch)]
        ranks = [[x.tolist() for (x,) in _batches(loader, epoch)] for loader in per_rank]
        assert all(len(r) == len(whole) > 0 for r in ranks)
        for k, expected in enumerate(whole):
            union = [i for r in ranks for i in r[k]]
            assert len(union) == len(set(union)) == b * world
            assert set(union) == expected


def _batches(loader, epoch):
    loader.set_epoch(epoch)
    return list(loader)


def test_every_index_once_per_epoch_and_a_new_order_each_epoch():
    shares = [DistributedSampler(100, 4, r, seed=3) for r in range(4)]
    first = np.concatenate([s.order(0) for s in shares])
    assert sorted(first.tolist()) == list(range(100))
    assert not np.array_equal(shares[0].order(0), shares[0].order(1))
    assert np.array_equal(shares[0].order(1), DistributedSampler(100, 4, 0, seed=3).order(1))


def test_padding_and_drop_last_match_pytorch():
    torch_data = pytest.importorskip("torch.utils.data")
    for n, world, drop_last in [(10, 4, False), (10, 4, True), (12, 3, False), (5, 5, True)]:
        for r in range(world):
            ours = DistributedSampler(n, world, r, shuffle=False, drop_last=drop_last)
            theirs = torch_data.DistributedSampler(range(n), world, r, shuffle=False,
                                                   drop_last=drop_last)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="rank 2 is not in"):
        DistributedSampler(10, 2, 2)
    with pytest.raises(ValueError, match="num_replicas must be >= 1"):
        DistributedSampler(10, 0, 0)
    with pytest.raises(ValueError, match="3 samples cannot be shared by 4"):
        DistributedSampler(3, 4, 0)


def test_rank_and_world_from_torchrun_variables(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    s = DistributedSampler(list(range(6)), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (2, 1, [1, 3, 5])
    monkeypatch.delenv("RANK")
    with pytest.raises(ValueError, match="pass num_replicas= and rank="):
        DistributedSampler(6)
