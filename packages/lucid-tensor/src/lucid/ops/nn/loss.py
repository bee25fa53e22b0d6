"""Losses, each one op with its backward; PyTorch's arguments and reductions.

``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per-element losses).
Class-indexed losses take input ``(N, C, *)`` (or ``(C,)``) and targets ``(N, *)``.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from ..._tensor import Tensor
from ...errors import ArgumentError, DTypeError, LucidIndexError, ShapeError
from ...function import op

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ArgumentError(f"{name}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _reduce(loss, reduction):
    """Reduce elementwise ``loss``; returns it and ``upstream(g)``, g spread per element."""
    if reduction == "none":
        return loss, lambda g: g
    if reduction == "sum":
        return mx.sum(loss), lambda g: g
    n = loss.size
    return mx.mean(loss), lambda g: g / n


def _data(t):
    return None if t is None else (t._data if isinstance(t, Tensor) else mx.array(t))


def _class_shape(x, c):
    """Shape broadcasting a per-class vector along axis 1 of ``x``."""
    return (1, c) + (1,) * (x.ndim - 2)


def _check_targets(name, input, target, ignore_index):
    """Validate integer class targets against ``input`` (N, C, *); raises Lucid errors."""
    expected = (input.shape[0],) + input.shape[2:]
    if target.shape != expected:
        raise ShapeError(f"{name}: target shape {target.shape} does not fit input shape "
                         f"{input.shape} (expected {expected})")
    c = input.shape[1]
    y = target._data
    bad = mx.logical_and(mx.logical_or(y < 0, y >= c), y != ignore_index)
    if y.size and bool(mx.any(bad).item()):
        first = int(np.array(y)[np.array(bad)].reshape(-1)[0])
        raise LucidIndexError(f"{name}: target {first} is out of bounds for {c} classes "
                              f"(input shape {input.shape})")


def _batched(input, target):
    """Unbatched ``(C,)`` input with a 0-d target becomes a batch of one."""
    if input.ndim == 1:
        return input.reshape(1, -1), target.reshape(1, *target.shape), True
    return input, target, False


# ----- cross entropy ----------------------------------------------------------------

def _reduce_weighted(loss, coef, reduction: str):
    """``loss`` per ``reduction``: as it is, summed, or PyTorch's weighted mean (the sum over
    the total weight ``sum(coef)``); and that total (None unless ``mean``)."""
    if reduction == "none":
        return loss, None
    if reduction == "sum":
        return mx.sum(loss), None
    denom = mx.sum(coef)
    return mx.sum(loss) / denom, denom


def _per_sample(g, coef, reduction: str, denom):
    """The upstream gradient per sample (broadcast to ``coef``'s shape) of a weighted loss."""
    return mx.broadcast_to(g / denom if reduction == "mean" else g, coef.shape)

@op("cross_entropy")
def _cross_entropy_index(z, y, weight=None, ignore_index=-100, smoothing=0.0,
                         reduction="mean"):
    """Class-index targets. Per sample (q the smoothed, weighted target distribution):

        loss = (1 - e) w_y (lse - z_y) + e/C sum_c w_c (lse - z_c)
        dz   = (sum_c q_c) softmax(z) - q

    ignored samples contribute nothing; ``mean`` divides by the sum of w_y over the rest.
    """
    c = z.shape[1]
    cs = _class_shape(z, c)
    lse = mx.logsumexp(z, axis=1, keepdims=True)
    valid = y != ignore_index
    ysafe = mx.expand_dims(mx.where(valid, y, 0), 1)
    picked = mx.take_along_axis(z, ysafe, axis=1)
    nll = mx.squeeze(lse - picked, 1)
    validf = valid.astype(z.dtype)
    coef = validf if weight is None else validf * weight[mx.squeeze(ysafe, 1)].astype(z.dtype)
    loss = (1 - smoothing) * coef * nll if smoothing else coef * nll
    if smoothing:
        if weight is None:
            total_w, wz = float(c), mx.sum(z, axis=1)
        else:
            wb = weight.reshape(cs).astype(z.dtype)
            total_w, wz = mx.sum(weight).astype(z.dtype), mx.sum(z * wb, axis=1)
        loss = loss + (smoothing / c) * validf * (mx.squeeze(lse, 1) * total_w - wz)
    out, denom = _reduce_weighted(loss, coef, reduction)

    def backward(g):
        gi = _per_sample(g, coef, reduction, denom)
        hit = gi * coef * (1 - smoothing)
        mass = hit  # sum_c q_c, times g
        if smoothing:
            mass = hit + gi * validf * (smoothing / c) * total_w
        dz = mx.exp(z - lse) * mx.expand_dims(mass, 1)
        if smoothing:
            spread = mx.expand_dims(gi * validf * (smoothing / c), 1)
            dz = dz - (spread * weight.reshape(cs).astype(z.dtype) if weight is not None
                       else spread)
        at_y = mx.take_along_axis(dz, ysafe, axis=1) - mx.expand_dims(hit, 1)
        dz = mx.put_along_axis(dz, ysafe, at_y, axis=1)
        return (dz,)

    return out, backward


@op("cross_entropy")
def _cross_entropy_probs(z, t, weight=None, smoothing=0.0, reduction="mean"):
    """Class-probability targets: q = (t (1 - e) + e / C) w,  loss = -sum_c q_c log p_c,
    dz = (sum_c q_c) p - q,  dt = -(1 - e) w log p. ``mean`` divides by N * prod(*)."""
    c = z.shape[1]
    cs = _class_shape(z, c)
    lse = mx.logsumexp(z, axis=1, keepdims=True)
    logp = z - lse
    q = t * (1 - smoothing) + smoothing / c if smoothing else t
    wb = weight.reshape(cs).astype(z.dtype) if weight is not None else None
    if wb is not None:
        q = q * wb
    loss = -mx.sum(q * logp, axis=1)
    out, upstream = _reduce(loss, reduction)

    def backward(g):
        gi = mx.expand_dims(mx.broadcast_to(upstream(g), loss.shape), 1)
        dz = (mx.exp(logp) * mx.sum(q, axis=1, keepdims=True) - q) * gi
        dt = -(1 - smoothing) * logp * gi
        if wb is not None:
            dt = dt * wb
        return dz, dt

    return out, backward


def cross_entropy(input, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """Softmax cross entropy of logits ``input`` (N, C, *) against class indices (N, *)
    or class probabilities (N, C, *), fused: ``log_softmax`` and NLL in one op."""
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ArgumentError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    x, y, unbatched = _batched(input, target)
    w = _data(weight)
    if w is not None and w.shape != (x.shape[1],):
        raise ShapeError(f"cross_entropy: weight has shape {tuple(w.shape)}, expected "
                         f"({x.shape[1]},) for input of shape {input.shape}")
    if y.is_floating_point and y.shape == x.shape:
        out = _cross_entropy_probs(x, y, weight=w, smoothing=label_smoothing,
                                   reduction=reduction)
    elif y.is_floating_point:
        raise DTypeError(f"cross_entropy: floating targets must be class probabilities of the "
                         f"input's shape {input.shape}; got {y.shape}. Class indices must be "
                         "integers")
    else:
        _check_targets("cross_entropy", x, y, ignore_index)
        out = _cross_entropy_index(x, y, weight=w, ignore_index=ignore_index,
                                   smoothing=label_smoothing, reduction=reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


@op("nll_loss")
def _nll_loss(logp, y, weight=None, ignore_index=-100, reduction="mean"):
    """loss = -w_y logp_y (0 for ignored samples);  d logp_y = -w_y g."""
    valid = y != ignore_index
    ysafe = mx.expand_dims(mx.where(valid, y, 0), 1)
    coef = valid.astype(logp.dtype)
    if weight is not None:
        coef = coef * weight[mx.squeeze(ysafe, 1)].astype(logp.dtype)
    loss = -coef * mx.squeeze(mx.take_along_axis(logp, ysafe, axis=1), 1)
    out, denom = _reduce_weighted(loss, coef, reduction)

    def backward(g):
        gi = _per_sample(g, coef, reduction, denom)
        dz = mx.zeros_like(logp)
        dz = mx.put_along_axis(dz, ysafe, mx.expand_dims(-gi * coef, 1), axis=1)
        return (dz,)

    return out, backward


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C, *) at class ``target``."""
    _check_reduction("nll_loss", reduction)
    x, y, unbatched = _batched(input, target)
    if y.is_floating_point:
        raise DTypeError(f"nll_loss: target must hold integer class indices, got {y.dtype_name}")
    _check_targets("nll_loss", x, y, ignore_index)
    out = _nll_loss(x, y, weight=_data(weight), ignore_index=ignore_index, reduction=reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


# ----- regression -------------------------------------------------------------------
def _difference_loss(loss, slope, reduction):
    """A loss of ``d = x - t`` with derivative ``slope`` in ``d``: reduced, and
    dx = slope g, dt = -dx (both inputs broadcast by the engine)."""
    out, upstream = _reduce(loss, reduction)

    def backward(g):
        dx = slope * upstream(g)
        return dx, -dx

    return out, backward


@op("mse_loss")
def _mse_loss(x, t, reduction="mean"):
    """loss = (x - t)^2;  dx = 2 (x - t) g, dt = -dx."""
    d = x - t
    return _difference_loss(mx.square(d), 2 * d, reduction)


def mse_loss(input, target, reduction: str = "mean"):
    """Mean squared error (inputs broadcast against each other)."""
    _check_reduction("mse_loss", reduction)
    return _mse_loss(input, target, reduction=reduction)


@op("l1_loss")
def _l1_loss(x, t, reduction="mean"):
    """loss = |x - t|;  dx = sign(x - t) g, dt = -dx."""
    d = x - t
    return _difference_loss(mx.abs(d), mx.sign(d), reduction)


def l1_loss(input, target, reduction: str = "mean"):
    """Mean absolute error."""
    _check_reduction("l1_loss", reduction)
    return _l1_loss(input, target, reduction=reduction)


# ----- binary -----------------------------------------------------------------------
@op("binary_cross_entropy")
def _bce(x, t, w, reduction="mean"):
    """loss = -w (t log x + (1 - t) log(1 - x)), logs clamped at -100 as in PyTorch;
    dx = w g (x - t) / max(x (1 - x), 1e-12),  dt = w g (log(1 - x) - log x)."""
    log_x = mx.maximum(mx.log(x), -100.0)
    log_1mx = mx.maximum(mx.log1p(-x), -100.0)
    raw = -(t * log_x + (1 - t) * log_1mx)
    out, upstream = _reduce(raw * w if w is not None else raw, reduction)

    def backward(g):
        gw = upstream(g) * w if w is not None else upstream(g)
        dx = gw * (x - t) / mx.maximum(x * (1 - x), 1e-12)
        dt = gw * (log_1mx - log_x)
        dw = upstream(g) * raw if w is not None else None
        return dx, dt, dw

    return out, backward


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    """BCE of probabilities ``input`` in [0, 1] against ``target`` of the same shape."""
    _check_reduction("binary_cross_entropy", reduction)
    if target.shape != input.shape:
        raise ShapeError(f"binary_cross_entropy: target shape {target.shape} must equal input "
                         f"shape {input.shape}")
    return _bce(input, target, weight, reduction=reduction)


@op("binary_cross_entropy_with_logits")
def _bce_logits(x, t, w, pw, reduction="mean"):
    """With sp = softplus(-x) = log(1 + e^-|x|) + max(-x, 0) and l = 1 + (pw - 1) t:

        loss = w ((1 - t) x + l sp),  dx = w g ((1 - t) - l sigmoid(-x)),
        dt = w g ((pw - 1) sp - x),   dpw = w g t sp.
    """
    sp = mx.log1p(mx.exp(-mx.abs(x))) + mx.maximum(-x, 0)
    lw = 1 + (pw - 1) * t if pw is not None else None
    raw = (1 - t) * x + (lw * sp if lw is not None else sp)
    out, upstream = _reduce(raw * w if w is not None else raw, reduction)

    def backward(g):
        gw = upstream(g) * w if w is not None else upstream(g)
        s_neg = mx.sigmoid(-x)
        dx = gw * ((1 - t) - (lw * s_neg if lw is not None else s_neg))
        dt = gw * ((pw - 1) * sp - x if pw is not None else -x)
        dw = upstream(g) * raw if w is not None else None
        dpw = gw * t * sp if pw is not None else None
        return dx, dt, dw, dpw

    return out, backward


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean",
                                     pos_weight=None):
    """BCE on logits, computed stably; ``pos_weight`` scales the positive term per class
    (broadcast along the last axis)."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    if target.shape != input.shape:
        raise ShapeError(f"binary_cross_entropy_with_logits: target shape {target.shape} must "
                         f"equal input shape {input.shape}")
    return _bce_logits(input, target, weight, pos_weight, reduction=reduction)


# ----- robust regression ------------------------------------------------------------
@op("smooth_l1_loss")
def _smooth_l1_loss(x, t, reduction="mean", beta=1.0):
    """d = x - t;  loss = d^2 / (2 beta) if |d| < beta else |d| - beta / 2 (|d| when
    beta = 0);  dx = g d / beta inside, g sign(d) outside;  dt = -dx."""
    d = x - t
    ad = mx.abs(d)
    if beta == 0:
        inside = mx.zeros(d.shape, dtype=mx.bool_)
        loss = ad
    else:
        inside = ad < beta
        loss = mx.where(inside, 0.5 * mx.square(d) / beta, ad - 0.5 * beta)
    slope = mx.where(inside, d / beta, mx.sign(d)) if beta else mx.sign(d)
    return _difference_loss(loss, slope, reduction)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0):
    """Quadratic for |x - t| < beta, linear beyond: ``(x - t)^2 / (2 beta)`` or
    ``|x - t| - beta / 2``; beta = 0 is the L1 loss."""
    _check_reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise ArgumentError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _smooth_l1_loss(input, target, reduction=reduction, beta=float(beta))


@op("huber_loss")
def _huber_loss(x, t, reduction="mean", delta=1.0):
    """d = x - t;  loss = d^2 / 2 if |d| < delta else delta (|d| - delta / 2);
    dx = g clip(d, -delta, delta);  dt = -dx."""
    d = x - t
    ad = mx.abs(d)
    loss = mx.where(ad < delta, 0.5 * mx.square(d), delta * (ad - 0.5 * delta))
    return _difference_loss(loss, mx.clip(d, -delta, delta), reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    """Huber loss: ``(x - t)^2 / 2`` for |x - t| < delta, ``delta (|x - t| - delta / 2)``
    beyond; equal to ``delta * smooth_l1_loss(beta=delta)``."""
    _check_reduction("huber_loss", reduction)
    if delta <= 0:
        raise ArgumentError(f"huber_loss: delta must be positive, got {delta}")
    return _huber_loss(input, target, reduction=reduction, delta=float(delta))


# ----- divergence -------------------------------------------------------------------
@op("kl_div")
def _kl_div(x, t, reduction="mean", log_target=False):
    """x = log q (the input), t = p (or log p with ``log_target``):

        loss = p (log p - x), 0 where p = 0;   dx = -p g,  dt = (log p + 1 - x) g
        log_target: loss = e^t (t - x);        dx = -e^t g, dt = e^t (t - x + 1) g

    As in PyTorch (whose ``xlogy`` gradient is 0/0 there), dt is NaN where p = 0.
    ``batchmean`` divides the sum by the batch size ``x.shape[0]``."""
    if log_target:
        p = mx.exp(t)
        loss = p * (t - x)
    else:
        p = t
        plogp = mx.where(t == 0, mx.zeros_like(t), t * mx.log(t))
        loss = plogp - t * x
    if reduction == "batchmean":
        n = x.shape[0] if x.ndim else 1
        out, upstream = mx.sum(loss) / n, lambda g: g / n
    else:
        out, upstream = _reduce(loss, reduction)

    def backward(g):
        gi = upstream(g)
        if log_target:
            dt = p * (t - x + 1) * gi
        else:
            dlog = mx.where(t == 0, mx.array(float("nan"), t.dtype), mx.log(t) + 1)
            dt = (dlog - x) * gi
        return -p * gi, dt

    return out, backward


def kl_div(input, target, reduction: str = "mean", log_target: bool = False):
    """Kullback-Leibler divergence ``sum p (log p - input)`` of the target distribution
    ``p`` from the log-probabilities ``input``. ``reduction="batchmean"`` (sum / batch size)
    is the true KL divergence per sample; ``"mean"`` divides by the number of elements."""
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ArgumentError(f"kl_div: reduction must be 'none', 'mean', 'sum' or 'batchmean', "
                         f"got {reduction!r}")
    return _kl_div(input, target, reduction=reduction, log_target=bool(log_target))


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "huber_loss",
    "kl_div", "l1_loss", "mse_loss", "nll_loss", "smooth_l1_loss",
]
TENSOR_METHODS: dict = {}
