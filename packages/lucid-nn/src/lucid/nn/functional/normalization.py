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
from lucid.errors import ShapeError
from lucid.function import op


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
    k = len(normalized_shape)
    if tuple(x.shape[x.ndim - k:]) != tuple(normalized_shape) or x.ndim < k:
        raise ShapeError(f"layer_norm: input shape {tuple(x.shape)} does not end with "
                         f"normalized_shape {tuple(normalized_shape)}")
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


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """LayerNorm over the trailing ``normalized_shape`` axes (an int or a tuple)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return _layer_norm(input, weight, bias, normalized_shape=tuple(normalized_shape), eps=eps)


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


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """GroupNorm: channels of ``(N, C, *)`` split into ``num_groups`` groups, each normalised
    over its channels and spatial positions, then a per-channel affine map."""
    if input.ndim < 2 or input.shape[1] % num_groups != 0:
        raise ShapeError(f"group_norm: input of shape {input.shape} must be (N, C, *) with C "
                         f"divisible by num_groups={num_groups}")
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ShapeError(f"group_norm: {name} has shape {t.shape}, expected ({c},)")
    return _group_norm(input, weight, bias, num_groups=num_groups, eps=eps)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5):
    """InstanceNorm: each channel of each sample of ``(N, C, *)`` normalised over its
    spatial positions (``group_norm`` with one channel per group), then a per-channel
    affine map. With ``use_input_stats`` and running statistics given, those are updated
    in place with the batch average of the per-instance mean and unbiased variance;
    ``use_input_stats=False`` normalises with the running statistics instead."""
    if input.ndim < 3:
        raise ShapeError(f"instance_norm: expected an input (N, C, *) with spatial axes, got "
                         f"shape {input.shape}")
    n, c = input.shape[:2]
    spatial = math.prod(input.shape[2:])
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t.shape != (c,):
            raise ShapeError(f"instance_norm: {name} has shape {t.shape}, expected ({c},) for "
                             f"input of shape {input.shape}")
    shape = (1, c) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                             "running_var")
        out = (input - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
        if weight is not None:
            out = out * weight.reshape(shape)
        return out + bias.reshape(shape) if bias is not None else out
    if spatial <= 1:
        raise ShapeError(f"instance_norm: expected more than 1 spatial element per channel "
                         f"when using input statistics, got input of shape {input.shape}")
    out = group_norm(input, c, weight, bias, eps)
    if running_mean is not None and running_var is not None:
        x = input.data.reshape(n, c, spatial).astype(mx.float32)
        mean = mx.mean(mx.mean(x, axis=-1), axis=0)
        var = mx.mean(mx.var(x, axis=-1, ddof=1), axis=0)
        m = momentum
        new_mean = (1 - m) * running_mean.data + m * mean.astype(running_mean.dtype)
        new_var = (1 - m) * running_var.data + m * var.astype(running_var.dtype)
        running_mean.data, running_var.data = new_mean, new_var
        mx.async_eval(new_mean, new_var)  # keep the lazy graph from growing across steps
    return out
