"""Helpers for the lucid-data tests: tiny datasets in the official formats, a local server."""

from __future__ import annotations

import contextlib
import http.server
import io
import pickle
import socket
import struct
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
from lucid.datasets.idx import write_idx

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
#: why a test that needs it skips: what that optional folder is
SHARED_DATA_WHAT = (f"{SHARED_DATA} is absent: the optional folder beside the repository with "
                    "the full real MNIST test set and a 7,000-image CIFAR-10 subset in the "
                    "official formats (development machines have it; the repository's own "
                    "fixtures cover the same code)")


def make_mnist_dir(folder, n_train=60, n_test=20, gz=True, seed=0):
    """Write the four MNIST IDX files into ``folder``; return the arrays they hold."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    sfx = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{sfx}", arrays["x_train"])
    write_idx(folder / f"train-labels-idx1-ubyte{sfx}", arrays["y_train"])
    write_idx(folder / f"t10k-images-idx3-ubyte{sfx}", arrays["x_test"])
    write_idx(folder / f"t10k-labels-idx1-ubyte{sfx}", arrays["y_test"])
    return {
        "x_train": arrays["x_train"][:, None],
        "y_train": arrays["y_train"].astype(np.int64),
        "x_test": arrays["x_test"][:, None],
        "y_test": arrays["y_test"].astype(np.int64),
    }


class Py2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2 wrote it: byte strings as (SHORT_)BINSTRING opcodes.

    Python 3's own protocol 2 wraps bytes in ``_codecs.encode`` calls, which the official
    CIFAR files (written by Python 2) never contain.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        if getattr(obj, "__name__", None) == "_reconstruct":  # the path NumPy 1.x wrote
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def py2_dumps(obj) -> bytes:
    """Pickle ``obj`` the way Python 2's cPickle did with protocol 2."""
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def cifar_batch_bytes(x: np.ndarray, labels, label_key="labels") -> bytes:
    """A batch pickled like the official files: bytes keys, uint8 (N, 3072) ``data``."""
    d = {
        b"batch_label": b"testing batch 1 of 1",
        label_key.encode(): [int(v) for v in labels],
        b"data": np.ascontiguousarray(x.reshape(len(x), -1), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(x))],
    }
    return py2_dumps(d)


def make_cifar_dir(root, per_batch=8, n_test=12, seed=0):
    """Write ``root/cifar-10-batches-py`` with 5 small train batches; return the arrays."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(1, 6):
        x = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        y = rng.integers(0, 10, per_batch)
        (folder / f"data_batch_{i}").write_bytes(cifar_batch_bytes(x, y))
        xs.append(x)
        ys.append(y)
    xt = rng.integers(0, 256, (n_test, 3, 32, 32), dtype=np.uint8)
    yt = rng.integers(0, 10, n_test)
    (folder / "test_batch").write_bytes(cifar_batch_bytes(xt, yt))
    meta = {b"label_names": [b"airplane"] * 10, b"num_cases_per_batch": per_batch}
    (folder / "batches.meta").write_bytes(py2_dumps(meta))
    return {
        "x_train": np.concatenate(xs),
        "y_train": np.concatenate(ys).astype(np.int64),
        "x_test": xt,
        "y_test": yt.astype(np.int64),
    }


def make_tar(folder: Path, top: str, out: Path) -> Path:
    """A .tar.gz of ``folder/top`` with members under ``top/``."""
    with tarfile.open(out, "w:gz") as tar:
        tar.add(folder / top, arcname=top)
    return out


def free_port() -> int:
    """A port with nothing listening on it (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        srv = self.server
        srv.requests.append(self.path)
        name = self.path.lstrip("/")
        fail = srv.fail_first.get(name, 0)
        if fail:
            srv.fail_first[name] = fail - 1
            self.send_error(500, "try again")
            return
        if name not in srv.files:
            self.send_error(404, "not here")
            return
        body = srv.files[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        pause = getattr(srv, "trickle", {}).get(name)
        if pause is None:
            self.wfile.write(body)
            return
        for i in range(len(body)):  # one byte at a time: never idle long enough to time out
            try:
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
            except OSError:
                return
            time.sleep(pause)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_files(
    files: dict[str, bytes],
    fail_first: dict[str, int] | None = None,
    trickle: dict[str, float] | None = None,
):
    """Serve ``files`` (name -> bytes) on 127.0.0.1 at an ephemeral port; yield the server.

    ``server.url`` is the base URL (ends with ``/``); ``server.requests`` lists the paths
    asked for; ``fail_first[name] = k`` answers HTTP 500 to the first ``k`` requests;
    ``trickle[name] = s`` sends that file one byte every ``s`` seconds.
    """
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files = dict(files)
    srv.fail_first = dict(fail_first or {})
    srv.trickle = dict(trickle or {})
    srv.requests = []
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/"
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


def build_cifar_cache(root: str, results) -> None:
    """Process body for the concurrent-builders test: load (building the cache if needed)."""
    from lucid.datasets import get_cifar10_numpy

    x, y, xt, yt = get_cifar10_numpy(root, download=False, progress=False)
    results.put((x.shape, float(x.sum(dtype=np.float64)), int(y.sum()), xt.shape))


def pickle_with_reduce(func_module: str, func_name: str, arg: str) -> bytes:
    """A protocol-2 pickle that calls ``module.name(arg)`` when loaded."""
    buf = io.BytesIO()
    buf.write(b"\x80\x02")
    buf.write(b"c" + func_module.encode() + b"\n" + func_name.encode() + b"\n")
    s = arg.encode()
    buf.write(b"X" + len(s).to_bytes(4, "little") + s)
    buf.write(b"\x85R.")  # TUPLE1, REDUCE, STOP
    return buf.getvalue()
