"""Adaptive max pooling of ``(N, C, H, W)``: output ``(u, v)`` is the maximum over rows
``[floor(u H / Ho), ceil((u + 1) H / Ho))`` and the same columns; the windows may overlap."""

from __future__ import annotations

import math

import mlx.core as mx

from ...errors import ShapeError
from ...function import op


def _adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows ``[floor(i n / o), ceil((i + 1) n / o))``."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


def _adaptive_argmax(x, rows, cols):
    """Maximum of each adaptive window and its flat position ``h * W + w``: the maximum of
    a rectangle is the maximum over its rows of the row maxima, so ``Ho + Wo`` reductions
    suffice. Ties go to the first maximum in row-major order, as in PyTorch."""
    w = x.shape[-1]
    vals, args = [], []
    for s, e in cols:
        seg = x[..., s:e]
        vals.append(mx.max(seg, axis=-1))
        args.append(mx.argmax(seg, axis=-1).astype(mx.int64) + s)
    col_max, col_arg = mx.stack(vals, -1), mx.stack(args, -1)  # (..., H, Wo)
    vals, args = [], []
    for s, e in rows:
        seg = col_max[..., s:e, :]
        vals.append(mx.max(seg, axis=-2))
        args.append(mx.argmax(seg, axis=-2).astype(mx.int64) + s)
    out, row = mx.stack(vals, -2), mx.stack(args, -2)  # (..., Ho, Wo)
    return out, row * w + mx.take_along_axis(col_arg, row, axis=-2)


@op("adaptive_max_pool2d")
def _adaptive_max_pool2d(x, rows, cols):
    """out = max over each window;  dx = g scatter-added to each window's argmax (windows
    may overlap, so one input can collect several gradients)."""
    out, flat = _adaptive_argmax(x, rows, cols)

    def backward(g):
        lead, hw = math.prod(x.shape[:-2]), x.shape[-2] * x.shape[-1]
        base = (mx.arange(lead, dtype=mx.int64) * hw).reshape(lead, 1)
        index = (flat.reshape(lead, -1) + base).reshape(-1)
        dx = mx.zeros((lead * hw,), dtype=g.dtype).at[index].add(g.reshape(-1))
        return (dx.reshape(x.shape),)

    return out, backward


@op("adaptive_max_pool2d")
def _adaptive_max_pool2d_indices(x, rows, cols):
    return _adaptive_argmax(x, rows, cols)[1], None


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling of ``(N, C, H, W)`` (or ``(C, H, W)``) to ``output_size`` (an int or
    ``(Ho, Wo)``, ``None`` keeping that size); output ``(u, v)`` is the maximum over rows
    ``[floor(u H / Ho), ceil((u + 1) H / Ho))`` and the same columns. ``return_indices``
    also gives each maximum's flat position ``h * W + w``."""
    if input.ndim not in (3, 4):
        raise ShapeError(f"adaptive_max_pool2d: expected a 4-D input (N, C, H, W) or 3-D, got "
                         f"shape {input.shape}")
    h, w = input.shape[-2:]
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    ho, wo = (h if size[0] is None else int(size[0])), (w if size[1] is None else int(size[1]))
    if min(ho, wo, h, w) < 1:
        raise ShapeError(f"adaptive_max_pool2d: output size {(ho, wo)} and input size "
                         f"{(h, w)} must be positive (input shape {input.shape})")
    rows, cols = _adaptive_windows(h, ho), _adaptive_windows(w, wo)
    out = _adaptive_max_pool2d(input, rows, cols)
    return (out, _adaptive_max_pool2d_indices(input, rows, cols)) if return_indices else out


__all__ = ["adaptive_max_pool2d"]
TENSOR_METHODS: dict = {}
