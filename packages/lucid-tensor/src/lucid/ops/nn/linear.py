"""``linear``: ``y = x W^T + b``, one matrix product over all leading axes."""

from __future__ import annotations

import mlx.core as mx

from ..._tensor import Tensor
from ...errors import ShapeError
from ...function import op


@op("linear")
def _linear(x, weight, bias):
    """out = x W^T + b;  dx = g W, dW = g^T x, db = sum of g over the leading axes."""
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    out = mx.matmul(x2, weight.T)
    if bias is not None:
        out = out + bias
    out = out.reshape(*lead, weight.shape[0])

    def backward(g):
        g2 = g.reshape(-1, g.shape[-1])
        dx = mx.matmul(g2, weight).reshape(x.shape)
        dw = mx.matmul(g2.T, x2)
        db = mx.sum(g2, axis=0) if bias is not None else None
        return dx, dw, db

    return out, backward


def linear(input, weight, bias=None) -> Tensor:
    """``input @ weight.T + bias`` for ``input`` ``(*, in_features)``, ``weight``
    ``(out_features, in_features)`` and ``bias`` ``(out_features,)``."""
    if input.ndim == 0 or weight.ndim != 2 or input.shape[-1] != weight.shape[-1]:
        raise ShapeError(f"linear: input's last axis ({tuple(input.shape)}) must equal "
                         f"in_features (weight {tuple(weight.shape)}, expected 2-D)")
    return _linear(input, weight, bias)


__all__ = ["linear"]
TENSOR_METHODS: dict = {}
