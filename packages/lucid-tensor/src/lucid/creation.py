"""Creating tensors: from data, constants, ranges and random draws."""

from __future__ import annotations

import builtins

import mlx.core as mx
import numpy as np

from . import devices
from . import dtypes as _dt
from .errors import DTypeError, ShapeError
from .function import run_on
from .tensor import Tensor


def _to_array(data, dtype, device) -> mx.array:
    """Convert ``data`` (Tensor, MLX/NumPy array, scalar, nested list) to an MLX array.

    Python floats and float64 arrays become float32; Python ints become int64, as in PyTorch.
    """
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, mx.array):
        arr = data
    else:
        if not isinstance(data, np.ndarray):
            try:
                data = np.asarray(data)
            except ValueError as err:
                raise ShapeError(f"tensor: ragged nested sequence, rows differ in length ({err})") from None
        if data.dtype == object:
            raise DTypeError(f"cannot make a tensor from {type(data).__name__} of mixed objects")
        if data.dtype == np.float64:
            data = data.astype(np.float32)
        if data.size == 0:  # MLX reductions over an empty array made from NumPy can hang
            arr = mx.zeros(data.shape, dtype=dtype or _dt.from_numpy_dtype(data.dtype))
        else:
            arr = mx.array(data, dtype=dtype) if dtype is not None else mx.array(data)
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


def _shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(builtins.int(s) for s in shape)


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
    return _make(lambda: mx.zeros(_shape(shape), dtype=dtype), dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = _dt.to_dtype(dtype) or mx.float32
    return _make(lambda: mx.ones(_shape(shape), dtype=dtype), dtype, device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = mx.int64 if isinstance(fill_value, (builtins.int, np.integer)) and not isinstance(
            fill_value, builtins.bool) else (mx.bool_ if isinstance(fill_value, builtins.bool) else mx.float32)
    dtype = _dt.to_dtype(dtype)
    shape = _shape((shape,) if isinstance(shape, builtins.int) else (shape,))
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
    return _make(lambda: mx.arange(start, end, step, dtype=dtype), dtype, device, requires_grad)


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = _dt.to_dtype(dtype) or mx.float32
    return _make(lambda: mx.linspace(start, end, steps, dtype=dtype), dtype, device, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = _dt.to_dtype(dtype) or mx.float32
    return _make(lambda: mx.eye(n, m, dtype=dtype), dtype, device, requires_grad)
