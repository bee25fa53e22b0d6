"""``normalize`` and ``cosine_similarity``: vector norms along one axis, each one op with
its backward (composing them from ``norm`` would give NaN gradients at zero vectors)."""

from __future__ import annotations

import math

import mlx.core as mx

from ...errors import ArgumentError, ShapeError
from ...function import op
from .. import axes


def _norm(x, p, axis):
    """||x||_p along ``axis`` (keepdims) and its gradient direction dn/dx (0 where n = 0)."""
    a = mx.abs(x)
    if p == math.inf:
        n = mx.max(a, axis=axis, keepdims=True)
        # PyTorch spreads the gradient evenly over the entries that reach the maximum
        hit = (a == n).astype(x.dtype)
        direction = mx.sign(x) * hit / mx.maximum(mx.sum(hit, axis=axis, keepdims=True), 1)
        return n, direction
    if p == 2:
        n = mx.sqrt(mx.sum(mx.square(x), axis=axis, keepdims=True))
        return n, x / mx.where(n == 0, mx.ones_like(n), n)
    if p == 1:
        return mx.sum(a, axis=axis, keepdims=True), mx.sign(x)
    n = mx.power(mx.sum(mx.power(a, p), axis=axis, keepdims=True), 1.0 / p)
    safe = mx.where(n == 0, mx.ones_like(n), n)
    scaled = mx.sign(x) * mx.power(a / safe, p - 1)
    return n, mx.where(x == 0, mx.zeros_like(x), scaled)  # p < 1: no 0 * inf at x = 0


@op("normalize")
def _normalize(x, p=2.0, axis=1, eps=1e-12):
    """out = x / d, d = max(||x||_p, eps);
    dx = g / d - [n >= eps] (sum(g x) / d^2) dn/dx."""
    n, direction = _norm(x, p, axis)
    d = mx.maximum(n, eps)
    out = x / d

    def backward(g):
        s = mx.sum(g * x, axis=axis, keepdims=True) / mx.square(d)
        s = mx.where(n >= eps, s, mx.zeros_like(s))
        return (g / d - s * direction,)

    return out, backward


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """``x / max(||x||_p, eps)`` along ``dim``: unit vectors, zero vectors left at zero."""
    if not p > 0:
        raise ArgumentError(f"normalize: p must be positive (or inf), got {p}")
    if input.ndim == 0:
        raise ShapeError("normalize: input must have at least one dimension, got a 0-d tensor")
    axis = axes.axis("normalize", dim, input.ndim, input.shape)
    return _normalize(input, p=float(p), axis=axis, eps=float(eps))


@op("cosine_similarity")
def _cosine_similarity(a, b, axis=1, eps=1e-8):
    """out = sum(a b) / (A B), A = max(||a||, eps), B = max(||b||, eps);
    da = g (b / (A B) - out a / (A ||a||)) (0 for the last term where a = 0), and the same
    for b. As PyTorch, the clamp has no gradient: ||a|| below eps still contributes."""
    na, ua = _norm(a, 2, axis)
    nb, ub = _norm(b, 2, axis)
    da_, db_ = mx.maximum(na, eps), mx.maximum(nb, eps)
    outk = mx.sum((a / da_) * (b / db_), axis=axis, keepdims=True)
    out = mx.squeeze(outk, axis)

    def backward(g):
        gk = mx.expand_dims(g, axis)
        ga = gk * (b / (da_ * db_) - outk * ua / da_)
        gb = gk * (a / (da_ * db_) - outk * ub / db_)
        return ga, gb

    return out, backward


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (inputs broadcast):
    ``sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps))``."""
    try:
        shape = tuple(mx.broadcast_shapes(tuple(x1.shape), tuple(x2.shape)))
    except ValueError as err:
        raise ShapeError(f"cosine_similarity: shapes {x1.shape} and {x2.shape} do not "
                         "broadcast") from err
    axis = axes.axis("cosine_similarity", dim, len(shape), shape)
    # broadcast first: a size-1 ``dim`` must be repeated before its norm is taken
    x1 = x1 if x1.shape == shape else x1.broadcast_to(shape)
    x2 = x2 if x2.shape == shape else x2.broadcast_to(shape)
    return _cosine_similarity(x1, x2, axis=axis, eps=float(eps))


__all__ = ["cosine_similarity", "normalize"]
TENSOR_METHODS: dict = {}
