"""Layer and group normalisation, each one op with a closed-form backward.

Both normalise groups of D values: ``xhat = (x - mean) r`` with ``r = 1 / sqrt(var + eps)``
(biased variance), then apply a per-element (LayerNorm) or per-channel (GroupNorm) affine
map. With ``gw = g * weight`` the input gradient of one group is

    dx = r * (gw - mean(gw) - xhat * mean(gw * xhat))

and ``dweight = sum(g * xhat)``, ``dbias = sum(g)`` over everything but the affine axes.
"""

from __future__ import annotations

import math

import mlx.core as mx

from ..._tensor import Tensor
from ...errors import ShapeError
from ...function import op


def _normalized(x2, eps):
    """``xhat`` and ``r`` of each row of a 2-D array."""
    mean = mx.mean(x2, axis=-1, keepdims=True)
    xc = x2 - mean
    r = mx.rsqrt(mx.mean(mx.square(xc), axis=-1, keepdims=True) + eps)
    return xc * r, r


def _rows_backward(gw2, xhat, r):
    """dx of row-wise normalisation, given the gradient ``gw2`` of ``xhat``."""
    m1 = mx.mean(gw2, axis=-1, keepdims=True)
    m2 = mx.mean(gw2 * xhat, axis=-1, keepdims=True)
    return r * (gw2 - m1 - xhat * m2)


@op("layer_norm")
def _layer_norm(x, weight, bias, normalized_shape=(), eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` axes."""
    d = math.prod(normalized_shape)
    x2 = x.reshape(-1, d)
    w2 = weight.reshape(-1) if weight is not None else None
    b2 = bias.reshape(-1) if bias is not None else None
    out = mx.fast.layer_norm(x2, w2, b2, eps).reshape(x.shape)

    def backward(g):
        g2 = g.reshape(-1, d)
        xhat, r = _normalized(x2, eps)
        dx = _rows_backward(g2 * w2 if w2 is not None else g2, xhat, r).reshape(x.shape)
        dw = mx.sum(g2 * xhat, axis=0).reshape(weight.shape) if weight is not None else None
        db = mx.sum(g2, axis=0).reshape(bias.shape) if bias is not None else None
        return dx, dw, db

    return out, backward


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """LayerNorm over the trailing ``normalized_shape`` axes (an int or a tuple):
    ``(x - mean) / sqrt(var + eps) * weight + bias``."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(n) for n in normalized_shape)
    k = len(normalized_shape)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise ShapeError(f"layer_norm: input shape {tuple(input.shape)} does not end with "
                         f"normalized_shape {normalized_shape}")
    return _layer_norm(input, weight, bias, normalized_shape=normalized_shape, eps=eps)


@op("group_norm")
def _group_norm(x, weight, bias, num_groups=1, eps=1e-5):
    n, c = x.shape[0], x.shape[1]
    shape = (1, c) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    xg = x.reshape(n * num_groups, -1)
    out = mx.fast.layer_norm(xg, None, None, eps).reshape(x.shape)
    wb = weight.reshape(shape) if weight is not None else None
    if wb is not None:
        out = out * wb
    if bias is not None:
        out = out + bias.reshape(shape)

    def backward(g):
        xhat, r = _normalized(xg, eps)
        gw = g * wb if wb is not None else g
        dx = _rows_backward(gw.reshape(xg.shape), xhat, r).reshape(x.shape)
        dw = mx.sum(g * xhat.reshape(x.shape), axis=axes) if weight is not None else None
        db = mx.sum(g, axis=axes) if bias is not None else None
        return dx, dw, db

    return out, backward


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """GroupNorm: channels of ``(N, C, *)`` split into ``num_groups`` groups, each normalised
    over its channels and spatial positions, then a per-channel affine map."""
    if input.ndim < 2 or num_groups < 1 or input.shape[1] % num_groups != 0:
        raise ShapeError(f"group_norm: input of shape {input.shape} must be (N, C, *) with C "
                         f"divisible by num_groups={num_groups}")
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ShapeError(f"group_norm: {name} has shape {t.shape}, expected ({c},)")
    return _group_norm(input, weight, bias, num_groups=num_groups, eps=eps)


__all__ = ["group_norm", "layer_norm"]
TENSOR_METHODS: dict = {}
