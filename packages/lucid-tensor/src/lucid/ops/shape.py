"""Shape ops: views, axis moves, joins, splits, padding, tiling and flips.

None of these change values, so every backward moves the gradient back to where each
element came from: reshape it back, apply the inverse permutation, slice it apart, or
sum the copies a broadcast or tile made. Axes may be negative; ``dim=`` is accepted
wherever ``axis=`` is.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from .._tensor import Tensor
from ..errors import ArgumentError, ArgumentTypeError, ShapeError
from ..function import op
from .axes import axis as _axis
from .axes import pick
from .indexing import getitem

__all__ = [
    "reshape", "view", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "swapaxes",
    "moveaxis", "movedim", "expand", "broadcast_to", "concatenate", "cat", "stack", "split",
    "chunk", "unbind", "pad", "repeat", "tile", "flip",
]


# ----- helpers ---------------------------------------------------------------------
def _sizes(args) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean the shape ``(2, 3)``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    if len(args) == 1 and isinstance(args[0], Tensor):
        args = args[0].tolist()
    return tuple(int(s) for s in args)


def _tensors(name: str, tensors) -> list[Tensor]:
    if isinstance(tensors, Tensor):
        raise ArgumentTypeError(f"{name}: expects a list or tuple of tensors, got one Tensor")
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ArgumentError(f"{name}: expects a non-empty list of tensors")
    return tensors


# ----- reshaping -------------------------------------------------------------------
def _infer_shape(name: str, shape: tuple, new: tuple) -> tuple:
    """Resolve one ``-1`` in ``new`` and check the element count is unchanged."""
    total = int(np.prod(shape, dtype=np.int64))
    known = int(np.prod([s for s in new if s != -1], dtype=np.int64))
    holes = sum(1 for s in new if s == -1)
    bad = holes > 1 or any(s < -1 for s in new)
    if not bad and holes == 1:
        bad = known == 0 or total % known != 0
        new = tuple(total // known if s == -1 else s for s in new) if not bad else new
    if bad or int(np.prod(new, dtype=np.int64)) != total:
        raise ShapeError(
            f"{name}: cannot reshape a tensor of shape {tuple(shape)} ({total} elements) "
            f"into {new}"
        )
    return new


@op("reshape")
def _reshape(x, shape):
    """out = x with a new shape;  dx = g reshaped back."""
    return mx.reshape(x, shape), lambda g: (mx.reshape(g, x.shape),)


def reshape(x: Tensor, *shape) -> Tensor:
    """``x.reshape(2, -1)`` or ``x.reshape((2, -1))``; one ``-1`` is inferred."""
    new = _infer_shape("reshape", x.shape, _sizes(shape))
    return x if new == x.shape else _reshape(x, new)


def view(x: Tensor, *shape) -> Tensor:
    """Same as ``reshape`` (MLX arrays have no strides to preserve)."""
    return reshape(x, *shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` (inclusive) into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    s = _axis("flatten", start_dim, x.ndim, x.shape)
    e = _axis("flatten", end_dim, x.ndim, x.shape)
    if s > e:
        raise ArgumentError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape
    return reshape(x, shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:])


def squeeze(x: Tensor, axis=None, *, dim=None) -> Tensor:
    """Drop axes of length 1 (all of them, or those named that have length 1, as PyTorch)."""
    axis = pick("squeeze", axis, dim)
    if axis is None:
        keep = tuple(n for n in x.shape if n != 1)
    else:
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        drop = {_axis("squeeze", a, x.ndim, x.shape) for a in axes}
        keep = tuple(n for i, n in enumerate(x.shape) if not (i in drop and n == 1))
    return x if keep == x.shape else _reshape(x, keep)


def unsqueeze(x: Tensor, axis=None, *, dim=None) -> Tensor:
    """Insert an axis of length 1 at ``axis`` (in ``[-ndim - 1, ndim]``)."""
    a = _axis("unsqueeze", pick("unsqueeze", axis, dim), x.ndim + 1, x.shape)
    return _reshape(x, x.shape[:a] + (1,) + x.shape[a:])


# ----- axis order ------------------------------------------------------------------
@op("permute")
def _permute(x, axes):
    """out = x with axes reordered;  dx = g with the inverse order."""
    inverse = tuple(int(i) for i in np.argsort(axes))
    return mx.transpose(x, axes), lambda g: (mx.transpose(g, inverse),)


def permute(x: Tensor, *axes) -> Tensor:
    """``x.permute(0, 2, 1)`` or ``x.permute((0, 2, 1))``: axis ``i`` of out is ``axes[i]`` of x."""
    axes = _sizes(axes)
    norm = tuple(_axis("permute", a, x.ndim, x.shape) for a in axes)
    if sorted(norm) != list(range(x.ndim)):
        raise ShapeError(f"permute: {axes} is not a permutation of the {x.ndim} axes of {x.shape}")
    return x if norm == tuple(range(x.ndim)) else _permute(x, norm)


def transpose(x: Tensor, dim0=None, dim1=None) -> Tensor:
    """Swap axes ``dim0`` and ``dim1`` (PyTorch); with none given, reverse all axes (``.T``)."""
    if dim0 is None and dim1 is None:
        return permute(x, tuple(range(x.ndim))[::-1])
    if isinstance(dim0, (tuple, list)):  # NumPy's transpose(axes)
        return permute(x, tuple(dim0))
    if dim1 is None:
        raise ArgumentTypeError("transpose: give two axes to swap, e.g. x.transpose(0, 1)")
    a = _axis("transpose", dim0, x.ndim, x.shape)
    b = _axis("transpose", dim1, x.ndim, x.shape)
    axes = list(range(x.ndim))
    axes[a], axes[b] = b, a
    return permute(x, tuple(axes))


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    return transpose(x, axis1, axis2)


def moveaxis(x: Tensor, source, destination) -> Tensor:
    """Move axes ``source`` to positions ``destination`` (ints or sequences)."""
    src = source if isinstance(source, (tuple, list)) else (source,)
    dst = destination if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise ArgumentError(
            f"moveaxis: source {source} and destination {destination} differ in length"
        )
    src = [_axis("moveaxis", a, x.ndim, x.shape) for a in src]
    dst = [_axis("moveaxis", a, x.ndim, x.shape) for a in dst]
    rest = [a for a in range(x.ndim) if a not in src]
    order = [None] * x.ndim
    for s, d in zip(src, dst, strict=True):
        order[d] = s
    it = iter(rest)
    return permute(x, tuple(a if a is not None else next(it) for a in order))


movedim = moveaxis


def _T(x: Tensor) -> Tensor:  # noqa: N802
    return transpose(x)


def _mT(x: Tensor) -> Tensor:  # noqa: N802
    if x.ndim < 2:
        raise ShapeError(f"mT: needs at least 2 dims, got shape {x.shape}")
    return transpose(x, -2, -1)


# ----- broadcasting ----------------------------------------------------------------
@op("broadcast_to")
def _broadcast(x, shape):
    """out = x repeated along broadcast axes;  dx = g summed back (done by the engine).

    An empty ``g`` gives zeros directly: summing an empty axis can hang MLX's CPU reduce.
    """
    out = mx.broadcast_to(x, shape)
    return out, lambda g: (mx.zeros(x.shape, dtype=g.dtype) if g.size == 0 else g,)


def broadcast_to(x: Tensor, *shape) -> Tensor:
    shape = _sizes(shape)
    lead = len(shape) - x.ndim
    ok = lead >= 0 and all(n in (1, s) for n, s in zip(x.shape, shape[lead:], strict=True))
    if not ok:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
    return x if shape == x.shape else _broadcast(x, shape)


def expand(x: Tensor, *sizes) -> Tensor:
    """``x.expand(4, -1, 3)``: broadcast to ``sizes``; ``-1`` keeps that axis' length."""
    sizes = _sizes(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: {sizes} has fewer dims than the tensor's shape {x.shape}")
    if any(s == -1 for s in sizes[:lead]):
        raise ShapeError(f"expand: -1 is not allowed for a new leading axis ({sizes})")
    kept = zip(x.shape, sizes[lead:], strict=True)
    shape = sizes[:lead] + tuple(n if s == -1 else s for n, s in kept)
    if any(s < 0 for s in shape):
        raise ShapeError(f"expand: negative size in {sizes}")
    return broadcast_to(x, shape)


# ----- joining ---------------------------------------------------------------------
def concatenate(tensors, axis: int | None = None, *, dim=None) -> Tensor:
    """Join tensors along an existing axis;  each input's gradient is its slice of g."""
    tensors = _tensors("concatenate", tensors)
    nd = tensors[0].ndim
    if nd == 0:
        raise ShapeError("concatenate: zero-dimensional tensors cannot be concatenated; use stack")
    a = _axis("concatenate", pick("concatenate", axis, dim, default=0), nd, tensors[0].shape)
    ref = tensors[0].shape
    for t in tensors:
        if t.ndim != nd or t.shape[:a] + t.shape[a + 1:] != ref[:a] + ref[a + 1:]:
            raise ShapeError(
                f"concatenate: shapes {[t.shape for t in tensors]} must match except along "
                f"axis {a}"
            )
    offsets = [int(o) for o in np.cumsum([t.shape[a] for t in tensors])[:-1]]
    return _concatenate(tensors, a, offsets)


@op("concatenate")
def _concatenate(arrays, axis, offsets):
    """out = the arrays joined along ``axis``;  input i's gradient is its slice of g."""
    out = mx.concatenate(arrays, axis=axis)
    return out, lambda g: (mx.split(g, offsets, axis=axis),)


def cat(tensors, dim: int | None = None, *, axis=None) -> Tensor:
    """PyTorch's name for ``concatenate`` (along ``dim``, 0 by default)."""
    return concatenate(tensors, pick("cat", axis, dim, default=0))


def stack(tensors, axis: int | None = None, *, dim=None) -> Tensor:
    """Join equal-shape tensors along a new axis;  input i's gradient is ``g`` at index i."""
    tensors = _tensors("stack", tensors)
    shape = tensors[0].shape
    if any(t.shape != shape for t in tensors):
        raise ShapeError(
            f"stack: all tensors need the same shape, got {[t.shape for t in tensors]}"
        )
    return _stack(tensors, _axis("stack", pick("stack", axis, dim, default=0), len(shape) + 1, shape))


@op("stack")
def _stack(arrays, axis):
    """out = the arrays along a new ``axis``;  input i's gradient is g at index i there."""
    out = mx.stack(arrays, axis=axis)
    pre = (slice(None),) * axis
    return out, lambda g: ([g[pre + (i,)] for i in range(len(arrays))],)


# ----- splitting -------------------------------------------------------------------
@op("slice")
def _narrow(x, axis, start, stop):
    """out = x[start:stop] along ``axis``;  dx = g padded with zeros back to x's length."""
    index = (slice(None),) * axis + (slice(start, stop),)
    widths = [(0, 0)] * x.ndim
    widths[axis] = (start, x.shape[axis] - stop)
    return x[index], lambda g: (mx.pad(g, widths),)


def _pieces(x: Tensor, axis: int, sizes) -> tuple:
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    spans = zip(bounds[:-1], bounds[1:], strict=True)
    return tuple(_narrow(x, axis, int(s), int(e)) for s, e in spans)


def split(x: Tensor, split_size_or_sections, dim: int | None = None, *, axis=None) -> tuple:
    """PyTorch's split: pieces of length ``n`` (the last may be shorter), or of the listed lengths.

    Each piece is its own output: its gradient is ``g`` padded with zeros to x's length.
    """
    a = _axis("split", pick("split", axis, dim, default=0), x.ndim, x.shape)
    n = x.shape[a]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(
                f"split: sections {sizes} must be non-negative and sum to {n}, the length of "
                f"axis {a} of shape {x.shape}"
            )
    else:
        size = int(split_size_or_sections)
        if size <= 0 and not (size == 0 and n == 0):
            raise ArgumentError(f"split: split size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    return _pieces(x, a, sizes)


def chunk(x: Tensor, chunks: int, dim: int | None = None, *, axis=None) -> tuple:
    """Split into ``chunks`` pieces of length ``ceil(n / chunks)`` (fewer if n is small)."""
    if int(chunks) <= 0:
        raise ArgumentError(f"chunk: number of chunks must be positive, got {chunks}")
    a = _axis("chunk", pick("chunk", axis, dim, default=0), x.ndim, x.shape)
    n = x.shape[a]
    size = -(-n // int(chunks))
    return split(x, max(size, 1) if n else 0, a)


def unbind(x: Tensor, dim: int | None = None, *, axis=None) -> tuple:
    """The slices ``x[i]`` along ``dim``, each without that axis."""
    a = _axis("unbind", pick("unbind", axis, dim, default=0), x.ndim, x.shape)
    shape = x.shape[:a] + x.shape[a + 1:]
    return tuple(_reshape(p, shape) for p in _pieces(x, a, [1] * x.shape[a]))


# ----- padding ---------------------------------------------------------------------
@op("pad")
def _pad_constant(x, widths, value):
    """out = x surrounded by ``value``;  dx = the middle of g."""
    out = mx.pad(x, widths, constant_values=value)
    inner = tuple(slice(b, b + n) for (b, _), n in zip(widths, x.shape, strict=True))
    return out, lambda g: (g[inner],)


def _pad_source(mode: str, n: int, before: int, after: int) -> np.ndarray:
    """For each padded position, the index of the input element it copies."""
    i = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    period = 2 * (n - 1)  # reflect about the edges, edges not repeated
    i = np.abs(i) % period if period else np.zeros_like(i)
    return np.where(i >= n, period - i, i)


@op("pad")
def _pad_gather(x, axis, source):
    """out = x[source] along ``axis``;  dx = g scatter-added back (edges get several copies)."""
    idx = mx.array(source)
    out = mx.take(x, idx, axis=axis)
    pre = (slice(None),) * axis

    def backward(g):
        return (mx.zeros(x.shape, dtype=g.dtype).at[pre + (idx,)].add(g),)

    return out, backward


def pad(x: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch's ``F.pad``: ``pad = (left, right, top, bottom, ...)`` from the last axis back.

    Modes: ``"constant"`` (with ``value``), ``"reflect"``, ``"replicate"``, ``"circular"``.
    Negative widths crop.
    """
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(
            f"pad: widths {tuple(pad)} must come in (before, after) pairs for at most "
            f"{x.ndim} axes (shape {x.shape})"
        )
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ArgumentError(
            f"pad: unknown mode {mode!r}; use constant, reflect, replicate or circular"
        )
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    if any(b < 0 or a < 0 for b, a in widths):
        pairs = zip(widths, x.shape, strict=True)
        crop = [slice(max(-b, 0), n - max(-a, 0)) for (b, a), n in pairs]
        x = getitem(x, tuple(crop))
        widths = [(max(b, 0), max(a, 0)) for b, a in widths]
    if mode == "constant":
        return _pad_constant(x, widths, value) if any(b or a for b, a in widths) else x
    for axis, (b, a) in enumerate(widths):
        if not (b or a):
            continue
        n = x.shape[axis]
        if n == 0 or (mode == "reflect" and max(b, a) >= n):
            raise ShapeError(
                f"pad: {mode} padding of ({b}, {a}) needs a longer axis {axis} than {n} "
                f"(shape {x.shape})"
            )
        x = _pad_gather(x, axis, _pad_source(mode, n, b, a))
    return x


# ----- tiling and flipping ---------------------------------------------------------
@op("repeat")
def _tile(x, reps):
    """out = x tiled ``reps`` times per axis;  dx = sum of g over the copies."""
    out = mx.tile(x, reps)
    shape = (1,) * (len(reps) - x.ndim) + x.shape

    def backward(g):
        if g.size == 0:  # as in broadcast_to: no reduction over an empty axis
            return (mx.zeros(x.shape, dtype=g.dtype),)
        split_shape = [d for r, s in zip(reps, shape, strict=True) for d in (r, s)]
        summed = mx.sum(g.reshape(split_shape), axis=tuple(range(0, 2 * len(reps), 2)))
        return (summed.reshape(x.shape),)

    return out, backward


def repeat(x: Tensor, *sizes) -> Tensor:
    """PyTorch's ``Tensor.repeat`` (NumPy's ``tile``): copy x ``sizes[i]`` times along axis i."""
    sizes = _sizes(sizes)
    if any(s < 0 for s in sizes):
        raise ShapeError(f"repeat: negative repeat count in {sizes}")
    reps = (1,) * (x.ndim - len(sizes)) + sizes
    return x if all(r == 1 for r in reps) and len(reps) == x.ndim else _tile(x, reps)


tile = repeat


@op("flip")
def _flip(x, axes):
    """out = x reversed along ``axes``;  dx = g reversed the same way."""
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))
    return x[index], lambda g: (g[index],)


def flip(x: Tensor, *axes, dims=None, dim=None, axis=None) -> Tensor:
    """Reverse the order of elements along some axes (all if none are given).

    ``x.flip(0, 2)``, ``x.flip((0, 2))``, ``flip(x, dims=(0, 2))``; ``dim=``/``axis=`` too.
    """
    for given in (dims, dim, axis):
        if not axes and given is not None:
            axes = given
    if isinstance(axes, int):
        axes = (axes,)
    elif len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    if not axes:
        axes = tuple(range(x.ndim))
    norm = {_axis("flip", d, x.ndim, x.shape) for d in axes}
    return _flip(x, norm) if x.ndim else x


def _contiguous(x: Tensor) -> Tensor:
    """MLX arrays have no strides a user must fix; the tensor itself."""
    return x


TENSOR_METHODS = {
    "reshape": reshape, "view": view, "flatten": flatten, "squeeze": squeeze,
    "unsqueeze": unsqueeze, "transpose": transpose, "permute": permute, "swapaxes": swapaxes,
    "moveaxis": moveaxis, "movedim": movedim, "expand": expand, "broadcast_to": broadcast_to,
    "split": split, "chunk": chunk, "unbind": unbind, "repeat": repeat, "tile": tile,
    "flip": flip, "contiguous": _contiguous,
    "T": property(_T), "mT": property(_mT),
}
