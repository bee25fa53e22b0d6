"""Batch normalisation as one op with a closed-form backward.

Per channel c, over the N elements of the batch and spatial axes, with a shift ``k``
(the mean of the channel's first row, so that ``x - k`` is of the order of the spread):

    mean = sum(x) / N,   var = sum((x - k)^2) / N - (mean - k)^2   (biased)
    r = 1 / sqrt(var + eps),   scale = w r,   y = (x - mean) * scale + b

The two sums are independent, so on the CPU they run at the same time on two streams;
``(x - k)^2`` and ``(x - mean) * scale + b`` are fused elementwise kernels (``mx.compile``):
three passes over ``x`` in all. Backward, with ``xhat = (x - mean) r``, ``sg = sum(g)``
and ``sgx = sum(g * xhat)`` per channel (again two concurrent sums):

    db = sg,   dw = sgx,   dx = scale * (g - sg / N - xhat * sgx / N)
                              = g * scale - (x - mean) * kx - scale * sg / N

with ``kx = scale * r * sgx / N``: one fused pass. ``x - mean`` is formed inside the fused
kernels, never as ``x * kx - mean * kx``, which would cancel when the mean dwarfs the spread.
With running statistics, mean and r are constants and dx = scale * g.
Arrays of rank 3 or more are processed channel-major, ``(C, N, *)``, which is free for convolution outputs (stored that way) and gives outputs
and gradients in that layout, so the convolutions around need no copies. The running
estimates use the unbiased variance ``var * N / (N - 1)``, as PyTorch does.
"""

from __future__ import annotations

import mlx.core as mx
from lucid.errors import ShapeError
from lucid.function import op
from lucid.tensor import Tensor

_sq_dev = mx.compile(lambda x, k: mx.square(x - k))
_affine_map = mx.compile(lambda x, a, b: x * a + b)
_g_dev = mx.compile(lambda g, x, m: g * (x - m))
_norm_map = mx.compile(lambda x, m, a, b: (x - m) * a + b)
_dx_map = mx.compile(lambda g, x, m, a, kx, c: g * a - (x - m) * kx - c)


@mx.compile
def _batch_stats(s1, s2, k, w, inv_n, eps):
    """Per-channel mean, var, r and scale from sum(x) and sum((x - k)^2)."""
    mean = s1 * inv_n
    var = mx.maximum(s2 * inv_n - mx.square(mean - k), 0.0)
    r = mx.rsqrt(var + eps)
    return mean, var, r, r * w


@mx.compile
def _grad_terms(sg, sgd, r, scale, inv_n):
    """``sgx = sum(g * xhat)`` from ``sgd = sum(g * (x - mean))``; ``kx`` and ``c`` of
    dx = g * scale - (x - mean) * kx - c."""
    sgx = sgd * r
    return sgx, scale * r * sgx * inv_n, scale * sg * inv_n


_ONE, _ZERO = mx.array(1.0), mx.array(0.0)
_HALF = (mx.float16, mx.bfloat16)
_side = {}


def _wide(a):
    """Half-precision arrays as float32, so that long sums neither overflow nor drift."""
    return a.astype(mx.float32) if a.dtype in _HALF else a


def _plain_sum(a, stream=None):
    """Per-channel sum of a framed array in any layout: per-row sums over the trailing axes,
    then a sum of those (two levels keep float32 rounding down on long channels)."""
    a = _wide(a)
    if a.ndim < 3:
        return mx.sum(a, axis=0, keepdims=True, stream=stream).astype(mx.float32)
    rows = mx.sum(a, axis=tuple(range(2, a.ndim)), stream=stream)
    return rows.astype(mx.float32).sum(axis=1, stream=stream).reshape((-1,) + (1,) * (a.ndim - 1))


def _side_stream():
    """A second stream on the current device, so that two reductions run concurrently."""
    dev = mx.default_device()
    if dev != mx.cpu:
        return None
    if "cpu" not in _side:
        _side["cpu"] = mx.new_stream(mx.cpu)
    return _side["cpu"]


def _frame(x):
    """``x`` as channel-first ``(C, N, *)`` when it has spatial axes; reduction axes."""
    if x.ndim >= 3:
        return x.swapaxes(0, 1), tuple(range(1, x.ndim))
    return x, (0,)


def _unframe(y, ndim):
    return y.swapaxes(0, 1) if ndim >= 3 else y


def _vec(v, ndim):
    """A per-channel vector of length C shaped to broadcast against the framed array."""
    return v.reshape((-1,) + (1,) * (ndim - 1)) if ndim >= 3 else v.reshape(1, -1)


@op("batch_norm")
def _batch_norm_train(x, weight, bias, eps=1e-5, stats=None):
    """Normalise with the batch's statistics; ``stats`` receives ``mean`` and ``var``."""
    nd, dt = x.ndim, x.dtype
    xf = _frame(x)[0]
    n = x.size // x.shape[1]
    side = _side_stream()
    # k: the mean of a channel's first row, near the channel's mean
    k = mx.mean(xf[:, 0:1], axis=tuple(range(2, nd)), keepdims=True) if nd >= 3 else xf[0:1]
    s1 = _plain_sum(xf, side)
    s2 = _plain_sum(_sq_dev(xf, k))
    w = _ONE if weight is None else _vec(weight, nd).astype(mx.float32)
    b = _ZERO if bias is None else _vec(bias, nd).astype(mx.float32)
    mean, var, r, scale = _batch_stats(s1, s2, k.astype(mx.float32), w,
                                       mx.array(1.0 / n), mx.array(eps))
    out = _norm_map(xf, mean.astype(dt), scale.astype(dt), b.astype(dt))
    if stats is not None:
        stats["mean"], stats["var"] = mean.reshape(-1), var.reshape(-1)

    def backward(g):
        gf = _frame(g)[0]
        sg = _plain_sum(gf, _side_stream())
        sgd = _plain_sum(_g_dev(gf, xf, mean.astype(dt)))
        sgx, kx, c = _grad_terms(sg, sgd, r, scale, mx.array(1.0 / n))
        dx = _dx_map(gf, xf, mean.astype(dt), scale.astype(dt), kx.astype(dt), c.astype(dt))
        dw = sgx.reshape(-1) if weight is not None else None
        db = sg.reshape(-1) if bias is not None else None
        return _unframe(dx, nd), dw, db

    return _unframe(out, nd), backward


@op("batch_norm")
def _batch_norm_eval(x, weight, bias, running_mean=None, running_var=None, eps=1e-5):
    """Normalise with fixed statistics: an affine map per channel."""
    nd, dt = x.ndim, x.dtype
    xf, axes = _frame(x)
    mean = _vec(running_mean, nd).astype(mx.float32)
    r = mx.rsqrt(_vec(running_var, nd).astype(mx.float32) + eps)
    scale = r if weight is None else r * _vec(weight, nd).astype(mx.float32)
    shift = -mean * scale
    if bias is not None:
        shift = shift + _vec(bias, nd).astype(mx.float32)
    out = _affine_map(xf, scale.astype(dt), shift.astype(dt))

    def backward(g):
        gf = _frame(g)[0]
        dx = gf * scale.astype(dt)
        dw = db = None
        if weight is not None:
            dw = (_plain_sum(_g_dev(gf, xf, mean.astype(dt))) * r).reshape(-1)
        if bias is not None:
            db = mx.sum(gf, axis=axes, stream=_side_stream())
        return _unframe(dx, nd), dw, db

    return _unframe(out, nd), backward


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over axis 1 of ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``.

    ``training=True`` (or no running statistics) normalises with the batch's statistics and,
    when running statistics are given, updates them in place without recording a graph:
    ``running = (1 - momentum) * running + momentum * batch_stat``.
    """
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: input must be (N, C, *), got shape {input.shape}")
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t.shape != (c,):
            raise ShapeError(f"batch_norm: {name} has shape {t.shape}, expected ({c},) for "
                             f"input of shape {input.shape}")
    if not training and running_mean is not None and running_var is not None:
        return _batch_norm_eval(input, weight, bias, running_mean=running_mean.data,
                                running_var=running_var.data, eps=eps)
    n = input.numel() // max(c, 1)
    if n <= 1:
        raise ShapeError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {input.shape}")
    stats = {}
    out = _batch_norm_train(input, weight, bias, eps=eps, stats=stats)
    if training and running_mean is not None and running_var is not None:
        m = momentum
        mean, var = stats["mean"], stats["var"] * (n / (n - 1))
        new_mean = (1 - m) * running_mean.data + m * mean.astype(running_mean.dtype)
        new_var = (1 - m) * running_var.data + m * var.astype(running_var.dtype)
        running_mean.data, running_var.data = new_mean, new_var
        mx.async_eval(new_mean, new_var)  # keep the lazy graph from growing across steps
    return out
