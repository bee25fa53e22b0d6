"""``resnet18-cifar10`` on real CIFAR-10: the repository's 300-image fixture (always), and
the 7,000-image subset in ``../shared/data`` for larger optional checks.

The data folder is read-only and must stay untouched; the uint8 cache goes under
``LUCID_DATA_HOME`` (a temporary folder here). The batches that reach the models must equal,
bit for bit, those of the former pipeline (float32 images in [0, 1], normalised per batch).
"""

import os
import stat
import tarfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import SHARED_DATA, read_json
from lucid import datasets as ds
from lucid.compare.cli import main
from lucid.compare.data import BatchHasher, Data, load_data, make_loaders
from lucid.data import transforms as T
from lucid.datasets.pipeline import default_cache_dir

FIXTURE = (Path(__file__).resolve().parents[2] / "lucid-data" / "tests" / "fixtures"
           / "cifar-10-tiny-python.tar.gz")
SHARED_ARCHIVE = SHARED_DATA / "cifar-10-mini-python.tar.gz"
SHARED_WHAT = (f"{SHARED_ARCHIVE} is absent: ../shared/data is an optional folder beside the "
               "repository holding real data in the official formats (the MNIST test set and "
               "a 7,000-image CIFAR-10 subset, cifar-10-mini-python.tar.gz); the repository's "
               "300-image fixture covers the same code")
BUILT = "lucid-data: cached CIFAR-10"


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.lstat().st_mode, p.lstat().st_size,
                                         p.lstat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def _writable(folder: Path, on: bool) -> None:
    for p in [folder, *folder.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode | stat.S_IWUSR if on else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _extract_read_only(archive: Path, root: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    _writable(root, False)
    return root


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private cache root (``LUCID_DATA_HOME``), inherited by the workers."""
    monkeypatch.setenv("LUCID_DATA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def cifar_tiny(tmp_path, home):
    root = _extract_read_only(FIXTURE, tmp_path / "data")
    yield root
    _writable(root, True)


def test_resnet18_cifar10_tiny_run(tmp_path, cifar_tiny, home, capfd):
    before = _snapshot(cifar_tiny)
    out = tmp_path / "out"
    argv = ["run", "resnet18-cifar10", "--data-dir", str(cifar_tiny), "--subset", "16",
            "--test-subset", "16", "--batch-size", "8", "--epochs", "1", "--threads", "1",
            "--no-progress", "--trajectory-steps", "0", "--out", str(out)]
    assert main(argv) == 0
    lu, to = (read_json(out / f"history_{f}.json") for f in ("lucid", "torch"))
    for h in (lu, to):
        assert h["status"] == "finished" and h["param_count"] == 11_173_962
        assert h["data"]["train"] == [200, 3, 32, 32] and h["data"]["test"] == [100, 3, 32, 32]
        assert "RandomCrop" in h["data"]["augmentation"]
        assert h["config"]["augment"] is True and h["config"]["weight_decay"] == 5e-4
    # the same augmented batches reached both frameworks
    assert lu["epochs"][0]["batch_data_hash"] == to["epochs"][0]["batch_data_hash"]
    assert (out / "checkpoints" / "lucid.safetensors").exists()
    assert (out / "checkpoints" / "torch.pt").exists()
    # the cache was built once (by the parent; the workers reused it), outside the data
    assert _snapshot(cifar_tiny) == before
    cdir = default_cache_dir("cifar10", cifar_tiny)
    assert cdir.parent == home and (cdir / "cifar10-uint8.npz").is_file()
    assert capfd.readouterr().err.count(BUILT) == 1


def _old_data(root) -> Data:
    """The former pipeline: float32 images in [0, 1], normalised per batch."""
    x_tr, y_tr, x_te, y_te = ds.get_cifar10_numpy(root, normalize=False, download=False,
                                                  progress=False)
    norm = T.Normalize(ds.CIFAR10_MEAN, ds.CIFAR10_STD)
    augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), norm])
    return Data(x_tr, y_tr, norm(x_te), y_te, norm, augment, "old")


def _bits(x: np.ndarray) -> np.ndarray:
    assert x.dtype == np.float32
    return np.ascontiguousarray(x).view(np.uint32)


def _assert_same_batches(old: Data, new: Data, subset: int, epochs: int = 2) -> int:
    """Every train and test batch of both, augmented or not, equal bit for bit."""
    compared = 0
    for augment in (True, False):
        cfg = SimpleNamespace(subset=subset, test_subset=None, batch_size=32,
                              eval_batch_size=64, augment=augment, seed=7)
        (old_tr, old_te), (new_tr, new_te) = make_loaders(old, cfg), make_loaders(new, cfg)
        for epoch in range(epochs):
            old_tr.set_epoch(epoch)
            new_tr.set_epoch(epoch)
            h_old, h_new = BatchHasher(), BatchHasher()
            for (xo, yo), (xn, yn) in zip(old_tr, new_tr, strict=True):
                assert np.array_equal(_bits(xo), _bits(xn)) and np.array_equal(yo, yn)
                h_old.update(xo, yo)
                h_new.update(xn, yn)
                compared += 1
            assert h_old.hexdigest() == h_new.hexdigest()  # the hash a history records
        for (xo, yo), (xn, yn) in zip(old_te, new_te, strict=True):
            assert np.array_equal(_bits(xo), _bits(xn)) and np.array_equal(yo, yn)
    return compared


def test_uint8_pipeline_feeds_the_same_batches_as_before(cifar_tiny, capsys):
    new = load_data("cifar10", cifar_tiny, progress=False)
    assert new.x_train.dtype == np.uint8 and new.x_test.dtype == np.float32
    assert capsys.readouterr().err.count(BUILT) == 1
    old = _old_data(cifar_tiny)  # reuses the same cache: no second line
    assert capsys.readouterr().err == ""
    assert _assert_same_batches(old, new, subset=200) == 2 * 2 * 7
    # an augmented batch really is cropped and flipped, so the check covers the padding
    x, _ = next(iter(make_loaders(new, SimpleNamespace(
        subset=32, test_subset=None, batch_size=32, eval_batch_size=64, augment=True, seed=7))[0]))
    pad = (np.float32(0) - np.float32(ds.CIFAR10_MEAN[0])) / np.float32(ds.CIFAR10_STD[0])
    assert (x[:, 0] == pad).any()


@pytest.mark.skipif(not SHARED_ARCHIVE.exists(), reason=SHARED_WHAT)
def test_shared_subset_same_batches_and_cache_size(tmp_path, home, capsys):
    root = _extract_read_only(SHARED_ARCHIVE, tmp_path / "data")
    try:
        before = _snapshot(root)
        new = load_data("cifar10", root, progress=False)
        cdir = default_cache_dir("cifar10", root)
        size = (cdir / "cifar10-uint8.npz").stat().st_size
        assert 7000 * 3072 < size < 7000 * (3072 + 8) + 10_000  # uint8 images, int64 labels
        assert capsys.readouterr().err == (
            f"{BUILT} (uint8, {size / 1e6:.0f} MB) in {cdir}{os.sep}\n")
        assert new.x_train.shape == (5000, 3, 32, 32)
        assert _assert_same_batches(_old_data(root), new, subset=5000, epochs=1) == 2 * 157
        assert _snapshot(root) == before and sorted(home.iterdir()) == [cdir]
    finally:
        _writable(root, True)
