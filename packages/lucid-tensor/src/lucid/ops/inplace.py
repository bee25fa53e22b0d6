"""In-place ops (``add_``, ``p -= lr * g``, ``copy_``, ``t[i] = v``, ...) with PyTorch's semantics.

MLX arrays are immutable values, so an in-place op computes its result with the ordinary
differentiable op and swaps the new array into the tensor's storage (``Tensor._data``, which
the tensors sharing it see too). What makes it PyTorch's in-place:

- identity: ``q = p; q += 1`` changes ``p``; the method returns the tensor itself.
- shape: the other operands broadcast to the tensor's shape, which never changes.
- dtype: the result is cast to the tensor's dtype; a cast across kinds (float to integer,
  anything to bool) raises, as PyTorch ("result type Float can't be cast to the desired
  output type Long").
- autograd: on a leaf that requires grad it raises unless under ``no_grad``; on a tensor in
  the graph the op is recorded and becomes the tensor's ``grad_fn``; the storage's version
  is bumped, so an earlier backward that kept the old values raises instead of using them
  (``autograd.Node.check_versions``).
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from .. import autograd
from .. import dtypes as _dt
from .._tensor import Tensor
from ..errors import DTypeError, GradError, ShapeError
from ..function import op
from . import arithmetic, elementwise
from .conversion import astype, to_device
from .indexing import assign, getitem

# PyTorch's names for dtypes, as its in-place cast error spells them.
_TORCH_NAMES = {
    mx.float32: "Float", mx.float16: "Half", mx.bfloat16: "BFloat16", mx.int64: "Long",
    mx.int32: "Int", mx.int16: "Short", mx.int8: "Char", mx.uint8: "Byte", mx.bool_: "Bool",
}


# Ops whose PyTorch backward keeps their result: overwriting that result in place makes
# their backward raise, in PyTorch and here. (Some other Lucid backwards hold their result
# too, e.g. div's; their copy is immutable, so the gradient stays right, and PyTorch, which
# does not keep it, raises nothing: neither does Lucid.)
_KEEPS_RESULT = frozenset({
    "exp", "sqrt", "rsqrt", "reciprocal", "sigmoid", "tanh", "relu", "softmax", "log_softmax",
    "logsumexp", "norm", "prod", "std",
})


def _kind(dtype) -> int:
    """0 bool, 1 integer, 2 floating: a result may be cast to its own kind or a higher one."""
    return 0 if dtype == mx.bool_ else (2 if _dt.is_floating(dtype) else 1)


def check_leaf(t: Tensor, name: str) -> None:
    """PyTorch's rule: a leaf that requires grad may change in place only under no_grad."""
    if t.requires_grad and t._node is None and autograd.is_grad_enabled():
        raise GradError(
            f"{name}: in-place update of a leaf that requires grad (shape {t.shape}): a leaf "
            "Variable that requires grad is being used in an in-place operation; wrap it in "
            "lucid.no_grad() (as optimizers do) or use an out-of-place op"
        )


def _swap(t: Tensor, name: str, out: Tensor) -> Tensor:
    """Make ``out`` (computed from ``t``) the new value of ``t``; ``t`` keeps its identity."""
    new, old = out._data, t._data
    if new.shape != old.shape:
        raise ShapeError(
            f"{name}: output with shape {t.shape} doesn't match the broadcast shape "
            f"{out.shape}; the other operands must broadcast to the tensor's shape, which an "
            "in-place op never changes"
        )
    vc = t._version_counter()
    node = out._node
    if node is not None:  # this op's own record of t holds t's old values by design
        node.saved = [s for s in node.saved if s[0] is not vc]
    if new.dtype != old.dtype:
        if _kind(new.dtype) > _kind(old.dtype):
            raise DTypeError(
                f"{name}: result type {_torch_name(new.dtype)} can't be cast to the desired "
                f"output type {_torch_name(old.dtype)} (tensor of shape {t.shape}, dtype "
                f"{t.dtype_name}); use an out-of-place op"
            )
        out = astype(out, old.dtype)
        new, node = out._data, out._node
    members = (t,) if t._aliases is None else t._members()
    for made_by in {id(a._node): a._node for a in members if a._node is not None}.values():
        if made_by.name in _KEEPS_RESULT:  # the backward of the op that made t uses t
            made_by.saved.append((vc, vc[0], id(old), "output"))
    vc[0] += 1
    if node is not None:
        if t._node is not None and t._node.retained is t:  # retain_grad() follows the tensor
            t._node.retained, node.retained = None, t
        t._node = node
        t.requires_grad = True
    for alias in members:
        alias._data = new
    return t


def _torch_name(dtype) -> str:
    return _TORCH_NAMES.get(dtype, _dt.name(dtype))


def _apply(t: Tensor, name: str, compute) -> Tensor:
    """Check, run ``compute()`` (the out-of-place op on ``t``), swap the result into ``t``."""
    check_leaf(t, name)
    try:
        out = compute()
    except ShapeError as err:
        raise ShapeError(
            f"{name}: the operands do not broadcast to the tensor's shape {t.shape} ({err})"
        ) from err
    return _swap(t, name, out)


def _scaled(other, alpha):
    if alpha == 1:
        return other
    return arithmetic.mul(other, alpha) if isinstance(other, Tensor) else other * alpha


# ----- arithmetic: self = self (op) other --------------------------------------------
def add_(self, other, alpha=1):
    """self += alpha * other."""
    return _apply(self, "add_", lambda: arithmetic.add(self, _scaled(other, alpha)))


def sub_(self, other, alpha=1):
    """self -= alpha * other."""
    return _apply(self, "sub_", lambda: arithmetic.sub(self, _scaled(other, alpha)))


def mul_(self, other):
    """self *= other."""
    return _apply(self, "mul_", lambda: arithmetic.mul(self, other))


def div_(self, other):
    """self /= other (true division: an integer tensor raises, as in PyTorch)."""
    return _apply(self, "div_", lambda: arithmetic.div(self, other))


def floor_divide_(self, other):
    """self //= other."""
    return _apply(self, "floor_divide_", lambda: arithmetic.floor_divide(self, other))


def remainder_(self, other):
    """self %= other."""
    return _apply(self, "remainder_", lambda: arithmetic.remainder(self, other))


def pow_(self, exponent):
    """self = self ** exponent."""
    return _apply(self, "pow_", lambda: arithmetic.pow(self, exponent))


def addcmul_(self, tensor1, tensor2, value=1):
    """self += value * tensor1 * tensor2."""
    return _apply(self, "addcmul_", lambda: arithmetic.add(
        self, _scaled(arithmetic.mul(tensor1, tensor2), value)))


def addcdiv_(self, tensor1, tensor2, value=1):
    """self += value * tensor1 / tensor2."""
    return _apply(self, "addcdiv_", lambda: arithmetic.add(
        self, _scaled(arithmetic.div(tensor1, tensor2), value)))


def lerp_(self, end, weight):
    """self += weight * (end - self)."""
    return _apply(self, "lerp_", lambda: arithmetic.add(
        self, arithmetic.mul(arithmetic.sub(end, self), weight)))


# ----- elementwise: self = f(self) ---------------------------------------------------
def _unary(fn):
    """The in-place method of the op ``fn``, named as in PyTorch: ``fn``'s name + "_"."""
    name = f"{fn.op_name}_"

    def method(self):
        return _apply(self, name, lambda: fn(self))

    method.__name__ = name
    method.__doc__ = f"self = {fn.op_name}(self), in place."
    return method


neg_ = _unary(arithmetic.neg)
abs_ = _unary(elementwise.abs)
exp_ = _unary(elementwise.exp)
log_ = _unary(elementwise.log)
sqrt_ = _unary(elementwise.sqrt)


def clamp_(self, min=None, max=None):  # noqa: A002 - PyTorch's names
    """self = min(max(self, min), max)."""
    return _apply(self, "clamp_", lambda: elementwise.clamp(self, min, max))


# ----- overwrites: the old values do not reach the result (their gradient is 0) -------
def _overwrite_op(name):
    @op(name)
    def overwrite(x, make):
        """out = make();  dx = 0."""
        return make(), lambda g: (mx.zeros_like(g),)

    return overwrite


_FILL, _ZERO, _NORMAL, _UNIFORM = (_overwrite_op(n) for n in ("fill_", "zero_", "normal_", "uniform_"))


@op("copy_")
def _copy(x, src):
    """out = src broadcast to x's shape, cast to x's dtype;  dx = 0, dsrc = g."""
    out = mx.broadcast_to(src, x.shape).astype(x.dtype)
    return out, lambda g: (mx.zeros_like(g), g.astype(src.dtype))


def copy_(self, src):
    """self = src, broadcast to self's shape and cast to self's dtype (any dtype, any device)."""
    if not isinstance(src, Tensor):
        src = Tensor(src, device=self.device)
    elif src.device != self.device:
        src = to_device(src, self.device)
    try:
        fits = np.broadcast_shapes(src.shape, self.shape) == self.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(
            f"copy_: source shape {src.shape} does not broadcast to the tensor's shape {self.shape}"
        )
    return _apply(self, "copy_", lambda: _copy(self, src))


def fill_(self, value):
    """self = value everywhere (a number, or a 0-d tensor whose gradient is the sum)."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"fill_: a tensor value must be 0-d, got shape {value.shape}")
        return copy_(self, value)
    shape, dtype = self.shape, self.dtype
    return _apply(self, "fill_", lambda: _FILL(self, make=lambda: mx.full(shape, mx.array(value).astype(dtype))))


def zero_(self):
    """self = 0."""
    shape, dtype = self.shape, self.dtype
    return _apply(self, "zero_", lambda: _ZERO(self, make=lambda: mx.zeros(shape, dtype)))


def _floating(t, name):
    if not t.is_floating_point:
        raise DTypeError(f"{name}: needs a floating-point tensor, got {t.dtype_name} of shape {t.shape}")


def normal_(self, mean=0.0, std=1.0):
    """self ~ N(mean, std^2), drawn from Lucid's generator (``lucid.manual_seed``)."""
    _floating(self, "normal_")
    shape, dtype = self.shape, self.dtype
    return _apply(self, "normal_", lambda: _NORMAL(
        self, make=lambda: mean + std * mx.random.normal(shape, dtype=dtype)))


def uniform_(self, a=0.0, b=1.0):
    """self ~ U(a, b)."""
    _floating(self, "uniform_")
    shape, dtype = self.shape, self.dtype
    return _apply(self, "uniform_", lambda: _UNIFORM(
        self, make=lambda: mx.random.uniform(a, b, shape, dtype=dtype)))


# ----- t[index] = value ---------------------------------------------------------------
@op("setitem")
def _setitem(x, index, value, *, on):
    """out = x with out[index] = value;  dx = g with the written positions zeroed,
    dvalue = g[index] (summed back to value's shape by the engine)."""

    def backward(g):
        dvalue = None
        if isinstance(value, mx.array):
            dvalue = getitem(Tensor._wrap(g, on), index)._data
        return assign(g, index, 0), None, dvalue

    return assign(x, index, value), backward


def setitem(self, index, value):
    """``self[index] = value`` as PyTorch (``value`` broadcasts to the indexed shape)."""
    _apply(self, "__setitem__", lambda: _setitem(self, index, value, on=self.device))


TENSOR_METHODS = {
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "floor_divide_": floor_divide_,
    "remainder_": remainder_, "pow_": pow_, "addcmul_": addcmul_, "addcdiv_": addcdiv_,
    "lerp_": lerp_, "neg_": neg_, "abs_": abs_, "exp_": exp_, "log_": log_, "sqrt_": sqrt_,
    "clamp_": clamp_, "clip_": clamp_, "copy_": copy_, "fill_": fill_, "zero_": zero_,
    "normal_": normal_, "uniform_": uniform_, "__setitem__": setitem,
    "__iadd__": add_, "__isub__": sub_, "__imul__": mul_, "__itruediv__": div_,
    "__ifloordiv__": floor_divide_, "__imod__": remainder_, "__ipow__": pow_,
}
