"""Elementwise math, comparisons and logic, with NumPy broadcasting.

Each differentiable op states its derivative; the engine sums gradients back to each
input's shape. Piecewise-constant ops (sign, floor, ceil, round) pass a zero gradient,
as PyTorch does; comparisons and logic return bool tensors and record no graph.
"""

import math

import mlx.core as mx
import numpy as np

from .. import _native
from .. import dtypes as _dt
from .._tensor import Tensor
from ..errors import ArgumentTypeError, DTypeError
from ..function import op

_LN2 = math.log(2.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _zero_grad(g):
    return (mx.zeros_like(g),)


# ----- unary math -------------------------------------------------------------------
@op("abs")
def abs(x):  # noqa: A001 - PyTorch's name
    """out = |x|;  dx = g sign(x) (0 at x = 0)."""
    return mx.abs(x), lambda g: (g * mx.sign(x),)


@op("exp")
def exp(x):
    """out = e^x;  dx = g out."""
    out = mx.exp(x)
    return out, lambda g: (g * out,)


@op("log")
def log(x):
    """out = ln x;  dx = g / x."""
    return mx.log(x), lambda g: (g / x,)


@op("log1p")
def log1p(x):
    """out = ln(1 + x);  dx = g / (1 + x)."""
    return mx.log1p(x), lambda g: (g / (x + 1),)


@op("log2")
def log2(x):
    """out = log2 x;  dx = g / (x ln 2)."""
    return mx.log2(x), lambda g: (g / (x * _LN2),)


@op("sqrt")
def sqrt(x):
    """out = sqrt(x);  dx = g / (2 out)."""
    out = mx.sqrt(x)
    return out, lambda g: (g / (out * 2),)


@op("rsqrt")
def rsqrt(x):
    """out = 1 / sqrt(x);  dx = -g out / (2 x)."""
    out = mx.rsqrt(x)
    return out, lambda g: (g * out / (x * -2),)


@op("square")
def square(x):
    """out = x^2;  dx = 2 g x."""
    return mx.square(x), lambda g: (g * (x * 2),)


@op("reciprocal")
def reciprocal(x):
    """out = 1 / x;  dx = -g out^2."""
    out = mx.reciprocal(x)
    return out, lambda g: (-g * mx.square(out),)


@op("sin")
def sin(x):
    """out = sin x;  dx = g cos x."""
    return mx.sin(x), lambda g: (g * mx.cos(x),)


@op("cos")
def cos(x):
    """out = cos x;  dx = -g sin x."""
    return mx.cos(x), lambda g: (-g * mx.sin(x),)


@op("tanh")
def tanh(x):
    """out = tanh x;  dx = g (1 - out^2). On the CPU in float32: the native multi-threaded
    kernel when built (``lucid._native``)."""
    lib = _native.for_cpu_float32(x) if x.size else None
    if lib is not None:
        out = lib.tanh(x)
        return out, lambda g: (lib.tanh_backward(g, out),)
    out = mx.tanh(x)
    return out, lambda g: (g * (1 - mx.square(out)),)


@op("sigmoid")
def sigmoid(x):
    """out = 1 / (1 + e^-x);  dx = g out (1 - out)."""
    out = mx.sigmoid(x)
    return out, lambda g: (g * (out * (1 - out)),)


# one fused pass (mx.compile) instead of a mask and a product: 1.5x faster on the CPU
_masked = mx.compile(lambda g, x: g * (x > 0))


@op("relu")
def relu(x):
    """out = max(x, 0);  dx = g * [x > 0] = g * [out > 0].

    The backward keeps the output, not the input: the output is usually kept anyway (the
    next layer's input), so the input (a BatchNorm's output, a residual sum) can be freed
    after the forward. ``out > 0`` exactly where ``x > 0`` (NaN compares false in both).

    On the CPU in float32: the native multi-threaded kernel when built (``lucid._native``).
    Otherwise a product with the mask, a quarter of the time of ``mx.where`` on the CPU; the
    one difference: an infinite or NaN gradient at x <= 0 gives NaN there rather than 0."""
    lib = _native.for_cpu_float32(x) if x.size else None
    if lib is not None:
        out = lib.relu(x)
        return out, lambda g: (lib.relu_backward(g, out),)
    out = mx.maximum(x, 0)
    return out, lambda g: (_masked(g, out),)


@op("add_relu")
def add_relu(a, b):
    """out = max(a + b, 0), a residual block's end, as one op;  da = db = g * [out > 0].

    On the CPU in float32 with equal shapes: one native multi-threaded pass (MLX's add runs
    on one thread); otherwise ``relu(a + b)``. The backward keeps only ``out``."""
    lib = _native.for_cpu_float32(a, b) if a.size and a.shape == b.shape else None
    out = lib.add_relu(a, b) if lib is not None else mx.maximum(a + b, 0)

    def backward(g):
        mask = lib.relu_backward(g, out) if lib is not None else _masked(g, out)
        return mask, mask

    return out, backward


@op("erf")
def erf(x):
    """out = erf x;  dx = g 2/sqrt(pi) e^(-x^2)."""
    return mx.erf(x), lambda g: (g * (_TWO_OVER_SQRT_PI * mx.exp(-mx.square(x))),)


@op("sign")
def sign(x):
    """out = -1, 0 or 1;  piecewise constant: dx = 0."""
    return mx.sign(x), _zero_grad


@op("floor")
def floor(x):
    """out = largest integer <= x;  dx = 0."""
    return (x if not _dt.is_floating(x.dtype) else mx.floor(x)), _zero_grad


@op("ceil")
def ceil(x):
    """out = smallest integer >= x;  dx = 0."""
    return (x if not _dt.is_floating(x.dtype) else mx.ceil(x)), _zero_grad


@op("round")
def round(x, decimals: int = 0):  # noqa: A001
    """out = x rounded half to even (to ``decimals`` places);  dx = 0."""
    return (x if not _dt.is_floating(x.dtype) else mx.round(x, decimals)), _zero_grad


# ----- binary and ternary -----------------------------------------------------------
@op("clamp")
def _clamp(x, lo, hi):
    """out = min(max(x, lo), hi), with PyTorch's gradients.

    Number bounds: dx = g strictly inside (lo, hi), else 0.
    Tensor bounds: the gradient goes to whichever of x, lo, hi the output equals, split in
    half on a tie (x equal to both bounds keeps it all); when lo > hi the output is hi.
    """
    if lo is None and hi is None:
        raise ArgumentTypeError("clamp: at least one of min and max must be given")
    out = x
    if lo is not None:
        out = mx.maximum(out, lo)
    if hi is not None:
        out = mx.minimum(out, hi)
    if not isinstance(lo, mx.array) and not isinstance(hi, mx.array):
        inside = x > lo if hi is None else (x < hi if lo is None else (x > lo) & (x < hi))
        return out, lambda g: (mx.where(inside, g, 0),)
    if hi is None:
        return out, lambda g: _split(g, x > lo, x == lo) + (None,)
    if lo is None:
        return out, lambda g: _split(g, x < hi, x == hi, gap=True)

    def backward(g):
        ok = lo <= hi
        at_lo, at_hi = x == lo, x == hi
        half = g * 0.5
        x_w = mx.where((x >= lo) & (x <= hi) & ok, mx.where(at_lo != at_hi, half, g), 0)
        lo_w = mx.where(ok & (x < lo), g, mx.where(ok & at_lo & (lo < hi), half, 0))
        hi_w = mx.where(~ok | (x > hi), g, mx.where(at_hi & (lo < hi), half, 0))
        return x_w, lo_w, hi_w

    return out, backward


def _split(g, first_wins, tie, gap=False):
    """Gradients of a two-way choice: all to the winner, half each on a tie.

    ``gap=True`` puts a ``None`` between the two (clamp's unused ``min`` slot).
    """
    half = g * 0.5
    g_first = mx.where(first_wins, g, mx.where(tie, half, 0))
    g_second = mx.where(first_wins | tie, mx.where(tie, half, 0), g)
    return (g_first, None, g_second) if gap else (g_first, g_second)


def clamp(x, min=None, max=None):  # noqa: A002 - PyTorch's names
    """Limit ``x`` to ``[min, max]``; either bound may be None, a number or a tensor."""
    return _clamp(x, min, max)


clip = clamp


@op("maximum")
def maximum(x, y):
    """out = max(x, y);  the gradient goes to the larger input, split in half on ties."""
    return mx.maximum(x, y), lambda g: _split(g, x > y, x == y)


@op("minimum")
def minimum(x, y):
    """out = min(x, y);  the gradient goes to the smaller input, split in half on ties."""
    return mx.minimum(x, y), lambda g: _split(g, x < y, x == y)


@op("where")
def _where(cond, x, y):
    """out = x where cond else y;  dx = g where cond, dy = g where not cond."""
    if not isinstance(cond, mx.array):
        cond = mx.array(cond)
    if cond.dtype != mx.bool_:
        cond = cond.astype(mx.bool_)
    out = mx.where(cond, x, y)
    return out, lambda g: (None, mx.where(cond, g, 0), mx.where(cond, 0, g))


def where(condition, x, y):
    """Pick ``x`` where ``condition`` holds, else ``y`` (tensors or numbers, broadcast)."""
    return _where(condition, x, y)


def _tensor_where(self, condition, other):
    """``x.where(cond, other)`` is ``where(cond, x, other)``, as in PyTorch."""
    return _where(condition, self, other)


# ----- comparisons and logic (bool results, no gradient) ---------------------------
def _compare(name, fn):
    @op(name)
    def compare(x, y):
        return fn(x, y), None

    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` as a bool tensor (no gradient)."
    return compare


eq = _compare("eq", mx.equal)
ne = _compare("ne", mx.not_equal)
lt = _compare("lt", mx.less)
le = _compare("le", mx.less_equal)
gt = _compare("gt", mx.greater)
ge = _compare("ge", mx.greater_equal)
logical_and = _compare("logical_and", mx.logical_and)
logical_or = _compare("logical_or", mx.logical_or)


@op("logical_not")
def logical_not(x):
    """out = not x (nonzero is true), a bool tensor."""
    return mx.logical_not(x), None


@op("isnan")
def isnan(x):
    return mx.isnan(x), None


@op("isinf")
def isinf(x):
    return mx.isinf(x), None


@op("isfinite")
def isfinite(x):
    return mx.isfinite(x), None


@op("invert")
def _invert(x):
    """``~x``: logical not of a bool tensor, bitwise not of an integer one."""
    if x.dtype == mx.bool_:
        return mx.logical_not(x), None
    if _dt.is_floating(x.dtype):
        raise DTypeError(f"~ (invert): needs a bool or integer tensor, got {_dt.name(x.dtype)}")
    return mx.bitwise_invert(x), None


_OPERANDS = (Tensor, mx.array, np.ndarray, int, float, bool, np.number, np.bool_)


def _dunder(fn):
    """A comparison operator: unrelated types compare as Python objects (``t == None``)."""

    def method(self, other):
        if not isinstance(other, _OPERANDS):
            return NotImplemented
        return fn(self, other)

    method.__name__ = fn.__name__
    return method


__all__ = [
    "abs", "exp", "log", "log1p", "log2", "sqrt", "rsqrt", "square", "reciprocal", "sin", "cos",
    "tanh", "sigmoid", "relu", "add_relu", "erf", "sign", "floor", "ceil", "round", "clamp", "clip",
    "maximum", "minimum", "where", "eq", "ne", "lt", "le", "gt", "ge", "logical_and",
    "logical_or", "logical_not", "isnan", "isinf", "isfinite",
]

TENSOR_METHODS = {
    **{name: globals()[name] for name in __all__ if name not in ("where", "add_relu")},
    "where": _tensor_where,
    "__abs__": abs,
    "__invert__": _invert,
    "__eq__": _dunder(eq), "__ne__": _dunder(ne), "__lt__": _dunder(lt),
    "__le__": _dunder(le), "__gt__": _dunder(gt), "__ge__": _dunder(ge),
}
