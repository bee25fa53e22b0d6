"""Random tensors from MLX's global generator; ``seed(n)`` makes runs reproducible."""

from __future__ import annotations

import mlx.core as mx

from . import dtypes as _dt
from .creation import _make, _shape


def seed(n: int) -> None:
    """Seed Lucid's generator (MLX's global PRNG)."""
    mx.random.seed(int(n))


manual_seed = seed


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    dtype = _dt.to_dtype(dtype) or mx.float32
    return _make(lambda: mx.random.normal(_shape(shape), dtype=dtype), dtype, device, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform samples on [0, 1)."""
    dtype = _dt.to_dtype(dtype) or mx.float32
    return _make(lambda: mx.random.uniform(0.0, 1.0, _shape(shape), dtype=dtype), dtype, device,
                 requires_grad)


def uniform(low, high, shape, dtype=None, device=None, requires_grad=False):
    dtype = _dt.to_dtype(dtype) or mx.float32
    return _make(lambda: mx.random.uniform(low, high, _shape((shape,)), dtype=dtype), dtype,
                 device, requires_grad)


def normal(mean, std, shape, dtype=None, device=None, requires_grad=False):
    dtype = _dt.to_dtype(dtype) or mx.float32
    return _make(lambda: mean + std * mx.random.normal(_shape((shape,)), dtype=dtype), dtype,
                 device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    """Integers uniform on [low, high) (``randint(high, size)`` as in PyTorch too)."""
    if high is None:
        low, high = 0, low
    dtype = _dt.to_dtype(dtype) or mx.int64
    shape = _shape((size,)) if not isinstance(size, int) else (size,)
    return _make(lambda: mx.random.randint(low, high, shape).astype(dtype), dtype, device, False)


def permutation(n: int, device=None):
    return _make(lambda: mx.random.permutation(n).astype(mx.int64), mx.int64, device, False)
