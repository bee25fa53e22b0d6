import gzip
import hashlib

import numpy as np
import pytest
from data_testutil import SHARED_DATA, SHARED_DATA_WHAT, make_mnist_dir
from hypothesis import given, settings
from hypothesis import strategies as st
from lucid.datasets import (
    MNIST_MEAN,
    MNIST_STD,
    CorruptFileError,
    DatasetError,
    DatasetNotFoundError,
    get_fashion_mnist_numpy,
    get_mnist_numpy,
    mnist_sample,
    mnist_sample_split,
    parse_idx,
    parse_mnist_pair,
    read_idx,
    stratified_split,
    write_idx,
)
from lucid.datasets.sample import SAMPLE_FILES, sample_path

SAMPLE_SHA256 = {
    "t10k-images-idx3-ubyte.gz": "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    "t10k-labels-idx1-ubyte.gz": "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
}
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _header(magic, *dims):
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


# ---- IDX parser -------------------------------------------------------------------------


def test_parse_idx_hand_built():
    data = _header(2051, 2, 2, 3) + bytes(range(12))
    arr = parse_idx(data, "x", expect_magic=2051)
    assert arr.dtype == np.uint8 and arr.shape == (2, 2, 3)
    assert arr[1, 1, 2] == 11
    labels = parse_idx(_header(2049, 3) + bytes([7, 0, 9]), "y", expect_magic=2049)
    np.testing.assert_array_equal(labels, [7, 0, 9])
    ints = parse_idx(_header(0x00000C01, 2) + (258).to_bytes(4, "big") * 2)  # int32 big-endian
    assert ints.dtype == np.int32 and ints.dtype.isnative and ints.tolist() == [258, 258]


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    dtype=st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]),
    gz=st.booleans(),
)
def test_write_read_roundtrip(tmp_path_factory, shape, dtype, gz):
    arr = (np.arange(int(np.prod(shape))) % 100).astype(dtype).reshape(shape)
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == tuple(shape)
    np.testing.assert_array_equal(out, arr)


def test_wrong_magic_names_the_file(tmp_path):
    p = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(
        CorruptFileError, match="train-images-idx3-ubyte.*magic number 2051.*expected 2049"
    ):
        read_idx(p, expect_magic=2049)
    p.write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(CorruptFileError, match="not an IDX file"):
        read_idx(p)


def test_truncated_and_padded_files(tmp_path):
    full = _header(2051, 3, 28, 28) + bytes(3 * 784)
    p = tmp_path / "imgs"
    p.write_bytes(full[:-10])
    with pytest.raises(
        CorruptFileError, match=r"imgs: truncated.*\(3, 28, 28\).*2368 bytes.*2358 bytes"
    ):
        read_idx(p, 2051)
    p.write_bytes(full + b"\0")
    with pytest.raises(CorruptFileError, match="trailing bytes"):
        read_idx(p, 2051)
    p.write_bytes(full[:9])
    with pytest.raises(CorruptFileError, match="truncated IDX header"):
        read_idx(p, 2051)
    p.write_bytes(b"\0\0")
    with pytest.raises(CorruptFileError, match="too short"):
        read_idx(p)
    gz = tmp_path / "imgs.gz"
    gz.write_bytes(gzip.compress(full)[:-30])
    with pytest.raises(CorruptFileError, match="imgs.gz.*gzip"):
        read_idx(gz, 2051)


def test_parse_mnist_pair_checks(tmp_path):
    xi = write_idx(tmp_path / "x", np.zeros((4, 28, 28), np.uint8))
    yi = write_idx(tmp_path / "y", np.array([1, 2, 3], np.uint8))
    with pytest.raises(CorruptFileError, match="4 images but .* 3 labels"):
        parse_mnist_pair(xi, yi)
    write_idx(yi, np.array([1, 2, 3, 10], np.uint8))
    with pytest.raises(CorruptFileError, match="label 10"):
        parse_mnist_pair(xi, yi)
    write_idx(xi, np.zeros((4, 14, 14), np.uint8))
    with pytest.raises(CorruptFileError, match=r"\(N, 28, 28\)"):
        parse_mnist_pair(xi, yi)
    # images and labels swapped: the magic numbers say so
    write_idx(xi, np.zeros((4, 28, 28), np.uint8))
    write_idx(yi, np.array([1, 2, 3, 4], np.uint8))
    with pytest.raises(CorruptFileError, match="magic number 2049.*expected 2051"):
        parse_mnist_pair(yi, xi)


# ---- the embedded sample ----------------------------------------------------------------


def test_embedded_files_are_the_documented_ones():
    for name in SAMPLE_FILES:
        data = sample_path(name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == SAMPLE_SHA256[name]
    assert "CC BY-SA 3.0" in sample_path("LICENSE.txt").read_text()


def test_mnist_sample_shapes_split_and_values():
    x_train, y_train, x_test, y_test = mnist_sample()
    assert x_train.shape == (8000, 1, 28, 28) and x_test.shape == (2000, 1, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    counts = np.bincount(y_train, minlength=10) + np.bincount(y_test, minlength=10)
    assert counts.tolist() == MNIST_TEST_COUNTS
    # stratified: every class is 80% (+-1) in train
    for c, n in enumerate(MNIST_TEST_COUNTS):
        assert abs((y_train == c).sum() - 0.8 * n) < 1
    raw_train, _, raw_test, _ = mnist_sample(raw=True)
    assert raw_train.dtype == np.uint8 and raw_train.max() == 255
    expected = (
        raw_train.astype(np.float32) / np.float32(255) - np.float32(MNIST_MEAN[0])
    ) / np.float32(MNIST_STD[0])
    np.testing.assert_array_equal(x_train, expected)
    unit = mnist_sample(normalize=False)[2]
    np.testing.assert_array_equal(unit, raw_test.astype(np.float32) / np.float32(255))
    assert 0.12 < unit.mean() < 0.14  # MNIST's mean intensity


def test_mnist_sample_split_is_fixed_and_disjoint():
    train, test = mnist_sample_split()
    assert len(train) == 8000 and len(test) == 2000
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    assert np.union1d(train, test).tolist() == list(range(10000))
    train2, _ = mnist_sample_split()
    np.testing.assert_array_equal(train, train2)
    # the documented rule, recomputed here
    labels = mnist_sample(raw=True)
    y = np.empty(10000, np.int64)
    y[train], y[test] = labels[1], labels[3]
    k = [784, 908, 826, 808, 786, 714, 766, 822, 779, 807]
    expected = []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        expected.append(idx[np.random.default_rng([0, c]).permutation(len(idx))[: k[c]]])
    np.testing.assert_array_equal(train, np.sort(np.concatenate(expected)))


def test_stratified_split_small():
    labels = np.array([0] * 5 + [1] * 3 + [2] * 2)
    train, test = stratified_split(labels, 6, seed=1)
    assert len(train) == 6 and len(test) == 4
    assert np.bincount(labels[train]).tolist() == [3, 2, 1]


def test_mnist_sample_matches_shared_data():
    if not (SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(SHARED_DATA_WHAT)
    x, y = parse_mnist_pair(
        SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz",
        SHARED_DATA / "mnist" / "t10k-labels-idx1-ubyte.gz",
    )
    assert x.shape == (10000, 1, 28, 28) and np.bincount(y).tolist() == MNIST_TEST_COUNTS
    train, test = mnist_sample_split()
    xs_train, ys_train, xs_test, ys_test = mnist_sample(raw=True)
    np.testing.assert_array_equal(xs_train, x[train])
    np.testing.assert_array_equal(ys_test, y[test])


def test_shared_data_missing_train_files_is_a_clear_error():
    folder = SHARED_DATA / "mnist"
    if not folder.is_dir():
        pytest.skip(SHARED_DATA_WHAT)
    with pytest.raises(DatasetNotFoundError) as e:
        get_mnist_numpy(folder, download=False, cache=False)
    msg = str(e.value)
    assert f"{folder}/" in msg and "train-images-idx3-ubyte.gz" in msg
    assert "f68b3c2dcbeaaa9fbdd348bbdeb94873" in msg and "t10k-images" not in msg


# ---- get_mnist_numpy on files written here ----------------------------------------------


@pytest.mark.parametrize("layout", ["folder", "mnist", "MNIST/raw", "other-name"])
def test_get_mnist_layouts(tmp_path, layout):
    folder = tmp_path if layout == "folder" else tmp_path / layout
    ref = make_mnist_dir(folder, gz=layout != "mnist")
    x, y, xt, yt = get_mnist_numpy(tmp_path, download=False, progress=False)
    assert x.shape == (60, 1, 28, 28) and xt.shape == (20, 1, 28, 28)
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y, ref["y_train"])
    expected = (
        ref["x_test"].astype(np.float32) / np.float32(255) - np.float32(0.1307)
    ) / np.float32(0.3081)
    np.testing.assert_array_equal(xt, expected)


def test_get_mnist_normalize_options(tmp_path):
    ref = make_mnist_dir(tmp_path / "mnist")
    u8 = get_mnist_numpy(tmp_path, raw=True, download=False)
    np.testing.assert_array_equal(u8[0], ref["x_train"])
    assert u8[0].dtype == np.uint8
    unit = get_mnist_numpy(tmp_path, normalize=False, download=False)[0]
    np.testing.assert_array_equal(unit, ref["x_train"] / np.float32(255))
    custom = get_mnist_numpy(tmp_path, normalize=(0.5, 0.25), download=False)[0]
    np.testing.assert_allclose(custom, (ref["x_train"] / 255 - 0.5) / 0.25, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="normalize"):
        get_mnist_numpy(tmp_path, normalize="yes", download=False)
    with pytest.raises(ValueError, match="1 values"):
        get_mnist_numpy(tmp_path, normalize=((0.1, 0.2), (0.3, 0.4)), download=False)


def test_get_mnist_missing_lists_every_file(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        get_mnist_numpy(tmp_path, download=False)
    msg = str(e.value)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, DatasetError)
    assert f"{tmp_path / 'mnist'}/" in msg
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in msg
        assert f"https://ossci-datasets.s3.amazonaws.com/mnist/{name}" in msg
        assert f"http://yann.lecun.com/exdb/mnist/{name}" in msg
    assert "ec29112dd5afa0611ce80d1b7f02629c" in msg


def test_get_mnist_corrupt_file_is_named(tmp_path):
    make_mnist_dir(tmp_path, gz=False)
    p = tmp_path / "t10k-labels-idx1-ubyte"
    p.write_bytes(p.read_bytes()[:-3])
    with pytest.raises(CorruptFileError, match="t10k-labels-idx1-ubyte: truncated"):
        get_mnist_numpy(tmp_path, download=False, cache=False)


def test_fashion_mnist_uses_its_own_folder_and_stats(tmp_path):
    make_mnist_dir(tmp_path / "mnist", seed=1)
    ref = make_mnist_dir(tmp_path / "FashionMNIST" / "raw", seed=2)
    x, y, _, _ = get_fashion_mnist_numpy(tmp_path, download=False)
    np.testing.assert_array_equal(y, ref["y_train"])
    expected = (ref["x_train"] / np.float32(255) - np.float32(0.2860)) / np.float32(0.3530)
    np.testing.assert_array_equal(x, expected)
    with pytest.raises(DatasetNotFoundError, match="Fashion-MNIST"):
        get_fashion_mnist_numpy(tmp_path / "mnist" / "nothing", download=False)
