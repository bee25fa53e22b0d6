"""Pooling over ``(N, C, H, W)``: the engine's ops under PyTorch's functional names; the
1-D pools run them on images of height 1."""

from __future__ import annotations

import lucid
from lucid.errors import ShapeError


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


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling of ``(N, C, H, W)`` (or ``(C, H, W)``) to ``output_size`` (an int or
    ``(Ho, Wo)``, ``None`` keeping that size); ``return_indices`` also gives each maximum's
    flat position ``h * W + w``."""
    return lucid.adaptive_max_pool2d(input, output_size, return_indices)
