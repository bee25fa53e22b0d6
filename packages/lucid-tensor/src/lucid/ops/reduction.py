"""Reductions (sum, mean, var, max, norm, ...) and the axis-wise softmax family.

Axes follow NumPy: ``axis=`` is an int, a tuple of ints or None (every axis), negative
values count from the end, and ``keepdims=True`` keeps reduced axes with length 1.
PyTorch's ``dim=`` and ``keepdim=`` are accepted as aliases, and the axis may be passed
positionally: ``lucid.sum(x, 1)``, ``x.sum(1)``.

Gradients of a reduction are the upstream gradient broadcast back over the reduced axes
(times the local derivative).

``max``/``min`` follow PyTorch: over one axis (``x.max(1)``, ``lucid.max(x, dim=1)``) they
return the named tuple ``(values, indices)``; the index is the first extreme (a NaN counts
as the extreme, as in PyTorch), the gradient reaches that element alone, and the indices
are int64 with no gradient. With no axis, or a tuple of axes (a Lucid extension), they
return the values only and, like ``torch.amax``, split the gradient evenly between ties.
``var``/``std`` divide by ``n - 1`` unless told otherwise (PyTorch's ``correction=1``).
"""

from __future__ import annotations

import math

import mlx.core as mx

from .. import dtypes as _dt
from .._tensor import Tensor
from ..errors import ArgumentError, DTypeError, ShapeError
from ..function import op, run_on
from . import axes as _axes
from . import elementwise, return_types

_INTEGER = (mx.bool_, mx.int8, mx.int16, mx.int32, mx.uint8, mx.uint16, mx.uint32)


# ----- axis handling ----------------------------------------------------------------
def _aliases(name, axis, dim, keepdims, keepdim):
    """Merge the NumPy spellings (``axis=``, ``keepdims=``) with PyTorch's aliases."""
    return _axes.pick(name, axis, dim), bool(keepdims if keepdim is None else keepdim)


def _count(shape, axes) -> int:
    return math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)


def _expand(g: mx.array, shape, axes, keepdims: bool) -> mx.array:
    """Broadcast the gradient of a reduction back to the input's ``shape``."""
    if not keepdims:
        g = mx.expand_dims(g, axes if axes is not None else list(range(len(shape))))
    return mx.broadcast_to(g, shape)


def _keep(out: mx.array, axes, keepdims: bool) -> mx.array:
    return out if keepdims else mx.squeeze(out, axes)


def _reduction(name, impl):
    """A function ``f(x, axis=None, keepdims=False, *, dim=None, keepdim=None, **kw)``."""

    def fn(x, axis=None, keepdims=False, *, dim=None, keepdim=None, **kwargs):
        axis, keepdims = _aliases(name, axis, dim, keepdims, keepdim)
        return impl(x, axis=axis, keepdims=keepdims, **kwargs)

    fn.__name__ = name
    fn.__doc__ = impl.__doc__
    return fn


# ----- sums and moments -------------------------------------------------------------
@op("sum")
def _sum(x, axis=None, keepdims=False, dtype=None):
    """out = sum of x over ``axis``;  dx = g broadcast back.

    Integer and bool inputs sum to int64, as in PyTorch.
    """
    axes = _axes.axes("sum", axis, x.shape)
    if dtype is not None:
        x = x.astype(_dt.to_dtype(dtype))
    elif x.dtype in _INTEGER:
        x = x.astype(mx.int64)
    out = mx.sum(x, axis=axes, keepdims=keepdims)
    return out, lambda g: (_expand(g, x.shape, axes, keepdims),)


@op("mean")
def _mean(x, axis=None, keepdims=False):
    """out = sum(x) / n;  dx = g / n broadcast back. Empty reductions give nan.

    Integer inputs give float32 means (PyTorch refuses them).
    """
    axes = _axes.axes("mean", axis, x.shape)
    out = mx.mean(x, axis=axes, keepdims=keepdims)
    n = _count(x.shape, axes)
    return out, lambda g: (_expand(g * (1.0 / n if n else math.nan), x.shape, axes, keepdims),)


def _ddof(name, ddof, unbiased, correction) -> float:
    given = [v for v in (ddof, unbiased, correction) if v is not None]
    if len(given) > 1:
        raise ArgumentError(f"{name}: give only one of ddof=, unbiased=, correction=")
    if unbiased is not None:
        return 1 if unbiased else 0
    return given[0] if given else 1


def _moments(name, x, axis, keepdims, ddof):
    """(sum of squared deviations / (n - ddof), deviations, n - ddof)."""
    axes = _axes.axes(name, axis, x.shape)
    d = x - mx.mean(x, axis=axes, keepdims=True)
    denom = _count(x.shape, axes) - ddof
    ss = mx.sum(mx.square(d), axis=axes, keepdims=keepdims)
    var = ss / denom if denom > 0 else ss * math.inf  # 0 / 0 -> nan, as PyTorch
    return var, d, denom, axes


@op("var")
def _var(x, axis=None, keepdims=False, ddof=0):
    """out = sum((x - mean)^2) / (n - ddof);  dx = g 2 (x - mean) / (n - ddof)."""
    out, d, denom, axes = _moments("var", x, axis, keepdims, ddof)
    scale = 2.0 / denom if denom > 0 else math.nan
    return out, lambda g: (_expand(g * scale, x.shape, axes, keepdims) * d,)


@op("std")
def _std(x, axis=None, keepdims=False, ddof=0):
    """out = sqrt(var);  dx = g (x - mean) / ((n - ddof) out), 0 where out = 0 (as PyTorch)."""
    var, d, denom, axes = _moments("std", x, axis, keepdims, ddof)
    out = mx.sqrt(var)
    scale = 1.0 / denom if denom > 0 else math.nan

    def backward(g):
        safe = mx.where(out == 0, math.inf, out)
        return (_expand(g * scale / safe, x.shape, axes, keepdims) * d,)

    return out, backward


def var(x, axis=None, keepdims=False, *, ddof=None, unbiased=None, correction=None,
        dim=None, keepdim=None):
    """Variance over ``axis`` (all elements when None): sum((x - mean)^2) / (n - c).

    ``c`` is PyTorch's ``correction``, 1 by default (the unbiased sample variance, as
    ``torch.var``; NumPy's default is 0). ``correction=k``, ``unbiased=True/False`` (1/0)
    or NumPy's ``ddof=k`` set it; give at most one. n - c <= 0 gives nan (inf for a
    nonzero sum), as in PyTorch. BatchNorm-style normalisation wants ``correction=0``.
    """
    axis, keepdims = _aliases("var", axis, dim, keepdims, keepdim)
    return _var(x, axis=axis, keepdims=keepdims, ddof=_ddof("var", ddof, unbiased, correction))


def std(x, axis=None, keepdims=False, *, ddof=None, unbiased=None, correction=None,
        dim=None, keepdim=None):
    """Standard deviation, ``sqrt(var(...))``, with the same arguments as ``var``."""
    axis, keepdims = _aliases("std", axis, dim, keepdims, keepdim)
    return _std(x, axis=axis, keepdims=keepdims, ddof=_ddof("std", ddof, unbiased, correction))


@op("prod")
def _prod(x, axis=None, keepdims=False):
    """out = product over ``axis``;  dx = g * (product of the other elements).

    The product of the others is an exclusive cumulative product from both sides, so
    zeros in x are handled exactly.
    """
    axes = _axes.axes("prod", axis, x.shape)
    if x.dtype in _INTEGER:
        x = x.astype(mx.int64)
    out = mx.prod(x, axis=axes, keepdims=keepdims)

    def backward(g):
        red = tuple(range(x.ndim)) if axes is None else axes
        rest = [a for a in range(x.ndim) if a not in red]
        perm = rest + list(red)
        xt = mx.transpose(x, perm).reshape(*[x.shape[a] for a in rest], -1)
        others = mx.cumprod(xt, axis=-1, inclusive=False) * mx.cumprod(
            xt, axis=-1, reverse=True, inclusive=False
        )
        others = others.reshape([x.shape[a] for a in perm])
        inverse = [perm.index(a) for a in range(x.ndim)]
        return (_expand(g, x.shape, axes, keepdims) * mx.transpose(others, inverse),)

    return out, backward


sum = _reduction("sum", _sum)  # noqa: A001 - PyTorch's name
mean = _reduction("mean", _mean)
prod = _reduction("prod", _prod)


# ----- extremes ---------------------------------------------------------------------
def _extreme(name, mx_fn):
    @op(name)
    def forward(x, axis=None, keepdims=False):
        """Largest (smallest) value over ``axis``; values only.

        dx = g / k at the k positions that attain the extreme (``torch.amax`` semantics).
        """
        axes = _axes.axes(name, axis, x.shape)
        if x.size == 0:
            raise ShapeError(f"{name}: reduction of an empty tensor (shape {x.shape}) has no value")
        kept = mx_fn(x, axis=axes, keepdims=True)

        def backward(g):
            hit = x == kept
            share = _expand(g, x.shape, axes, keepdims) / mx.sum(hit, axis=axes, keepdims=True)
            return (mx.where(hit, share, 0),)

        return _keep(kept, axes, keepdims), backward

    return forward


_amax, _amin = _extreme("max", mx.max), _extreme("min", mx.min)
amax = _reduction("amax", _amax)
amin = _reduction("amin", _amin)


def _picker(name):
    @op(name)
    def forward(x, index, axis, keepdims):
        """out = x at ``index`` along ``axis``;  dx = g put back at those positions, 0 elsewhere.

        ``index`` has x's number of dims and no repeated entry along ``axis``.
        """
        out = mx.take_along_axis(x, index, axis=axis)

        def backward(g):
            g = g if keepdims else mx.expand_dims(g, axis)
            return (mx.put_along_axis(mx.zeros(x.shape, g.dtype), index, g, axis=axis),)

        return (out if keepdims else mx.squeeze(out, axis)), backward

    return forward


_PICKERS = {}


def select(name, x, index, axis, keepdims, result):
    """``result(values, indices)``: x's elements at ``index`` (an MLX integer array with
    x's number of dims) along one ``axis``; the values carry the gradient, the int64
    indices none. ``axis``/``keepdims`` as in the reductions."""
    if name not in _PICKERS:
        _PICKERS[name] = _picker(name)
    values = _PICKERS[name](x, index, axis, keepdims)
    index = index if keepdims else mx.squeeze(index, axis)
    return result(values, Tensor._wrap(index.astype(mx.int64), x.device))


def one_axis(name, x, axis, dim, keepdims, keepdim):
    """(x, axis, keepdims) for an op along one axis; a 0-d x becomes 1-d (its results
    are 0-d again), and an empty axis is an error."""
    axis, keepdims = _aliases(name, axis, dim, keepdims, keepdim)
    axis = _axes.one(name, axis, x.shape)
    if axis is None:  # a 0-d tensor
        return x.reshape(1), 0, False
    if x.shape[axis] == 0:
        raise ShapeError(
            f"{name}: axis {axis} of a tensor of shape {tuple(x.shape)} is empty: "
            "there is nothing to select along it"
        )
    return x, axis, keepdims


def _extreme_along(name, mx_arg, x, axis, keepdims, dim, keepdim):
    x, axis, keepdims = one_axis(name, x, axis, dim, keepdims, keepdim)
    kept = tuple(1 if a == axis else n for a, n in enumerate(x.shape))
    if x.numel() == 0:  # MLX refuses argmax of any empty array
        index = mx.zeros(kept, mx.uint32)
    else:
        index = run_on(x.device, mx_arg, x._data, axis=axis, keepdims=True)
    return select(name, x, index, axis, keepdims, getattr(return_types, name))


def max(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """Largest value: ``(values, indices)`` over one axis, the value alone otherwise.

    ``x.max(1)`` -> ``return_types.max(values, indices)`` as in PyTorch: the index of the
    first maximum (a NaN, if any), int64; dx = g at that element only. ``x.max()`` or a
    tuple of axes -> values only, the gradient split between ties (``torch.amax``).
    ``max(x, other_tensor)`` is ``maximum(x, other)``, as in PyTorch.
    """
    if isinstance(axis, Tensor):
        return elementwise.maximum(x, axis)
    if isinstance(dim if dim is not None else axis, (type(None), tuple, list)):
        return amax(x, axis, keepdims, dim=dim, keepdim=keepdim)
    return _extreme_along("max", mx.argmax, x, axis, keepdims, dim, keepdim)


def min(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """Smallest value: ``(values, indices)`` over one axis, the value alone otherwise
    (the mirror of ``max``)."""
    if isinstance(axis, Tensor):
        return elementwise.minimum(x, axis)
    if isinstance(dim if dim is not None else axis, (type(None), tuple, list)):
        return amin(x, axis, keepdims, dim=dim, keepdim=keepdim)
    return _extreme_along("min", mx.argmin, x, axis, keepdims, dim, keepdim)


def _arg(name, mx_fn):
    @op(name)
    def forward(x, axis=None, keepdims=False):
        """Index of the first extreme value over one ``axis`` (flattened when None), int64."""
        axis = _axes.one(name, axis, x.shape)
        if x.size == 0:
            raise ShapeError(f"{name}: empty tensor (shape {x.shape}) has no extreme")
        return mx_fn(x, axis=axis, keepdims=keepdims).astype(mx.int64), None

    return _reduction(name, forward)


argmax = _arg("argmax", mx.argmax)
argmin = _arg("argmin", mx.argmin)


# ----- logic ------------------------------------------------------------------------
@op("all")
def _all(x, axis=None, keepdims=False):
    """True where every element over ``axis`` is nonzero."""
    return mx.all(x, axis=_axes.axes("all", axis, x.shape), keepdims=keepdims), None


@op("any")
def _any(x, axis=None, keepdims=False):
    """True where some element over ``axis`` is nonzero."""
    return mx.any(x, axis=_axes.axes("any", axis, x.shape), keepdims=keepdims), None


all = _reduction("all", _all)  # noqa: A001
any = _reduction("any", _any)  # noqa: A001


# ----- norms ------------------------------------------------------------------------
@op("norm")
def _norm(x, p=2, axis=None, keepdims=False):
    """Vector p-norm over ``axis`` (all elements when None): (sum |x|^p)^(1/p).

    p = 2: dx = g x / out (0 where out = 0);  p = 1: dx = g sign(x);
    p = inf / -inf: max / min of |x|, gradient split between ties;  other p > 0:
    dx = g x |x|^(p-2) / out^(p-1).
    """
    axes = _axes.axes("norm", axis, x.shape)
    if not _dt.is_floating(x.dtype):
        raise DTypeError(f"norm: needs a floating-point tensor, got {_dt.name(x.dtype)}")
    if p == "fro":
        p = 2
    if not isinstance(p, (int, float)) or p <= 0 and p != -math.inf:
        raise ArgumentError(f"norm: p must be a positive number, inf, -inf or 'fro', got {p!r}")
    expand = lambda a: _expand(a, x.shape, axes, keepdims)  # noqa: E731
    if p == 2:
        out = mx.sqrt(mx.sum(mx.square(x), axis=axes, keepdims=keepdims))
        safe = mx.where(out == 0, math.inf, out)
        return out, lambda g: (expand(g / safe) * x,)
    if p == 1:
        return mx.sum(mx.abs(x), axis=axes, keepdims=keepdims), lambda g: (
            expand(g) * mx.sign(x),
        )
    if p in (math.inf, -math.inf):
        a = mx.abs(x)
        kept = (mx.max if p > 0 else mx.min)(a, axis=axes, keepdims=True)

        def backward(g):
            hit = a == kept
            share = expand(g) / mx.sum(hit, axis=axes, keepdims=True)
            return (mx.where(hit, share * mx.sign(x), 0),)

        return _keep(kept, axes, keepdims), backward
    a = mx.abs(x)
    out = mx.power(mx.sum(mx.power(a, p), axis=axes, keepdims=keepdims), 1.0 / p)

    def backward(g):
        safe = mx.where(out == 0, math.inf, out)
        return (expand(g / mx.power(safe, p - 1)) * x * mx.power(a, p - 2),)

    return out, backward


def norm(x, p=2, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Vector p-norm over ``axis`` (default: all elements; ``p=2``)."""
    axis, keepdims = _aliases("norm", axis, dim, keepdims, keepdim)
    return _norm(x, p=p, axis=axis, keepdims=keepdims)


# ----- along one axis ---------------------------------------------------------------
def _one_axis(name, axis, dim, shape, default=None):
    return _axes.one(name, _axes.pick(name, axis, dim, default), shape)


@op("logsumexp")
def _logsumexp(x, axis=None, keepdims=False):
    """out = log sum e^x, computed as m + log sum e^(x - m);  dx = g e^(x - out)."""
    axes = _axes.axes("logsumexp", axis, x.shape)
    out = mx.logsumexp(x, axis=axes, keepdims=keepdims)

    def backward(g):
        kept = out if keepdims else mx.expand_dims(out, list(range(x.ndim)) if axes is None else axes)
        return (_expand(g, x.shape, axes, keepdims) * mx.exp(x - kept),)

    return out, backward


logsumexp = _reduction("logsumexp", _logsumexp)


@op("softmax")
def _softmax(x, axis=-1):
    """y = e^x / sum e^x (max-shifted);  dx = y (g - sum(g y))."""
    if not _dt.is_floating(x.dtype):
        raise DTypeError(f"softmax: needs a floating-point tensor, got {_dt.name(x.dtype)}")
    y = mx.softmax(x, axis=axis)
    return y, lambda g: (y * (g - mx.sum(g * y, axis=axis, keepdims=True)),)


@op("log_softmax")
def _log_softmax(x, axis=-1):
    """out = x - logsumexp(x);  dx = g - softmax(x) sum(g)."""
    if not _dt.is_floating(x.dtype):
        raise DTypeError(f"log_softmax: needs a floating-point tensor, got {_dt.name(x.dtype)}")
    out = x - mx.logsumexp(x, axis=axis, keepdims=True)
    return out, lambda g: (g - mx.exp(out) * mx.sum(g, axis=axis, keepdims=True),)


def softmax(x, axis=None, *, dim=None):
    """Softmax along ``axis`` (default the last one)."""
    return _softmax(x, axis=_one_axis("softmax", axis, dim, x.shape, default=-1))


def log_softmax(x, axis=None, *, dim=None):
    """log(softmax(x)) along ``axis`` (default the last), computed stably."""
    return _log_softmax(x, axis=_one_axis("log_softmax", axis, dim, x.shape, default=-1))


@op("cumsum")
def _cumsum(x, axis=None):
    """out_i = sum_{j <= i} x_j along ``axis`` (flattened when None);  dx = reverse cumsum of g."""
    shape = x.shape
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    if x.dtype in _INTEGER:
        x = x.astype(mx.int64)
    out = mx.cumsum(x, axis=axis)
    if not shape:  # a 0-d tensor stays 0-d, as in PyTorch
        out = out.reshape(())
    flat = x.shape
    return out, lambda g: (mx.cumsum(g.reshape(flat), axis=axis, reverse=True).reshape(shape),)


def cumsum(x, axis=None, *, dim=None):
    """Running sum along ``axis`` (``dim=`` as PyTorch; None flattens, as NumPy)."""
    return _cumsum(x, axis=_one_axis("cumsum", axis, dim, x.shape))


__all__ = [
    "sum", "mean", "var", "std", "prod", "max", "min", "amax", "amin", "argmax", "argmin",
    "all", "any", "norm", "logsumexp", "softmax", "log_softmax", "cumsum", "return_types",
]

TENSOR_METHODS = {name: globals()[name] for name in __all__ if name != "return_types"}
