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


#: Deepest nesting of containers accepted in a dataset pickle (CIFAR's is 2).
MAX_DEPTH = 32
_CONTAINERS = (dict, list, tuple)


def check_structure(value, name: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse object arrays, cycles and nesting deeper than ``max_depth`` in ``value``.

    Object arrays could smuggle arbitrary Python objects. The walk is iterative and visits
    each container once (by ``id``), so it takes time linear in the number of distinct
    objects, whatever their sharing, and never exhausts Python's stack.
    """
    done: set[int] = set()
    active: set[int] = set()  # containers on the current path: meeting one is a cycle
    stack = [(value, 1, False)]
    while stack:
        v, depth, leaving = stack.pop()
        if leaving:
            active.discard(id(v))
            done.add(id(v))
            continue
        if isinstance(v, np.ndarray):
            if v.dtype.hasobject:
                raise UnsafePickleError(f"{name}: object arrays are not allowed in a dataset pickle")
            continue
        if not isinstance(v, _CONTAINERS) or id(v) in done:
            continue
        if id(v) in active:
            raise CorruptFileError(f"{name}: a container holds itself (cyclic pickle)")
        if depth > max_depth:
            raise CorruptFileError(f"{name}: containers nested deeper than {max_depth} levels")
        active.add(id(v))
        stack.append((v, depth, True))
        children = v.values() if isinstance(v, dict) else v
        stack.extend((c, depth + 1, False) for c in children)


def safe_loads(data: bytes, name: str = "<pickle>", encoding: str = "bytes"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler`."""
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), name=name, encoding=encoding).load()
        check_structure(obj, name)
    except (UnsafePickleError, CorruptFileError):
        raise
    except Exception as e:  # malformed stream: truncated, wrong opcodes, bad array state
        raise CorruptFileError(f"{name}: not a valid pickle ({type(e).__name__}: {e})") from e
    return obj


def safe_load(path: str | os.PathLike, encoding: str = "bytes"):
    """Unpickle the file at ``path`` with :class:`RestrictedUnpickler`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CorruptFileError(f"cannot read {path}: {e}") from e
    return safe_loads(data, str(path), encoding)
