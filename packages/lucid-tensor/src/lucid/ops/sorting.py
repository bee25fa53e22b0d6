"""Sorting and selection along one axis: ``sort``, ``argsort``, ``topk``, ``kthvalue``,
``median``.

Each finds the indices first (no gradient), then reads the values at them with
``reduction.select``: out = x at the indices;  dx = g put back at those positions.
The indices are int64 and the results PyTorch's named tuples (``lucid.return_types``).

Order: every sort here is stable, so equal elements keep their order (ascending or
descending), which is ``torch.sort(..., stable=True)``; NaN sorts above +inf, as in
PyTorch. Where torch's ``topk``/``kthvalue`` pick among ties by an unspecified rule, the
values agree and Lucid's indices are the ones this stable order gives.
"""

from __future__ import annotations

import mlx.core as mx

from .. import dtypes as _dt
from .._tensor import Tensor
from ..errors import ArgumentTypeError, LucidIndexError, ShapeError
from ..function import op, run_on
from . import axes as _axes
from . import return_types
from .reduction import one_axis, select


def _reverse(a: mx.array, axis: int) -> mx.array:
    return a[(slice(None),) * axis + (slice(None, None, -1),)]


def _first(a: mx.array, axis: int, start: int, stop: int) -> mx.array:
    return a[(slice(None),) * axis + (slice(start, stop),)]


def _order(x: mx.array, axis: int, descending: bool) -> mx.array:
    """Stable argsort of x along ``axis``. Descending: the ascending order of x reversed
    along the axis, read backwards and mapped back, so ties keep their original order."""
    if not descending:
        return mx.argsort(x, axis=axis)
    n = x.shape[axis]
    return (n - 1) - _reverse(mx.argsort(_reverse(x, axis), axis=axis), axis)


def _along(name, x, dim, axis):
    """(x as at least 1-d, its int axis, whether x was 0-d) for ``dim``/``axis`` (default -1)."""
    a = _axes.one(name, _axes.pick(name, axis, dim, default=-1), x.shape)
    return (x.reshape(1), 0, True) if a is None else (x, a, False)


def _rank(name: str, k, lo: int, hi: int, axis: int, shape) -> None:
    """Check that ``k`` is an int in ``[lo, hi]``."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise ArgumentTypeError(f"{name}: k must be an int, got {k!r} ({type(k).__name__})")
    if not lo <= k <= hi:
        raise LucidIndexError(
            f"{name}: k={k} is out of range for axis {axis} of a tensor of shape "
            f"{tuple(shape)} ({lo} <= k <= {hi})"
        )


def sort(x, dim=None, descending=False, *, stable=True, axis=None):
    """``(values, indices)`` of x sorted along ``dim`` (default the last axis).

    Always stable (``stable=`` is accepted for PyTorch's signature). dx = g put back at
    each value's original position.
    """
    x, axis, scalar = _along("sort", x, dim, axis)
    index = run_on(x.device, _order, x._data, axis, descending)
    return select("sort", x, index, axis, not scalar, return_types.sort)


def argsort(x, dim=None, descending=False, *, stable=True, axis=None):
    """Indices that sort x along ``dim`` (default the last axis): int64, stable."""
    x, axis, scalar = _along("argsort", x, dim, axis)
    index = run_on(x.device, _order, x._data, axis, descending).astype(mx.int64)
    return Tensor._wrap(index.reshape(()) if scalar else index, x.device)


def topk(x, k, dim=None, largest=True, sorted=True, *, axis=None):  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements
    along ``dim`` (default the last axis), in sorted order (also for ``sorted=False``,
    for which PyTorch allows any order). Ties: the lower index first."""
    x, axis, scalar = _along("topk", x, dim, axis)
    n = x.shape[axis]
    _rank("topk", k, 0, n, axis, x.shape if not scalar else ())
    index = run_on(x.device, _order, x._data, axis, largest)
    index = _first(index, axis, 0, 1 if scalar else k)
    return select("topk", x, index, axis, not scalar, return_types.topk)


def kthvalue(x, k, dim=None, keepdim=False, *, axis=None):
    """``(values, indices)`` of the k-th smallest element (k from 1) along ``dim``
    (default the last axis); NaN counts as the largest. Ties: the index a stable sort
    puts at position k."""
    dim = _axes.pick("kthvalue", axis, dim, default=-1)
    x, axis, keepdim = one_axis("kthvalue", x, dim, None, keepdim, None)
    _rank("kthvalue", k, 1, x.shape[axis], axis, x.shape)
    index = _first(run_on(x.device, _order, x._data, axis, False), axis, k - 1, k)
    return select("kthvalue", x, index, axis, keepdim, return_types.kthvalue)


def _median_index(x: mx.array, axis: int) -> mx.array:
    """Index of the lower median along ``axis`` (kept), or of the first NaN if there is one."""
    n = x.shape[axis]
    index = _first(mx.argsort(x, axis=axis), axis, (n - 1) // 2, (n + 1) // 2)
    if not _dt.is_floating(x.dtype) or x.size == 0:
        return index
    nan = mx.isnan(x)
    first_nan = mx.argmax(nan, axis=axis, keepdims=True)
    return mx.where(mx.any(nan, axis=axis, keepdims=True), first_nan, index)


@op("median")
def _median_all(x, index):
    """out = x.flat[index];  dx = g split evenly between the elements equal to out (the
    NaNs when out is NaN), as PyTorch's full median."""
    m = x.reshape(-1)[index].reshape(())

    def backward(g):
        hit = (x == m) | (mx.isnan(x) & mx.isnan(m))
        return (mx.where(hit, g / mx.sum(hit), 0),)

    return m, backward


def median(x, dim=None, keepdim=False, *, axis=None):
    """The lower median, the ((n - 1) // 2)-th smallest of n from 0 (not the mean of the
    two middle values); NaN when the values hold a NaN, as PyTorch.

    ``median(x)``: a 0-d tensor; dx = g split evenly between the elements equal to it.
    ``median(x, dim)``: ``(values, indices)``; dx = g at the selected element.
    """
    dim = _axes.pick("median", axis, dim)
    if dim is not None:
        x, axis, keepdim = one_axis("median", x, dim, None, keepdim, None)
        index = run_on(x.device, _median_index, x._data, axis)
        return select("median", x, index, axis, keepdim, return_types.median)
    if x.numel() == 0:
        raise ShapeError(f"median: a tensor of shape {tuple(x.shape)} is empty: it has no median")
    index = run_on(x.device, _median_index, x._data.reshape(-1), 0)
    return _median_all(x, index)


__all__ = ["sort", "argsort", "topk", "kthvalue", "median"]

TENSOR_METHODS = {name: globals()[name] for name in __all__}
