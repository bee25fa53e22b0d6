"""Convolutions: the engine's ``lucid.conv1d``/``conv2d``/``conv_transpose2d`` (NCHW)."""

from __future__ import annotations

import lucid


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of ``(N, C_in, L)`` with weight ``(C_out, C_in / groups, k)``;
    ``padding`` an int, ``"same"`` (stride 1) or ``"valid"``."""
    return lucid.conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of ``(N, C_in, H, W)`` with weight ``(C_out, C_in / groups, kH, kW)``;
    ``padding`` an int, a pair, ``"same"`` (stride 1) or ``"valid"``."""
    return lucid.conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """Transposed 2-D convolution; weight ``(C_in, C_out / groups, kH, kW)``."""
    return lucid.conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups,
                                  dilation)
