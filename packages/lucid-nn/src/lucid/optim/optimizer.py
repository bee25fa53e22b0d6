"""``Optimizer``: parameter groups, per-parameter state, ``step``, ``zero_grad`` and state dicts.

As in PyTorch, an optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus the
hyper-parameters of that group, defaults filled in from ``defaults``) and ``state`` (a
dict from each parameter to its own state: step count, moment estimates, ...).

As in MLX, the loop over parameters is written once, here (``_step_group``); an optimizer
is its per-parameter state initialisation and its update rule:

    init_single(p, state, group)     create what ``state`` lacks (all of it before the
                                     first update)
    plan_single(group, state)        -> (flags, keys, scalars) of this parameter's update
    apply_single(p, g, arrays, hyper, **flags) -> (p, arrays)   the rule, on MLX arrays

    native_single(lib, p, g, arrays, hyper, scalars=..., **flags)   optional: the same rule
                                     as one native CPU kernel (``lucid._native``)

``apply_single`` is pure: ``arrays`` are ``state[k]`` for ``k`` in ``keys`` (those present),
``hyper`` the ``scalars`` as 0-d arrays of the parameter's dtype, ``flags`` Python booleans
that choose which terms exist. ``mx.compile`` fuses it into one kernel per rule, flags and
dtype (``compile=False`` runs the same rule op by op). ``state["step"]``, where an
optimizer keeps one, counts the parameter's updates: the loop advances it before
``plan_single``.

Where an optimizer has a ``native_single`` (Adam, AdamW, SGD), the loop takes it instead on
the CPU in float32 with ``compile`` on: one multi-threaded pass per parameter, in place
where nothing else holds the old arrays. A subclass that redefines ``apply_single`` or
``plan_single`` runs its MLX rule (the native kernel is not its rule).

A parameter is any floating ``lucid.Tensor`` (``lucid.nn.Parameter`` is one). An update
rebinds ``p.data`` to a new MLX array (MLX arrays are immutable); state tensors are
rebound the same way. At the end of ``step()`` one ``mx.eval`` computes every updated
parameter and state array, so no lazy graph survives a step and memory stays flat.
Parameters whose ``grad`` is ``None`` are skipped.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections import defaultdict
from itertools import chain

import mlx.core as mx
from lucid import Tensor, _native
from lucid.autograd import enable_grad
from lucid.devices import run_on
from lucid.errors import LucidError, ShapeError


class OptimizerError(LucidError, ValueError):
    """Invalid optimizer or scheduler arguments, or a state dict that does not fit."""


# hyper-parameters that check_hyperparameters checks wherever an optimizer's defaults hold them
_CHECKED = ("lr", "eps", "betas", "weight_decay", "momentum", "alpha", "lr_decay",
            "initial_accumulator_value", "rho", "momentum_decay")


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


def check_hyperparameters(name: str, options: dict) -> None:
    """The one argument check of every optimizer, run on its ``defaults``: raise
    :class:`OptimizerError` naming the first option out of range. As PyTorch checks them:
    ``betas`` two numbers in [0, 1), ``rho`` in [0, 1], ``nesterov`` only with momentum > 0
    and dampening = 0, and lr, eps, weight_decay, momentum, alpha, lr_decay,
    initial_accumulator_value, momentum_decay >= 0. Unset (``required``) options pass."""
    for key in _CHECKED:
        value = options.get(key)
        if value is None or value is required:
            continue
        if key == "betas":
            if len(value) != 2:
                raise OptimizerError(f"{name}: betas must be two numbers, got {value!r}")
            for i, b in enumerate(value):
                if not 0.0 <= b < 1.0:
                    raise OptimizerError(f"{name}: invalid betas[{i}]={b} (must be in [0, 1))")
        elif key == "rho":
            if not 0.0 <= value <= 1.0:
                raise OptimizerError(f"{name}: invalid rho={value} (must be in [0, 1])")
        elif key == "lr":
            if not 0.0 <= value:
                raise OptimizerError(f"{name}: invalid learning rate lr={value} (must be >= 0)")
        elif not 0.0 <= value:
            raise OptimizerError(f"{name}: invalid {key}={value} (must be >= 0)")
    if options.get("nesterov") and (options.get("momentum", 0) <= 0
                                    or options.get("dampening", 0) != 0):
        raise OptimizerError(f"{name}: nesterov=True needs momentum > 0 and dampening = 0")


@functools.cache
def kernel(rule, compiled: bool = True, **flags):
    """``rule`` with its ``flags`` fixed; fused by ``mx.compile`` unless ``compiled=False``.

    MLX fuses the element-wise chain into one kernel that reads each array once (on a
    2-core CPU an Adam step over ResNet-18's 11M parameters took about half the time of
    the same rule op by op). It builds the kernel once per rule, flags and dtype (on the
    CPU with the system C++ compiler, cached on disk; without one it quietly runs op by
    op); contiguous kernels are shared across shapes.
    """
    fn = functools.partial(rule, **flags)
    return mx.compile(fn) if compiled else fn


def _owner(cls, name: str):
    return next(k for k in cls.__mro__ if name in k.__dict__)


def _has_native(cls) -> bool:
    """Whether ``cls``'s ``native_single`` is the kernel of its rule: defined by the class
    that defines its ``apply_single`` and ``plan_single``."""
    owner = _owner(cls, "native_single")
    return owner is not Optimizer and all(
        _owner(cls, name) is owner for name in ("apply_single", "plan_single"))


class Optimizer:
    """Base class of the optimizers.

    ``params`` is an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (parameter
    groups: ``{"params": [...], "lr": ..., ...}``, unset options taken from ``defaults``).
    ``compile`` (default True) fuses each parameter's update into one MLX kernel.

    A subclass passes its ``defaults`` (checked by :func:`check_hyperparameters`) and
    implements ``init_single``, ``plan_single`` and ``apply_single`` (see the module
    docstring); the loop over groups and parameters is ``_step_group``, here. A subclass
    with another loop overrides ``_step_group(group, touched)`` and appends every array it
    updates to ``touched``, which ``step`` evaluates at once.
    """

    compile = True  # fuse each parameter's update with mx.compile (see kernel)
    init_at_construction = False  # create each parameter's state in add_param_group

    def __init__(self, params, defaults: dict, *, compile: bool | None = None):
        check_hyperparameters(type(self).__name__, defaults)
        if compile is not None:
            self.compile = compile
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, (set, frozenset)):
            raise OptimizerError(
                f"{type(self).__name__}: parameters must be in an ordered collection (list, "
                "tuple), not a set: the order of a set changes between runs"
            )
        if isinstance(params, (Tensor, dict)):
            raise OptimizerError(
                f"{type(self).__name__}: params should be an iterable of Tensors or of dicts "
                f"(parameter groups), got a single {type(params).__name__}; wrap it in a list"
            )
        groups = list(params)
        if not groups:
            raise OptimizerError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ----- groups -------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Append a group; options it does not set come from ``defaults``."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise OptimizerError(f"{name}: a param_group must be a dict, got {type(param_group)}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise OptimizerError(
                f"{name}: parameters must be in an ordered collection (list, tuple), not a set: "
                "the order of a set changes between runs"
            )
        elif params is None:
            raise OptimizerError(f"{name}: a param_group needs a 'params' entry")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise OptimizerError(f"{name}: either all parameters have names or none has")
            group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise OptimizerError(f"{name} can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise OptimizerError(
                    f"{name}: cannot optimize a non-leaf Tensor (shape {p.shape}, made by "
                    f"{p.grad_fn!r}); optimize the leaf it was computed from"
                )
        group["params"] = params
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise OptimizerError(f"{name}: parameter group did not set the required {key!r}")
            group.setdefault(key, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                f"{name}: a parameter group contains the same parameter twice", stacklevel=3
            )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise OptimizerError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)
        if self.init_at_construction:
            for p in params:
                self.init_single(p, self.state[p], group)

    # ----- gradients and steps ------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (``set_to_none``) or replace it by zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad = Tensor._wrap(mx.zeros_like(p.grad._data), p.grad.device)

    def step(self, closure=None):
        """Update every parameter that has a gradient; return ``closure()``'s loss if given.

        ``closure`` re-evaluates the model and returns the loss (it runs with gradients
        enabled, before the update).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        touched: list = []
        for group in self.param_groups:
            self._step_group(group, touched)
        mx.eval(touched)
        return loss

    def _step_group(self, group: dict, touched: list) -> None:
        """The one loop: each parameter of ``group`` that has a gradient gets its state
        (``init_single``), its plan (``plan_single``) and one run of the fused rule."""
        rule = type(self).apply_single
        native = self.compile and _has_native(type(self))
        hypers: dict = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state.get(p)
            new = state is None
            if new:
                state = {}
            self.init_single(p, state, group)
            if "step" in state:
                state["step"] += 1
            flags, keys, scalars = self.plan_single(group, state)
            lib = self._native(p) if native else None
            if lib is not None:  # the native kernel: the same rule in one OpenMP pass
                fused = functools.partial(self.native_single, lib, scalars=scalars, **flags)
                self._update(fused, p, state, keys, None, touched)
            else:
                key = (scalars, p.dtype)
                hyper = hypers.get(key)
                if hyper is None:
                    hyper = hypers[key] = self._scalars(scalars, p.dtype)
                self._update(self._kernel(rule, **flags), p, state, keys, hyper, touched)
            if new and state:  # a stateless update (SGD without momentum) stores nothing
                self.state[p] = state

    def init_single(self, p: Tensor, state: dict, group: dict) -> None:
        """Create what ``state`` lacks for ``group``'s options (all of it the first time)."""
        raise NotImplementedError(f"{type(self).__name__} does not define init_single")

    def plan_single(self, group: dict, state: dict) -> tuple:
        """``(flags, keys, scalars)`` of one parameter's update: the Python booleans fixed in
        the kernel, the state arrays ``apply_single`` reads and returns (in order), and the
        floats it gets as ``hyper`` (this step's values, e.g. bias corrections)."""
        raise NotImplementedError(f"{type(self).__name__} does not define plan_single")

    @staticmethod
    def apply_single(p, g, state: list, hyper: list, **flags) -> tuple:
        """The update rule on MLX arrays: ``(new p, new state arrays)``."""
        raise NotImplementedError

    @staticmethod
    def native_single(lib, p, g, state: list, hyper, *, scalars, **flags) -> tuple:
        """``apply_single`` as one native kernel of ``lib`` (``lucid._native``), given the
        plan's ``scalars`` as floats. Optimizers that have one override it; the loop takes
        it on the CPU in float32 when the native kernels load and ``compile`` is on."""
        raise NotImplementedError

    @staticmethod
    def _native(p: Tensor):
        """The native module when ``p``'s update may run there (CPU, float32), else None."""
        if p.device != "cpu":
            return None
        return _native.for_cpu_float32(p._data)

    def _kernel(self, rule, **flags):
        return kernel(rule, self.compile, **flags)

    @staticmethod
    def _scalars(values, dtype) -> list:
        """Hyper-parameters as 0-d arrays of the parameter's dtype (no type promotion)."""
        return [mx.array(v, dtype=dtype) for v in values]

    @staticmethod
    def _update(fused, p: Tensor, state: dict, keys, hyper, touched: list) -> None:
        """Run ``fused`` on ``p``, its gradient and ``state[keys]``; rebind the results."""
        g = p.grad._data
        if g.shape != p._data.shape:
            raise ShapeError(
                f"optimizer step: gradient of shape {tuple(g.shape)} for a parameter of shape "
                f"{p.shape}; a gradient must have its parameter's shape"
            )
        if g.dtype != p.dtype:
            g = g.astype(p.dtype)
        arrays = [state[k]._data for k in keys if k in state]
        new_p, new_state = run_on(p.device, fused, p._data, g, arrays, hyper)
        p.data = new_p
        touched.append(new_p)
        touched.append(p.grad._data)
        for k, a in zip(keys, new_state, strict=True):
            if k in state:
                state[k].data = a
            else:
                state[k] = Tensor._wrap(a, p.device)
            touched.append(a)

    @staticmethod
    def _zeros(p: Tensor, value: float = 0.0) -> Tensor:
        data = mx.zeros_like(p._data) if value == 0 else mx.full(p._data.shape, value, p.dtype)
        return Tensor._wrap(data, p.device)

    @classmethod
    def _init_state(cls, p: Tensor, state: dict, keys: tuple, value: float = 0.0) -> None:
        """The usual ``init_single``: ``step`` = 0 the first time, and an array like ``p``
        filled with ``value`` for each of ``keys`` that ``state`` lacks (all of them the first
        time; later those an option switched on since has added, e.g. AMSGrad's maximum)."""
        if not state:
            state["step"] = 0
        for key in keys:
            if key not in state:
                state[key] = cls._zeros(p, value)

    # ----- state dicts --------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are numbered in the order of the groups, as in PyTorch. The result is a
        snapshot: later steps do not change the tensors it holds.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            if id(p) in index:
                state[index[id(p)]] = {
                    k: Tensor._wrap(v._data, v.device) if isinstance(v, Tensor) else copy.deepcopy(v)
                    for k, v in s.items()
                }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore groups' options and per-parameter state saved by ``state_dict``.

        Saved parameters are matched to this optimizer's by position; the number of groups
        and of parameters in each group must agree. Floating state tensors are cast to
        their parameter's dtype and put on its device.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            is_dict = isinstance(state_dict, dict)
            keys = f" with keys {sorted(map(str, state_dict))}" if is_dict else ""
            raise OptimizerError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups', "
                f"got {type(state_dict).__name__}{keys}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise OptimizerError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                f"groups, this optimizer has {len(self.param_groups)}"
            )
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(g["params"]) != len(s["params"]):
                raise OptimizerError(
                    f"{name}.load_state_dict: parameter group {i} has {len(s['params'])} "
                    f"parameters in the state dict and {len(g['params'])} in this optimizer"
                )
        id_map = dict(zip(
            chain.from_iterable(g["params"] for g in saved_groups),
            chain.from_iterable(g["params"] for g in self.param_groups), strict=True,
        ))
        state: defaultdict = defaultdict(dict)
        for key, saved in state_dict["state"].items():
            key = int(key) if isinstance(key, str) and key.isdigit() else key
            if key not in id_map:
                raise OptimizerError(
                    f"{name}.load_state_dict: state for parameter {key!r}, which no group lists"
                )
            p = id_map[key]
            state[p] = {k: self._cast_state(p, k, v, name) for k, v in saved.items()}
        groups = []
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            new = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            new["params"] = group["params"]
            for k, v in group.items():
                new.setdefault(k, v)
            groups.append(new)
        self.state = state
        self.param_groups = groups

    @staticmethod
    def _cast_state(p: Tensor, key: str, value, name: str):
        if not isinstance(value, Tensor):
            return copy.deepcopy(value)
        data = value._data
        if data.ndim and tuple(data.shape) != p.shape:
            raise ShapeError(
                f"{name}.load_state_dict: state {key!r} has shape {tuple(data.shape)} but its "
                f"parameter has shape {p.shape}"
            )
        if key != "step" and p.is_floating_point and data.dtype != p.dtype:
            data = data.astype(p.dtype)
        return Tensor._wrap(data, p.device)

    # ----- display ------------------------------------------------------------------
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
