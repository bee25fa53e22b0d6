"""Hostile and broken input: crafted pickles, damaged caches, stale temporaries, bad labels."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from lucid.datasets import CorruptFileError, UnsafePickleError, safe_loads


# ----- pickles: linear-time, bounded-depth structure check ------------------------------
def _nested_lists(depth: int) -> bytes:
    """A protocol-2 pickle of ``depth`` nested lists, built from opcodes (no recursion)."""
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


def test_shared_sublists_are_checked_once():
    leaf = [1]
    for _ in range(30):  # 2**30 paths, 31 distinct lists
        leaf = [leaf, leaf]
    out = safe_loads(pickle.dumps({b"x": leaf}, protocol=4))
    assert out[b"x"][0] is out[b"x"][1]


def test_deep_shared_dag_is_refused_fast():
    leaf = [1]
    for _ in range(64):
        leaf = [leaf, leaf]
    with pytest.raises(CorruptFileError, match="nested deeper"):
        safe_loads(pickle.dumps({b"x": leaf}, protocol=4))


def test_self_referencing_list_is_refused():
    a = []
    a.append(a)
    with pytest.raises(CorruptFileError, match="holds itself"):
        safe_loads(pickle.dumps(a, protocol=2), "cyc.pkl")


def test_5000_deep_nesting_is_refused_without_recursion_error():
    with pytest.raises(CorruptFileError, match="deep.pkl"):
        safe_loads(_nested_lists(5000), "deep.pkl")


@pytest.mark.parametrize("kind", ["dag", "cycle", "deep"])
def test_crafted_cifar_batch_is_refused_by_the_loader(tmp_path, kind):
    from data_testutil import make_cifar_dir
    from lucid.datasets import get_cifar10_numpy

    make_cifar_dir(tmp_path)
    leaf = [1]
    if kind == "dag":
        for _ in range(64):
            leaf = [leaf, leaf]
        data = pickle.dumps({b"data": leaf, b"labels": [0]}, protocol=4)
    elif kind == "cycle":
        leaf.append(leaf)
        data = pickle.dumps({b"data": leaf, b"labels": [0]}, protocol=4)
    else:
        data = _nested_lists(5000)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(data)
    with pytest.raises(CorruptFileError, match="data_batch_3"):
        get_cifar10_numpy(tmp_path, download=False, progress=False)


def test_object_array_deep_inside_is_still_refused():
    obj = {b"data": [[np.array([1, None], dtype=object)]]}
    with pytest.raises(UnsafePickleError):
        safe_loads(pickle.dumps(obj, protocol=2))


def test_check_structure_refuses_object_array_and_accepts_cifar_shape():
    from lucid.datasets.safe_pickle import check_structure

    with pytest.raises(UnsafePickleError, match="f.pkl"):
        check_structure({b"a": [(np.array([None], dtype=object),)]}, "f.pkl")
    check_structure({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]}, "ok")


# ----- cache: damaged bytes, replaced sources, malformed sidecars, temporaries, modes ---
def _mnist(tmp_path, **kw):
    from lucid.datasets import get_mnist_numpy

    return get_mnist_numpy(root=tmp_path / "data", download=False, progress=False, **kw)


def _cdir(tmp_path):
    """The cache folder of the MNIST files in ``tmp_path / "data"``."""
    from lucid.datasets.pipeline import default_cache_dir

    return default_cache_dir("mnist", tmp_path / "data")


def _flip_byte(path, offset_from_end=5):
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 0xFF
    st = path.stat()
    path.write_bytes(bytes(data))
    return st


@pytest.fixture
def mnist_root(tmp_path):
    from data_testutil import make_mnist_dir

    return make_mnist_dir(tmp_path / "data", gz=False)


@pytest.mark.parametrize("mmap_mode", [None, "r"])
def test_flipped_byte_in_cached_npy_is_not_returned(tmp_path, mnist_root, mmap_mode):
    good = _mnist(tmp_path, mmap_mode="r")  # writes the .npy files
    good = [np.array(a) for a in good]
    (npy,) = _cdir(tmp_path).glob("mnist-uint8.x_train.npy")
    _flip_byte(npy)
    again = _mnist(tmp_path, mmap_mode=mmap_mode)
    for a, b in zip(good, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_flipped_byte_with_restored_mtime_is_caught_by_verify(tmp_path, mnist_root, monkeypatch):
    import os

    good = np.array(_mnist(tmp_path, mmap_mode="r")[0])
    (npy,) = _cdir(tmp_path).glob("mnist-uint8.x_train.npy")
    st = _flip_byte(npy)
    os.utime(npy, ns=(st.st_atime_ns, st.st_mtime_ns))  # bit rot: the mtime stays
    monkeypatch.setenv("LUCID_VERIFY_CACHE", "1")
    np.testing.assert_array_equal(_mnist(tmp_path, mmap_mode="r")[0], good)
    monkeypatch.delenv("LUCID_VERIFY_CACHE")
    st = _flip_byte(npy)
    os.utime(npy, ns=(st.st_atime_ns, st.st_mtime_ns))
    np.testing.assert_array_equal(_mnist(tmp_path)[0], good)  # a normal load checks CRCs


def test_same_size_replaced_source_rebuilds_the_cache(tmp_path, mnist_root):
    import os

    from lucid.datasets.idx import write_idx

    y = _mnist(tmp_path)[1]
    labels = mnist_root["y_train"].astype(np.uint8)
    labels[0] = (labels[0] + 1) % 10
    path = tmp_path / "data" / "train-labels-idx1-ubyte"
    size = path.stat().st_size
    old = path.stat().st_mtime_ns
    write_idx(path, labels)
    os.utime(path, ns=(old + 10**9, old + 10**9))  # coarse clocks: make the change visible
    assert path.stat().st_size == size
    y2 = _mnist(tmp_path)[1]
    assert y2[0] == labels[0] != y[0]


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: {**s, "meta": None},
        lambda s: {**s, "sources": "zzz"},
        lambda s: {**s, "arrays": {"x_train": 3}},
        lambda s: {**s, "npz": []},
        lambda s: {**s, "npy": {"x_train": None}},
        lambda s: [s],
        lambda s: "[" * 100000,
    ],
)
def test_malformed_sidecar_is_a_miss_and_rebuilt(tmp_path, mnist_root, edit):
    import json

    good = _mnist(tmp_path)
    (side,) = _cdir(tmp_path).glob("mnist-uint8.json")
    bad = edit(json.loads(side.read_text()))
    side.write_text(bad if isinstance(bad, str) else json.dumps(bad))
    for _ in range(2):
        again = _mnist(tmp_path)
        np.testing.assert_array_equal(again[0], good[0])
    assert json.loads(side.read_text())["meta"]["dataset"] == "mnist"  # rewritten


def test_stale_temporaries_are_removed_on_the_next_run(tmp_path, mnist_root):
    import os
    import subprocess
    import sys
    import time

    _mnist(tmp_path)
    cdir = _cdir(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    old = time.time() - 3600
    dead_tmp = cdir / f"mnist-uint8.npz.{dead_pid}.abcd1234.tmp"
    ancient = cdir / "mnist-uint8.npz.zz9_abcd.tmp"  # old naming, no pid: by age
    live = cdir / f"mnist-uint8.npz.{os.getpid()}.live1234.tmp"  # this process: kept
    fresh_dead = cdir / f"mnist-uint8.npy.{dead_pid}.fresh123.tmp"  # just written: kept
    user = cdir / "notes.tmp"  # not ours: kept
    for p in (dead_tmp, ancient, live, fresh_dead, user):
        p.write_bytes(b"x")
    os.utime(dead_tmp, (old, old))
    os.utime(ancient, (time.time() - 2 * 86400,) * 2)
    os.utime(user, (time.time() - 2 * 86400,) * 2)
    _mnist(tmp_path)
    assert not dead_tmp.exists() and not ancient.exists()
    assert live.exists() and fresh_dead.exists() and user.exists()


def test_cache_files_follow_the_umask(tmp_path, mnist_root):
    import os
    import stat

    old = os.umask(0o022)
    try:
        _mnist(tmp_path, mmap_mode="r")
    finally:
        os.umask(old)
    files = [p for p in _cdir(tmp_path).iterdir() if p.suffix != ".lock"]
    assert files
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p


# ----- downloads: deadline, mirrors without '/', stale .part files ----------------------
def test_trickling_server_hits_the_overall_deadline(tmp_path):
    import time

    from data_testutil import serve_files
    from lucid.datasets import DownloadError, download_url

    with serve_files({"a.bin": b"x" * 1000}, trickle={"a.bin": 0.05}) as srv:
        t0 = time.monotonic()
        with pytest.raises(DownloadError, match="within 1 s"):
            download_url(srv.url + "a.bin", tmp_path / "a.bin", timeout=5, deadline=1,
                         progress=False, backoff=0)
        assert time.monotonic() - t0 < 4
    assert list(tmp_path.iterdir()) == []


def test_mirror_without_trailing_slash_is_joined(tmp_path, monkeypatch):
    import hashlib

    from data_testutil import make_mnist_dir, serve_files
    from lucid.datasets import get_mnist_numpy
    from lucid.datasets import mnist as mnist_mod

    ref = make_mnist_dir(tmp_path / "served", gz=True)
    files = {p.name: p.read_bytes() for p in (tmp_path / "served").iterdir()}
    md5s = {role: (name, hashlib.md5(files[name]).hexdigest())
            for role, (name, _) in mnist_mod.MNIST_FILES.items()}
    monkeypatch.setattr(mnist_mod.MNIST, "files", md5s)
    with serve_files(files) as srv:
        x = get_mnist_numpy(tmp_path / "home", raw=True, progress=False,
                            mirrors=[srv.url.rstrip("/")])[0]
        assert sorted(srv.requests) == sorted("/" + n for n in files)
    np.testing.assert_array_equal(x, ref["x_train"])


def test_stale_part_files_are_removed_by_the_next_download(tmp_path):
    import os
    import time

    from data_testutil import serve_files
    from lucid.datasets import download_url

    old = time.time() - 2 * 86400
    stale = tmp_path / "a.bin.1.abc_1234.part"  # old enough, whoever its owner
    other = tmp_path / "b.bin.1.abc_1234.part"  # another file's: left to its own download
    for p in (stale, other):
        p.write_bytes(b"x" * 100)
        os.utime(p, (old, old))
    with serve_files({"a.bin": b"hello"}) as srv:
        download_url(srv.url + "a.bin", tmp_path / "a.bin", progress=False)
    assert (tmp_path / "a.bin").read_bytes() == b"hello"
    assert not stale.exists() and other.exists()
    assert not list(tmp_path.glob(f"a.bin.{os.getpid()}.*"))


# ----- labels and indices: refused, not truncated -----------------------------------------
@pytest.mark.parametrize("bad", [[1.7] * 10, [1.0, 2.0], [True, False], ["1", "2"]])
def test_float_labels_and_indices_are_refused(bad):
    from lucid.data import ArrayDataset, Subset
    from lucid.datasets import stratified_split

    ds = ArrayDataset(np.zeros((10, 2), np.float32), np.arange(10))
    with pytest.raises(TypeError, match="Subset indices must be integers"):
        Subset(ds, bad)
    with pytest.raises(TypeError, match="labels must be integers"):
        stratified_split(np.asarray(bad), 5)


def test_integer_labels_and_indices_still_work():
    from lucid.data import ArrayDataset, Subset
    from lucid.datasets import stratified_split

    ds = ArrayDataset(np.arange(10), np.arange(10) % 2)
    assert list(Subset(ds, np.array([3, 1], np.int32)).get_batch(np.array([0, 1]))[0]) == [3, 1]
    assert len(Subset(ds, [])) == 0
    train, test = stratified_split(np.arange(10) % 2, 6)
    assert len(train) == 6 and len(test) == 4


def test_idx_header_whose_dimensions_overflow_int64_is_corrupt():
    from lucid.datasets import parse_idx

    data = bytes([0, 0, 8, 4]) + (65536).to_bytes(4, "big") * 4  # 2**64 elements: wraps to 0
    with pytest.raises(CorruptFileError, match=r"\(65536, 65536, 65536, 65536\)"):
        parse_idx(data, "big.idx")


def test_stale_extraction_folder_is_removed_by_the_next_extraction(tmp_path):
    import os
    import subprocess
    import sys
    import time

    from data_testutil import make_tar
    from lucid.datasets.archive import extract_tar

    (tmp_path / "src" / "top").mkdir(parents=True)
    (tmp_path / "src" / "top" / "f.txt").write_text("hi")
    archive = make_tar(tmp_path / "src", "top", tmp_path / "a.tar.gz")
    dest = tmp_path / "dest"
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    stale = dest / f".extract-{dead}-abcd1234"
    live = dest / f".extract-{os.getpid()}-live1234"
    for d in (stale, live):
        (d / "top").mkdir(parents=True)
        (d / "top" / "big.bin").write_bytes(b"x" * 1000)
        os.utime(d, (time.time() - 600,) * 2)
    out = extract_tar(archive, dest, "top")
    assert (out / "f.txt").read_text() == "hi"
    assert not stale.exists() and live.exists()


@pytest.mark.parametrize("mmap_mode", [None, "r"])
def test_npz_replaced_by_other_valid_arrays_is_a_miss(tmp_path, mmap_mode):
    from lucid.datasets import read_cache, write_cache

    a = {"x": np.arange(12, dtype=np.float32).reshape(3, 4)}
    write_cache(tmp_path, "k", a, {"dataset": "t"})
    npz = tmp_path / "k.npz"
    size = npz.stat().st_size
    np.savez(npz, x=a["x"] + 1)  # a valid zip of the same size and shapes, other values
    assert npz.stat().st_size == size
    assert read_cache(tmp_path, "k", {"dataset": "t"}, mmap_mode=mmap_mode) is None
    assert not list(tmp_path.glob("k.*.npy"))  # no .npy made from the wrong arrays
