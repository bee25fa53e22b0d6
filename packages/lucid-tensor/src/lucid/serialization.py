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

Writes are atomic: the file is written beside ``path`` under a temporary name
(``.<name>.<pid>.<random>.tmp.safetensors``), flushed to disk, and renamed over ``path``; a
failure (read-only folder, full disk) raises :class:`CheckpointWriteError` and leaves any
previous checkpoint untouched. Temporaries of a killed process are removed by the next save
into that folder (owner process gone, or older than a day).

Loading trusts nothing in the file: a header that is not of the documented shape (unknown
version, malformed ``@float``/``@dict``/``@tensor``/``@tuple`` entries, a tree nested deeper
than :data:`MAX_DEPTH`, CRC-32s that are not integers) raises :class:`CheckpointError`
naming the file. Every tensor must have its CRC-32 in the header, unless the header says
``"crc32": false`` (written without checksums on purpose).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import uuid
import zlib

import mlx.core as mx
import numpy as np

from . import devices
from ._tensor import Tensor
from .errors import CheckpointError, CheckpointWriteError

__all__ = ["save", "load", "CheckpointError", "CheckpointWriteError"]

FORMAT_VERSION = 1
#: Deepest nesting of containers in a checkpoint's tree (state dicts use 4 or 5).
MAX_DEPTH = 100
#: Seconds after which any checkpoint temporary is stale, whoever owns it.
STALE_TEMP_AGE = 24 * 3600
_TEMP = re.compile(r"\..+?\.(?:(?P<pid>\d+)\.)?[0-9a-f]{12}\.tmp\.safetensors")

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
    tree = _encode(obj, "", arrays, top=True, depth=0)
    wide = [k for k, a in arrays.items() if a.dtype == mx.float64]
    if wide:
        raise CheckpointError(
            f"save: tensor {wide[0]!r} is float64, which MLX's safetensors writer cannot "
            f"store; cast it with .float() (or .to(lucid.float32)) before saving {path!r}")
    arrays = {k: _contiguous(a) for k, a in arrays.items()}
    mx.eval(list(arrays.values()))
    header = {
        "version": FORMAT_VERSION,
        "tree": tree,
        "crc32": {k: zlib.crc32(memoryview(a)) for k, a in arrays.items()},
    }
    metadata = {"format": "lucid", _META_KEY: json.dumps(header, separators=(",", ":"))}

    folder = os.path.dirname(os.path.abspath(path))
    _remove_stale_temps(folder)
    base = os.path.basename(path)
    tmp = os.path.join(folder, f".{base}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp.safetensors")
    try:
        mx.save_safetensors(tmp, arrays, metadata=metadata)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # MLX reports a failed write as RuntimeError
        _remove(tmp)
        raise CheckpointWriteError(
            f"save: cannot write {path!r} ({str(err).split('] ', 1)[-1]}); "
            "any previous file there is unchanged"
        ) from err
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(folder)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user (or unknown): keep its file
        return True
    return True


def _remove_stale_temps(folder: str) -> None:
    """Remove checkpoint temporaries of processes that are gone (and have not written for a
    minute, so another machine's writer on a shared folder is left alone) or that are older
    than :data:`STALE_TEMP_AGE`."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        m = _TEMP.fullmatch(entry.name)
        if m is None:
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
            pid = m.group("pid")
            dead = pid is not None and int(pid) != os.getpid() and not _pid_alive(int(pid))
            if entry.is_file(follow_symlinks=False) and (
                age > STALE_TEMP_AGE or (dead and age > 60)
            ):
                os.remove(entry.path)
        except OSError:
            continue


def _encode(obj, name: str, arrays: dict, top: bool = False, depth: int = 0):
    """JSON-able form of ``obj``; tensors go to ``arrays`` under a unique name."""
    if depth > MAX_DEPTH:
        raise CheckpointError(
            f"save: containers nested deeper than {MAX_DEPTH} levels (at {name!r}); "
            "a container that holds itself cannot be saved"
        )
    d = depth + 1
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
            return {k: _encode(v, _join(name, k, top), arrays, depth=d) for k, v in obj.items()}
        return {"@dict": [[_encode_key(k), _encode(v, _join(name, str(k), top), arrays, depth=d)]
                          for k, v in obj.items()]}
    if isinstance(obj, list):
        return [_encode(v, _join(name, str(i), top), arrays, depth=d) for i, v in enumerate(obj)]
    if isinstance(obj, tuple):
        return {"@tuple": [_encode(v, _join(name, str(i), top), arrays, depth=d)
                           for i, v in enumerate(obj)]}
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
        return obj._data
    if isinstance(obj, np.ndarray):
        return Tensor(obj)._data  # Lucid's NumPy rules: float64 becomes float32
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
    header = _read_header(metadata[_META_KEY], path)
    crcs = header["crc32"]
    if crcs is not False:
        for name, array in arrays.items():
            if name not in crcs:
                raise CheckpointError(
                    f"load: {path!r} has no CRC-32 for tensor {name!r}: its bytes cannot be "
                    "verified (a file written without checksums on purpose says "
                    '"crc32": false in its Lucid header)'
                )
            if zlib.crc32(memoryview(array)) != crcs[name]:
                raise CheckpointError(
                    f"load: {path!r} is corrupted: the bytes of tensor {name!r} fail their "
                    "checksum"
                )
    return _decode(header["tree"], wrap, path, 0)


def _read_header(text: str, path: str) -> dict:
    """Lucid's header from the safetensors metadata, checked field by field."""
    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"load: {path!r} has a damaged Lucid header: {why}")

    try:
        if not isinstance(text, str):
            raise ValueError(f"metadata is a {type(text).__name__}")
        header = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise bad(f"not valid JSON ({type(err).__name__}: {err})") from None
    if not isinstance(header, dict) or "tree" not in header:
        raise bad("it is not an object with a 'tree'")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad(f"version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"load: {path!r} was written in checkpoint format {version}; this Lucid "
            f"reads format {FORMAT_VERSION} and earlier: upgrade lucid-tensor"
        )
    if "crc32" not in header:
        raise bad("it has no 'crc32' entry, so its tensors cannot be verified")
    crcs = header["crc32"]
    if crcs is not False and not (
        isinstance(crcs, dict)
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < 2**32
                for c in crcs.values())
    ):
        raise bad(f"'crc32' must map tensor names to 32-bit integers, got {_short(crcs)}")
    return header


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _decode(obj, wrap, path, depth: int):
    """The Python object of a header tree: checked entry by entry, depth bounded."""
    if depth > MAX_DEPTH:
        raise CheckpointError(
            f"load: {path!r} has a damaged Lucid header: nested deeper than {MAX_DEPTH} levels"
        )
    d = depth + 1
    if isinstance(obj, list):
        return [_decode(v, wrap, path, d) for v in obj]
    if not isinstance(obj, dict):
        return obj

    def bad(tag, value, want):
        return CheckpointError(
            f"load: {path!r} has a damaged Lucid header: {tag} entry {_short(value)} is not "
            f"{want}"
        )

    if len(obj) == 1:
        (tag, value), = obj.items()
        if tag == "@tensor":
            if not isinstance(value, str):
                raise bad(tag, value, "a tensor name")
            return wrap(value)
        if tag == "@tuple":
            if not isinstance(value, list):
                raise bad(tag, value, "a list")
            return tuple(_decode(v, wrap, path, d) for v in value)
        if tag == "@dict":
            if not isinstance(value, list) or not all(
                isinstance(kv, list) and len(kv) == 2
                and (kv[0] is None or isinstance(kv[0], (str, int, bool)))
                for kv in value
            ):
                raise bad(tag, value, "a list of [key, value] pairs with scalar keys")
            return {k: _decode(v, wrap, path, d) for k, v in value}
        if tag == "@float":
            if value not in ("nan", "inf", "-inf"):
                raise bad(tag, value, "'nan', 'inf' or '-inf'")
            return float(value)
        if tag.startswith("@"):
            raise CheckpointError(f"load: {path!r} has an unknown entry {tag!r} in its header")
    return {k: _decode(v, wrap, path, d) for k, v in obj.items()}


def _fspath(path, what: str) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise CheckpointError(
            f"{what}: path must be a str or os.PathLike, got {type(path).__name__}"
        ) from None
