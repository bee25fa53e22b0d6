"""Binary arithmetic with NumPy broadcasting: + - * / // ** and matmul.

The engine sums gradients back to each input's shape, so these backwards return
gradients of the broadcast shape.
"""

import mlx.core as mx
import numpy as np

from ..errors import IntegerDivisionByZeroError
from ..function import op


@op("add")
def add(x, y, alpha=1):
    """out = x + alpha y;  dx = g, dy = alpha g."""
    if alpha == 1:
        return mx.add(x, y), lambda g: (g, g)
    y = mx.multiply(y, alpha) if isinstance(y, mx.array) else y * alpha
    return mx.add(x, y), lambda g: (g, g * alpha)


@op("sub")
def sub(x, y, alpha=1):
    """out = x - alpha y;  dx = g, dy = -alpha g."""
    if alpha == 1:
        return mx.subtract(x, y), lambda g: (g, -g)
    y = mx.multiply(y, alpha) if isinstance(y, mx.array) else y * alpha
    return mx.subtract(x, y), lambda g: (g, g * -alpha)


@op("mul")
def mul(x, y):
    """out = x * y;  dx = g y, dy = g x."""
    return mx.multiply(x, y), lambda g: (g * y, g * x)


@op("div")
def div(x, y):
    """out = x / y;  dx = g / y, dy = -g x / y^2."""
    out = mx.divide(x, y)
    return out, lambda g: (g / y, -g * out / y)


@op("floor_divide")
def floor_divide(x, y):
    """out = floor(x / y); piecewise constant, so no gradient flows.

    Integer division by zero raises :class:`IntegerDivisionByZeroError` (it checks ``y``,
    one evaluation, only when both operands are integers)."""
    out = mx.floor_divide(x, y)
    _check_integer_divisor("floor_divide", out, y)
    return out, None


def _check_integer_divisor(name: str, out: mx.array, y) -> None:
    """Raise when an integer ``//`` or ``%`` divides by zero (PyTorch raises too; MLX returns
    a value): one evaluation of ``y == 0``, only when the result is an integer."""
    if not mx.issubdtype(out.dtype, mx.inexact) and bool(mx.any(mx.array(y) == 0)):
        raise IntegerDivisionByZeroError(
            f"{name}: integer division by zero (divisor {_describe(y)})"
        )


def _describe(v) -> str:
    if isinstance(v, mx.array):
        return f"array of shape {tuple(v.shape)} and dtype {v.dtype}"
    return repr(v)


@op("remainder")
def remainder(x, y):
    """out = x - y floor(x / y);  dx = g, dy = -g floor(x / y). Integer ``% 0`` raises
    :class:`IntegerDivisionByZeroError`, as ``//`` does."""
    out = mx.remainder(x, y)
    _check_integer_divisor("remainder", out, y)
    return out, lambda g: (g, -g * mx.floor_divide(x, y))


@op("neg")
def neg(x):
    """out = -x;  dx = -g."""
    return mx.negative(x), lambda g: (-g,)


@op("pow")
def pow(x, y):  # noqa: A001 - PyTorch's name
    """out = x^y;  dx = g y x^(y-1), dy = g x^y ln x (x > 0)."""
    if isinstance(y, (int, float)):
        out = mx.square(x) if y == 2 else mx.power(x, y)
        return out, lambda g: (g * (2 * x if y == 2 else y * mx.power(x, y - 1)),)
    out = mx.power(x, y)

    def backward(g):
        dx = g * y * mx.power(x, y - 1)
        safe_log = mx.log(mx.where(x > 0, x, 1))
        return dx, g * out * safe_log

    return out, backward


@op("matmul")
def matmul(x, y):
    """out = x @ y, batched, with 1-D operands as in NumPy.

    dx = g @ y^T, dy = x^T @ g (summed over broadcast batch axes by the engine).
    Integer operands (MLX multiplies floating types only) go through float64 on the CPU,
    exact below 2^53, and record no gradient.
    """
    x, y = _as_array(x), _as_array(y)
    if not (mx.issubdtype(x.dtype, mx.inexact) or mx.issubdtype(y.dtype, mx.inexact)):
        wide = mx.matmul(x.astype(mx.float64), y.astype(mx.float64), stream=mx.cpu)
        return wide.astype(x.dtype if x.dtype == y.dtype else mx.int64), None
    out = mx.matmul(x, y)

    def backward(g):
        xv = x[None, :] if x.ndim == 1 else x
        yv = y[:, None] if y.ndim == 1 else y
        gv = mx.expand_dims(g, -1) if y.ndim == 1 else g
        gv = mx.expand_dims(gv, -2) if x.ndim == 1 else gv
        dx = mx.matmul(gv, mx.swapaxes(yv, -1, -2))
        dy = mx.matmul(mx.swapaxes(xv, -1, -2), gv)
        if x.ndim == 1:
            dx = dx.reshape(-1, x.shape[0]).sum(axis=0)
        if y.ndim == 1:
            dy = dy.reshape(-1, y.shape[0]).sum(axis=0)
        return dx, dy

    return out, backward


def _as_array(v) -> mx.array:
    """An MLX array for a NumPy/list operand (float64 becomes float32, as Lucid's default)."""
    if isinstance(v, mx.array):
        return v
    v = np.asarray(v)
    return mx.array(v.astype(np.float32) if v.dtype == np.float64 else v)


def _reflect(fn):
    return lambda x, y: fn(y, x)


radd, rsub, rmul, rdiv = _reflect(add), _reflect(sub), _reflect(mul), _reflect(div)
rfloordiv, rpow, rmatmul = _reflect(floor_divide), _reflect(pow), _reflect(matmul)
rremainder = _reflect(remainder)

TENSOR_METHODS = {
    "__add__": add, "__radd__": radd, "__sub__": sub, "__rsub__": rsub,
    "__mul__": mul, "__rmul__": rmul, "__truediv__": div, "__rtruediv__": rdiv,
    "__floordiv__": floor_divide, "__rfloordiv__": rfloordiv, "__mod__": remainder,
    "__rmod__": rremainder, "__pow__": pow, "__rpow__": rpow, "__matmul__": matmul,
    "__rmatmul__": rmatmul, "__neg__": neg,
    "add": add, "sub": sub, "mul": mul, "div": div, "floor_divide": floor_divide,
    "remainder": remainder, "neg": neg, "pow": pow, "matmul": matmul,
}
