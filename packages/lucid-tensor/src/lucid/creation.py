"""Creating tensors: from data, constants, ranges and random draws.

Sizes are checked before MLX sees them: each must be a non-negative int (``zeros(2.5, 3)``
is an error, as in PyTorch) below 2**31 (MLX's limit per axis), and the tensor must fit in
the device's memory (the machine's physical memory for the CPU): a larger request raises
:class:`TensorTooLargeError` naming the shape and the bytes, instead of crashing the process.
"""

from __future__ import annotations

import builtins
import functools
import math
import os

import mlx.core as mx
import numpy as np

from . import devices
from . import dtypes as _dt
from ._tensor import Tensor
from .errors import (  # noqa: F401  (ArgumentError re-exported: random.py takes it from here)
    ArgumentError,
    ArgumentTypeError,
    ShapeError,
    TensorTooLargeError,
)
from .function import run_on

_MAX_DIM = 2**31 - 1


@functools.cache
def device_memory(device: str) -> int | None:
    """Bytes of memory of ``device``: the GPU's as MLX reports it, else physical memory."""
    if device == "gpu":
        try:
            info = mx.device_info()
        except Exception:  # noqa: BLE001 - older MLX
            info = {}
        for key in ("memory_size", "total_memory", "memory"):
            if isinstance(info.get(key), builtins.int) and info[key] > 0:
                return info[key]
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit known
        return None


def check_size(op: str, shape: tuple, dtype, device=None) -> None:
    """Raise :class:`TensorTooLargeError` when ``shape`` of ``dtype`` exceeds the device."""
    device = devices.canonical(device)
    nbytes = math.prod(shape) * dtype.size
    limit = device_memory(device)
    if limit is not None and nbytes > limit:
        raise TensorTooLargeError(
            f"{op}: a tensor of shape {tuple(shape)} and dtype {_dt.name(dtype)} needs "
            f"{nbytes:,} bytes, more than the {limit:,} bytes of memory of device {device!r}"
        )


def _shape(shape, op: str = "tensor", dtype=None, device=None) -> tuple:
    """The checked shape tuple of ``*shape`` or ``(shape,)``; with ``dtype``, also checked
    against the device's memory (:func:`check_size`)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if isinstance(s, builtins.bool) or not isinstance(s, (builtins.int, np.integer)):
            raise ArgumentTypeError(
                f"{op}: sizes must be ints, got {s!r} ({type(s).__name__}) in {tuple(shape)}"
            )
    shape = tuple(builtins.int(s) for s in shape)
    for s in shape:
        if s < 0:
            raise ShapeError(f"{op}: negative size {s} in {shape}")
        if s > _MAX_DIM:
            raise TensorTooLargeError(f"{op}: size {s} in {shape} exceeds 2**31 - 1 per axis")
    if dtype is not None:
        check_size(op, shape, dtype, device)
    return shape


def _count(op: str, n, what: str) -> int:
    """``n`` as a non-negative int (a size given as a scalar: steps, rows, ...)."""
    return _shape((n,), f"{op} {what}")[0]


def _make(fn, dtype, device, requires_grad) -> Tensor:
    device = devices.canonical(device)
    out = Tensor._wrap(run_on(device, fn), device)
    if requires_grad:
        out.requires_grad_(True)
    return out


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data``."""
    if isinstance(data, Tensor) and device is None:
        device = data.device
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return tensor(data, dtype=dtype, device=device)


def from_numpy(a: np.ndarray) -> Tensor:
    return Tensor(a)


def zeros(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = _dt.to_dtype(dtype) or mx.float32
    shape = _shape(shape, "zeros", dtype, device)
    return _make(lambda: mx.zeros(shape, dtype=dtype), dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = _dt.to_dtype(dtype) or mx.float32
    shape = _shape(shape, "ones", dtype, device)
    return _make(lambda: mx.ones(shape, dtype=dtype), dtype, device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = mx.int64 if isinstance(fill_value, (builtins.int, np.integer)) and not isinstance(
            fill_value, builtins.bool) else (mx.bool_ if isinstance(fill_value, builtins.bool) else mx.float32)
    dtype = _dt.to_dtype(dtype)
    shape = _shape((shape,), "full", dtype, device)
    return _make(lambda: mx.full(shape, fill_value, dtype=dtype), dtype, device, requires_grad)


def _like(fn, t, dtype, device, requires_grad, *args):
    return fn(*((t.shape,) + args), dtype=dtype or t.dtype, device=device or t.device,
              requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(zeros, t, dtype, device, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(ones, t, dtype, device, requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(zeros, t, dtype, device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(full, t, dtype, device, requires_grad, fill_value)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (builtins.int, np.integer)) for v in (start, end, step))
        dtype = mx.int64 if ints else mx.float32
    dtype = _dt.to_dtype(dtype)
    try:
        n = math.ceil((end - start) / step)
    except (TypeError, ZeroDivisionError, ValueError, OverflowError):
        n = None  # MLX reports these itself
    if n is not None and n > 0:
        _shape((n,), "arange", dtype, device)
    return _make(lambda: mx.arange(start, end, step, dtype=dtype), dtype, device, requires_grad)


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = _dt.to_dtype(dtype) or mx.float32
    steps = _count("linspace", steps, "steps")
    _shape((steps,), "linspace", dtype, device)
    return _make(lambda: mx.linspace(start, end, steps, dtype=dtype), dtype, device, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = _dt.to_dtype(dtype) or mx.float32
    n, m = _shape((n, n if m is None else m), "eye", dtype, device)
    return _make(lambda: mx.eye(n, m, dtype=dtype), dtype, device, requires_grad)
