"""A restricted unpickler for CIFAR's pickled batches.

The official "python version" files are protocol-2 pickles of dicts holding lists, byte
strings, ints and one NumPy array, rebuilt through ``numpy.core.multiarray._reconstruct``,
``numpy.ndarray`` and ``numpy.dtype``. Those three globals are the only ones admitted;
the built-in containers need no global. Any other global (``os.system``, ``eval``,
``subprocess.Popen``...) raises :class:`UnsafePickleError` before it is looked up, so nothing
named by the file is imported or called.
"""

from __future__ import annotations

import io
import os
import pickle

import numpy as np

from .errors import CorruptFileError, UnsafePickleError

try:  # NumPy >= 2 keeps it in numpy._core; numpy.core is a deprecated alias there
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` admits only NumPy array reconstruction."""

    def __init__(self, file, *, name: str = "<pickle>", encoding: str = "bytes"):
        super().__init__(file, encoding=encoding)
        self.name = name

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self.name}: refusing to load global {module}.{name}; only NumPy array "
                "reconstruction is allowed in a dataset pickle"
            ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.name}: persistent ids are not allowed")


def _check_no_objects(value, name: str):
    """Object arrays could smuggle arbitrary Python objects: refuse them."""
    if isinstance(value, np.ndarray) and value.dtype.hasobject:
        raise UnsafePickleError(f"{name}: object arrays are not allowed in a dataset pickle")
    if isinstance(value, dict):
        for v in value.values():
            _check_no_objects(v, name)
    elif isinstance(value, (list, tuple)):
        for v in value:
            if isinstance(v, (np.ndarray, dict, list, tuple)):
                _check_no_objects(v, name)


def safe_loads(data: bytes, name: str = "<pickle>", encoding: str = "bytes"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler`."""
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), name=name, encoding=encoding).load()
    except UnsafePickleError:
        raise
    except Exception as e:  # malformed stream: truncated, wrong opcodes, bad array state
        raise CorruptFileError(f"{name}: not a valid pickle ({type(e).__name__}: {e})") from e
    _check_no_objects(obj, name)
    return obj


def safe_load(path: str | os.PathLike, encoding: str = "bytes"):
    """Unpickle the file at ``path`` with :class:`RestrictedUnpickler`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CorruptFileError(f"cannot read {path}: {e}") from e
    return safe_loads(data, str(path), encoding)
