import json
import multiprocessing as mp
import zlib

import numpy as np
import pytest
from data_testutil import build_cifar_cache, make_cifar_dir, make_mnist_dir
from lucid.datasets import (
    FORMAT_VERSION,
    data_home,
    get_cifar10_numpy,
    get_mnist_numpy,
    read_cache,
    write_cache,
)
from lucid.datasets import mnist as mnist_mod
from lucid.datasets.pipeline import default_cache_dir


def _no_tmp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".part"))] == []


def test_data_home_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("LUCID_DATA_HOME", str(tmp_path / "env"))
    assert data_home() == tmp_path / "env"
    assert data_home(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("LUCID_DATA_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg" / "lucid"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_home() == tmp_path / "home" / ".cache" / "lucid"


def test_write_read_roundtrip_npz_and_mmap(tmp_path):
    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.arange(3)}
    side = write_cache(
        tmp_path,
        "k",
        arrays,
        {"dataset": "t", "normalization": [1.0, 2.0]},
        sources={"f": {"size": 10, "md5": "x"}},
    )
    meta = json.loads(side.read_text())
    assert meta["format_version"] == FORMAT_VERSION
    crc = zlib.crc32(arrays["a"].tobytes())
    assert meta["arrays"]["a"] == {"shape": [3, 4], "dtype": "<f4", "crc32": crc}
    assert meta["sources"]["f"]["md5"] == "x" and "npy" not in meta
    got = read_cache(tmp_path, "k", {"dataset": "t", "normalization": (1.0, 2.0)})
    np.testing.assert_array_equal(got["a"], arrays["a"])
    assert not isinstance(got["a"], np.memmap)
    mm = read_cache(tmp_path, "k", {"dataset": "t"}, mmap_mode="r")
    assert isinstance(mm["a"], np.memmap) and not mm["a"].flags.writeable
    np.testing.assert_array_equal(mm["b"], arrays["b"])
    assert "npy" in json.loads(side.read_text())  # .npy files were added on first mmap load
    assert read_cache(tmp_path, "k", {"dataset": "other"}) is None
    assert read_cache(tmp_path, "missing") is None
    with pytest.raises(ValueError, match="mmap_mode"):
        read_cache(tmp_path, "k", mmap_mode="w+")
    assert _no_tmp_files(tmp_path)


def test_second_call_loads_from_cache_without_parsing(tmp_path, count_cifar_parses):
    make_cifar_dir(tmp_path)
    first = get_cifar10_numpy(tmp_path, download=False)
    assert len(count_cifar_parses) == 1
    second = get_cifar10_numpy(tmp_path, download=False)
    assert len(count_cifar_parses) == 1
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    # other forms are computed from the same uint8 cache, still without parsing
    unit = get_cifar10_numpy(tmp_path, normalize=False, download=False)
    raw = get_cifar10_numpy(tmp_path, raw=True, download=False)
    assert len(count_cifar_parses) == 1
    np.testing.assert_array_equal(unit[0], raw[0] / np.float32(255))
    # the cache survives the raw files being deleted
    for f in (tmp_path / "cifar-10-batches-py").iterdir():
        f.unlink()
    third = get_cifar10_numpy(tmp_path, download=False)
    np.testing.assert_array_equal(third[0], first[0])
    # one cache, of uint8 images: float32 is never written
    sidecars = sorted(p.name for p in default_cache_dir("cifar10", tmp_path).glob("*.json"))
    assert sidecars == ["cifar10-uint8.json"]


def test_mmap_mode_maps_the_uint8_cache(tmp_path, count_cifar_parses):
    make_cifar_dir(tmp_path)
    x, y, xt, yt = get_cifar10_numpy(tmp_path, mmap_mode="r", raw=True, download=False)
    assert isinstance(x, np.memmap) and isinstance(yt, np.memmap)
    assert x.dtype == np.uint8 and x.shape == (40, 3, 32, 32)
    # float images come from the mapped uint8 arrays, converted in memory
    xf, yf = get_cifar10_numpy(tmp_path, mmap_mode="r", download=False)[:2]
    assert xf.dtype == np.float32 and not isinstance(xf, np.memmap)
    assert isinstance(yf, np.memmap) and len(count_cifar_parses) == 1
    np.testing.assert_array_equal(xf, get_cifar10_numpy(tmp_path, download=False)[0])
    with pytest.raises(ValueError, match="cache=True"):
        get_cifar10_numpy(tmp_path, mmap_mode="r", cache=False)


def _sidecar(tmp_path):
    return default_cache_dir("cifar10", tmp_path) / "cifar10-uint8.json"


@pytest.mark.parametrize("damage", ["version", "folder", "json", "npz", "shape", "source"])
def test_stale_or_damaged_cache_is_rebuilt(tmp_path, count_cifar_parses, damage):
    make_cifar_dir(tmp_path)
    good = get_cifar10_numpy(tmp_path, normalize=False, download=False)
    side = _sidecar(tmp_path)
    meta = json.loads(side.read_text())
    if damage == "version":
        meta["format_version"] = FORMAT_VERSION + 1
    elif damage == "folder":
        meta["meta"]["data_folder"] = str(tmp_path / "another")
    elif damage == "shape":
        meta["arrays"]["x_train"]["shape"] = [41, 3, 32, 32]
    if damage == "json":
        side.write_text("{not json")
    elif damage == "npz":
        npz = side.with_suffix(".npz")
        npz.write_bytes(npz.read_bytes()[:1000])
        meta["npz"]["size"] = 1000  # sizes agree: the zip itself is broken
        side.write_text(json.dumps(meta))
    elif damage == "source":
        batch = tmp_path / "cifar-10-batches-py" / "test_batch"
        batch.write_bytes(batch.read_bytes() + b"\0")  # a changed source file
    else:
        side.write_text(json.dumps(meta))
    again = get_cifar10_numpy(tmp_path, normalize=False, download=False)
    np.testing.assert_array_equal(again[0], good[0])
    assert len(count_cifar_parses) == 2
    rebuilt = json.loads(side.read_text())
    assert rebuilt["format_version"] == FORMAT_VERSION
    assert rebuilt["meta"]["dtype"] == "uint8"
    assert rebuilt["meta"]["data_folder"] == str(tmp_path.resolve())
    assert rebuilt["arrays"]["x_train"] == {**rebuilt["arrays"]["x_train"],
                                             "shape": [40, 3, 32, 32], "dtype": "|u1"}
    assert _no_tmp_files(side.parent)


def test_damaged_uint8_cache_forces_a_parse(tmp_path, count_cifar_parses):
    make_cifar_dir(tmp_path)
    get_cifar10_numpy(tmp_path, raw=True, download=False)
    side = _sidecar(tmp_path)
    side.with_suffix(".npz").write_bytes(b"garbage")
    get_cifar10_numpy(tmp_path, normalize=False, download=False)
    assert len(count_cifar_parses) == 2
    assert json.loads(side.read_text())["npz"]["size"] > 1000


def test_unwritable_cache_folder_warns_and_still_loads(tmp_path, monkeypatch):
    ref = make_mnist_dir(tmp_path / "data")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(mnist_mod.pipeline._cache, "write_cache", refuse)
    with pytest.warns(RuntimeWarning, match="cache_dir="):
        x = get_mnist_numpy(tmp_path / "data", raw=True)[0]
    np.testing.assert_array_equal(x, ref["x_train"])


def test_cache_dir_argument_and_cache_false(tmp_path):
    make_mnist_dir(tmp_path / "data")
    before = sorted(p.name for p in (tmp_path / "data").iterdir())
    get_mnist_numpy(tmp_path / "data", cache_dir=tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere" / "mnist-uint8.json").is_file()
    assert not default_cache_dir("mnist", tmp_path / "data").exists()
    get_mnist_numpy(tmp_path / "data", cache=False)
    assert not default_cache_dir("mnist", tmp_path / "data").exists()
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == before


def test_concurrent_builders_do_not_corrupt_the_cache(tmp_path, capfd):
    make_cifar_dir(tmp_path, per_batch=200, n_test=100)
    ref = get_cifar10_numpy(tmp_path, cache=False, download=False)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = [ctx.Process(target=build_cifar_cache, args=(str(tmp_path), results)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    got = [results.get(timeout=5) for _ in procs]
    expected = (ref[0].shape, float(ref[0].sum(dtype=np.float64)), int(ref[1].sum()), ref[2].shape)
    assert all(g == expected for g in got)
    # one process built the cache and said so; the others waited for it and reused it
    assert capfd.readouterr().err.count("lucid-data: cached CIFAR-10") == 1
    cache = default_cache_dir("cifar10", tmp_path)
    assert _no_tmp_files(cache)
    arrays = read_cache(cache, "cifar10-uint8", {"dataset": "cifar10"})
    raw = get_cifar10_numpy(tmp_path, raw=True, cache=False, download=False)
    np.testing.assert_array_equal(arrays["x_train"], raw[0])
    np.testing.assert_array_equal(arrays["y_test"], ref[3])
