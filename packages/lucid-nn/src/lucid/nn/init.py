"""Weight initialisers, in place, with PyTorch's fan and gain conventions.

For a weight of shape ``(out, in, *kernel)`` the receptive field is ``prod(kernel)``,
``fan_in = in * receptive`` and ``fan_out = out * receptive``.

- ``kaiming_uniform_``: U(-b, b), ``b = gain * sqrt(3 / fan)``; ``kaiming_normal_``:
  N(0, (gain / sqrt(fan))^2), with ``gain = calculate_gain(nonlinearity, a)``.
- ``xavier_uniform_``: U(-b, b), ``b = gain * sqrt(6 / (fan_in + fan_out))``;
  ``xavier_normal_``: std ``gain * sqrt(2 / (fan_in + fan_out))``.

Every initialiser draws from Lucid's generator (``lucid.random.seed`` makes it
reproducible), records no graph and returns the tensor it filled.
"""

from __future__ import annotations

import math

import mlx.core as mx
from lucid import Tensor
from lucid.devices import run_on
from lucid.errors import ArgumentError, ArgumentTypeError, ShapeError

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
]

_LINEAR = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid"}


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended scale for a layer followed by ``nonlinearity``.

    linear/conv/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2))
    (slope ``param``, default 0.01), selu 3/4.
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ArgumentTypeError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ArgumentError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight with at least 2 dimensions."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ShapeError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
            f"(shape {shape})"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


calculate_fan_in_and_fan_out = _calculate_fan_in_and_fan_out


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ArgumentError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, make) -> Tensor:
    """Replace ``tensor``'s values by ``make(shape, dtype)`` (an MLX array), graph-free."""
    shape, dtype = tuple(tensor.shape), tensor.dtype
    tensor.data = run_on(tensor.device, make, shape, dtype)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b)."""
    return _fill(tensor, lambda s, d: mx.random.uniform(a, b, s, dtype=d))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _fill(tensor, lambda s, d: mean + std * mx.random.normal(s, dtype=d))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0) -> Tensor:
    """Fill with N(mean, std^2) truncated to [a, b], by inverse-CDF sampling."""

    def cdf(v):
        return (1.0 + math.erf(v / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)

    def make(s, d):
        u = mx.random.uniform(2 * lo - 1, 2 * hi - 1, s, dtype=mx.float32)
        v = mx.erfinv(u) * (std * math.sqrt(2.0)) + mean
        return mx.clip(v, a, b).astype(d)

    return _fill(tensor, make)


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, lambda s, d: mx.full(s, val, dtype=d))


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al., 2015)."""
    if 0 in tensor.shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if 0 in tensor.shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)
