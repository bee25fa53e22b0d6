"""Random tensors from MLX's global generator; ``seed(n)`` makes runs reproducible.

Sizes are checked as in :mod:`lucid.creation` (ints, non-negative, within the device's
memory) before MLX draws anything.
"""

from __future__ import annotations

import builtins

import mlx.core as mx
import numpy as np

from . import dtypes as _dt
from .creation import _make, _shape
from .errors import ArgumentError, ArgumentTypeError


def seed(n: int) -> None:
    """Seed Lucid's generator (MLX's global PRNG)."""
    mx.random.seed(int(n))


manual_seed = seed


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    dtype = _dt.to_dtype(dtype) or mx.float32
    shape = _shape(shape, "randn", dtype, device)
    return _make(lambda: mx.random.normal(shape, dtype=dtype), dtype, device, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform samples on [0, 1)."""
    dtype = _dt.to_dtype(dtype) or mx.float32
    shape = _shape(shape, "rand", dtype, device)
    return _make(lambda: mx.random.uniform(0.0, 1.0, shape, dtype=dtype), dtype, device,
                 requires_grad)


def uniform(low, high, shape, dtype=None, device=None, requires_grad=False):
    dtype = _dt.to_dtype(dtype) or mx.float32
    shape = _shape((shape,), "uniform", dtype, device)
    return _make(lambda: mx.random.uniform(low, high, shape, dtype=dtype), dtype,
                 device, requires_grad)


def normal(mean, std, shape, dtype=None, device=None, requires_grad=False):
    dtype = _dt.to_dtype(dtype) or mx.float32
    shape = _shape((shape,), "normal", dtype, device)
    return _make(lambda: mean + std * mx.random.normal(shape, dtype=dtype), dtype,
                 device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    """Integers uniform on [low, high) (``randint(high, size)`` as in PyTorch too).

    ``low`` and ``high`` must be ints with ``low < high``, as in PyTorch.
    """
    if high is None:
        low, high = 0, low
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, builtins.bool) or not isinstance(v, (builtins.int, np.integer)):
            raise ArgumentTypeError(f"randint: {name} must be an int, got {v!r}")
    if low >= high:
        raise ArgumentError(
            f"randint: low must be less than high, got low={low} >= high={high}"
        )
    dtype = _dt.to_dtype(dtype) or mx.int64
    shape = _shape((size,), "randint", dtype, device)
    return _make(lambda: mx.random.randint(low, high, shape).astype(dtype), dtype, device, False)


def permutation(n: int, device=None):
    (n,) = _shape((n,), "permutation", mx.int64, device)
    return _make(lambda: mx.random.permutation(n).astype(mx.int64), mx.int64, device, False)
