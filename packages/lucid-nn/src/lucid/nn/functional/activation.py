"""Activations under PyTorch's functional names: the engine's ops (``lucid.relu``,
``lucid.gelu``, ...); ``inplace`` is accepted for PyTorch compatibility and ignored."""

from __future__ import annotations

import lucid


def relu(input, inplace: bool = False):
    """max(x, 0)."""
    return lucid.relu(input)


def tanh(input):
    return lucid.tanh(input)


def sigmoid(input):
    return lucid.sigmoid(input)


def softmax(input, dim: int = -1, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``."""
    return lucid.softmax(input if dtype is None else input.astype(dtype), axis=dim)


def log_softmax(input, dim: int = -1, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    return lucid.log_softmax(input if dtype is None else input.astype(dtype), axis=dim)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x for x > 0, ``negative_slope * x`` otherwise."""
    return lucid.leaky_relu(input, negative_slope)


def gelu(input, approximate: str = "none"):
    """Gaussian error linear unit, exact (``"none"``) or with the tanh approximation."""
    return lucid.gelu(input, approximate)


def silu(input, inplace: bool = False):
    """x * sigmoid(x)."""
    return lucid.silu(input)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """Exponential linear unit: x for x > 0, alpha (e^x - 1) otherwise."""
    return lucid.elu(input, alpha)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """Smooth ReLU: (1 / beta) log(1 + exp(beta x)), linear where beta x > threshold."""
    return lucid.softplus(input, beta, threshold)


def prelu(input, weight):
    """Leaky ReLU with a learned slope per channel (axis 1), or one shared slope."""
    return lucid.prelu(input, weight)


def hardswish(input, inplace: bool = False):
    """x * relu6(x + 3) / 6, the piecewise-quadratic swish of MobileNetV3."""
    return lucid.hardswish(input)


def mish(input, inplace: bool = False):
    """x * tanh(softplus(x))."""
    return lucid.mish(input)
