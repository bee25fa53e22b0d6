"""The CIFAR-10 loader on real CIFAR-10 files: the small fixture in the repository."""

import tarfile
from pathlib import Path

import numpy as np
from lucid.datasets import get_cifar10_numpy
from lucid.datasets.safe_pickle import safe_loads

FIXTURE = Path(__file__).with_name("fixtures") / "cifar-10-tiny-python.tar.gz"


def test_fixture_loads_through_the_safe_unpickler(tmp_path):
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    batch = safe_loads((tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes())
    assert batch[b"data"].shape == (40, 3072) and batch[b"data"].dtype == np.uint8
    x, y, xt, yt = get_cifar10_numpy(tmp_path, normalize=False, download=False, progress=False)
    assert x.shape == (200, 3, 32, 32) and xt.shape == (100, 3, 32, 32)
    assert np.bincount(y).tolist() == [20] * 10 and np.bincount(yt).tolist() == [10] * 10
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.dtype == np.float32
    # real photographs, not noise: neighbouring pixels are strongly correlated
    a, b = x[:, :, :, :-1].ravel(), x[:, :, :, 1:].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.8
    raw = get_cifar10_numpy(tmp_path, raw=True, cache=False, download=False)[0]
    np.testing.assert_array_equal(raw[:3] / np.float32(255), x[:3])
