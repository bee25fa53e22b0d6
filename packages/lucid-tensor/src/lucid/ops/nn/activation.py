"""Activations whose backward is written here: leaky_relu, gelu, silu, elu, softplus,
prelu, hardswish and mish (relu, tanh, sigmoid and the softmaxes are elementwise ops)."""

from __future__ import annotations

import math

import mlx.core as mx

from ..._tensor import Tensor
from ...errors import ArgumentError, ShapeError
from ...function import op


@op("leaky_relu")
def _leaky_relu(x, negative_slope=0.01):
    """out = x if x > 0 else slope * x;  dx = g or slope * g."""
    pos = x > 0
    out = mx.where(pos, x, x * negative_slope)
    return out, lambda g: (mx.where(pos, g, g * negative_slope),)


def leaky_relu(input, negative_slope: float = 0.01) -> Tensor:
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise."""
    return _leaky_relu(input, negative_slope=negative_slope)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@op("gelu")
def _gelu(x, approximate="none"):
    """Exact: out = x Phi(x), dx = g (Phi(x) + x phi(x)).
    tanh: out = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3),
          dx = g (1/2 (1 + t) + x/2 (1 - t^2) u'),  u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)."""
    if approximate == "tanh":
        x2 = mx.square(x)
        t = mx.tanh(_SQRT_2_OVER_PI * x * (1 + 0.044715 * x2))
        out = 0.5 * x * (1 + t)

        def backward(g):
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x2)
            return (g * (0.5 * (1 + t) + 0.5 * x * (1 - mx.square(t)) * du),)

        return out, backward
    cdf = 0.5 * (1 + mx.erf(x * _INV_SQRT_2))
    out = x * cdf

    def backward(g):
        pdf = mx.exp(-0.5 * mx.square(x)) * _INV_SQRT_2PI
        return (g * (cdf + x * pdf),)

    return out, backward


def gelu(input, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x Phi(x)``, exact (``"none"``) or with the tanh
    approximation (``"tanh"``)."""
    if approximate not in ("none", "tanh"):
        raise ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _gelu(input, approximate=approximate)


@op("silu")
def _silu(x):
    """out = x s(x), s the sigmoid;  dx = g s (1 + x (1 - s))."""
    s = mx.sigmoid(x)
    return x * s, lambda g: (g * s * (1 + x * (1 - s)),)


def silu(input) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    return _silu(input)


@op("elu")
def _elu(x, alpha=1.0):
    """out = x if x > 0 else alpha (e^x - 1);  dx = g if x > 0 else alpha e^x g."""
    pos = x > 0
    ex = mx.exp(mx.minimum(x, 0))
    out = mx.where(pos, x, alpha * (ex - 1))
    return out, lambda g: (mx.where(pos, g, g * (alpha * ex)),)


def elu(input, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha (e^x - 1)`` otherwise."""
    return _elu(input, alpha=float(alpha))


@op("softplus")
def _softplus(x, beta=1.0, threshold=20.0):
    """out = log(1 + e^(beta x)) / beta, or x where beta x > threshold;
    dx = g sigmoid(beta x), or g above the threshold."""
    bx = x * beta
    linear = bx > threshold
    out = mx.where(linear, x, mx.logaddexp(bx, 0) / beta)
    return out, lambda g: (mx.where(linear, g, g * mx.sigmoid(bx)),)


def softplus(input, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """Smooth ReLU: ``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``."""
    return _softplus(input, beta=float(beta), threshold=float(threshold))


@op("prelu")
def _prelu(x, w):
    """out = x if x > 0 else w x (w broadcast along the channel axis);
    dx = g or w g,  dw = g x where x <= 0 (summed over the broadcast axes by the engine)."""
    pos = x > 0
    out = mx.where(pos, x, w * x)

    def backward(g):
        return mx.where(pos, g, g * w), mx.where(pos, mx.zeros_like(g), g * x)

    return out, backward


def prelu(input, weight) -> Tensor:
    """Leaky ReLU with a learned slope: one per channel (axis 1) when ``weight`` has C
    entries, or one shared slope when it has one (the only choice for 0-D and 1-D inputs)."""
    if weight.ndim > 1:
        raise ShapeError(f"prelu: weight must be 0-D or 1-D, got shape {weight.shape}")
    k = weight.size
    if k == 1:
        return _prelu(input, weight.reshape(()))
    channels = input.shape[1] if input.ndim >= 2 else 1
    if channels != k:
        raise ShapeError(f"prelu: weight has {k} slopes but input of shape {input.shape} has "
                         f"{channels} channels")
    return _prelu(input, weight.reshape((1, k) + (1,) * (input.ndim - 2)))


@op("hardswish")
def _hardswish(x):
    """out = x relu6(x + 3) / 6;  dx = 0 for x <= -3, g (x / 3 + 1/2) for x < 3, g above."""
    out = x * mx.clip(x + 3, 0, 6) / 6

    def backward(g):
        mid = g * (x / 3 + 0.5)
        return (mx.where(x <= -3, mx.zeros_like(g), mx.where(x < 3, mid, g)),)

    return out, backward


def hardswish(input) -> Tensor:
    """``x * relu6(x + 3) / 6``, the piecewise-quadratic swish of MobileNetV3."""
    return _hardswish(input)


@op("mish")
def _mish(x):
    """out = x t, t = tanh(softplus(x));  dx = g (t + x sigmoid(x) (1 - t^2))."""
    t = mx.tanh(mx.logaddexp(x, 0))
    out = x * t
    return out, lambda g: (g * (t + x * mx.sigmoid(x) * (1 - mx.square(t))),)


def mish(input) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return _mish(input)


__all__ = ["elu", "gelu", "hardswish", "leaky_relu", "mish", "prelu", "silu", "softplus"]
TENSOR_METHODS: dict = {}
