"""Random tensors shaped like another (``randn_like``, ``rand_like``, ``randint_like``) and
``randperm``, drawn from Lucid's generator (``lucid.manual_seed``) through ``lucid.random``.

Each ``*_like`` takes the tensor's shape, and its dtype and device unless told otherwise.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from .. import dtypes as _dt
from .. import random
from .._tensor import Tensor
from ..errors import ArgumentTypeError, DTypeError, ShapeError

__all__ = ["randn_like", "rand_like", "randint_like", "randperm"]


def _like(name: str, x: Tensor, dtype, device, floating: bool):
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{name}: expects a Tensor, got {type(x).__name__}")
    dtype = _dt.to_dtype(dtype) or x.dtype
    if floating and not _dt.is_floating(dtype):
        raise DTypeError(
            f"{name}: needs a floating-point dtype, got {_dt.name(dtype)} (tensor of shape "
            f"{x.shape}); pass dtype=lucid.float32"
        )
    return dtype, device or x.device


def randn_like(x: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples with x's shape (and dtype and device unless given)."""
    dtype, device = _like("randn_like", x, dtype, device, True)
    return random.randn(*x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(x: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1) with x's shape (and dtype and device unless given)."""
    dtype, device = _like("rand_like", x, dtype, device, True)
    return random.rand(*x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(x: Tensor, low=0, high=None, *, dtype=None, device=None) -> Tensor:
    """Integers uniform on [low, high) with x's shape; ``randint_like(x, high)`` as PyTorch.

    The dtype is x's unless given (a float tensor gets whole-number floats)."""
    if high is None:
        low, high = 0, low
    dtype, device = _like("randint_like", x, dtype, device, False)
    return random.randint(low, high, x.shape, dtype=dtype, device=device)


def randperm(n: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype`` is given)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ArgumentTypeError(f"randperm: n must be an int, got {n!r} ({type(n).__name__})")
    if n < 0:
        raise ShapeError(f"randperm: n must be non-negative, got {n}")
    out = random.permutation(int(n), device=device)
    dtype = _dt.to_dtype(dtype) or mx.int64
    if dtype != out.dtype:
        out = out.astype(dtype)
    return out.requires_grad_() if requires_grad else out


TENSOR_METHODS: dict = {}
