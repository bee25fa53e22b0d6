"""Transposed convolution ``conv_transpose2d`` (weights ``(C_in, C_out/groups, kh, kw)``).

It is the adjoint of ``conv2d`` with the same weight: if ``A z = conv2d(z, W)`` maps
``C_out`` channels to ``C_in``, then ``conv_transpose2d(x, W) = A^T x``. So its forward is
conv2d's input gradient and its backward is conv2d's forward, with ``g = dL/dout``:

    out = col2im(W^T @ x)           dx = W @ im2col(g)           dW = x @ im2col(g)^T

(per group, ``x`` flattened to ``(C_in/G, N * H * W)``; stride 1 uses the flipped-kernel
convolution instead of col2im, see ``conv.py``). Output size per axis:
``(H - 1) s - 2 p + d (k - 1) + output_padding + 1``.
"""

from __future__ import annotations

import mlx.core as mx

from ..._tensor import Tensor
from ...errors import ArgumentTypeError, ShapeError
from ...function import op
from ._windows import im2col, pair
from .conv import check_dtypes, input_grad


@op("conv_transpose2d")
def _conv_transpose2d(x, w, b, stride, pads, out_hw, dilation, groups):
    batched = x.ndim == 4
    x = x if batched else x[None]
    n, c_in, h, wd = x.shape
    _, cg, kh, kw = w.shape
    ho, wo = out_hw
    c_out, og = cg * groups, c_in // groups
    xc = x.transpose(1, 0, 2, 3).reshape(groups, og, n * h * wd)
    out = input_grad(xc, w, (n, ho, wo), (h, wd), stride, dilation, pads, groups)
    if b is not None:
        out = out + b.reshape(c_out, 1, 1, 1)
    out = out.transpose(1, 0, 2, 3)

    def backward(g):
        g = g if batched else g[None]
        cols = im2col(g.transpose(1, 0, 2, 3), (kh, kw), stride, dilation, pads, (h, wd))
        cols = cols.reshape(groups, cg * kh * kw, n * h * wd)
        dx = mx.matmul(w.reshape(groups, og, cg * kh * kw), cols)
        dx = dx.reshape(c_in, n, h, wd).transpose(1, 0, 2, 3)
        dw = mx.matmul(xc, cols.swapaxes(1, 2)).reshape(w.shape)
        db = None if b is None else g.sum(axis=(0, 2, 3))
        return (dx if batched else dx[0]), dw, db

    return (out if batched else out[0]), backward


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed 2-D convolution (a.k.a. fractionally strided), as PyTorch's.

    ``x`` ``(N, C_in, H, W)``, ``weight`` ``(C_in, C_out/groups, kh, kw)``. Each input pixel
    scatters ``x[n, c, u, v] * W[c, o, i, j]`` onto output pixel ``(s u + d i - p,
    s v + d j - p)``; ``output_padding`` adds rows/columns at the bottom/right.
    """
    name = "conv_transpose2d"
    for t, what in ((x, "input"), (weight, "weight")):
        if not isinstance(t, Tensor):
            raise ArgumentTypeError(f"{name}: {what} must be a lucid Tensor, got "
                                    f"{type(t).__name__}")
    shapes = f"input shape {x.shape}, weight shape {weight.shape}"
    check_dtypes(name, x, weight, bias)
    if x.ndim not in (3, 4) or weight.ndim != 4:
        raise ShapeError(f"{name}: expected a 4-D input (N, C, H, W) (or 3-D without batch) "
                         f"and a 4-D weight, got {shapes}")
    groups = int(groups)
    c_in = x.shape[-3]
    if groups < 1 or c_in % groups or weight.shape[0] != c_in:
        raise ShapeError(f"{name}: input has {c_in} channels but the weight (C_in, C_out/groups,"
                         f" kh, kw) expects {weight.shape[0]} with groups={groups}; {shapes}")
    c_out = weight.shape[1] * groups
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ShapeError(f"{name}: bias shape {bias.shape} should be ({c_out},); {shapes}")
    stride, dilation = pair(stride, "stride", name), pair(dilation, "dilation", name)
    padding, output_padding = pair(padding, "padding", name), pair(output_padding,
                                                                   "output_padding", name)
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ShapeError(f"{name}: need stride >= 1, dilation >= 1 and padding >= 0, got "
                         f"{stride}, {dilation}, {padding}")
    for op_, s, d in zip(output_padding, stride, dilation, strict=True):
        if not 0 <= op_ < max(s, d):
            raise ShapeError(f"{name}: output_padding {output_padding} must be smaller than "
                             f"stride {stride} or dilation {dilation}")
    kernel = weight.shape[2:]
    out_hw = tuple(
        (size - 1) * s - 2 * p + d * (k - 1) + op_ + 1
        for size, s, p, d, k, op_ in zip(x.shape[-2:], stride, padding, dilation, kernel,
                                         output_padding, strict=True)
    )
    if min(out_hw) < 1:
        raise ShapeError(f"{name}: output size {out_hw} is empty; {shapes}, padding {padding}")
    pads = (padding[0], padding[0], padding[1], padding[1])
    return _conv_transpose2d(x, weight, bias, stride, pads, out_hw, dilation, groups)


__all__ = ["conv_transpose2d"]
TENSOR_METHODS: dict = {}
