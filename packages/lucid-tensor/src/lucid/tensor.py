"""``Tensor``: an ``mlx.core.array`` plus what autograd needs (``requires_grad``, ``grad``).

MLX is lazy; a Tensor is not. Everything that reads values (``item``, ``float``, ``int``,
``bool``, ``numpy``, ``repr``, ``__array__``) evaluates, so users never call ``eval`` to get
correct numbers. ``Tensor.eval()`` still exists and forces evaluation.

Ops are functions in ``lucid.ops``; each one that PyTorch also has as a method is bound
here as a method by ``lucid.ops.bind_methods`` at import.
"""

from __future__ import annotations

import mlx.core as mx
import numpy as np

from . import autograd, devices
from . import dtypes as _dt
from .errors import DTypeError, GradError


class Size(int):
    """An element count that is also callable like PyTorch's ``size()``.

    ``t.size`` is the number of elements (the seed's usage); ``t.size()`` is the shape and
    ``t.size(d)`` the length of axis ``d``.
    """

    def __new__(cls, shape):
        n = 1
        for s in shape:
            n *= s
        obj = super().__new__(cls, n)
        obj._shape = tuple(shape)
        return obj

    def __call__(self, dim=None):
        return self._shape if dim is None else self._shape[dim]


class Tensor:
    __slots__ = ("data", "requires_grad", "grad", "_node", "device", "__weakref__")
    __array_priority__ = 1000  # NumPy defers to our reflected operators

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        from .creation import _to_array

        self.device = devices.canonical(device)
        self.data = _to_array(data, _dt.to_dtype(dtype), self.device)
        self.grad = None
        self._node = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: mx.array, device: str) -> Tensor:
        t = object.__new__(cls)
        t.data = array
        t.device = device
        t.requires_grad = False
        t.grad = None
        t._node = None
        return t

    # ----- attributes -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> mx.Dtype:
        return self.data.dtype

    @property
    def dtype_name(self) -> str:
        return _dt.name(self.data.dtype)

    @property
    def size(self) -> Size:
        return Size(self.data.shape)

    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def is_floating_point(self) -> bool:
        return _dt.is_floating(self.dtype)

    # ----- autograd ---------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and not _dt.is_floating(self.dtype):
            raise DTypeError(
                f"only floating-point tensors can require gradients; this one is {self.dtype_name} "
                f"with shape {self.shape}"
            )
        if not requires_grad and self._node is not None:
            raise GradError("requires_grad_(False) on a non-leaf tensor; use .detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        if self._node is not None:
            self._node.retained = self

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate ``d self / d leaf`` (times ``gradient``) into every leaf's ``.grad``."""
        if not self.requires_grad:
            raise GradError(
                "backward() on a tensor that does not require grad and has no graph "
                f"(shape {self.shape}); did you create it under no_grad or from constants?"
            )
        if gradient is None:
            if self.data.size != 1:
                raise GradError(
                    f"backward() without a gradient needs a scalar output; this one has shape "
                    f"{self.shape}. Pass gradient= of that shape, or reduce it first (e.g. .sum())"
                )
            g = mx.ones(self.data.shape, dtype=self.dtype)
        else:
            g = gradient.data if isinstance(gradient, Tensor) else mx.array(gradient, dtype=self.dtype)
            if tuple(g.shape) != self.shape:
                raise GradError(f"backward(): gradient shape {tuple(g.shape)} != tensor shape {self.shape}")
        autograd.run_backward(self, g, retain_graph)

    def detach(self) -> Tensor:
        return Tensor._wrap(mx.stop_gradient(self.data), self.device)

    def detach_(self) -> Tensor:
        self._node = None
        self.requires_grad = False
        return self

    def zero_grad(self) -> None:
        self.grad = None

    # ----- evaluation and conversion ----------------------------------------------
    def eval(self) -> Tensor:
        """Force MLX to compute this value now (never required for correctness)."""
        mx.eval(self.data)
        return self

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def numpy(self) -> np.ndarray:
        a = self.data
        if a.dtype == mx.bfloat16:
            a = a.astype(mx.float32)
        return np.array(a)

    def __array__(self, dtype=None, copy=None):
        out = self.numpy()
        return out.astype(dtype) if dtype is not None else out

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if _dt.is_floating(self.dtype):
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.item())

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", precision=4, prefix="tensor(")
        extra = ""
        if self.dtype not in (mx.float32, mx.int64, mx.bool_):
            extra += f", dtype={self.dtype_name}"
        if self.device != "cpu":
            extra += f", device='{self.device}'"
        if self._node is not None:
            extra += f", grad_fn={self._node!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    __hash__ = object.__hash__

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    # ----- devices and dtypes -----------------------------------------------------
    def to(self, *args, dtype=None, device=None) -> Tensor:
        """``to(device)``, ``to(dtype)`` or both; differentiable like any op."""
        for a in args:
            if isinstance(a, (mx.Dtype,)) or (not isinstance(a, str) and _is_dtype(a)):
                dtype = a
            else:
                device = a
        out = self
        if dtype is not None and _dt.to_dtype(dtype) != self.dtype:
            out = out.astype(dtype)
        if device is not None and devices.canonical(device) != self.device:
            from .ops.conversion import to_device

            out = to_device(out, devices.canonical(device))
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def gpu(self) -> Tensor:
        return self.to("gpu")

    def cuda(self) -> Tensor:
        return self.to("gpu")

    def float(self) -> Tensor:
        return self.astype(mx.float32)

    def half(self) -> Tensor:
        return self.astype(mx.float16)

    def long(self) -> Tensor:
        return self.astype(mx.int64)

    def int(self) -> Tensor:
        return self.astype(mx.int32)

    def bool(self) -> Tensor:
        return self.astype(mx.bool_)

    def type(self, dtype) -> Tensor:
        return self.astype(dtype)

    # ----- in-place updates (no graph; for init, optimizers, buffers) -------------
    def _check_inplace(self, what: str) -> None:
        if autograd.is_grad_enabled() and (self.requires_grad or self._node is not None):
            raise GradError(
                f"{what}: in-place update of a tensor that requires grad (shape {self.shape}); "
                "wrap it in lucid.no_grad() or use an out-of-place op"
            )

    def _set(self, value, what: str) -> Tensor:
        self._check_inplace(what)
        value = value.data if isinstance(value, Tensor) else value
        new = mx.broadcast_to(mx.array(value, dtype=self.dtype), self.data.shape)
        self.data = new.astype(self.dtype) if new.dtype != self.dtype else new
        return self

    def copy_(self, src) -> Tensor:
        src = src.data if isinstance(src, Tensor) else mx.array(np.asarray(src))
        if tuple(src.shape) != self.shape and src.size != self.data.size:
            from .errors import ShapeError

            raise ShapeError(f"copy_: source shape {tuple(src.shape)} does not fit {self.shape}")
        return self._set(mx.broadcast_to(src, self.data.shape), "copy_")

    def fill_(self, value) -> Tensor:
        return self._set(mx.full(self.data.shape, value, dtype=self.dtype), "fill_")

    def zero_(self) -> Tensor:
        return self._set(mx.zeros(self.data.shape, dtype=self.dtype), "zero_")

    def add_(self, other, alpha=1) -> Tensor:
        o = other.data if isinstance(other, Tensor) else other
        return self._set(self.data + alpha * o, "add_")

    def sub_(self, other, alpha=1) -> Tensor:
        o = other.data if isinstance(other, Tensor) else other
        return self._set(self.data - alpha * o, "sub_")

    def mul_(self, other) -> Tensor:
        o = other.data if isinstance(other, Tensor) else other
        return self._set(self.data * o, "mul_")

    def div_(self, other) -> Tensor:
        o = other.data if isinstance(other, Tensor) else other
        return self._set(self.data / o, "div_")

    def clamp_(self, min=None, max=None) -> Tensor:  # noqa: A002
        return self._set(mx.clip(self.data, min, max), "clamp_")

    def uniform_(self, a=0.0, b=1.0) -> Tensor:
        return self._set(mx.random.uniform(a, b, self.data.shape, dtype=self.dtype), "uniform_")

    def normal_(self, mean=0.0, std=1.0) -> Tensor:
        return self._set(mean + std * mx.random.normal(self.data.shape, dtype=self.dtype), "normal_")

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        from .ops.indexing import assign

        self.data = assign(self.data, index, value)


def _is_dtype(a) -> bool:
    try:
        _dt.to_dtype(a)
        return True
    except Exception:
        return False
