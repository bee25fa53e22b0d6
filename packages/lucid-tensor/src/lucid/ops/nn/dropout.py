"""Dropout: zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``."""

from __future__ import annotations

import mlx.core as mx

from ..._tensor import Tensor
from ...errors import ArgumentError, ArgumentTypeError, DTypeError
from ...function import op


@op("dropout")
def _dropout(x, p):
    keep = mx.random.bernoulli(1.0 - p, x.shape)  # Lucid's generator: lucid.seed() fixes it
    mask = keep.astype(x.dtype) * (1.0 / (1.0 - p) if p < 1 else 0.0)
    return x * mask, lambda g: (g * mask,)


def dropout(x, p=0.5, training=True, inplace=False) -> Tensor:
    """``out = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)`` drawn afresh per call;
    ``dx = g * m / (1 - p)`` with the same mask. Identity when ``training`` is False or
    ``p == 0``; all zeros when ``p == 1``. ``inplace`` is accepted for PyTorch parity and
    ignored (tensors are immutable here).
    """
    if not 0.0 <= p <= 1.0:
        raise ArgumentError(f"dropout: probability p must be between 0 and 1, got {p}")
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"dropout: input must be a lucid Tensor, got {type(x).__name__}")
    if not mx.issubdtype(x.dtype, mx.floating):
        raise DTypeError(f"dropout: needs a floating-point input, got {x.dtype_name} "
                         f"with shape {x.shape}")
    if not training or p == 0.0:
        return x
    return _dropout(x, float(p))


__all__ = ["dropout"]
TENSOR_METHODS: dict = {}
