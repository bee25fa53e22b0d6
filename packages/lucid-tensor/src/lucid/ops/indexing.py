"""Indexing: ``x[index]`` and its write counterpart ``assign``, ``gather``,
``take``/``index_select``, ``masked_fill`` and ``nonzero``.

``x[index]`` follows PyTorch, which is NumPy's advanced indexing except that integers
select first (see ``_torch_order``). Negative integers count from the end everywhere.

Reading elements is a gather, so every backward is a scatter-add of ``g`` into zeros of
the input's shape: an element read twice (a repeated index) receives both gradients.
MLX checks no bounds and has no boolean indexing; ``normalize_index`` does both: it
checks every integer against its axis and turns a boolean mask into the integer arrays
of its ``True`` positions (which reads the mask's values).
"""

from __future__ import annotations

import operator

import mlx.core as mx
import numpy as np

from .._tensor import Tensor
from ..errors import DTypeError, LucidIndexError, ShapeError
from ..function import op
from .axes import axis as _axis

__all__ = ["getitem", "gather", "take", "index_select", "masked_fill", "nonzero"]

_INT_KINDS = "iu"


# ----- turning a user's index into one MLX understands -----------------------------
def _as_index_array(item, name: str):
    """A Tensor / array / list index as ``(np or mx array, is_mask)``; None if not one."""
    if isinstance(item, Tensor):
        item = item._data
    if isinstance(item, list):
        item = np.asarray(item) if item else np.zeros((0,), dtype=np.int64)
    if isinstance(item, np.ndarray):
        kind = item.dtype.kind
    elif isinstance(item, mx.array):
        kind = "b" if item.dtype == mx.bool_ else ("i" if mx.issubdtype(item.dtype, mx.integer)
                                                 else "f")
    else:
        return None
    if kind not in _INT_KINDS + "b":
        raise LucidIndexError(
            f"{name}: indices must be integers or booleans, got an array of dtype {item.dtype}"
        )
    return item, kind == "b"


def _check_range(name: str, lo: int, hi: int, axis: int, shape: tuple) -> None:
    n = shape[axis]
    for v in (lo, hi):
        if not -n <= v < n:
            raise LucidIndexError(
                f"{name}: index {v} is out of range for axis {axis} of size {n} "
                f"(tensor shape {tuple(shape)})"
            )


def _bounds(a) -> tuple[int, int]:
    """Smallest and largest entry of a non-empty integer array (evaluates an MLX one)."""
    if isinstance(a, np.ndarray):
        return int(a.min()), int(a.max())
    lo, hi = mx.stack([mx.min(a), mx.max(a)]).tolist()
    return int(lo), int(hi)


def normalize_index(index, shape, name: str = "indexing") -> tuple:
    """``index`` as a tuple MLX can use for ``x[...]``, checked against ``shape``.

    Tensors and lists become arrays, boolean masks become the integer arrays of their
    nonzero positions, ``...`` is expanded into full slices, and every integer (scalar
    or array entry) is checked to lie in ``[-n, n)`` for its axis.
    """
    shape = tuple(shape)
    items = list(index) if isinstance(index, tuple) else [index]
    parsed = []  # (kind, value): kind in "int", "slice", "none", "ellipsis", "array", "mask"
    for item in items:
        arr = _as_index_array(item, name)
        if arr is not None:
            parsed.append(("mask" if arr[1] else "array", arr[0]))
        elif item is None:
            parsed.append(("none", None))
        elif item is Ellipsis:
            parsed.append(("ellipsis", None))
        elif isinstance(item, slice):
            parts = [None if p is None else operator.index(p)
                     for p in (item.start, item.stop, item.step)]
            parsed.append(("slice", slice(*parts)))
        elif isinstance(item, (bool, np.bool_)):
            raise LucidIndexError(f"{name}: a bare True/False is not a supported index")
        else:
            try:
                parsed.append(("int", operator.index(item)))
            except TypeError:
                raise LucidIndexError(
                    f"{name}: unsupported index {item!r} of type {type(item).__name__}; use "
                    "ints, slices, None, ..., integer arrays or boolean masks"
                ) from None
    if sum(k == "ellipsis" for k, _ in parsed) > 1:
        raise LucidIndexError(f"{name}: an index can only have a single ellipsis ('...')")
    used = sum(v.ndim if k == "mask" else (k in ("int", "slice", "array")) for k, v in parsed)
    if used > len(shape):
        raise LucidIndexError(
            f"{name}: too many indices ({used}) for a tensor of {len(shape)} dims "
            f"(shape {shape})"
        )
    out, axis = [], 0
    for kind, v in parsed:
        if kind == "none":
            out.append(None)
        elif kind == "ellipsis":
            fill = len(shape) - used
            out += [slice(None)] * fill
            axis += fill
        elif kind == "slice":
            out.append(v)
            axis += 1
        elif kind == "int":
            _check_range(name, v, v, axis, shape)
            out.append(v)
            axis += 1
        elif kind == "array" and v.ndim == 0:  # a 0-d integer tensor acts as an int
            v = int(v.item())
            _check_range(name, v, v, axis, shape)
            out.append(v)
            axis += 1
        elif kind == "array":
            if v.size:
                _check_range(name, *_bounds(v), axis, shape)
            out.append(mx.array(v) if isinstance(v, np.ndarray) else v)
            axis += 1
        else:  # a boolean mask covers v.ndim axes: it becomes their nonzero positions
            mask = np.asarray(v)
            if mask.shape != shape[axis:axis + mask.ndim]:
                raise LucidIndexError(
                    f"{name}: boolean mask of shape {mask.shape} does not match axes "
                    f"{axis}..{axis + mask.ndim - 1} of the tensor's shape {shape}"
                )
            if mask.ndim == 0:
                raise LucidIndexError(f"{name}: a 0-d boolean mask is not a supported index")
            out += [mx.array(ix) for ix in np.nonzero(mask)]
            axis += mask.ndim
    return tuple(out)


# ----- x[index] --------------------------------------------------------------------
def _torch_order(index: tuple):
    """The permutation turning NumPy's result layout into PyTorch's, or None if they agree.

    PyTorch applies integers first, as plain selections; NumPy counts them among the
    advanced indices. The two differ when the arrays are adjacent once the integers are
    removed, but an integer is separated from them: NumPy puts the broadcast axes first,
    PyTorch where the arrays stand (e.g. ``x[1, :, [0, 4]]``: (2, n) vs (n, 2)).
    """
    arrays = [i for i, v in enumerate(index) if isinstance(v, mx.array)]
    ints = [i for i, v in enumerate(index) if isinstance(v, int)]
    if not arrays or not ints:
        return None
    group = sorted(arrays + ints)
    if group[-1] - group[0] + 1 == len(group):
        return None  # NumPy keeps them in place, as PyTorch does
    reduced = [v for v in index if not isinstance(v, int)]
    pos = [i for i, v in enumerate(reduced) if isinstance(v, mx.array)]
    if pos[-1] - pos[0] + 1 != len(pos) or pos[0] == 0:
        return None  # both put the broadcast axes first
    k = len(mx.broadcast_shapes(*(index[i].shape for i in arrays)))
    p = pos[0]  # slices and new axes before the arrays: one output axis each
    return list(range(k, k + p)) + list(range(k))


def _write_index(shape: tuple, index: tuple, values: mx.array):
    """An index and values for writing into an array of ``shape`` where ``x[index]`` reads.

    MLX's scatter (``a[i] = v``, ``a.at[i].add(v)``) does not follow NumPy's layout when
    new axes or integers mix with arrays, so those cases are rewritten: ``None`` is
    dropped from basic indices (its axis removed from ``values``), integers next to arrays
    become 0-d arrays, and with both arrays and new axes the index becomes one coordinate
    array per axis, read from the coordinate grids with the original index.
    """
    if not any(isinstance(i, mx.array) for i in index):
        basic = tuple(i for i in index if i is not None)
        if len(basic) != len(index):
            values = values.reshape(mx.broadcast_to(mx.array(0, values.dtype), shape)[basic].shape)
        return basic, values
    if not any(i is None for i in index):
        return tuple(mx.array(i) if isinstance(i, int) else i for i in index), values
    coords = tuple(
        mx.broadcast_to(mx.arange(n).reshape([n if j == d else 1 for j in range(len(shape))]),
                        shape)[index]
        for d, n in enumerate(shape)
    )
    return coords, values


def _scatter_add(shape: tuple, index: tuple, g: mx.array) -> mx.array:
    """zeros(shape) with ``g`` added at ``index`` (the adjoint of ``x[index]``)."""
    zeros = mx.zeros(shape, dtype=g.dtype)
    if g.size == 0 or zeros.size == 0:
        return zeros
    where, g = _write_index(shape, index, g)
    if not any(isinstance(i, mx.array) for i in where):
        zeros[where] = g  # basic indexing reads each element once: assigning is adding
        return zeros
    return zeros.at[where].add(g)


def _full_perm(perm: list, ndim: int) -> list:
    return perm + list(range(len(perm), ndim))


@op("getitem")
def _getitem(x, *, index, perm=None):
    """out = x[index];  dx = zeros with g scatter-added at index."""
    out = x[index]
    if perm is None:
        return out, lambda g: (_scatter_add(x.shape, index, g),)
    order = _full_perm(perm, out.ndim)
    inverse = [int(i) for i in np.argsort(order)]
    return mx.transpose(out, order), lambda g: (
        _scatter_add(x.shape, index, mx.transpose(g, inverse)),
    )


def getitem(x: Tensor, index) -> Tensor:
    """``x[index]`` as PyTorch: ints, slices, None, ..., integer arrays and boolean masks."""
    index = normalize_index(index, x.shape, "getitem")
    return _getitem(x, index=index, perm=_torch_order(index))


def assign(data: mx.array, index, value) -> mx.array:
    """A copy of ``data`` with ``data[index] = value``, in PyTorch's layout (no gradient)."""
    index = normalize_index(index, data.shape, "setitem")
    value = value._data if isinstance(value, Tensor) else mx.array(value)
    target = mx.broadcast_to(mx.array(0, data.dtype), data.shape)[index].shape
    perm = _torch_order(index)
    if perm is not None:
        order = _full_perm(perm, len(target))
        value = mx.broadcast_to(value, [target[i] for i in order])
        value = mx.transpose(value, [int(i) for i in np.argsort(order)])
    try:
        value = mx.broadcast_to(value.astype(data.dtype), target)
    except ValueError:
        raise ShapeError(
            f"setitem: value of shape {tuple(value.shape)} does not broadcast to the indexed "
            f"shape {tuple(target)}"
        ) from None
    out = mx.array(data)
    if value.size:
        where, value = _write_index(data.shape, index, value)
        out[where] = value
    return out


# ----- gather / take / index_select ------------------------------------------------
def _int_index(name: str, index) -> mx.array:
    a = index._data if isinstance(index, Tensor) else index
    if not isinstance(a, mx.array):
        a = np.asarray(a)
        a = mx.array(a.astype(np.int64) if a.size == 0 else a)
    if not mx.issubdtype(a.dtype, mx.integer):
        raise DTypeError(f"{name}: index must be an integer tensor, got dtype {a.dtype}")
    return a


@op("gather")
def _gather(x, dim, index):
    """out[..i_d..] = x[..index[..i_d..]..] along ``dim``;  dx = g scatter-added there."""
    part = tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(index.shape))
    out = mx.take_along_axis(x[part], index, axis=dim)

    def backward(g):
        nd = index.ndim
        coords = tuple(
            index if d == dim else mx.arange(n).reshape([n if j == d else 1 for j in range(nd)])
            for d, n in enumerate(index.shape)
        )
        return (mx.zeros(x.shape, dtype=g.dtype).at[coords].add(g),)

    return out, backward


def gather(x: Tensor, dim: int, index) -> Tensor:
    """PyTorch's gather: ``out[i][j] = x[index[i][j]][j]`` for ``dim=0`` (and so on).

    ``index`` has x's number of dims and is no longer than x along the other axes.
    """
    idx = _int_index("gather", index)
    dim = _axis("gather", dim, x.ndim, x.shape)
    if idx.ndim != x.ndim or any(
        i > n for d, (i, n) in enumerate(zip(idx.shape, x.shape, strict=True)) if d != dim
    ):
        raise ShapeError(
            f"gather: index of shape {tuple(idx.shape)} does not fit input of shape {x.shape} "
            f"along dim {dim} (same number of dims, no longer on the other axes)"
        )
    if idx.size:
        _check_range("gather", *_bounds(idx), dim, x.shape)
    return _gather(x, dim, index if isinstance(index, Tensor) else Tensor._wrap(idx, x.device))


@op("take")
def _take(x, index, axis):
    """out = x.take(index, axis);  dx = g scatter-added at index along ``axis``."""
    if axis is None:
        out = mx.take(x.reshape(-1), index)
        return out, lambda g: (
            mx.zeros((x.size,), dtype=g.dtype).at[index.reshape(-1)].add(g.reshape(-1))
            .reshape(x.shape),
        )
    pre = (slice(None),) * axis
    out = mx.take(x, index, axis=axis)
    return out, lambda g: (mx.zeros(x.shape, dtype=g.dtype).at[pre + (index,)].add(g),)


def take(x: Tensor, index, axis: int | None = None) -> Tensor:
    """Elements at ``index`` along ``axis``; with no axis, of the flattened tensor."""
    idx = _int_index("take", index)
    if axis is None:
        if idx.size:
            _check_range("take", *_bounds(idx), 0, (x.numel(),))
    else:
        axis = _axis("take", axis, x.ndim, x.shape)
        if idx.size:
            _check_range("take", *_bounds(idx), axis, x.shape)
    return _take(x, Tensor._wrap(idx, x.device), axis)


def index_select(x: Tensor, dim: int, index) -> Tensor:
    """The slices ``x[..., index[k], ...]`` along ``dim``, for a 1-D integer ``index``."""
    idx = _int_index("index_select", index)
    if idx.ndim > 1:
        raise ShapeError(f"index_select: index must be 1-D, got shape {tuple(idx.shape)}")
    dim = _axis("index_select", dim, x.ndim, x.shape)
    if idx.size:
        _check_range("index_select", *_bounds(idx), dim, x.shape)
    return _take(x, Tensor._wrap(idx.reshape(-1), x.device), dim)


# ----- masks -----------------------------------------------------------------------
@op("masked_fill")
def _masked_fill(x, mask, value):
    """out = value where mask else x;  dx = g where not mask, dvalue = sum of g where mask."""
    fill = value.astype(x.dtype) if isinstance(value, mx.array) else mx.array(value, x.dtype)
    out = mx.where(mask, fill, x)
    return out, lambda g: (mx.where(mask, 0, g), None, mx.where(mask, g, 0))


def masked_fill(x: Tensor, mask, value) -> Tensor:
    """``x`` with ``value`` wherever the boolean ``mask`` (broadcast to x) is True."""
    m = mask if isinstance(mask, Tensor) else Tensor(mask)
    if m.dtype != mx.bool_:
        raise DTypeError(f"masked_fill: mask must be a bool tensor, got {m.dtype_name}")
    try:
        mx.broadcast_shapes(m.shape, x.shape)
    except ValueError:
        raise ShapeError(
            f"masked_fill: mask of shape {m.shape} does not broadcast to the tensor's shape "
            f"{x.shape}"
        ) from None
    return _masked_fill(x, m, value)


def nonzero(x: Tensor, as_tuple: bool = False):
    """Positions of the nonzero entries: an ``(n, ndim)`` int64 tensor, or one per axis."""
    where = np.nonzero(np.asarray(x.numpy()).reshape(x.shape or (1,)))
    if as_tuple:
        return tuple(Tensor._wrap(mx.array(w.astype(np.int64)), x.device) for w in where)
    stacked = np.stack(where, axis=1).astype(np.int64) if where else np.zeros((0, 0), np.int64)
    return Tensor._wrap(mx.array(stacked), x.device)


TENSOR_METHODS = {
    "__getitem__": getitem, "gather": gather, "take": take, "index_select": index_select,
    "masked_fill": masked_fill, "nonzero": nonzero,
}
