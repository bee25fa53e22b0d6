"""Channel dropout (``dropout2d``): zero whole channels of ``(N, C, *)``."""

from __future__ import annotations

import mlx.core as mx

from ..._tensor import Tensor
from ...errors import ArgumentError, DTypeError, ShapeError
from ...function import op


@op("dropout2d")
def _dropout2d(x, p):
    """out = x m / (1 - p), one m ~ Bernoulli(1 - p) per (sample, channel);  dx = g m / (1 - p)."""
    keep = mx.random.bernoulli(1.0 - p, x.shape[:2] + (1,) * (x.ndim - 2))
    mask = keep.astype(x.dtype) * (1.0 / (1.0 - p) if p < 1 else 0.0)
    return x * mask, lambda g: (g * mask,)


def dropout2d(input, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each channel of ``(N, C, H, W)`` (or ``(N, C, L)``) with probability ``p`` and
    scale the rest by ``1 / (1 - p)`` when ``training``; the identity otherwise."""
    if not 0.0 <= p <= 1.0:
        raise ArgumentError(f"dropout2d: probability must be in [0, 1], got {p}")
    if input.ndim not in (3, 4):
        raise ShapeError(f"dropout2d: expected a 4-D input (N, C, H, W) or 3-D (N, C, L), got "
                         f"shape {input.shape}")
    if not input.is_floating_point:
        raise DTypeError(f"dropout2d: needs a floating-point input, got {input.dtype_name}")
    if not training or p == 0.0:
        return input
    return _dropout2d(input, float(p))


__all__ = ["dropout2d"]
TENSOR_METHODS: dict = {}
