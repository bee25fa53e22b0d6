"""``interpolate``: resizing ``(N, C, *spatial)`` by nearest-neighbour or (bi/tri)linear
interpolation, one spatial axis at a time.

Both modes are separable: resizing axis by axis, the last first, computes what PyTorch's
CPU kernels compute, in the same order (``h0 (w0 x00 + w1 x01) + h1 (w0 x10 + w1 x11)``).
Source indices and weights are PyTorch's, evaluated in float32 as its kernels do:

- nearest: ``src = min(floor(dst * scale), in - 1)`` (``dst`` for equal sizes, ``dst // 2``
  for twice the size), ``nearest-exact`` uses ``dst + 0.5``;
- linear: ``src = scale (dst + 0.5) - 0.5`` clamped at 0 (``scale dst`` with
  ``align_corners``), blending ``floor(src)`` and the next index by ``src - floor(src)``.

``scale`` is ``1 / scale_factor`` when a scale factor is given (and not recomputed),
``in / out`` otherwise, ``(in - 1) / (out - 1)`` with ``align_corners``. Each axis is one
gather (nearest) or two (linear); the backward scatter-adds the gradient to the sources.
"""

from __future__ import annotations

import math

import mlx.core as mx
import numpy as np

from ...errors import ArgumentError, ShapeError
from ...function import op

_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5}
_MODES = ("nearest", "nearest-exact", *_LINEAR)


def _at_axis(axis):
    """Index prefix selecting positions along ``axis``."""
    return (slice(None),) * axis


@op("interpolate")
def _gather(x, axis, index):
    """out = x[index] along ``axis``;  dx = g scatter-added back to the sources."""
    idx = mx.array(index)
    out = mx.take(x, idx, axis=axis)

    def backward(g):
        return (mx.zeros(x.shape, dtype=g.dtype).at[_at_axis(axis) + (idx,)].add(g),)

    return out, backward


@op("interpolate")
def _lerp(x, axis, i0, i1, l0, l1):
    """out = l0 x[i0] + l1 x[i1] along ``axis``;  dx = l0 g and l1 g scatter-added."""
    shape = [1] * x.ndim
    shape[axis] = -1
    w0, w1 = (mx.array(w).astype(x.dtype).reshape(shape) for w in (l0, l1))
    a, b = mx.array(i0), mx.array(i1)
    out = mx.take(x, a, axis=axis) * w0 + mx.take(x, b, axis=axis) * w1

    def backward(g):
        pre = _at_axis(axis)
        dx = mx.zeros(x.shape, dtype=g.dtype).at[pre + (a,)].add(g * w0)
        return (dx.at[pre + (b,)].add(g * w1),)

    return out, backward


def _scale32(n_in, n_out, scale_factor):
    """PyTorch's ``compute_scales_value<float>``."""
    if scale_factor is not None and scale_factor > 0:
        return np.float32(1.0 / scale_factor)
    return np.float32(n_in) / np.float32(n_out)


def _nearest_index(n_in, n_out, scale_factor, exact):
    dst = np.arange(n_out)
    if not exact and n_out == n_in:  # PyTorch's shortcuts, whatever the scale factor
        return dst
    if not exact and n_out == 2 * n_in:
        return dst // 2
    scale = _scale32(n_in, n_out, scale_factor)
    if exact:
        src = np.floor(((dst + 0.5) * np.float64(scale)).astype(np.float32))
    else:
        src = np.floor(dst.astype(np.float32) * scale)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _linear_weights(n_in, n_out, scale_factor, align_corners):
    if align_corners:
        scale = (np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1
                 else np.float32(0))
        src = scale * np.arange(n_out).astype(np.float32)
    else:
        scale = _scale32(n_in, n_out, scale_factor)
        src = scale * (np.arange(n_out).astype(np.float32) + np.float32(0.5)) - np.float32(0.5)
        src = np.maximum(src, np.float32(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    l1 = np.clip(src - i0.astype(np.float32), np.float32(0), np.float32(1)).astype(np.float32)
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, (np.float32(1) - l1).astype(np.float32), l1


def _per_axis(value, k, what):
    if isinstance(value, (tuple, list)):
        if len(value) != k:
            raise ShapeError(f"interpolate: {what} {tuple(value)} must have one entry per "
                             f"spatial axis ({k})")
        return tuple(value)
    return (value,) * k


def _sizes(x, size, scale_factor, recompute_scale_factor):
    """Output sizes and the scale factors the kernels see (None: derive from the sizes)."""
    k = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ArgumentError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        out = tuple(int(s) for s in _per_axis(size, k, "size"))
        scales = (None,) * k
    else:
        scales = tuple(float(s) for s in _per_axis(scale_factor, k, "scale_factor"))
        if min(scales) <= 0:
            raise ArgumentError(f"interpolate: scale_factor must be positive, got {scale_factor}")
        out = tuple(math.floor(n * s) for n, s in zip(x.shape[2:], scales, strict=True))
        if recompute_scale_factor:
            scales = (None,) * k
    if min(out) < 1 or min(x.shape[2:]) < 1:
        raise ShapeError(f"interpolate: input spatial size {tuple(x.shape[2:])} and output "
                         f"size {out} must be positive (input shape {x.shape})")
    return out, scales


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None, recompute_scale_factor=None, antialias: bool = False):
    """Resize ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` to ``size`` or by
    ``scale_factor`` (output size ``floor(in * scale_factor)``).

    Modes: ``"nearest"``, ``"nearest-exact"`` (any of the three), ``"linear"`` (3-D),
    ``"bilinear"`` (4-D), ``"trilinear"`` (5-D); ``align_corners`` only for the linear ones.
    """
    if mode not in _MODES:
        raise ArgumentError(f"interpolate: mode must be one of {', '.join(_MODES)}; got {mode!r}")
    if input.ndim not in (3, 4, 5):
        raise ShapeError(f"interpolate: expected a 3-D, 4-D or 5-D input (N, C, *spatial), "
                         f"got shape {input.shape}")
    if mode in _LINEAR and input.ndim != _LINEAR[mode]:
        raise ShapeError(f"interpolate: mode {mode!r} needs a {_LINEAR[mode]}-D input, got "
                         f"shape {input.shape}")
    if mode not in _LINEAR and align_corners is not None:
        raise ArgumentError("interpolate: align_corners can only be set with the linear modes "
                         "(linear, bilinear, trilinear)")
    if antialias:
        raise ArgumentError("interpolate: antialias=True is not supported")
    out, scales = _sizes(input, size, scale_factor, recompute_scale_factor)
    x = input
    for axis in range(input.ndim - 1, 1, -1):  # the last axis first, as PyTorch's kernels
        n_in, n_out, s = input.shape[axis], out[axis - 2], scales[axis - 2]
        if mode in _LINEAR:
            if n_in != n_out:  # equal sizes: PyTorch copies
                i0, i1, l0, l1 = _linear_weights(n_in, n_out, s, bool(align_corners))
                x = _lerp(x, axis, i0, i1, l0, l1)
        else:
            index = _nearest_index(n_in, n_out, s, mode == "nearest-exact")
            if not (n_in == n_out and np.array_equal(index, np.arange(n_in))):
                x = _gather(x, axis, index)
    return x


__all__ = ["interpolate"]
TENSOR_METHODS: dict = {}
