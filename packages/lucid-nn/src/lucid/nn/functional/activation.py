"""Activations. relu, tanh, sigmoid, softmax and log_softmax are the engine's ops;
leaky_relu, gelu and silu are written here with their backward."""

from __future__ import annotations

import math

import lucid
import mlx.core as mx
from lucid.function import op


def relu(input, inplace: bool = False):
    """max(x, 0). ``inplace`` is accepted for PyTorch compatibility and ignored."""
    return lucid.relu(input)


def tanh(input):
    return lucid.tanh(input)


def sigmoid(input):
    return lucid.sigmoid(input)


def softmax(input, dim: int = -1, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``."""
    out = lucid.softmax(input if dtype is None else input.astype(dtype), axis=dim)
    return out


def log_softmax(input, dim: int = -1, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    return lucid.log_softmax(input if dtype is None else input.astype(dtype), axis=dim)


@op("leaky_relu")
def _leaky_relu(x, negative_slope=0.01):
    """out = x if x > 0 else slope * x;  dx = g or slope * g."""
    pos = x > 0
    out = mx.where(pos, x, x * negative_slope)
    return out, lambda g: (mx.where(pos, g, g * negative_slope),)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
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
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    cdf = 0.5 * (1 + mx.erf(x * _INV_SQRT_2))
    out = x * cdf

    def backward(g):
        pdf = mx.exp(-0.5 * mx.square(x)) * _INV_SQRT_2PI
        return (g * (cdf + x * pdf),)

    return out, backward


def gelu(input, approximate: str = "none"):
    """Gaussian error linear unit, exact (``"none"``) or with the tanh approximation."""
    return _gelu(input, approximate=approximate)


@op("silu")
def _silu(x):
    """out = x s(x), s the sigmoid;  dx = g s (1 + x (1 - s))."""
    s = mx.sigmoid(x)
    return x * s, lambda g: (g * s * (1 + x * (1 - s)),)


def silu(input, inplace: bool = False):
    return _silu(input)
