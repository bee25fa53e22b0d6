"""Pooling over ``(N, C, H, W)``: the engine's ops under PyTorch's functional names."""

from __future__ import annotations

import lucid


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
