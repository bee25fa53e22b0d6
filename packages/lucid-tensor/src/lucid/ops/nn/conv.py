"""Convolutions ``conv1d`` and ``conv2d`` (NCHW, weights ``(O, C/groups, kh, kw)``).

Forward, for each group: ``out = W @ cols``, where ``cols = im2col(x)`` holds every
window of the padded input (``lucid.ops.nn._windows``) and ``W`` is the weight flattened
to ``(O/G, C/G * kh * kw)``. Backward, with ``g = dL/dout`` flattened the same way:

    dW = g @ cols^T                      (one matrix product)
    db = g summed over batch and pixels
    dx = col2im(W^T @ g)                 (one matrix product, then shifted adds)

For stride 1, ``dx`` is instead the convolution of ``g`` (padded) with the flipped,
transposed kernel: ``im2col(g)`` and one matrix product, which beats ``kh * kw`` full-image
adds unless ``g`` has many more channels than ``x`` (a stem conv from 3 channels).

Dilation and groups only change the strides of the im2col view and add a batch axis to
the products, so every case runs as dense matrix products. MLX's own ``conv2d`` is not
used: its CPU backward for strided convolutions, and its forward for dilated or grouped
ones, are scalar loops. ``cols`` is kept for the backward (``kh * kw`` times the input,
divided by ``s^2``) instead of being rebuilt there.

Two faster paths for 3x3 stride-1 convolutions with enough channels:

- ``padding=1`` on images of at least 16x16 (8x8 without ``dW``): nine shifted matrix
  products over a zero-padded pixel grid, no im2col copy, and only the grid (about 1.1x
  the input) kept for the backward (``lucid.ops.nn.shifted``);
- otherwise, float32 with ``dW`` (``winograd.tile_size``): Winograd, whose backward keeps
  transformed input tiles 4x the input instead of 9x.

The backward of each path closes over what it needs and nothing else (not the input).

On the CPU in float32, when Lucid's native kernels are built (``lucid._native``), oneDNN
runs the forward and both halves of the backward instead, keeping only the input (for
``dW``); ``_algorithm`` makes this choice and the others, in one place.
"""

from __future__ import annotations

import mlx.core as mx

from ... import _native, autograd
from ..._tensor import Tensor
from ...errors import ArgumentError, ArgumentTypeError, DTypeError, ShapeError
from ...function import op
from . import shifted, winograd
from ._windows import col2im, im2col, out_size, pair


def _algorithm(x, w, b, stride, dilation, pads, groups, out_hw, weight_grad, native=True):
    """How this convolution runs: ``("native", module)``, ``("shifted", None)``,
    ``("winograd", m)`` (tile size) or ``("im2col", None)``."""
    lib = _native.for_cpu_float32(x, w, b) if native and x.size else None
    if lib is not None:
        return "native", lib
    if shifted.applies(w.shape, stride, dilation, pads, groups, tuple(x.shape[2:]),
                       weight_grad):
        return "shifted", None
    # Winograd only when dW may be asked for: it then keeps V (4x the input) instead of
    # cols (9x); without dW its forward is no faster than im2col's and peaks higher.
    m = winograd.tile_size(w.shape, stride, dilation, groups, out_hw, x.dtype)
    return ("winograd", m) if m and weight_grad else ("im2col", None)


def _input_grad_algorithm(w_shape, stride, dilation, groups, in_hw, dtype):
    """How the MLX-ops path computes ``dL/dx`` (and ``conv_transpose2d``'s forward):
    ``("winograd", m)`` or ``("im2col", None)``, a stride-1 convolution of ``g``, when the
    stride is 1 and copying im2col(g) is cheaper than col2im's adds; else ``("col2im",
    None)``, one matrix product and the scatter-adds of its columns."""
    o, cg, kh, kw = w_shape
    if stride != (1, 1) or o // groups > 2 * cg:
        return "col2im", None
    m = winograd.tile_size((cg, o // groups, kh, kw), stride, dilation, groups, in_hw, dtype)
    return ("winograd", m) if m else ("im2col", None)


def conv_forward(x, w, b, stride, dilation, pads, groups, weight_grad=True, x_grad=True):
    """``x`` ``(N, C, H, W)``, ``w`` ``(O, C/G, kh, kw)`` -> (NCHW output, backward).

    ``weight_grad``: whether ``dW`` may be asked for; if not, nothing is kept for it.
    ``x_grad``: whether ``dx`` may be (if not, the native backward does not compute it).
    """
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    og = o // groups
    ho = out_size(h, kh, stride[0], dilation[0], pads[0], pads[1])
    wo = out_size(wd, kw, stride[1], dilation[1], pads[2], pads[3])
    algorithm, arg = _algorithm(x, w, b, stride, dilation, pads, groups, (ho, wo), weight_grad)
    if algorithm == "native":
        try:
            return _native_forward(arg, x, w, b, stride, dilation, pads, groups, weight_grad,
                                   x_grad)
        except RuntimeError:  # a configuration oneDNN does not take: the MLX-ops path
            algorithm, arg = _algorithm(x, w, b, stride, dilation, pads, groups, (ho, wo),
                                        weight_grad, native=False)
    x_c = x.transpose(1, 0, 2, 3)
    if algorithm == "shifted":
        return _shifted_forward(x_c, w, b, weight_grad)
    m = arg if algorithm == "winograd" else 0
    cols = v = None
    if m:
        v = winograd.input_transform(x_c, pads, (ho, wo), m)
        prod = mx.matmul(winograd.kernel_transform(w, m), v)
        out = winograd.output_transform(prod, n, (ho, wo), m).reshape(groups, og, n * ho * wo)
    else:
        cols = im2col(x_c, (kh, kw), stride, dilation, pads, (ho, wo))
        cols = cols.reshape(groups, cg * kh * kw, n * ho * wo)
        out = mx.matmul(w.reshape(groups, og, cg * kh * kw), cols)
        if not weight_grad:  # not kept alive for a dW that is never asked for
            cols = None
    if b is not None:
        out = out + b.reshape(groups, og, 1)
    out = out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3)

    def backward(g):
        gc = g.transpose(1, 0, 2, 3).reshape(groups, og, n * ho * wo)
        dw = None  # without weight_grad nothing was kept for it (and the input is not held)
        if v is not None:
            dw = winograd.weight_grad(v, gc.reshape(o, n, ho, wo), m)
        elif cols is not None:
            dw = mx.matmul(gc, cols.swapaxes(1, 2)).reshape(w.shape)
        db = None if b is None else gc.sum(axis=2).reshape(o)
        dx = input_grad(gc, w, (n, h, wd), (ho, wo), stride, dilation, pads, groups)
        return dx.transpose(1, 0, 2, 3), dw, db

    return out, backward


def _native_forward(lib, x, w, b, stride, dilation, pads, groups, weight_grad, x_grad):
    """oneDNN's convolution and its backward: ``dx`` and ``dW`` from one primitive when
    both may be asked for (``g`` is reordered once), else the half that may."""
    args = (stride, pads, dilation, groups)
    out = lib.conv2d(x, w, b, *args)
    kept = x if weight_grad else None  # the input only when dW may be asked for
    in_hw, kernel = tuple(x.shape[2:]), tuple(w.shape[2:])

    def backward(g):
        dx = dw = db = None
        if kept is not None and x_grad:
            dx, dw, db = lib.conv2d_backward(kept, g, w, *args)
        elif kept is not None:
            dw, db = lib.conv2d_backward_weights(kept, g, kernel, *args)
        elif x_grad:
            dx = lib.conv2d_backward_data(g, w, in_hw, *args)
        if b is None:
            db = None
        elif db is None:
            db = g.sum(axis=(0, 2, 3))
        return dx, dw, db

    return out, backward


def _shifted_forward(x_c, w, b, weight_grad):
    """The 3x3 stride-1 case by nine shifted products (``lucid.ops.nn.shifted``)."""
    _, n, h, wd = x_c.shape
    grid = shifted.to_grid(x_c)
    out = shifted.correlate(grid, w, (n, h, wd))
    if b is not None:
        out = out + b.reshape(-1, 1, 1, 1)
    if not weight_grad:
        grid = None

    def backward(g):
        g_grid = shifted.to_grid(g.transpose(1, 0, 2, 3))
        dx = shifted.input_grad(g_grid, w, (n, h, wd))
        dw = None if grid is None else shifted.weight_grad(grid, g_grid, (n, h, wd))
        db = None if b is None else g.sum(axis=(0, 2, 3))
        return dx.transpose(1, 0, 2, 3), dw, db

    return out.transpose(1, 0, 2, 3), backward


def input_grad(gc, w, in_nhw, out_hw, stride, dilation, pads, groups):
    """``dL/dx`` as ``(C, N, H, W)`` from ``gc = dL/dout`` as ``(G, O/G, N * Ho * Wo)``.

    Also the forward of ``conv_transpose2d``, which is this map applied to its input.
    """
    o, cg, kh, kw = w.shape
    og = o // groups
    n, h, wd = in_nhw
    ho, wo = out_hw
    algorithm, m = _input_grad_algorithm(w.shape, stride, dilation, groups, (h, wd), gc.dtype)
    if algorithm != "col2im":
        # dx[h] = sum_i W[i]^T g[h + pad_top - d i]: a stride-1 conv of g, padded by
        # d (k - 1) - pad_top on top, with the kernel flipped and in/out channels swapped.
        top, left = dilation[0] * (kh - 1) - pads[0], dilation[1] * (kw - 1) - pads[2]
        g_pads = (top, h + pads[0] - ho, left, wd + pads[2] - wo)
        g_img = gc.reshape(o, n, ho, wo)
        if algorithm == "winograd":
            wf = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
            return winograd.conv3x3(g_img, winograd.kernel_transform(wf, m), g_pads, (h, wd), m)
        gcols = im2col(g_img, (kh, kw), (1, 1), dilation, g_pads, (h, wd))
        gcols = gcols.reshape(groups, og * kh * kw, n * h * wd)
        wf = w.reshape(groups, og, cg, kh, kw)[:, :, :, ::-1, ::-1]
        wf = wf.transpose(0, 2, 1, 3, 4).reshape(groups, cg, og * kh * kw)
        return mx.matmul(wf, gcols).reshape(groups * cg, n, h, wd)
    wm = w.reshape(groups, og, cg * kh * kw)
    dcols = mx.matmul(wm.swapaxes(1, 2), gc).reshape(groups * cg, kh, kw, n, ho, wo)
    return col2im(dcols, (h, wd), stride, dilation, (pads[0], pads[2]))


def wants_grad(t) -> bool:
    """Whether the backward may ask for ``t``'s gradient (grad mode on and ``t`` requires it)."""
    return autograd.is_grad_enabled() and t.requires_grad


def check_dtypes(name, x, w, bias):
    """Input, weight and bias share one floating dtype (no silent promotion, as PyTorch)."""
    dtypes = {t.dtype_name for t in (x, w, bias) if t is not None}
    if len(dtypes) > 1 or not mx.issubdtype(x.dtype, mx.floating):
        raise DTypeError(f"{name}: input, weight and bias need one floating dtype, got input "
                         f"{x.dtype_name}, weight {w.dtype_name}"
                         + (f", bias {bias.dtype_name}" if bias is not None else ""))


def conv_args(name, x, w, bias, stride, padding, dilation, groups, spatial):
    """Check shapes and normalise ``stride``/``padding``/``dilation`` to pairs."""
    for t, what in ((x, "input"), (w, "weight")):
        if not isinstance(t, Tensor):
            raise ArgumentTypeError(f"{name}: {what} must be a lucid Tensor, got "
                                    f"{type(t).__name__}")
    shapes = f"input shape {x.shape}, weight shape {w.shape}"
    check_dtypes(name, x, w, bias)
    if x.ndim not in (spatial + 1, spatial + 2):
        dims = "(N, C, H, W)" if spatial == 2 else "(N, C, L)"
        raise ShapeError(f"{name}: expected a {spatial + 2}-D input {dims} "
                         f"(or {spatial + 1}-D without batch), got {shapes}")
    if w.ndim != spatial + 2:
        raise ShapeError(f"{name}: expected a {spatial + 2}-D weight, got {shapes}")
    groups = int(groups)
    c = x.shape[-spatial - 1]
    if groups < 1 or w.shape[0] % groups:
        raise ShapeError(f"{name}: groups={groups} must divide out_channels={w.shape[0]} "
                         f"({shapes})")
    if c != w.shape[1] * groups:
        raise ShapeError(f"{name}: input has {c} channels but the weight expects "
                         f"{w.shape[1] * groups} (= {w.shape[1]} x groups={groups}); {shapes}")
    if bias is not None and tuple(bias.shape) != (w.shape[0],):
        raise ShapeError(f"{name}: bias shape {bias.shape} should be ({w.shape[0]},); {shapes}")
    def lift(v, fill):  # conv1d runs as conv2d on images of height 1
        return v if spatial == 2 else (fill, v if isinstance(v, int) else v[0])

    stride = pair(lift(stride, 1), "stride", name)
    dilation = pair(lift(dilation, 1), "dilation", name)
    if min(stride) < 1 or min(dilation) < 1:
        raise ShapeError(f"{name}: stride {stride} and dilation {dilation} must be >= 1")
    kernel = tuple(w.shape[2:]) if spatial == 2 else (1, w.shape[2])
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ArgumentError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', "
                             f"got {padding!r}")
        if padding == "same" and stride != (1, 1):
            raise ArgumentError(f"{name}: padding='same' needs stride 1, got stride {stride}")
        same = padding == "same"
        total = [d * (k - 1) if same else 0 for d, k in zip(dilation, kernel, strict=True)]
        pads = (total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2)
    else:
        ph, pw = pair(lift(padding, 0), "padding", name)
        pads = (ph, ph, pw, pw)
    if min(pads) < 0:
        raise ShapeError(f"{name}: padding must be >= 0, got {padding}")
    size = x.shape[-2:] if spatial == 2 else (1, x.shape[-1])
    padded = (size[0] + pads[0] + pads[1], size[1] + pads[2] + pads[3])
    reach = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True))
    if padded[0] < reach[0] or padded[1] < reach[1]:
        raise ShapeError(f"{name}: kernel {kernel[2 - spatial:]} (dilation "
                         f"{dilation[2 - spatial:]}) is larger than the padded input "
                         f"{padded[2 - spatial:]}; {shapes}")
    return stride, pads, dilation, groups


@op("conv2d")
def _conv2d(x, w, b, stride, pads, dilation, groups, weight_grad, x_grad):
    batched = x.ndim == 4
    out, backward = conv_forward(x if batched else x[None], w, b, stride, dilation, pads, groups,
                                 weight_grad, x_grad)
    if batched:
        return out, backward

    def unbatched_backward(g):
        dx, dw, db = backward(g[None])
        return None if dx is None else dx[0], dw, db

    return out[0], unbatched_backward


@op("conv1d")
def _conv1d(x, w, b, stride, pads, dilation, groups, weight_grad, x_grad):
    x4 = x[:, :, None, :] if x.ndim == 3 else x[None, :, None, :]
    out, backward = conv_forward(x4, w[:, :, None, :], b, stride, dilation, pads, groups,
                                 weight_grad, x_grad)
    out = out[:, :, 0, :] if x.ndim == 3 else out[0, :, 0, :]

    def backward_1d(g):
        g4 = g[:, :, None, :] if x.ndim == 3 else g[None, :, None, :]
        dx, dw, db = backward(g4)
        return (None if dx is None else dx.reshape(x.shape),
                None if dw is None else dw[:, :, 0, :], db)

    return out, backward_1d


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D cross-correlation of ``x`` ``(N, C, H, W)`` with ``weight`` ``(O, C/groups, kh, kw)``.

    ``out[n, o, u, v] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, c, s u + d i, s v + d j]``
    (``c`` over the group of ``o``). ``padding``: int, pair, ``"same"`` (stride 1) or
    ``"valid"``; ``"same"`` puts the odd extra row/column at the bottom/right, as PyTorch.
    """
    stride, pads, dilation, groups = conv_args("conv2d", x, weight, bias, stride, padding,
                                               dilation, groups, spatial=2)
    return _conv2d(x, weight, bias, stride, pads, dilation, groups, wants_grad(weight),
                   wants_grad(x))


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D cross-correlation of ``x`` ``(N, C, L)`` with ``weight`` ``(O, C/groups, k)``.

    Runs as ``conv2d`` on images of height 1.
    """
    stride, pads, dilation, groups = conv_args("conv1d", x, weight, bias, stride, padding,
                                               dilation, groups, spatial=1)
    return _conv1d(x, weight, bias, stride, pads, dilation, groups, wants_grad(weight),
                   wants_grad(x))


__all__ = ["conv1d", "conv2d"]
TENSOR_METHODS: dict = {}
