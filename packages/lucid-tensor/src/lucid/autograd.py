"""Reverse-mode automatic differentiation over a dynamic graph.

Every op that produces a tensor from inputs that require gradients attaches a ``Node``
to its output: the op's name, its parent tensors and a ``backward`` closure written next
to the op's forward (see ``lucid.function.op``). ``backward`` maps the gradient of the
output, ``g = dL/dout``, to the gradients of the parents, ``dL/dx_i``.

``Tensor.backward`` walks the nodes in reverse topological order, summing the gradients
that reach each node, un-broadcasting them to each parent's shape, and accumulates into
the ``.grad`` of the leaves. The graph is freed afterwards unless ``retain_graph=True``.

In-place ops bump a tensor's version counter. Each node records the version of every
input; if, at backward, an input's version has moved on and the node's backward still
holds that input's old array, the gradient would be computed from values the user has
since overwritten, and backward raises PyTorch's "modified by an inplace operation" error.
"""

from __future__ import annotations

import functools
import threading

import mlx.core as mx

from . import _native
from ._tensor import Tensor
from .errors import GradError


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _mode.enabled


class _SetGradEnabled:
    """Context manager and decorator that sets whether ops record the graph.

    Each ``with`` block saves the mode it found and restores it on exit (a stack, so one
    object may be entered again while inside). As a decorator, every call of the wrapped
    function runs in a fresh block with this object's mode.
    """

    def __init__(self, enabled: bool):
        self._enabled = bool(enabled)
        self._saved = []

    def __enter__(self):
        self._saved.append(_mode.enabled)
        _mode.enabled = self._enabled
        return self

    def __exit__(self, *exc):
        _mode.enabled = self._saved.pop()
        return False

    def __call__(self, fn):
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}() decorates a function, got {fn!r}")
        enabled = self._enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _SetGradEnabled(enabled):
                return fn(*args, **kwargs)

        return wrapper


class _FixedMode(_SetGradEnabled):
    """A mode fixed by the class, usable as PyTorch allows: ``with m():``, ``@m()`` and,
    as ``torch.no_grad`` since 2.0, ``@m`` without parentheses."""

    _ENABLED: bool

    def __new__(cls, fn=None):
        if fn is None:
            return super().__new__(cls)
        return cls()(fn)  # ``@no_grad`` on a function: the wrapped function, not a mode

    def __init__(self, fn=None):
        super().__init__(self._ENABLED)


class no_grad(_FixedMode):  # noqa: N801 - PyTorch's name
    """``with lucid.no_grad():``, ``@lucid.no_grad()`` or ``@lucid.no_grad``: no graph."""

    _ENABLED = False


class enable_grad(_FixedMode):  # noqa: N801
    """Re-enables graph recording inside a ``no_grad`` region (``with``, ``@enable_grad()``
    or ``@enable_grad``)."""

    _ENABLED = True


class set_grad_enabled(_SetGradEnabled):  # noqa: N801
    """``with lucid.set_grad_enabled(mode):`` or ``@lucid.set_grad_enabled(mode)``."""


class Node:
    """One recorded op: ``backward(g) -> (grad of parent 0, grad of parent 1, ...)``.

    ``parents`` holds, per input, ``None`` (it needs no grad), the leaf Tensor itself (its
    ``.grad`` receives the gradient) or an ``Edge`` to the node that produced it. The graph
    holds no intermediate values: what a backward needs, its closure keeps.

    ``saved`` holds, per Tensor input, ``(version counter, version, id of its array, its
    position)``: enough to tell at backward that the input was changed in place since (the
    counter moved) and that this backward holds the replaced array; it keeps no array
    alive. An in-place op on this node's output adds the same for the output (position
    ``"output"``), so ops whose backward keeps their result (exp, tanh, ...) are checked too.
    """

    __slots__ = ("name", "parents", "backward", "retained", "saved")

    def __init__(self, name, inputs, backward):
        self.name = name
        self.backward = backward
        self.retained = None  # the output tensor, when it called retain_grad()
        parents, saved = [], []
        for i, t in enumerate(inputs):
            if t is None:
                parents.append(None)
                continue
            vc = t._vc
            if vc is None:
                vc = t._vc = [0]
            saved.append((vc, vc[0], id(t._data), i))
            parents.append((t if t._node is None else Edge(t)) if t.requires_grad else None)
        self.parents = tuple(parents)
        self.saved = saved

    def check_versions(self) -> None:
        """Raise if an input (or the output) this node's backward holds was changed in place since."""
        for vc, version, array_id, position in self.saved:
            if vc[0] != version and _holds(self.backward, array_id):
                what = "the output" if position == "output" else f"input {position}"
                raise GradError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: {what} of {self.name} is at version {vc[0]}; "
                    f"expected version {version} instead. Compute the in-place update after "
                    "backward, or use an out-of-place op (e.g. y = y + 1 instead of y += 1)"
                )

    def __repr__(self):
        return f"<{self.name}Backward>"


def _holds(obj, array_id: int, depth: int = 0) -> bool:
    """Whether ``obj`` (a backward closure) holds the array whose ``id`` is ``array_id``.

    Looks through closure cells, default arguments, tuples, lists and nested closures. The
    array was alive when the node recorded its id; any array a closure holds has been alive
    since, so an equal id is that very array, never a later one that reused the address.
    """
    if id(obj) == array_id:
        return True
    if depth > 4:
        return False
    if isinstance(obj, (tuple, list)):
        inner = obj
    elif isinstance(obj, functools.partial):
        inner = (obj.func, *obj.args, *obj.keywords.values())
    else:
        inner = [_contents(c) for c in getattr(obj, "__closure__", None) or ()]
        inner += getattr(obj, "__defaults__", None) or ()
    return any(_holds(o, array_id, depth + 1) for o in inner)


def _contents(cell):
    try:
        return cell.cell_contents
    except ValueError:  # a cell not yet filled
        return None


class Edge:
    """An op's input that is another op's output: its node, shape and dtype, not its data."""

    __slots__ = ("_node", "shape", "dtype")
    requires_grad = True

    def __init__(self, t):
        self._node, self.shape, self.dtype = t._node, t.shape, t.dtype


def sum_to_shape(g: mx.array, shape: tuple) -> mx.array:
    """Undo broadcasting: sum ``g`` over the axes along which ``shape`` was expanded."""
    if g.shape == tuple(shape):
        return g
    if g.size == 0:  # MLX's CPU reduce can hang summing an empty axis
        return mx.zeros(shape, dtype=g.dtype)
    lead = g.ndim - len(shape)
    axes = list(range(lead))
    axes += [lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1]
    if axes:
        g = mx.sum(g, axis=axes, keepdims=True)
    return g.reshape(shape)


def _topological_order(root: Node) -> list[Node]:
    """Nodes reachable from ``root``, each after every node that consumes its output."""
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for p in node.parents:
            child = None if p is None else p._node
            if child is not None and id(child) not in visited:
                stack.append((child, False))
    order.reverse()
    return order


class _HookHandle:
    """What ``register_post_backward_hook`` returns: ``remove()`` unregisters the hook."""

    def __init__(self, hook):
        self.hook = hook

    def remove(self) -> None:
        if self.hook in _post_backward_hooks:
            _post_backward_hooks.remove(self.hook)


_post_backward_hooks: list = []


def register_post_backward_hook(hook) -> _HookHandle:
    """Call ``hook()`` after every ``backward`` has filled the leaves' gradients (what
    ``DistributedDataParallel`` averages them with); returns a handle with ``remove()``."""
    _post_backward_hooks.append(hook)
    return _HookHandle(hook)


def run_backward(root, gradient: mx.array, retain_graph: bool) -> None:
    """Propagate ``gradient`` (dL/droot) from tensor ``root`` to every leaf's ``.grad``,
    then run the post-backward hooks."""
    _propagate(root, gradient, retain_graph)
    for hook in list(_post_backward_hooks):
        hook()


def _propagate(root, gradient: mx.array, retain_graph: bool) -> None:
    if root._node is None:
        root._accumulate_grad(gradient)
        return
    if root._node.backward is None:
        raise GradError(
            "backward through the graph a second time: its buffers were freed by the first "
            "backward; pass retain_graph=True to the first call if you need this"
        )
    grads = {id(root._node): gradient}
    order = _topological_order(root._node)
    pending = _PendingGradients()
    with no_grad():
        for node in order:
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node.retained is not None:
                node.retained._accumulate_grad(g)
            if node.backward is None:
                raise GradError(f"backward through {node.name} a second time: the graph was freed")
            node.check_versions()
            parent_grads = node.backward(g)
            for parent, pg in zip(node.parents, parent_grads):
                if parent is None or pg is None or not parent.requires_grad:
                    continue
                if not isinstance(pg, mx.array):
                    pg = mx.array(pg)
                pg = sum_to_shape(pg, parent.shape)
                if pg.dtype != parent.dtype:
                    pg = pg.astype(parent.dtype)
                if parent._node is None:
                    parent._accumulate_grad(pg)
                    pending.leaves.append(parent)
                else:
                    key = id(parent._node)
                    grads[key] = pg if key not in grads else _sum(grads[key], pg)
                pending.bytes += pg.nbytes
            if not retain_graph:
                node.backward = None
                node.parents = ()
            pending.evaluate_if_large(grads)


def _sum(a: mx.array, b: mx.array) -> mx.array:
    """Two gradients of one value (it fed two ops, as a residual block's input does): on the
    CPU in float32 one native multi-threaded pass (MLX adds on one thread), else ``a + b``."""
    lib = _native.for_cpu_float32(a, b) if a.size and a.shape == b.shape else None
    return lib.add(a, b) if lib is not None else a + b


#: bytes of gradients the backward builds before it computes them (``_PendingGradients``)
PENDING_GRADIENT_BYTES = 16 * 2**20


class _PendingGradients:
    """Bounds the backward's memory: MLX builds the gradients lazily, and a graph computed
    only at the optimizer step keeps every layer's output gradient alive until the last
    weight gradient that needs it is computed (about the size of all saved activations,
    on top of them). Once the gradients built since the last evaluation exceed
    ``PENDING_GRADIENT_BYTES``, the pending ones and the leaves' are computed, so each
    layer's saved values and output gradient are freed as the backward passes it, as in an
    eager framework. Small graphs (under the bound) stay one lazy graph."""

    __slots__ = ("bytes", "leaves")

    def __init__(self):
        self.bytes, self.leaves = 0, []

    def evaluate_if_large(self, grads: dict) -> None:
        if self.bytes < PENDING_GRADIENT_BYTES:
            return
        mx.eval(list(grads.values()) + [t.grad._data for t in self.leaves])
        self.bytes, self.leaves = 0, []


def backward(self, gradient=None, retain_graph: bool = False) -> None:
    """``t.backward()``: accumulate ``d t / d leaf`` (times ``gradient``) into every leaf's
    ``.grad``. Bound as ``Tensor.backward``."""
    if not self.requires_grad:
        raise GradError(
            "backward() on a tensor that does not require grad and has no graph "
            f"(shape {self.shape}); did you create it under no_grad or from constants?"
        )
    if gradient is None:
        if self._data.size != 1:
            raise GradError(
                f"backward() without a gradient needs a scalar output; this one has shape "
                f"{self.shape}. Pass gradient= of that shape, or reduce it first (e.g. .sum())"
            )
        g = mx.ones(self._data.shape, dtype=self.dtype)
    else:
        g = gradient._data if isinstance(gradient, Tensor) else mx.array(gradient, dtype=self.dtype)
        if tuple(g.shape) != self.shape:
            raise GradError(f"backward(): gradient shape {tuple(g.shape)} != tensor shape {self.shape}")
    run_backward(self, g, retain_graph)


TENSOR_METHODS = {"backward": backward}
