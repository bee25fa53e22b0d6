"""``scatter`` and ``scatter_add``: the writes that ``gather`` reads, along one axis.

For ``dim=0`` (and likewise for the other axes), at every position ``(i, j)`` of ``index``:

    scatter:      out[index[i][j]][j]  = src[i][j]      (out starts as a copy of x)
    scatter_add:  out[index[i][j]][j] += src[i][j]

``index`` has x's number of axes and is no longer than ``src`` on any axis, nor than x on
the axes other than ``dim``; only the part of ``src`` that ``index`` covers is read.
As in PyTorch, where ``scatter`` writes one position twice the value kept is unspecified.

Gradients (PyTorch's):  scatter:      dx = g with the written positions zeroed,
                                      dsrc = gather(g, dim, index)
                        scatter_add:  dx = g,  dsrc = gather(g, dim, index)
(``dsrc`` is zero where ``index`` does not reach.)
"""

from __future__ import annotations

import mlx.core as mx

from .._tensor import Tensor
from ..errors import ArgumentTypeError, DTypeError, ShapeError
from ..function import op
from .axes import axis as _axis
from .indexing import _bounds, _check_range, _int_index
from .inplace import _apply

__all__ = ["scatter", "scatter_add"]


def _coords(index: mx.array, dim: int) -> tuple:
    """For each axis, the coordinate written at each position of ``index``."""
    nd = index.ndim
    return tuple(
        index if d == dim else mx.arange(n).reshape([n if j == d else 1 for j in range(nd)])
        for d, n in enumerate(index.shape)
    )


def _covered(a: mx.array, index: mx.array) -> mx.array:
    """The leading block of ``a`` with ``index``'s shape."""
    return a[tuple(slice(0, n) for n in index.shape)]


def _gather_back(g, dim, index, src):
    """dsrc: g read at the written positions, zero where index does not reach."""
    part = tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))
    picked = mx.take_along_axis(g[part], index, axis=dim)
    widths = [(0, s - n) for s, n in zip(src.shape, index.shape, strict=True)]
    return mx.pad(picked, widths).astype(src.dtype)


@op("scatter")
def _scatter(x, dim, index, src):
    """out = x with out[coords] = src;  dx = g zeroed there, dsrc = gather(g, dim, index)."""
    coords = _coords(index, dim)
    out = mx.array(x)
    if index.size:
        value = _covered(src, index) if isinstance(src, mx.array) else mx.array(src, x.dtype)
        out[coords] = mx.broadcast_to(value.astype(x.dtype), index.shape)

    def backward(g):
        dx = mx.array(g)
        if index.size:
            dx[coords] = mx.zeros(index.shape, g.dtype)
        dsrc = _gather_back(g, dim, index, src) if isinstance(src, mx.array) else None
        return dx, None, None, dsrc

    return out, backward


@op("scatter_add")
def _scatter_add(x, dim, index, src):
    """out = x + src added at coords;  dx = g, dsrc = gather(g, dim, index)."""
    out = x
    if index.size:
        out = x.at[_coords(index, dim)].add(_covered(src, index).astype(x.dtype))
    return out, lambda g: (g, None, None, _gather_back(g, dim, index, src))


def _check(name: str, x: Tensor, dim, index, src):
    """The checked axis and index tensor (shapes, dtypes, bounds as PyTorch)."""
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
    idx = _int_index(name, index)
    if x.ndim == 0 and idx.ndim == 0:
        idx = idx.reshape(1)
    d = _axis(name, dim, x.ndim, x.shape)
    nd = max(x.ndim, 1)
    if idx.ndim != nd:
        raise ShapeError(
            f"{name}: index of shape {tuple(idx.shape)} must have as many dims as the input "
            f"of shape {x.shape}"
        )
    if isinstance(src, Tensor):
        if src.ndim != idx.ndim and not (src.ndim == 0 and idx.ndim == 1 and src.numel() == 1):
            raise ShapeError(
                f"{name}: src of shape {src.shape} must have as many dims as index of shape "
                f"{tuple(idx.shape)}"
            )
        if src.dtype != x.dtype:
            raise DTypeError(
                f"{name}: src dtype {src.dtype_name} differs from the input's {x.dtype_name} "
                f"(shapes {src.shape} and {x.shape}); cast one of them first"
            )
        src_shape = src.shape if src.ndim else (1,)
        if any(i > s for i, s in zip(idx.shape, src_shape, strict=True)):
            raise ShapeError(
                f"{name}: index of shape {tuple(idx.shape)} is longer than src of shape "
                f"{src.shape} on some axis"
            )
    x_shape = x.shape if x.ndim else (1,)
    if any(i > n for a, (i, n) in enumerate(zip(idx.shape, x_shape, strict=True)) if a != d):
        raise ShapeError(
            f"{name}: index of shape {tuple(idx.shape)} is longer than the input of shape "
            f"{x.shape} on an axis other than dim {d}"
        )
    if idx.size:
        _check_range(name, *_bounds(idx), d, x_shape)
    return d, Tensor._wrap(idx.astype(mx.int64) if idx.dtype != mx.int64 else idx, x.device)


def _flat(x: Tensor, src):
    """0-d input and src act as 1-element vectors (as PyTorch), reshaped back by the caller."""
    x1 = x.reshape(1) if x.ndim == 0 else x
    if isinstance(src, Tensor) and src.ndim == 0:
        src = src.reshape(1)
    return x1, src


def scatter(x: Tensor, dim: int, index, src=None, *, value=None) -> Tensor:
    """A copy of x with ``src`` (a tensor, or a number) written at ``index`` along ``dim``."""
    if src is None:
        src = value
    if src is None:
        raise ArgumentTypeError("scatter: give src (a tensor) or value (a number)")
    if not isinstance(src, Tensor) and not isinstance(src, (int, float, bool)):
        src = Tensor(src, device=x.device)
    d, idx = _check("scatter", x, dim, index, src)
    x1, src1 = _flat(x, src)
    out = _scatter(x1, d, idx, src1)
    return out.reshape(()) if x.ndim == 0 else out


def scatter_add(x: Tensor, dim: int, index, src) -> Tensor:
    """A copy of x with ``src`` added at ``index`` along ``dim`` (repeats accumulate)."""
    if not isinstance(src, Tensor):
        src = Tensor(src, device=x.device)
    d, idx = _check("scatter_add", x, dim, index, src)
    x1, src1 = _flat(x, src)
    out = _scatter_add(x1, d, idx, src1)
    return out.reshape(()) if x.ndim == 0 else out


def scatter_(x: Tensor, dim: int, index, src=None, *, value=None) -> Tensor:
    """In-place ``scatter``."""
    return _apply(x, "scatter_", lambda: scatter(x, dim, index, src, value=value))


def scatter_add_(x: Tensor, dim: int, index, src) -> Tensor:
    """In-place ``scatter_add``."""
    return _apply(x, "scatter_add_", lambda: scatter_add(x, dim, index, src))


TENSOR_METHODS = {
    "scatter": scatter, "scatter_add": scatter_add, "scatter_": scatter_,
    "scatter_add_": scatter_add_,
}
