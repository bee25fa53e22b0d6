"""Checkpoints: ``lucid.save(obj, path)`` and ``lucid.load(path)``, in safetensors, never pickle.

A checkpoint is one standard safetensors file:

    [8 bytes: header length n, little-endian] [n bytes: JSON header] [raw tensor bytes]

Every Tensor in ``obj`` is stored as a named tensor. A model ``state_dict`` (a flat dict of
``str -> Tensor``) keeps its keys as the tensor names, so the file opens as is with
``safetensors.torch.load_file``. Everything else (nesting, ints, floats, bools, strings,
``None``, lists, tuples, dicts with int keys: an optimizer's or a scheduler's
``state_dict``) is written as JSON into the header's ``__metadata__`` under ``"lucid"``,
with each tensor replaced by a reference to its name, plus a CRC-32 of every tensor's bytes
so that damaged files are detected on load.

Writes are atomic: the file is written beside ``path`` under a temporary name, flushed to
disk, and renamed over ``path``; a failure leaves any previous checkpoint untouched.
"""

from __future__ import annotations

import json
import math
import os
import uuid
import zlib

import mlx.core as mx
import numpy as np

from . import devices
from .errors import CheckpointError
from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

FORMAT_VERSION = 1
_META_KEY = "lucid"
_RESERVED = "__metadata__"  # the safetensors header key that cannot name a tensor


# ----- save ---------------------------------------------------------------------------
def save(obj, path) -> None:
    """Write ``obj`` (a state dict, a Tensor, or nested dicts/lists/tuples of them) to ``path``.

    Tensors keep dtype (float32/16, bfloat16, int32/64, bool, ...) and shape; the device is
    not stored (``load`` puts tensors on the CPU unless told otherwise).
    """
    path = _fspath(path, "save")
    arrays: dict[str, mx.array] = {}
    tree = _encode(obj, "", arrays, top=True)
    arrays = {k: _contiguous(a) for k, a in arrays.items()}
    mx.eval(list(arrays.values()))
    header = {
        "version": FORMAT_VERSION,
        "tree": tree,
        "crc32": {k: zlib.crc32(memoryview(a)) for k, a in arrays.items()},
    }
    metadata = {"format": "lucid", _META_KEY: json.dumps(header, separators=(",", ":"))}

    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp.safetensors")
    try:
        mx.save_safetensors(tmp, arrays, metadata=metadata)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def _encode(obj, name: str, arrays: dict, top: bool = False):
    """JSON-able form of ``obj``; tensors go to ``arrays`` under a unique name."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"@float": repr(obj)}
    if isinstance(obj, (Tensor, mx.array, np.ndarray)):
        return {"@tensor": _add_array(arrays, name or "tensor", _as_array(obj))}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("@") for k in obj):
            return {k: _encode(v, _join(name, k, top), arrays) for k, v in obj.items()}
        return {"@dict": [[_encode_key(k), _encode(v, _join(name, str(k), top), arrays)]
                          for k, v in obj.items()]}
    if isinstance(obj, list):
        return [_encode(v, _join(name, str(i), top), arrays) for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {"@tuple": [_encode(v, _join(name, str(i), top), arrays) for i, v in enumerate(obj)]}
    raise CheckpointError(
        f"save: cannot store an object of type {type(obj).__module__}.{type(obj).__qualname__} "
        f"(at {name or 'the top level'!r}); checkpoints hold Tensors, dicts, lists, tuples, "
        "str, int, float, bool and None"
    )


def _encode_key(k):
    if isinstance(k, (bool, str, int)) or k is None:
        return k
    if isinstance(k, np.integer):
        return int(k)
    raise CheckpointError(f"save: dict keys must be str, int, bool or None, got {type(k).__name__}")


def _join(prefix: str, key: str, top: bool) -> str:
    return key if top or not prefix else f"{prefix}.{key}"


def _add_array(arrays: dict, name: str, array: mx.array) -> str:
    unique, n = name, 1
    while unique in arrays or unique == _RESERVED:
        unique, n = f"{name}#{n}", n + 1
    arrays[unique] = array
    return unique


def _as_array(obj) -> mx.array:
    if isinstance(obj, Tensor):
        return obj.data
    if isinstance(obj, np.ndarray):
        return Tensor(obj).data  # Lucid's NumPy rules: float64 becomes float32
    return obj


def _contiguous(a: mx.array) -> mx.array:
    return a if a.ndim == 0 else mx.contiguous(a)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----- load ---------------------------------------------------------------------------
def load(path, device=None, map_location=None):
    """Read a checkpoint written by ``save`` (or any safetensors file) back into Tensors.

    Tensors are put on ``device`` (``map_location`` is accepted as PyTorch's name for it),
    the CPU by default. A safetensors file without Lucid's metadata loads as a flat
    ``dict`` of ``name -> Tensor``. A truncated or damaged file raises ``CheckpointError``.
    """
    path = _fspath(path, "load")
    device = devices.canonical(device or map_location or "cpu")
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no checkpoint at {path!r}")
    try:
        arrays, metadata = mx.load(path, format="safetensors", return_metadata=True)
        mx.eval(list(arrays.values()))
    except (RuntimeError, ValueError, OSError) as err:
        raise CheckpointError(
            f"load: {path!r} is not a readable safetensors checkpoint (truncated or corrupted?): "
            f"{str(err).split('] ', 1)[-1]}"
        ) from err

    def wrap(name: str) -> Tensor:
        if name not in arrays:
            raise CheckpointError(f"load: {path!r} refers to tensor {name!r}, which it lacks")
        return Tensor._wrap(arrays[name], device)

    if _META_KEY not in (metadata or {}):
        return {name: wrap(name) for name in arrays}
    try:
        header = json.loads(metadata[_META_KEY])
        tree, crcs = header["tree"], header.get("crc32", {})
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"load: {path!r} has a damaged Lucid header: {err}") from err
    if header.get("version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"load: {path!r} was written in checkpoint format {header['version']}; this Lucid "
            f"reads format {FORMAT_VERSION} and earlier: upgrade lucid-tensor"
        )
    for name, crc in crcs.items():
        if name in arrays and zlib.crc32(memoryview(arrays[name])) != crc:
            raise CheckpointError(
                f"load: {path!r} is corrupted: the bytes of tensor {name!r} fail their checksum"
            )
    return _decode(tree, wrap, path)


def _decode(obj, wrap, path):
    if isinstance(obj, list):
        return [_decode(v, wrap, path) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        (tag, value), = obj.items()
        if tag == "@tensor":
            return wrap(value)
        if tag == "@tuple":
            return tuple(_decode(v, wrap, path) for v in value)
        if tag == "@dict":
            return {k: _decode(v, wrap, path) for k, v in value}
        if tag == "@float":
            return float(value)
        if tag.startswith("@"):
            raise CheckpointError(f"load: {path!r} has an unknown entry {tag!r} in its header")
    return {k: _decode(v, wrap, path) for k, v in obj.items()}


def _fspath(path, what: str) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise CheckpointError(
            f"{what}: path must be a str or os.PathLike, got {type(path).__name__}"
        ) from None
