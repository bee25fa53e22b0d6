"""``Tensor``: an ``mlx.core.array`` plus what autograd needs (``requires_grad``, ``grad``).

MLX is lazy; a Tensor is not. Everything that reads values (``item``, ``float``, ``int``,
``bool``, ``numpy``, ``repr``, ``__array__``) evaluates, so users never call ``eval`` to get
correct numbers. ``Tensor.eval()`` still exists and forces evaluation.

Ops are functions in ``lucid.ops``; each one that PyTorch also has as a method is bound
here as a method by ``lucid.ops.bind_methods`` at import. The in-place ops (``add_``,
``+=``, ``copy_``, ``t[i] = v``, ...) live in ``lucid.ops.inplace``; this file holds the
storage they swap (``_data``) and its aliasing and version counter.

This is the engine's bottom layer: it imports only ``dtypes``, ``devices`` and ``errors``.
What needs the layers above (``backward`` from ``autograd``, ``to`` from
``ops.conversion``) is bound as a method like every op.
"""

from __future__ import annotations

import weakref

import mlx.core as mx
import numpy as np

from . import devices
from . import dtypes as _dt
from .errors import DTypeError, GradError, ShapeError


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
    """An MLX array with autograd bookkeeping and PyTorch's storage semantics.

    MLX arrays are immutable values, so a Tensor's "storage" is the slot ``_data`` that
    holds its current array: an in-place op (``add_``, ``+=``, ``copy_``, ...) computes the
    new array and swaps it in, so the Tensor object keeps its identity and every reference
    to it sees the new values. Tensors that share storage (``t.detach()``) form an alias
    group: a swap on one reaches all of them. ``_vc`` is the storage's version counter (a
    one-element list shared by the group, made on first need), bumped by every in-place op;
    autograd compares it with the version each op recorded (see ``autograd.Node``).
    """

    __slots__ = ("_data", "requires_grad", "grad", "_node", "device", "_vc", "_aliases",
                 "__weakref__")
    __array_priority__ = 1000  # NumPy defers to our reflected operators

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        self.device = devices.canonical(device)
        self._data = _to_array(data, _dt.to_dtype(dtype))
        self.grad = None
        self._node = None
        self._vc = None
        self._aliases = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: mx.array, device: str) -> Tensor:
        t = object.__new__(cls)
        t._data = array
        t.device = device
        t.requires_grad = False
        t.grad = None
        t._node = None
        t._vc = None
        t._aliases = None
        return t

    # ----- storage ----------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """PyTorch's ``.data``: a tensor sharing this one's storage, outside the graph and
        not requiring grad, with a version counter of its own, so that in-place changes
        through it (``p.data.normal_(0, 0.02)``, ``p.data.mul_(0.5)``) change ``p`` and are
        invisible to autograd. ``t.data = v`` (a Tensor or an MLX array) replaces the values
        of ``t`` and of every tensor sharing its storage; the shape may change; the version
        is not bumped. (The MLX array itself is ``t._data``.)
        """
        out = Tensor._wrap(self._data, self.device)
        self._share_storage(out)
        out._vc = [0]  # its own version: changes through .data do not trip autograd's check
        return out

    @data.setter
    def data(self, value) -> None:
        device = None
        if isinstance(value, Tensor):
            value, device = value._data, value.device
        try:
            group = self._aliases
        except AttributeError:  # a subclass that fills its fields by hand (nn.Parameter)
            self._vc = self._aliases = group = None
        for t in self._members(group):
            t._data = value
            if device is not None:
                t.device = device

    def _members(self, group=None) -> list:
        """The live tensors sharing this tensor's storage (itself included)."""
        group = self._aliases if group is None else group
        if group is None:
            return [self]
        return [t for t in (ref() for ref in group) if t is not None]

    def _version_counter(self) -> list:
        vc = self._vc
        if vc is None:
            vc = self._vc = [0]
        return vc

    @property
    def _version(self) -> int:
        """How many in-place ops changed this storage (PyTorch's ``t._version``)."""
        return 0 if self._vc is None else self._vc[0]

    def _share_storage(self, other: Tensor) -> None:
        """Make ``other`` an alias of this tensor's storage (same array, same version)."""
        if self._aliases is None:
            self._aliases = [weakref.ref(self)]
        group = self._aliases
        if len(group) > 8:  # drop the aliases that died
            group[:] = [ref for ref in group if ref() is not None]
        group.append(weakref.ref(other))
        other._aliases = group
        other._vc = self._version_counter()
        other._data = self._data

    _STATE = ("_data", "requires_grad", "grad", "_node", "device")

    def __getstate__(self) -> dict:
        """What ``copy.deepcopy`` and ``pickle`` keep: the values, not the aliasing."""
        return {name: getattr(self, name) for name in self._STATE}

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._vc = self._aliases = None  # a copy has its own storage

    # ----- attributes -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return tuple(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> mx.Dtype:
        return self._data.dtype

    @property
    def dtype_name(self) -> str:
        return _dt.name(self._data.dtype)

    @property
    def size(self) -> Size:
        return Size(self._data.shape)

    def numel(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

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

    def detach(self) -> Tensor:
        """A tensor out of the graph that shares this one's storage, as in PyTorch:
        an in-place op on either changes both (and bumps their common version)."""
        out = Tensor._wrap(self._data, self.device)
        self._share_storage(out)
        return out

    def detach_(self) -> Tensor:
        self._node = None
        self.requires_grad = False
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def _accumulate_grad(self, g: mx.array) -> None:
        """``self.grad += g`` for a leaf (a new Tensor each time: a ``.grad`` a user holds
        keeps its values)."""
        if self.grad is None:
            self.grad = Tensor._wrap(g, self.device)
        else:
            self.grad = Tensor._wrap(self.grad._data + g, self.device)

    # ----- evaluation and conversion ----------------------------------------------
    def eval(self) -> Tensor:
        """Force MLX to compute this value now (never required for correctness)."""
        mx.eval(self._data)
        return self

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def numpy(self) -> np.ndarray:
        a = self._data
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
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous; "
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


def _to_array(data, dtype) -> mx.array:
    """Convert ``data`` (Tensor, MLX/NumPy array, scalar, nested list) to an MLX array.

    Python floats and float64 arrays become float32 (unless ``dtype`` is float64); Python ints
    become int64, as in PyTorch.
    """
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, mx.array):
        arr = data
    else:
        given = data
        if not isinstance(data, np.ndarray):
            try:
                data = np.asarray(data)
            except ValueError as err:
                raise ShapeError(f"tensor: ragged nested sequence, rows differ in length ({err})") from None
        if data.dtype == object:
            raise DTypeError(f"cannot make a tensor from {type(data).__name__} of mixed objects")
        if data.dtype.kind not in "biufc":
            text = repr(given)
            text = text if len(text) <= 60 else text[:57] + "..."
            raise DTypeError(
                f"tensor: cannot make a tensor from {text} (NumPy dtype {data.dtype}); "
                "tensors hold numbers and bools"
            )
        if data.dtype == np.float64 and (dtype is None or dtype != mx.float64):  # float64 if asked
            data = data.astype(np.float32)
        if data.size == 0:  # MLX reductions over an empty array made from NumPy can hang
            arr = mx.zeros(data.shape, dtype=dtype or _dt.from_numpy_dtype(data.dtype))
        else:
            try:
                arr = mx.array(data, dtype=dtype) if dtype is not None else mx.array(data)
            except RuntimeError as err:  # e.g. std::bad_cast for float128
                raise DTypeError(
                    f"tensor: NumPy dtype {data.dtype} has no Lucid equivalent ({err})"
                ) from None
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr
