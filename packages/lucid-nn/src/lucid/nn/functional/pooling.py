"""Pooling over ``(N, C, H, W)``: the engine's ops under PyTorch's functional names; the
1-D pools run them on images of height 1; adaptive max pooling is written here."""

from __future__ import annotations

import math

import lucid
import mlx.core as mx
from lucid.errors import ShapeError
from lucid.function import op


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over each window; ``stride`` defaults to ``kernel_size``."""
    kwargs = {"return_indices": True} if return_indices else {}
    return lucid.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, **kwargs)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over each window (padding zeros counted unless ``count_include_pad=False``)."""
    kwargs = {"divisor_override": divisor_override} if divisor_override is not None else {}
    return lucid.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                            **kwargs)


def adaptive_avg_pool2d(input, output_size):
    """Mean pooling to a fixed ``output_size`` (an int, or ``(H, W)`` with ``None`` = keep)."""
    return lucid.adaptive_avg_pool2d(input, output_size)


def _one(value, what: str, name: str) -> int:
    """``3`` or ``(3,)`` -> 3."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ShapeError(f"{name}: {what} must be an int or a 1-tuple, got {value!r}")
        value = value[0]
    return int(value)


def _check_1d(name, input):
    if input.ndim not in (2, 3):
        raise ShapeError(f"{name}: expected a 3-D input (N, C, L) or 2-D (C, L), got shape "
                         f"{input.shape}")


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Maximum over windows along the last axis of ``(N, C, L)``: ``max_pool2d`` on images
    of height 1 (``return_indices`` gives positions along L)."""
    _check_1d("max_pool1d", input)
    k = _one(kernel_size, "kernel_size", "max_pool1d")
    s = k if stride is None or stride == () else _one(stride, "stride", "max_pool1d")
    p, d = _one(padding, "padding", "max_pool1d"), _one(dilation, "dilation", "max_pool1d")
    out = lucid.max_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, p), (1, d), ceil_mode,
                           **({"return_indices": True} if return_indices else {}))
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Mean over windows along the last axis of ``(N, C, L)``: ``avg_pool2d`` on images
    of height 1."""
    _check_1d("avg_pool1d", input)
    k = _one(kernel_size, "kernel_size", "avg_pool1d")
    s = k if stride is None or stride == () else _one(stride, "stride", "avg_pool1d")
    p = _one(padding, "padding", "avg_pool1d")
    return lucid.avg_pool2d(input.unsqueeze(-2), (1, k), (1, s), (0, p), ceil_mode,
                            count_include_pad).squeeze(-2)


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
