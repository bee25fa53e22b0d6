"""lucid.utils.data: PyTorch's DataLoader arguments, Lucid tensors, worker processes; and
lucid.data.per_sample against torchvision's transforms."""

import os
import time

import lucid
import numpy as np
import pytest
from lucid.data import DataLoader as NumpyLoader
from lucid.data import per_sample as T
from lucid.utils.data import DataLoader, Dataset, TensorDataset, get_worker_info, random_split

IMAGES = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
LABELS = np.arange(40) % 10


class Images(Dataset):
    """Per-sample transforms in ``__getitem__``, as a torchvision dataset."""

    def __init__(self, transform=None):
        self.transform = transform

    def __len__(self):
        return len(IMAGES)

    def __getitem__(self, i):
        x = IMAGES[i] if self.transform is None else self.transform(IMAGES[i])
        return x, int(LABELS[i])


class WhoLoads(Dataset):
    """Each item says which process and worker loaded it."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return i, os.getpid(), -1 if info is None else info.id


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(5)
        return i


class Broken(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        raise ValueError(f"item {i} is broken")


def test_batches_are_lucid_tensors_in_the_numpy_loaders_order():
    data = TensorDataset(IMAGES.astype(np.float32), LABELS)
    ours = list(DataLoader(data, batch_size=16, shuffle=True, seed=3))
    numpy = list(NumpyLoader(data, batch_size=16, shuffle=True, seed=3))
    assert len(ours) == len(numpy) == 3
    for (x, y), (nx, ny) in zip(ours, numpy):
        assert isinstance(x, lucid.Tensor) and isinstance(y, lucid.Tensor)
        assert x.dtype == lucid.float32 and y.dtype == lucid.int64
        np.testing.assert_array_equal(x.numpy(), nx)
        np.testing.assert_array_equal(y.numpy(), ny)
    assert x.to("cpu").shape == (8, 8, 8, 3)
    assert len(DataLoader(data, batch_size=16, drop_last=True)) == 2


def test_global_numpy_seed_and_generator_fix_the_order():
    data = TensorDataset(LABELS)

    def first_batch(**kw):
        return next(iter(DataLoader(data, batch_size=8, shuffle=True, **kw)))[0].tolist()

    lucid.manual_seed(1)  # as torch.manual_seed governs torch's loader
    a = first_batch()
    lucid.manual_seed(1)
    assert first_batch() == a
    lucid.manual_seed(2)
    assert first_batch() != a
    np.random.seed(5)
    b = first_batch()
    np.random.seed(5)
    assert first_batch() != b  # NumPy's global generator is not the one drawn from
    assert first_batch(generator=5) == first_batch(generator=np.random.default_rng(5))
    with pytest.raises(ValueError, match="seed or generator"):
        DataLoader(data, seed=1, generator=2)


def test_workers_load_the_same_batches_in_order():
    tf = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    alone = list(DataLoader(Images(tf), batch_size=6, shuffle=True, seed=4))
    pooled = list(DataLoader(Images(tf), batch_size=6, shuffle=True, seed=4, num_workers=2,
                             pin_memory=True, prefetch_factor=2))
    assert len(alone) == len(pooled) == 7
    for (x, y), (px, py) in zip(alone, pooled):
        assert x.shape == (len(y), 3, 8, 8)
        np.testing.assert_array_equal(px.numpy(), x.numpy())
        np.testing.assert_array_equal(py.numpy(), y.numpy())


def test_workers_are_processes_with_ids_and_persist_when_asked():
    loader = DataLoader(WhoLoads(), batch_size=2, num_workers=2, persistent_workers=True)
    epochs = [[(int(p), int(w)) for _, pid, wid in loader for p, w in zip(pid.tolist(),
                                                                         wid.tolist())]
              for _ in range(2)]
    pids = {p for p, _ in epochs[0]}
    assert os.getpid() not in pids and len(pids) <= 2
    assert {w for _, w in epochs[0]} <= {0, 1} and -1 not in {w for _, w in epochs[0]}
    assert {p for p, _ in epochs[1]} <= pids  # the same processes served the second epoch
    del loader


def test_random_per_sample_transforms_repeat_with_the_same_seed():
    tf = T.Compose([T.RandomCrop(8, padding=2), T.RandomHorizontalFlip(), T.ToTensor()])

    def run():
        lucid.manual_seed(7)  # the workers' seeds come from Lucid's generator
        return [x.numpy() for x, _ in DataLoader(Images(tf), batch_size=10, num_workers=2)]

    first, second = run(), run()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_worker_errors_and_timeouts_reach_the_caller():
    with pytest.raises(ValueError, match="item 0 is broken"):
        list(DataLoader(Broken(), num_workers=1))
    with pytest.raises(RuntimeError, match="within timeout=1 s"):
        list(DataLoader(Slow(), num_workers=1, timeout=1))
    for kwargs, message in [({"num_workers": -1}, "num_workers"),
                            ({"persistent_workers": True}, "persistent_workers"),
                            ({"prefetch_factor": 2}, "prefetch_factor")]:
        with pytest.raises(ValueError, match=message):
            DataLoader(Broken(), **kwargs)


def test_random_split_covers_the_dataset():
    parts = random_split(TensorDataset(LABELS), [30, 10], seed=0)
    seen = sorted(int(i) for p in parts for i in p.indices)
    assert [len(p) for p in parts] == [30, 10] and seen == list(range(40))
    lucid.manual_seed(3)
    first = random_split(TensorDataset(LABELS), [0.5, 0.5])[0].indices.tolist()
    lucid.manual_seed(3)
    assert random_split(TensorDataset(LABELS), [0.5, 0.5])[0].indices.tolist() == first


def test_per_sample_transforms_match_torchvision():
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision.transforms")
    img = IMAGES[0]
    np.testing.assert_allclose(T.ToTensor()(img), tv.ToTensor()(img).numpy(), rtol=1e-6)
    gray = img[:, :, 0]
    np.testing.assert_allclose(T.ToTensor()(gray), tv.ToTensor()(gray).numpy(), rtol=1e-6)
    x = T.ToTensor()(img)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.3, 0.4)
    np.testing.assert_allclose(T.Normalize(mean, std)(x),
                               tv.Normalize(mean, std)(torch.from_numpy(x)).numpy(), rtol=1e-5)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x),
                                  tv.RandomHorizontalFlip(1.0)(torch.from_numpy(x)).numpy())
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(img), img[:, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(img), img)


def test_random_crop_takes_a_window_of_the_padded_image():
    img = IMAGES[1]
    padded = np.pad(img, ((2, 2), (2, 2), (0, 0)))
    np.random.seed(0)
    for _ in range(10):
        crop = T.RandomCrop(8, padding=2)(img)
        assert crop.shape == (8, 8, 3)
        assert any(np.array_equal(crop, padded[i:i + 8, j:j + 8])
                   for i in range(5) for j in range(5))
    chw = T.RandomCrop((4, 6))(T.ToTensor()(img))
    assert chw.shape == (3, 4, 6)
    with pytest.raises(ValueError, match="larger than the image"):
        T.RandomCrop(9)(img)
    assert T.RandomCrop(10, pad_if_needed=True)(img).shape == (10, 10, 3)
