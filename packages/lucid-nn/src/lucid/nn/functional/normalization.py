"""Layer, group and instance normalisation. ``layer_norm`` and ``group_norm`` are the
engine's ops (one op each, closed-form backward); ``instance_norm`` is ``group_norm`` with
one channel per group, plus PyTorch's running statistics."""

from __future__ import annotations

import math

import lucid
import mlx.core as mx
from lucid.errors import ArgumentError, ShapeError


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """LayerNorm over the trailing ``normalized_shape`` axes (an int or a tuple)."""
    return lucid.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """GroupNorm: channels of ``(N, C, *)`` split into ``num_groups`` groups, each normalised
    over its channels and spatial positions, then a per-channel affine map."""
    return lucid.group_norm(input, num_groups, weight, bias, eps)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5):
    """InstanceNorm: each channel of each sample of ``(N, C, *)`` normalised over its
    spatial positions (``group_norm`` with one channel per group), then a per-channel
    affine map. With ``use_input_stats`` and running statistics given, those are updated
    in place with the batch average of the per-instance mean and unbiased variance;
    ``use_input_stats=False`` normalises with the running statistics instead."""
    if input.ndim < 3:
        raise ShapeError(f"instance_norm: expected an input (N, C, *) with spatial axes, got "
                         f"shape {input.shape}")
    n, c = input.shape[:2]
    spatial = math.prod(input.shape[2:])
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t.shape != (c,):
            raise ShapeError(f"instance_norm: {name} has shape {t.shape}, expected ({c},) for "
                             f"input of shape {input.shape}")
    shape = (1, c) + (1,) * (input.ndim - 2)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ArgumentError("instance_norm: use_input_stats=False needs running_mean and "
                                "running_var")
        out = (input - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
        if weight is not None:
            out = out * weight.reshape(shape)
        return out + bias.reshape(shape) if bias is not None else out
    if spatial <= 1:
        raise ShapeError(f"instance_norm: expected more than 1 spatial element per channel "
                         f"when using input statistics, got input of shape {input.shape}")
    out = group_norm(input, c, weight, bias, eps)
    if running_mean is not None and running_var is not None:
        x = input._data.reshape(n, c, spatial).astype(mx.float32)
        mean = mx.mean(mx.mean(x, axis=-1), axis=0)
        var = mx.mean(mx.var(x, axis=-1, ddof=1), axis=0)
        m = momentum
        new_mean = (1 - m) * running_mean._data + m * mean.astype(running_mean.dtype)
        new_var = (1 - m) * running_var._data + m * var.astype(running_var.dtype)
        running_mean.data, running_var.data = new_mean, new_var
        mx.async_eval(new_mean, new_var)  # keep the lazy graph from growing across steps
    return out
