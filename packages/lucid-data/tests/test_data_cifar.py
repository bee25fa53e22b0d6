import os
import pickle
import tarfile

import numpy as np
import pytest
from data_testutil import (
    SHARED_DATA,
    SHARED_DATA_WHAT,
    cifar_batch_bytes,
    make_cifar_dir,
    make_tar,
    pickle_with_reduce,
    py2_dumps,
)
from lucid.datasets import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    ChecksumError,
    CorruptFileError,
    DatasetNotFoundError,
    UnsafePickleError,
    get_cifar10_numpy,
    get_cifar100_numpy,
    parse_cifar_batch,
    safe_load,
    safe_loads,
)
from lucid.datasets.archive import extract_tar


def _normalized(raw):
    mean = np.asarray(CIFAR10_MEAN, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(CIFAR10_STD, np.float32).reshape(1, 3, 1, 1)
    return (raw.astype(np.float32) / np.float32(255) - mean) / std


# ---- parsing ----------------------------------------------------------------------------


def test_parse_batch_in_official_format():
    x = np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    data = cifar_batch_bytes(x, [3, 1, 4, 1])
    images, labels = parse_cifar_batch(data, "data_batch_1", "labels", 10)
    np.testing.assert_array_equal(images, x)
    assert labels.dtype == np.int64 and labels.tolist() == [3, 1, 4, 1]
    # the (N, 3072) rows are channel-major: R plane, G plane, B plane
    row = pickle.loads(data, encoding="bytes")[b"data"][2]
    np.testing.assert_array_equal(images[2, 1].ravel(), row[1024:2048])
    # latin1-decoded pickles (str keys) work too
    text = safe_loads(data, encoding="latin1")
    assert "data" in text and text["data"].dtype == np.uint8


@pytest.mark.parametrize(
    "bad, match",
    [
        ({b"labels": [1]}, "missing key"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [1, 2]}, r"uint8 \(N, 3072\)"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [1, 2]}, r"uint8 \(N, 3072\)"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}, "2 images"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}, r"outside \[0, 10\)"),
        ([1, 2, 3], "expected a pickled dict"),
    ],
)
def test_parse_batch_rejects_malformed(bad, match):
    with pytest.raises(CorruptFileError, match=match):
        parse_cifar_batch(py2_dumps(bad), "test_batch", "labels", 10)


def test_truncated_pickle_is_corrupt_not_crash(tmp_path):
    data = cifar_batch_bytes(np.zeros((2, 3, 32, 32), np.uint8), [0, 1])
    p = tmp_path / "data_batch_1"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match="data_batch_1: not a valid pickle"):
        safe_load(p)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_raises_and_executes_nothing(tmp_path):
    marker = tmp_path / "pwned"
    payload = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": _Evil(marker)}
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_dumps(payload))
    with pytest.raises(UnsafePickleError, match=r"data_batch_1.*(posix|os)\.system"):
        safe_load(path)
    assert not marker.exists()
    # the same through the whole loader
    make_cifar_dir(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(py2_dumps(payload))
    with pytest.raises(UnsafePickleError, match="test_batch"):
        get_cifar10_numpy(tmp_path, download=False)
    assert not marker.exists()
    # sanity: an unrestricted pickle.loads of this payload would have run the command
    pickle.loads(pickle.dumps(_Evil(marker)))
    assert marker.exists()


@pytest.mark.parametrize(
    "module, name",
    [
        ("builtins", "eval"),
        ("__builtin__", "exec"),
        ("subprocess", "Popen"),
        ("numpy", "load"),
        ("numpy.core.multiarray", "scalar"),
    ],
)
def test_other_globals_are_refused(tmp_path, module, name):
    marker = tmp_path / "ran"
    data = pickle_with_reduce(module, name, f"open({str(marker)!r}, 'w')")
    with pytest.raises(UnsafePickleError, match=f"{name}"):
        safe_loads(data, "evil")
    assert not marker.exists()


def test_object_arrays_are_refused():
    data = py2_dumps({b"data": np.array([1, "a"], dtype=object)})
    with pytest.raises(UnsafePickleError, match="object arrays"):
        safe_loads(data, "x")


# ---- get_cifar10_numpy ------------------------------------------------------------------


def test_get_cifar10_from_parent_and_from_folder(tmp_path):
    ref = make_cifar_dir(tmp_path)
    x, y, xt, yt = get_cifar10_numpy(tmp_path, download=False)
    assert x.shape == (40, 3, 32, 32) and xt.shape == (12, 3, 32, 32)
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, _normalized(ref["x_train"]))
    np.testing.assert_array_equal(yt, ref["y_test"])
    x2, y2, _, _ = get_cifar10_numpy(tmp_path / "cifar-10-batches-py", normalize=False)
    np.testing.assert_array_equal(x2, ref["x_train"] / np.float32(255))
    raw = get_cifar10_numpy(tmp_path, raw=True)
    assert raw[0].dtype == np.uint8
    np.testing.assert_array_equal(raw[2], ref["x_test"])


def test_get_cifar10_missing_says_what_to_put_where(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        get_cifar10_numpy(tmp_path, download=False)
    msg = str(e.value)
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in msg
    assert "c58f30108f718f92721af3b95e74349a" in msg
    assert str(tmp_path / "cifar-10-python.tar.gz") in msg
    assert f"{tmp_path / 'cifar-10-batches-py'}/" in msg and "data_batch_5" in msg


def test_incomplete_folder_is_not_accepted(tmp_path):
    make_cifar_dir(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DatasetNotFoundError, match="data_batch_3"):
        get_cifar10_numpy(tmp_path, download=False)


def test_user_placed_archive_with_wrong_md5(tmp_path):
    src = tmp_path / "src"
    make_cifar_dir(src)
    root = tmp_path / "root"
    root.mkdir()
    archive = make_tar(src, "cifar-10-batches-py", root / "cifar-10-python.tar.gz")
    with pytest.raises(ChecksumError) as e:
        get_cifar10_numpy(root, download=False)
    assert "c58f30108f718f92721af3b95e74349a" in str(e.value)
    assert str(archive) in str(e.value) and e.value.actual in str(e.value)
    assert archive.exists()  # the user's file is left alone


def test_extract_tar_refuses_unsafe_members(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/../../escape")
        info.size = 1
        import io

        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(CorruptFileError, match="unsafe"):
        extract_tar(bad, tmp_path / "out", "cifar-10-batches-py")
    assert not (tmp_path / "escape").exists()
    link = tmp_path / "link.tar.gz"
    with tarfile.open(link, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(CorruptFileError, match="not a regular file"):
        extract_tar(link, tmp_path / "out2", "cifar-10-batches-py")


def test_cifar100_fine_and_coarse(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    out = {}
    for split, n in (("train", 6), ("test", 4)):
        x = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        fine, coarse = rng.integers(0, 100, n), rng.integers(0, 20, n)
        d = {
            b"data": x.reshape(n, -1),
            b"fine_labels": fine.tolist(),
            b"coarse_labels": coarse.tolist(),
            b"filenames": [b"a"] * n,
        }
        (folder / split).write_bytes(py2_dumps(d))
        out[split] = (x, fine, coarse)
    x, y, xt, yt = get_cifar100_numpy(tmp_path, download=False)
    np.testing.assert_array_equal(y, out["train"][1])
    assert x.shape == (6, 3, 32, 32) and x.dtype == np.float32
    _, yc, _, ytc = get_cifar100_numpy(tmp_path, label_mode="coarse", download=False)
    np.testing.assert_array_equal(ytc, out["test"][2])
    with pytest.raises(ValueError, match="label_mode"):
        get_cifar100_numpy(tmp_path, label_mode="medium")


# ---- the real CIFAR-10 subset in ../shared/data -----------------------------------------


def test_shared_cifar_mini(tmp_path):
    archive = SHARED_DATA / "cifar-10-mini-python.tar.gz"
    if not archive.is_file():
        pytest.skip(SHARED_DATA_WHAT)
    extract_tar(archive, tmp_path, "cifar-10-batches-py")
    x, y, xt, yt = get_cifar10_numpy(tmp_path, normalize=False, download=False, progress=False)
    assert x.shape == (5000, 3, 32, 32) and xt.shape == (2000, 3, 32, 32)
    assert np.bincount(y).tolist() == [500] * 10 and np.bincount(yt).tolist() == [200] * 10
    means = x.mean(axis=(0, 2, 3))
    np.testing.assert_allclose(means, [0.491, 0.481, 0.444], atol=0.01)
    xn = get_cifar10_numpy(tmp_path, download=False)[0]
    np.testing.assert_allclose(
        xn.mean(axis=(0, 2, 3)), (means - CIFAR10_MEAN) / CIFAR10_STD, atol=1e-3
    )
    # an archive with a non-official md5 sitting beside the extracted folder is not needed
    # nor checked: the extracted folder is used as it is
    os.symlink(archive, tmp_path / "cifar-10-python.tar.gz")
    xr = get_cifar10_numpy(tmp_path, raw=True, cache=False, download=False)[0]
    np.testing.assert_array_equal(xr[:5] / np.float32(255), x[:5])
