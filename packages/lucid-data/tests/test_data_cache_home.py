"""Where the dataset cache lives and what it holds.

Only the uint8 arrays are cached, in ``$LUCID_DATA_HOME/<name>-<key of the data folder>/``
(the conftest points ``LUCID_DATA_HOME`` at a fresh temporary folder); nothing is written
into the data folder; building a cache prints one line, reusing it prints none.
"""

import json
import os
import stat
import tarfile
from pathlib import Path

import numpy as np
import pytest
from data_testutil import make_cifar_dir
from lucid.datasets import CIFAR10_MEAN, CIFAR10_STD, DatasetNotFoundError, get_cifar10_numpy
from lucid.datasets.pipeline import default_cache_dir, folder_key

FIXTURE = Path(__file__).with_name("fixtures") / "cifar-10-tiny-python.tar.gz"


def _home() -> Path:
    return Path(os.environ["LUCID_DATA_HOME"])


def _snapshot(folder: Path) -> dict:
    """Every path under ``folder`` with its mode, size and mtime."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(folder))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


def _set_writable(folder: Path, writable: bool) -> None:
    for p in [folder, *folder.rglob("*")]:
        mode = p.stat().st_mode
        bits = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        p.chmod(mode | stat.S_IWUSR if writable else mode & ~bits)


@pytest.fixture
def real_cifar(tmp_path):
    """The repository's 300 real CIFAR-10 images, extracted into a read-only folder."""
    root = tmp_path / "data"
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(root, filter="data")
    _set_writable(root, False)
    yield root
    _set_writable(root, True)


def test_uint8_cache_under_data_home_and_nothing_in_the_data_folder(real_cifar, capsys):
    before = _snapshot(real_cifar)
    x, y, xt, yt = get_cifar10_numpy(real_cifar, download=False, progress=False)
    assert _snapshot(real_cifar) == before  # not a file added, changed or touched
    cdir = _home() / f"cifar10-{folder_key(real_cifar)}"
    assert list(_home().iterdir()) == [cdir] and cdir == default_cache_dir("cifar10", real_cifar)
    assert sorted(p.name for p in cdir.iterdir()) == [
        "cifar10-uint8.json", "cifar10-uint8.npz", "cifar10.lock"]  # fmt: skip
    side = json.loads((cdir / "cifar10-uint8.json").read_text())
    dtypes = {k: v["dtype"] for k, v in side["arrays"].items()}
    assert dtypes == {"x_train": "|u1", "y_train": "<i8", "x_test": "|u1", "y_test": "<i8"}
    assert side["meta"]["data_folder"] == str(real_cifar.resolve())
    npz = (cdir / "cifar10-uint8.npz").stat().st_size
    assert 300 * 3072 < npz < 300 * 3072 + 20_000  # the uint8 pixels, not float32
    line = f"lucid-data: cached CIFAR-10 (uint8, {npz / 1e6:.1f} MB) in {cdir}{os.sep}\n"
    assert capsys.readouterr().err == line
    # reused: the same arrays, and not a word
    again = get_cifar10_numpy(real_cifar, download=False, progress=False)
    assert capsys.readouterr().err == ""
    for a, b in zip((x, y, xt, yt), again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert _snapshot(real_cifar) == before


def test_float_images_are_the_uint8_cache_normalised_bit_for_bit(real_cifar):
    raw = get_cifar10_numpy(real_cifar, raw=True, download=False)
    x, _, xt, _ = get_cifar10_numpy(real_cifar, download=False)
    unit = get_cifar10_numpy(real_cifar, normalize=False, download=False)[0]
    mean = np.float32(CIFAR10_MEAN).reshape(1, 3, 1, 1)
    std = np.float32(CIFAR10_STD).reshape(1, 3, 1, 1)
    for got, r in ((x, raw[0]), (xt, raw[2])):  # ToTensor() then Normalize(mean, std)
        want = (r.astype(np.float32) / np.float32(255) - mean) / std
        assert got.dtype == np.float32 and np.array_equal(got, want)
    assert np.array_equal(unit, raw[0].astype(np.float32) / np.float32(255))


def test_two_data_folders_never_share_a_cache(tmp_path, count_cifar_parses):
    a = make_cifar_dir(tmp_path / "a", seed=1)
    b = make_cifar_dir(tmp_path / "b", seed=2)
    for root, ref in ((tmp_path / "a", a), (tmp_path / "b", b), (tmp_path / "a", a)):
        x = get_cifar10_numpy(root, raw=True, download=False)[0]
        np.testing.assert_array_equal(x, ref["x_train"])
    assert len(count_cifar_parses) == 2  # the third load reused a's cache
    assert default_cache_dir("cifar10", tmp_path / "a") != default_cache_dir("cifar10", tmp_path / "b")
    assert len(list(_home().glob("cifar10-*"))) == 2
    # the key names the folder, however it is spelled
    assert folder_key(tmp_path / "b" / ".." / "a") == folder_key(tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "link")
    assert folder_key(tmp_path / "link") == folder_key(tmp_path / "a")


def test_a_cache_dir_given_for_two_folders_never_mixes_them(tmp_path, count_cifar_parses):
    a = make_cifar_dir(tmp_path / "a", seed=1)
    b = make_cifar_dir(tmp_path / "b", seed=2)
    shared = tmp_path / "shared-cache"
    for root, ref in ((tmp_path / "a", a), (tmp_path / "b", b)):
        x = get_cifar10_numpy(root, raw=True, download=False, cache_dir=shared)[0]
        np.testing.assert_array_equal(x, ref["x_train"])
    assert len(count_cifar_parses) == 2  # another data folder: rebuilt, never a's arrays


def test_data_in_the_cache_root_itself(count_cifar_parses):
    ref = make_cifar_dir(_home())
    x = get_cifar10_numpy(download=False, raw=True)[0]
    np.testing.assert_array_equal(x, ref["x_train"])
    assert (_home() / f"cifar10-{folder_key(_home())}" / "cifar10-uint8.json").is_file()
    get_cifar10_numpy(download=False)
    assert len(count_cifar_parses) == 1


def test_missing_data_leaves_no_cache_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError):
        get_cifar10_numpy(tmp_path / "empty", download=False)
    assert list(_home().iterdir()) == [] and list((tmp_path / "empty").iterdir()) == []
    assert capsys.readouterr().err == ""
