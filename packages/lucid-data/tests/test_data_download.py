import gzip
import hashlib

import numpy as np
import pytest
from data_testutil import free_port, make_cifar_dir, make_mnist_dir, make_tar, serve_files
from lucid.datasets import (
    ChecksumError,
    DatasetNotFoundError,
    DownloadError,
    download_url,
    get_cifar10_numpy,
    get_mnist_numpy,
)
from lucid.datasets import cifar as cifar_mod
from lucid.datasets import mnist as mnist_mod

FAST = {"retries": 2, "backoff": 0, "timeout": 5, "progress": False}


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr("lucid.datasets.download.DOWNLOAD_BACKOFF", 0)


def _md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def test_download_success_and_skip_when_present(tmp_path):
    body = b"tiny archive " * 1000
    with serve_files({"a.tar.gz": body}) as srv:
        out = download_url(srv.url + "a.tar.gz", tmp_path / "d" / "a.tar.gz", _md5(body), **FAST)
        assert out.read_bytes() == body
        assert srv.requests == ["/a.tar.gz"]
        download_url(srv.url + "a.tar.gz", out, _md5(body), **FAST)
        assert len(srv.requests) == 1  # verified file already there: no request
    assert _leftovers(tmp_path / "d") == []


def test_checksum_mismatch_deletes_and_names_everything(tmp_path):
    body = b"not what you expected"
    expected = "0" * 32
    with serve_files({"a.tar.gz": body}) as srv:
        with pytest.raises(ChecksumError) as e:
            download_url(srv.url + "a.tar.gz", tmp_path / "a.tar.gz", expected, **FAST)
    msg = str(e.value)
    assert str(tmp_path / "a.tar.gz") in msg and expected in msg and _md5(body) in msg
    assert e.value.expected == expected and e.value.actual == _md5(body)
    assert not (tmp_path / "a.tar.gz").exists() and _leftovers(tmp_path) == []


def test_connection_refused(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/a.tar.gz"
    with pytest.raises(DownloadError) as e:
        download_url(url, tmp_path / "a.tar.gz", "0" * 32, **FAST)
    assert len(e.value.errors) == 2 and all(u == url for u, _ in e.value.errors)
    assert "Connection" in str(e.value) or "refused" in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_retry_after_server_error_then_mirror_fallback(tmp_path):
    body = b"payload"
    with serve_files({"a.bin": body}, fail_first={"a.bin": 1}) as srv:
        download_url(srv.url + "a.bin", tmp_path / "a.bin", _md5(body), **FAST)
        assert srv.requests == ["/a.bin", "/a.bin"]  # 500, then success
    with serve_files({}) as empty, serve_files({"a.bin": body}) as good:
        urls = [empty.url + "a.bin", good.url + "a.bin"]
        download_url(urls, tmp_path / "b.bin", _md5(body), **FAST)
        assert empty.requests == ["/a.bin"]  # 404 is not retried
        assert (tmp_path / "b.bin").read_bytes() == body


def test_bad_mirror_then_good_mirror(tmp_path):
    body = b"the real bytes"
    with serve_files({"a.bin": b"tampered"}) as bad, serve_files({"a.bin": body}) as good:
        download_url(
            [bad.url + "a.bin", good.url + "a.bin"], tmp_path / "a.bin", _md5(body), **FAST
        )
    assert (tmp_path / "a.bin").read_bytes() == body


def _mnist_files(tmp_path):
    ref = make_mnist_dir(tmp_path / "served", gz=True)
    files = {p.name: p.read_bytes() for p in (tmp_path / "served").iterdir()}
    return ref, files


def test_get_mnist_downloads_from_injected_mirror(tmp_path, monkeypatch):
    ref, files = _mnist_files(tmp_path)
    md5s = {role: (name, _md5(files[name])) for role, (name, _) in mnist_mod.MNIST_FILES.items()}
    monkeypatch.setattr(mnist_mod.MNIST, "files", md5s)
    dead = f"http://127.0.0.1:{free_port()}/"
    with serve_files(files) as srv:
        monkeypatch.setattr(mnist_mod, "MNIST_MIRRORS", [dead, srv.url])
        x, y, xt, yt = get_mnist_numpy(tmp_path / "home", raw=True, progress=False)
        assert len(srv.requests) == 4
    np.testing.assert_array_equal(x, ref["x_train"])
    np.testing.assert_array_equal(yt, ref["y_test"])
    for name in files:
        assert (tmp_path / "home" / "mnist" / name).read_bytes() == files[name]


def test_get_mnist_offline_lists_files_and_urls(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/mnist/"
    with pytest.raises(DatasetNotFoundError) as e:
        get_mnist_numpy(tmp_path, mirrors=[dead], progress=False)
    msg = str(e.value)
    assert isinstance(e.value.__cause__, DownloadError)
    assert f"{tmp_path / 'mnist'}/" in msg and "the download failed" in msg
    for name, md5 in mnist_mod.MNIST_FILES.values():
        assert f"{dead}{name}" in msg and md5 in msg


def test_get_mnist_wrong_bytes_from_server(tmp_path, monkeypatch):
    _, files = _mnist_files(tmp_path)
    with serve_files(files) as srv:  # official md5s: the tiny files cannot match
        with pytest.raises(
            ChecksumError, match="train-images-idx3-ubyte.gz.*f68b3c2dcbeaaa9fbdd348bbdeb94873"
        ):
            get_mnist_numpy(tmp_path / "home", mirrors=[srv.url], progress=False)
    assert not (tmp_path / "home").exists()  # no file, no .part, no empty folder


def test_partial_mnist_folder_downloads_only_what_is_missing(tmp_path, monkeypatch):
    ref, files = _mnist_files(tmp_path)
    md5s = {role: (name, _md5(files[name])) for role, (name, _) in mnist_mod.MNIST_FILES.items()}
    monkeypatch.setattr(mnist_mod.MNIST, "files", md5s)
    home = tmp_path / "home" / "mnist"
    home.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (home / name.removesuffix(".gz")).write_bytes(gzip.decompress(files[name]))
    with serve_files(files) as srv:
        x, _, xt, _ = get_mnist_numpy(
            tmp_path / "home", raw=True, mirrors=[srv.url], progress=False
        )
        assert sorted(srv.requests) == [
            "/train-images-idx3-ubyte.gz",
            "/train-labels-idx1-ubyte.gz",
        ]
    np.testing.assert_array_equal(xt, ref["x_test"])


def test_get_cifar10_downloads_and_extracts(tmp_path, monkeypatch):
    src = tmp_path / "src"
    ref = make_cifar_dir(src)
    archive = make_tar(src, "cifar-10-batches-py", tmp_path / "cifar-10-python.tar.gz").read_bytes()
    monkeypatch.setattr(cifar_mod.CIFAR10, "archive", ("cifar-10-python.tar.gz", _md5(archive)))
    home = tmp_path / "home"
    with serve_files({"cifar-10-python.tar.gz": archive}) as srv:
        monkeypatch.setattr(cifar_mod, "CIFAR_MIRRORS", [srv.url])
        x, y, xt, yt = get_cifar10_numpy(home, raw=True, progress=False)
    np.testing.assert_array_equal(x, ref["x_train"])
    np.testing.assert_array_equal(yt, ref["y_test"])
    assert (home / "cifar-10-batches-py" / "data_batch_5").is_file()
    assert not [p for p in home.iterdir() if p.name.startswith(".extract-")]


def test_get_cifar10_checksum_failure_and_offline(tmp_path):
    archive = b"\x1f\x8b not really an archive"
    with serve_files({"cifar-10-python.tar.gz": archive}) as srv:
        with pytest.raises(ChecksumError) as e:
            get_cifar10_numpy(tmp_path, mirrors=[srv.url], progress=False)
    assert "c58f30108f718f92721af3b95e74349a" in str(e.value) and _md5(archive) in str(e.value)
    assert not (tmp_path / "cifar-10-python.tar.gz").exists() and _leftovers(tmp_path) == []
    dead = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(DatasetNotFoundError) as e:
        get_cifar10_numpy(tmp_path, mirrors=[dead], progress=False)
    msg = str(e.value)
    assert (
        f"{dead}cifar-10-python.tar.gz" in msg and str(tmp_path / "cifar-10-python.tar.gz") in msg
    )


@pytest.mark.parametrize("download", [True, False])
def test_failed_calls_leave_no_folders_behind(tmp_path, download):
    dead = f"http://127.0.0.1:{free_port()}/"
    home = tmp_path / "new" / "home"
    for fn in (get_mnist_numpy, get_cifar10_numpy):
        with pytest.raises(DatasetNotFoundError):
            fn(home, mirrors=[dead], download=download, progress=False)
        assert not (tmp_path / "new").exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(DatasetNotFoundError):
        get_mnist_numpy(existing, mirrors=[dead], download=download, progress=False)
    assert list(existing.iterdir()) == []
