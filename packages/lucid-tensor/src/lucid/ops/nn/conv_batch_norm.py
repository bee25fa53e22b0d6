"""``conv2d_batch_norm``: a convolution, then a BatchNorm with running statistics
(inference), then optionally a ReLU, as one op.

    y = act(batch_norm(conv2d(x, W, b)))
      = act(conv2d(x, W, b) * a + s),   a = gamma / sqrt(var + eps),   s = beta - mean a

(``batch_norm``'s inference formula, ``act`` = ReLU or identity). On the CPU in float32,
with the native kernels, oneDNN applies ``a``, ``s`` and the ReLU as post-ops of the
convolution, before its result leaves the blocked layout: the BatchNorm and the ReLU take
no pass over memory of their own. Inference only: when a gradient would be recorded, it is
``conv2d`` then ``batch_norm`` (with their gradients), the same values.
"""

from __future__ import annotations

import mlx.core as mx

from ... import _native, autograd
from ..._tensor import Tensor
from ...errors import ArgumentError
from ...function import op
from .batch_norm import batch_norm, check_per_channel, inference_affine
from .conv import conv2d, conv_args, conv_forward

__all__ = ["conv2d_batch_norm"]
TENSOR_METHODS: dict = {}


@op("conv2d_batch_norm")
def _conv2d_batch_norm(x, w, b, running_mean, running_var, gamma, beta, stride, pads, dilation,
                       groups, eps, relu):
    """The inference forward; no backward (taken only when no gradient is recorded)."""
    scale, shift, _, _ = inference_affine(x, running_mean, running_var, gamma, beta, eps,
                                          (1, -1, 1, 1))
    lib = _native.for_cpu_float32(x, w, b, scale) if x.size else None
    if lib is not None:
        try:
            return lib.conv2d_affine(x, w, b, scale.reshape(-1), shift.reshape(-1), relu, stride,
                                     pads, dilation, groups), None
        except RuntimeError:  # a configuration oneDNN does not take: the MLX-ops path
            pass
    out, _ = conv_forward(x, w, b, stride, dilation, pads, groups, weight_grad=False)
    out = out * scale + shift
    return (mx.maximum(out, 0) if relu else out), None


def conv2d_batch_norm(x: Tensor, weight: Tensor, bias: Tensor | None, running_mean: Tensor,
                      running_var: Tensor, bn_weight: Tensor | None = None,
                      bn_bias: Tensor | None = None, eps: float = 1e-5, relu: bool = False,
                      stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """``batch_norm(conv2d(x, weight, bias, stride, padding, dilation, groups), running_mean,
    running_var, bn_weight, bn_bias, training=False, eps=eps, relu=relu)`` for ``x``
    ``(N, C, H, W)``, as one op when no gradient is recorded."""
    if running_mean is None or running_var is None:
        raise ArgumentError("conv2d_batch_norm: running_mean and running_var are required (it "
                            "normalises with running statistics, as batch_norm in inference)")
    tensors = (x, weight, bias, running_mean, running_var, bn_weight, bn_bias)
    recorded = autograd.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in tensors)
    if recorded or not isinstance(x, Tensor) or x.ndim != 4:
        out = conv2d(x, weight, bias, stride, padding, dilation, groups)
        return batch_norm(out, running_mean, running_var, bn_weight, bn_bias, training=False,
                          eps=eps, relu=relu)
    stride, pads, dilation, groups = conv_args("conv2d_batch_norm", x, weight, bias, stride,
                                               padding, dilation, groups, spatial=2)
    check_per_channel("conv2d_batch_norm", weight.shape[0],
                      f"weight of shape {tuple(weight.shape)}", running_mean=running_mean,
                      running_var=running_var, bn_weight=bn_weight, bn_bias=bn_bias)
    return _conv2d_batch_norm(x, weight, bias, running_mean, running_var, bn_weight, bn_bias,
                              stride, pads, dilation, groups, eps, relu)
