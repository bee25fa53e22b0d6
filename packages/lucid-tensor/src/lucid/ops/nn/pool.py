"""Pooling over ``(H, W)`` windows of NCHW images: max, average, adaptive average.

All run on ``(C, N, H, W)`` storage like the convolutions (see ``_windows.py``), and their
backwards are one col2im: the gradient of window ``(u, v)``'s output is sent to the
taps that produced it (the argmax for max pooling, every tap divided by the window size
for average pooling).

On the CPU in float32, when Lucid's native kernels are built (``lucid._native``), max and
average pooling of 4-D inputs without ``ceil_mode`` run oneDNN's pooling forward and
backward instead; ``_native_pooling`` makes that choice, in one place.
"""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np

from ... import _native
from ..._tensor import Tensor
from ...errors import ArgumentTypeError, LucidError, ShapeError
from ...function import op
from ._windows import col2im, im2col, pad_or_crop, pair


def _pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size; with ``ceil_mode`` a last window must start inside."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_args(name, x, kernel_size, stride, padding, dilation, ceil_mode):
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{name}: input must be a lucid Tensor, got {type(x).__name__}")
    if x.ndim not in (3, 4):
        raise ShapeError(f"{name}: expected a 4-D input (N, C, H, W) or 3-D (C, H, W), "
                         f"got shape {x.shape}")
    kernel = pair(kernel_size, "kernel_size", name)
    stride = kernel if stride is None or stride == () else pair(stride, "stride", name)
    padding, dilation = pair(padding, "padding", name), pair(dilation, "dilation", name)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ShapeError(f"{name}: kernel_size {kernel}, stride {stride} and dilation "
                         f"{dilation} must be >= 1")
    for p, k in zip(padding, kernel, strict=True):
        if not 0 <= p <= k // 2:  # as PyTorch
            raise ShapeError(f"{name}: padding {padding} must be >= 0 and at most half of the "
                             f"kernel {kernel}")
    h, w = x.shape[-2:]
    out = tuple(_pool_out(*axis, ceil_mode)
                for axis in zip((h, w), kernel, stride, padding, dilation, strict=True))
    if min(out) < 1:
        raise ShapeError(f"{name}: kernel {kernel} is larger than the padded input "
                         f"({h + 2 * padding[0]}, {w + 2 * padding[1]}); input shape {x.shape}")
    # pad so the last window fits exactly (ceil mode may read past the usual padding)
    bottom = (out[0] - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1 - h - padding[0]
    right = (out[1] - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1 - w - padding[1]
    pads = (padding[0], bottom, padding[1], right)
    return kernel, stride, pads, dilation, out


def _native_pooling(x, ceil_mode):
    """The native module when it runs this pooling (CPU, float32, 4-D, no ceil mode)."""
    if ceil_mode or x.ndim != 4 or not x.numel() or x.device != "cpu":
        return None
    return _native.for_cpu_float32(x._data)


def _native_pool2d(x, alg, kernel, stride, padding, dilation, lib=None):
    """oneDNN pooling (``alg``: 0 max, 1 average with padding, 2 over real pixels only)."""
    pads = (padding[0], padding[0], padding[1], padding[1])
    out, workspace = lib.pool2d(x, alg, kernel, stride, pads, dilation)
    in_hw = tuple(x.shape[2:])

    def backward(g):
        return (lib.pool2d_backward(g, workspace, alg, in_hw, kernel, stride, pads, dilation),)

    return out, backward


_NATIVE_OPS = {name: op(name)(_native_pool2d) for name in ("max_pool2d", "avg_pool2d")}


def _try_native(name, x, alg, kernel, stride, padding, dilation, ceil_mode):
    """The native pooling's output, or None when it does not apply (the MLX-ops path runs)."""
    lib = _native_pooling(x, ceil_mode)
    if lib is None:
        return None
    try:
        return _NATIVE_OPS[name](x, alg, kernel, stride, pair(padding, "padding", name),
                                 dilation, lib=lib)
    except LucidError:  # a configuration oneDNN does not take
        return None


def _channel_major(x):
    """``(N, C, H, W)`` or ``(C, H, W)`` -> ``(C, N, H, W)`` view."""
    return x.transpose(1, 0, 2, 3) if x.ndim == 4 else x[:, None]


def _back_to(img, ndim):
    """Inverse of ``_channel_major``."""
    return img.transpose(1, 0, 2, 3) if ndim == 4 else img[:, 0]


def _windows(xc, kernel, stride, pads, dilation, out_hw):
    """Windows of ``xc`` ``(C, N, H, W)`` as ``(C, kh * kw, N * Ho * Wo)``, padded with the
    dtype's lowest value."""
    c, n = xc.shape[:2]
    if mx.issubdtype(xc.dtype, mx.floating):
        lowest = -math.inf
    else:
        lowest = int(np.iinfo(np.dtype(str(xc.dtype).removeprefix("mlx.core."))).min)
    cols = im2col(xc, kernel, stride, dilation, pads, out_hw, value=lowest)
    return cols.reshape(c, kernel[0] * kernel[1], n * out_hw[0] * out_hw[1])


@op("max_pool2d")
def _max_pool2d(x, kernel, stride, pads, dilation, out_hw):
    xc = _channel_major(x)
    c, n, h, w = xc.shape
    (kh, kw), (ho, wo) = kernel, out_hw
    cols = _windows(xc, kernel, stride, pads, dilation, out_hw)
    out = mx.max(cols, axis=1).reshape(c, n, ho, wo)

    def backward(g):
        if cols.size == 0:  # MLX cannot argmax an empty array
            return (mx.zeros(x.shape, g.dtype),)
        arg = mx.argmax(cols, axis=1, keepdims=True)  # first maximum, as PyTorch picks
        gc = _channel_major(g).reshape(c, 1, n * ho * wo)
        taps = mx.arange(kh * kw, dtype=arg.dtype).reshape(1, kh * kw, 1)
        dcols = mx.where(arg == taps, gc, mx.array(0, g.dtype))
        dcols = dcols.reshape(c, kh, kw, n, ho, wo)
        return (_back_to(col2im(dcols, (h, w), stride, dilation, (pads[0], pads[2])), x.ndim),)

    return _back_to(out, x.ndim), backward


@op("max_pool2d")
def _max_pool2d_indices(x, kernel, stride, pads, dilation, out_hw):
    """Flat ``h * W + w`` position of each window's maximum, as PyTorch's ``return_indices``."""
    xc = _channel_major(x)
    c, n, h, w = xc.shape
    (ho, wo), kw = out_hw, kernel[1]
    windows = _windows(xc, kernel, stride, pads, dilation, out_hw)
    tap = mx.argmax(windows, axis=1) if windows.size else mx.zeros((c, n * ho * wo), mx.int64)
    tap = tap.astype(mx.int64).reshape(c, n, ho, wo)
    rows = mx.arange(ho).reshape(ho, 1) * stride[0] + (tap // kw) * dilation[0] - pads[0]
    cols = mx.arange(wo) * stride[1] + (tap % kw) * dilation[1] - pads[2]
    return _back_to(rows * w + cols, x.ndim), None


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``out[n, c, u, v] = max_{i, j} x_pad[n, c, s u + d i, s v + d j]`` (pad = -inf).

    The gradient goes to the first maximum of each window (row-major), as in PyTorch.
    ``return_indices=True`` also returns each maximum's flat position ``h * W + w``.
    """
    args = _pool_args("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    out = None if return_indices else _try_native("max_pool2d", x, 0, args[0], args[1], padding,
                                                  args[3], ceil_mode)
    if out is not None:
        return out
    out = _max_pool2d(x, *args)
    return (out, _max_pool2d_indices(x, *args)) if return_indices else out


@op("avg_pool2d")
def _avg_pool2d(x, kernel, stride, pads, out_hw, inv_count):
    xc = _channel_major(x)
    c, n, h, w = xc.shape
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, out_hw
    xp = pad_or_crop(xc, *pads)
    total = None
    for i in range(kh):
        for j in range(kw):
            tap = xp[:, :, i: i + sh * (ho - 1) + 1: sh, j: j + sw * (wo - 1) + 1: sw]
            total = tap if total is None else total + tap
    inv = mx.array(inv_count, dtype=x.dtype)
    out = total * inv

    def backward(g):
        share = _channel_major(g) * inv
        dcols = mx.broadcast_to(share[:, None, None], (c, kh, kw, n, ho, wo))
        return (_back_to(col2im(dcols, (h, w), stride, (1, 1), (pads[0], pads[2])), x.ndim),)

    return _back_to(out, x.ndim), backward


def _window_counts(size, k, s, p, out, include_pad):
    """How many elements each window along one axis averages over (PyTorch's rule)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if not include_pad:
        start, end = np.maximum(start, 0), np.minimum(end, size)
    return end - start


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None) -> Tensor:
    """``out[n, c, u, v] = (1 / count) sum_{i, j} x_pad[n, c, s u + i, s v + j]`` (pad = 0).

    ``count`` is ``kh * kw`` (windows clipped to the padded input), the number of real
    pixels when ``count_include_pad=False``, or ``divisor_override``.
    """
    kernel, stride, pads, _, out = _pool_args("avg_pool2d", x, kernel_size, stride, padding, 1,
                                              ceil_mode)
    if not divisor_override:
        alg = 1 if count_include_pad else 2
        native = _try_native("avg_pool2d", x, alg, kernel, stride, padding, (1, 1), ceil_mode)
        if native is not None:
            return native
    if divisor_override:
        inv = np.full(out, 1.0 / divisor_override)
    else:
        h, w = x.shape[-2:]
        ch = _window_counts(h, kernel[0], stride[0], pads[0], out[0], count_include_pad)
        cw = _window_counts(w, kernel[1], stride[1], pads[2], out[1], count_include_pad)
        inv = 1.0 / np.outer(ch, cw)
    return _avg_pool2d(x, kernel, stride, pads, out, inv.astype(np.float32))


@op("adaptive_avg_pool2d")
def _global_avg_pool2d(x):
    h, w = x.shape[-2:]
    out = mx.mean(x, axis=(-2, -1), keepdims=True)
    return out, lambda g: (mx.broadcast_to(g * (1.0 / (h * w)), x.shape),)


@op("adaptive_avg_pool2d")
def _separable_avg_pool2d(x, ph, pw):
    """``out = Ph @ x @ Pw^T`` per image; ``dx = Ph^T @ g @ Pw``."""
    def apply(a, rows, cols):
        lead = a.shape[:-2]
        a = mx.matmul(a.reshape(-1, a.shape[-1]), cols.T)  # average along W: one product
        a = a.reshape(-1, rows.shape[1], cols.shape[0])
        a = mx.matmul(rows, a)  # average along H, batched over images
        return a.reshape(*lead, rows.shape[0], cols.shape[0])

    return apply(x, ph, pw), lambda g: (apply(g, ph.T, pw.T),)


def _adaptive_matrix(size, out):
    """``(out, size)`` averaging matrix; row ``i`` spans PyTorch's adaptive window
    ``[floor(i n / o), ceil((i + 1) n / o))``."""
    m = np.zeros((out, size), np.float32)
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def adaptive_avg_pool2d(x, output_size) -> Tensor:
    """Average pooling to a fixed ``output_size`` (int or pair; ``None`` keeps that size).

    Output ``(u, v)`` averages rows ``[floor(u H / Ho), ceil((u + 1) H / Ho))`` and the same
    for columns. ``(1, 1)`` is a global mean; sizes dividing the input are ``avg_pool2d``.
    """
    if not isinstance(x, Tensor):
        raise ArgumentTypeError("adaptive_avg_pool2d: input must be a lucid Tensor, got "
                                f"{type(x).__name__}")
    if x.ndim not in (3, 4):
        raise ShapeError(f"adaptive_avg_pool2d: expected a 4-D input (N, C, H, W) or 3-D, got "
                         f"shape {x.shape}")
    h, w = x.shape[-2:]
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    ho, wo = (h if size[0] is None else int(size[0])), (w if size[1] is None else int(size[1]))
    if ho < 1 or wo < 1 or h < 1 or w < 1:
        raise ShapeError(f"adaptive_avg_pool2d: output size {(ho, wo)} and input size "
                         f"{(h, w)} must be positive (input shape {x.shape})")
    if (ho, wo) == (1, 1):
        return _global_avg_pool2d(x)
    if h % ho == 0 and w % wo == 0:
        return avg_pool2d(x, (h // ho, w // wo))
    ph, pw = (mx.array(_adaptive_matrix(n, o)).astype(x.dtype) for n, o in ((h, ho), (w, wo)))
    return _separable_avg_pool2d(x, ph, pw)


__all__ = ["adaptive_avg_pool2d", "avg_pool2d", "max_pool2d"]
TENSOR_METHODS: dict = {}
