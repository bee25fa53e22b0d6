import threading
import time

import numpy as np
import pytest
from lucid.data import (
    ArrayDataset,
    Compose,
    ConcatDataset,
    DataLoader,
    Dataset,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    random_split,
)


def _data(n=50):
    x = np.arange(n * 2 * 3 * 3, dtype=np.float32).reshape(n, 2, 3, 3)
    y = np.arange(n, dtype=np.int64) % 7
    return x, y


class ItemDataset(Dataset):
    """A dataset without get_batch: items are fetched one by one."""

    def __init__(self, n):
        self.n = n
        self.calls = 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls += 1
        return np.full((2,), i, dtype=np.float32), i


class SpyDataset(ArrayDataset):
    """Counts get_batch calls and can fail or sleep on them."""

    def __init__(self, *arrays, fail_at=None, delay=0.0):
        super().__init__(*arrays)
        self.batches, self.fail_at, self.delay = 0, fail_at, delay

    def get_batch(self, indices):
        self.batches += 1
        if self.fail_at is not None and self.batches > self.fail_at:
            raise RuntimeError("broken batch")
        time.sleep(self.delay)
        return super().get_batch(indices)


def test_array_dataset_items_and_batches():
    x, y = _data()
    ds = ArrayDataset(x, y)
    assert TensorDataset is ArrayDataset and len(ds) == 50
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, x[3])
    assert yi == y[3]
    idx = np.array([4, 0, 9])
    bx, by = ds.get_batch(idx)
    np.testing.assert_array_equal(bx, x[idx])
    np.testing.assert_array_equal(by, y[idx])
    with pytest.raises(ValueError, match="first dimension"):
        ArrayDataset(x, y[:-1])
    with pytest.raises(ValueError, match="at least one"):
        ArrayDataset()


def test_array_dataset_on_memmap_yields_plain_arrays(tmp_path):
    x, y = _data(10)
    np.save(tmp_path / "x.npy", x)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    (bx,) = next(iter(DataLoader(ArrayDataset(mm), batch_size=4, shuffle=True)))
    assert type(bx) is np.ndarray and bx.shape == (4, 2, 3, 3)


def test_subset_concat_and_random_split():
    x, y = _data(20)
    ds = ArrayDataset(x, y)
    sub = Subset(ds, [5, 2, 7])
    assert len(sub) == 3 and sub[1][1] == y[2]
    bx, by = sub.get_batch(np.array([2, 0]))
    np.testing.assert_array_equal(by, y[[7, 5]])
    with pytest.raises(IndexError):
        Subset(ds, [20])
    cat = ds + ArrayDataset(x[:3], y[:3])
    assert isinstance(cat, ConcatDataset) and len(cat) == 23
    assert cat[21][1] == y[1] and cat[-1][1] == y[2]
    a, b = random_split(ds, [15, 5], seed=3)
    assert len(a) == 15 and len(b) == 5
    assert sorted(np.concatenate([a.indices, b.indices]).tolist()) == list(range(20))
    np.testing.assert_array_equal(a.indices, np.random.default_rng(3).permutation(20)[:15])
    a2, _ = random_split(ds, [15, 5], seed=3)
    np.testing.assert_array_equal(a.indices, a2.indices)
    p, q, r = random_split(ds, [0.5, 0.3, 0.2])
    assert (len(p), len(q), len(r)) == (10, 6, 4)
    with pytest.raises(ValueError, match="summing"):
        random_split(ds, [10, 5])


def test_len_and_drop_last():
    x, y = _data(50)
    assert len(DataLoader(ArrayDataset(x, y), batch_size=16)) == 4
    assert len(DataLoader(ArrayDataset(x, y), batch_size=16, drop_last=True)) == 3
    sizes = [len(b[0]) for b in DataLoader(ArrayDataset(x, y), batch_size=16)]
    assert sizes == [16, 16, 16, 2]
    sizes = [len(b[0]) for b in DataLoader(ArrayDataset(x, y), batch_size=16, drop_last=True)]
    assert sizes == [16, 16, 16]
    assert len(DataLoader(ArrayDataset(x, y), batch_size=50)) == 1


def test_sequential_batches_are_the_data_in_order():
    x, y = _data(10)
    batches = list(DataLoader(ArrayDataset(x, y), batch_size=4))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert all(isinstance(b, tuple) and b[1].dtype == np.int64 for b in batches)


def test_shuffle_order_is_the_documented_permutation():
    x, y = _data(37)
    loader = DataLoader(ArrayDataset(x, y), batch_size=8, shuffle=True, seed=5)
    for epoch in (0, 3):
        expected = np.random.default_rng([5, epoch]).permutation(37)
        np.testing.assert_array_equal(loader.order(epoch), expected)
        np.testing.assert_array_equal(np.concatenate(loader.batch_indices(epoch)), expected)
    loader.set_epoch(3)
    ys = np.concatenate([b[1] for b in loader])
    np.testing.assert_array_equal(ys, y[np.random.default_rng([5, 3]).permutation(37)])


def test_shuffle_reproducible_across_loaders_and_distinct_across_epochs():
    x, y = _data(40)
    a = DataLoader(ArrayDataset(x, y), batch_size=8, shuffle=True, seed=1)
    b = DataLoader(ArrayDataset(x, y), batch_size=8, shuffle=True, seed=1)
    c = DataLoader(ArrayDataset(x, y), batch_size=8, shuffle=True, seed=2)
    ea0 = [bb[1] for bb in a]
    ea1 = [bb[1] for bb in a]  # second iteration: epoch 1
    eb0 = [bb[1] for bb in b]
    for u, v in zip(ea0, eb0, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(np.concatenate(ea0), np.concatenate(ea1))
    assert not np.array_equal(np.concatenate(ea0), np.concatenate([bb[1] for bb in c]))
    assert a.epoch == 2
    a.set_epoch(0)
    np.testing.assert_array_equal(np.concatenate([bb[1] for bb in a]), np.concatenate(ea0))
    for u, v in zip(a.batch_indices(1), b.batch_indices(1), strict=True):
        np.testing.assert_array_equal(u, v)


# ----- no seed: NumPy's global generator decides, as torch's does for PyTorch ---------
def _drawn(global_seed, count=1):
    """The seeds a loader without ``seed=`` draws for its next ``count`` passes after
    ``np.random.seed(global_seed)``: the documented rule, one randint each."""
    np.random.seed(global_seed)
    return [int(np.random.randint(0, 2**63 - 1, dtype=np.int64)) for _ in range(count)]


def _pass_labels(loader):
    return np.concatenate([b[1] for b in loader])


def test_without_a_seed_the_global_numpy_seed_fixes_and_changes_the_order():
    x, y = _data(40)
    orders = {}
    for k in (1, 1, 2):
        np.random.seed(k)
        loader = DataLoader(ArrayDataset(x, y), batch_size=8, shuffle=True)
        orders.setdefault(k, []).append([_pass_labels(loader), _pass_labels(loader)])
    (a0, a1), (b0, b1) = orders[1]
    np.testing.assert_array_equal(a0, b0)  # the same global seed reproduces both epochs
    np.testing.assert_array_equal(a1, b1)
    assert not np.array_equal(a0, orders[2][0][0])  # another global seed, another order
    assert not np.array_equal(a0, a1)
    s0, s1 = _drawn(1, 2)  # one draw per pass, in turn
    np.testing.assert_array_equal(a0, y[np.random.default_rng([s0, 0]).permutation(40)])
    np.testing.assert_array_equal(a1, y[np.random.default_rng([s1, 1]).permutation(40)])


def test_an_explicit_seed_ignores_the_global_state_and_keeps_its_documented_order():
    x, y = _data(37)
    got = []
    for k in (1, 2):
        np.random.seed(k)
        state = np.random.get_state()[1].copy()
        loader = DataLoader(ArrayDataset(x, y), batch_size=8, shuffle=True, seed=5,
                            transform=RandomHorizontalFlip())
        got.append([_pass_labels(loader) for _ in range(2)])
        np.testing.assert_array_equal(np.random.get_state()[1], state)  # nothing drawn
    for epoch in (0, 1):
        expected = y[np.random.default_rng([5, epoch]).permutation(37)]
        np.testing.assert_array_equal(got[0][epoch], expected)
        np.testing.assert_array_equal(got[1][epoch], expected)


def test_set_epoch_without_a_seed():
    x, y = _data(30)
    np.random.seed(3)
    loader = DataLoader(ArrayDataset(x, y), batch_size=7, shuffle=True)
    loader.set_epoch(4)
    labels = _pass_labels(loader)
    (s,) = _drawn(3)
    np.testing.assert_array_equal(labels, y[np.random.default_rng([s, 4]).permutation(30)])
    assert loader.epoch == 5 and loader.seed_of(4) == s
    replay = DataLoader(ArrayDataset(x, y), batch_size=7, shuffle=True, seed=loader.seed_of(4))
    replay.set_epoch(4)
    np.testing.assert_array_equal(_pass_labels(replay), labels)


def test_without_a_seed_batch_indices_agree_with_the_pass_they_describe():
    x, y = _data(30)
    np.random.seed(8)
    loader = DataLoader(ArrayDataset(x, y), batch_size=4, shuffle=True)
    peeked = loader.batch_indices(0)  # draws the seed of epoch 0's next pass
    seen = [b[1] for b in loader]
    for idx, labels in zip(peeked, seen, strict=True):
        np.testing.assert_array_equal(y[idx], labels)
    for idx, labels in zip(loader.batch_indices(0), seen, strict=True):  # the latest pass
        np.testing.assert_array_equal(y[idx], labels)
    loader.set_epoch(0)
    again = _pass_labels(loader)  # a new pass of epoch 0 draws again, as torch does
    assert not np.array_equal(again, np.concatenate(seen))
    np.testing.assert_array_equal(y[np.concatenate(loader.batch_indices(0))], again)


def test_without_a_seed_transforms_draw_from_the_global_seed_too():
    rng = np.random.default_rng(0)
    x = rng.random((12, 3, 8, 8), dtype=np.float32)
    y = np.arange(12)
    t = Compose([RandomCrop(8, padding=2), RandomHorizontalFlip()])
    np.random.seed(6)
    got = list(DataLoader(ArrayDataset(x, y), batch_size=5, transform=t))  # no shuffle
    (s,) = _drawn(6)
    for b, (bx, by) in enumerate(got):
        np.testing.assert_array_equal(by, y[5 * b : 5 * b + 5])
        np.testing.assert_array_equal(bx, t(x[by], np.random.default_rng([s, 0, b])))


def test_a_loader_with_nothing_random_draws_nothing():
    x, y = _data(10)
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    loader = DataLoader(ArrayDataset(x, y), batch_size=3)
    list(loader)
    loader.batch_indices(0)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_samplers_without_a_seed_follow_the_global_numpy_seed():
    np.random.seed(2)
    a = RandomSampler(9).order(0)
    np.random.seed(2)
    np.testing.assert_array_equal(RandomSampler(9).order(0), a)
    np.random.seed(3)
    assert not np.array_equal(RandomSampler(9).order(0), a)
    (s,) = _drawn(2)
    np.testing.assert_array_equal(a, np.random.default_rng([s, 0]).permutation(9))
    np.random.seed(2)
    np.testing.assert_array_equal(SubsetRandomSampler(np.arange(9) * 10).order(0), a * 10)
    np.testing.assert_array_equal(RandomSampler(9, seed=4).order(2),
                                  np.random.default_rng([4, 2]).permutation(9))


def test_samplers():
    x, y = _data(12)
    ds = ArrayDataset(x, y)
    loader = DataLoader(ds, batch_size=5, sampler=[3, 1, 4, 1, 5, 9])
    assert len(loader) == 2
    np.testing.assert_array_equal(np.concatenate([b[1] for b in loader]), y[[3, 1, 4, 1, 5, 9]])
    np.testing.assert_array_equal(SequentialSampler(4).order(9), [0, 1, 2, 3])
    rs = RandomSampler(6, seed=2)
    np.testing.assert_array_equal(rs.order(1), np.random.default_rng([2, 1]).permutation(6))
    rs.set_epoch(1)
    assert list(rs) == rs.order(1).tolist()
    srs = SubsetRandomSampler([10, 20, 30], seed=0)
    assert sorted(srs.order(4).tolist()) == [10, 20, 30]

    class EpochAware:
        def __init__(self):
            self.epoch = None

        def set_epoch(self, e):
            self.epoch = e

        def __iter__(self):
            return iter([self.epoch, 0])

        def __len__(self):
            return 2

    loader = DataLoader(ds, batch_size=2, sampler=EpochAware())
    loader.set_epoch(7)
    (bx, by) = next(iter(loader))
    np.testing.assert_array_equal(by, y[[7, 0]])
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)


def test_item_dataset_and_collate():
    ds = ItemDataset(7)
    batches = list(DataLoader(ds, batch_size=3))
    assert ds.calls == 7
    bx, by = batches[-1]
    np.testing.assert_array_equal(by, [6])
    assert by.dtype == np.int64 and bx.shape == (1, 2)
    x, y = _data(6)
    seen = []

    def collate(items):
        seen.append(len(items))
        return default_collate(items)

    out = list(DataLoader(ArrayDataset(x, y), batch_size=4, collate_fn=collate))
    assert seen == [4, 2]
    np.testing.assert_array_equal(out[0][0], x[:4])
    d = default_collate([{"a": 1.5, "b": True}, {"a": 2.5, "b": False}])
    assert d["a"].dtype == np.float32 and d["b"].dtype == bool


def test_batch_transform_is_seeded_by_seed_epoch_and_batch():
    rng = np.random.default_rng(0)
    x = rng.random((20, 3, 8, 8), dtype=np.float32)
    y = np.arange(20)
    t = Compose(
        [RandomCrop(8, padding=2), RandomHorizontalFlip(), Normalize((0.5,) * 3, (0.2,) * 3)]
    )
    loader = DataLoader(ArrayDataset(x, y), batch_size=6, shuffle=True, seed=9, transform=t)
    loader.set_epoch(2)
    got = list(loader)
    for b, idx in enumerate(loader.batch_indices(2)):
        expected = t(x[idx], np.random.default_rng([9, 2, b]))
        np.testing.assert_array_equal(got[b][0], expected)
        np.testing.assert_array_equal(got[b][1], y[idx])
    loader.set_epoch(2)
    again = list(loader)
    for u, v in zip(got, again, strict=True):
        np.testing.assert_array_equal(u[0], v[0])
    np.testing.assert_array_equal(
        x, np.random.default_rng(0).random((20, 3, 8, 8), dtype=np.float32)
    )


def test_prefetch_gives_the_same_batches():
    x, y = _data(30)
    t = RandomHorizontalFlip()
    np.random.seed(4)
    plain = list(DataLoader(ArrayDataset(x, y), batch_size=4, shuffle=True, transform=t))
    np.random.seed(4)
    pre = list(DataLoader(ArrayDataset(x, y), batch_size=4, shuffle=True, transform=t, prefetch=3))
    assert len(plain) == len(pre) == 8
    for u, v in zip(plain, pre, strict=True):
        np.testing.assert_array_equal(u[0], v[0])
        np.testing.assert_array_equal(u[1], v[1])


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "lucid-prefetch" and t.is_alive()]


def test_prefetch_thread_stops_on_break():
    x, y = _data(200)
    ds = SpyDataset(x, y, delay=0.002)
    loader = DataLoader(ds, batch_size=2, prefetch=2)
    before = len(_prefetch_threads())
    for i, _ in enumerate(loader):
        if i == 1:
            break
    deadline = time.time() + 5
    while len(_prefetch_threads()) > before and time.time() < deadline:
        time.sleep(0.01)
    assert len(_prefetch_threads()) == before
    assert ds.batches < 100  # it stopped producing


def test_prefetch_close_and_context_manager():
    x, y = _data(200)
    ds = SpyDataset(x, y)
    it = iter(DataLoader(ds, batch_size=2, prefetch=2))
    next(it)
    thread = it.thread
    it.close()
    assert not thread.is_alive()
    with pytest.raises(StopIteration):
        next(it)
    with iter(DataLoader(ds, batch_size=2, prefetch=1)) as it2:
        next(it2)
        thread = it2.thread
    assert not thread.is_alive()


def test_prefetch_propagates_errors():
    x, y = _data(20)
    loader = DataLoader(SpyDataset(x, y, fail_at=2), batch_size=2, prefetch=2)
    got = []
    with pytest.raises(RuntimeError, match="broken batch"):
        for b in loader:
            got.append(b)
    assert len(got) == 2
    assert not _prefetch_threads()


def test_generator_close_without_prefetch():
    x, y = _data(20)
    it = iter(DataLoader(ArrayDataset(x, y), batch_size=2))
    next(it)
    it.close()
    with pytest.raises(StopIteration):
        next(it)
