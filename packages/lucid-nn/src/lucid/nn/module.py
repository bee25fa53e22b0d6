"""``Module``: the base class of every layer and model.

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it (assigning again
replaces it in place, keeping its position); ``register_buffer`` registers non-trainable
state such as BatchNorm's running statistics. From that registry come ``parameters()``,
``state_dict()`` (keys as PyTorch names them, e.g. ``layer1.0.bn1.running_mean``),
``train()``/``eval()``, ``to(device)`` and the PyTorch-style ``repr``.

Hooks, as PyTorch's: ``register_forward_pre_hook(hook)`` runs ``hook(module, args)`` before
``forward`` (a returned value replaces the inputs), ``register_forward_hook(hook)`` runs
``hook(module, args, output)`` after it (a returned value replaces the output); each returns
a ``RemovableHandle``. ``state_dict``/``load_state_dict`` go through each module's
``_save_to_state_dict``/``_load_from_state_dict``, which a subclass may override (to rename
a legacy key, say); loading stays atomic: every value is checked and converted before any
is assigned.
"""

from __future__ import annotations

import contextvars
import itertools
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Iterator

import mlx.core as mx
import numpy as np
from lucid import Tensor, devices
from lucid import dtypes as _dt
from lucid.errors import ArgumentTypeError, DTypeError, LucidError, ShapeError

from .parameter import Parameter


class StateDictError(LucidError, RuntimeError):
    """A state dict that does not fit the module: missing or unexpected keys, wrong shapes."""


class HookError(LucidError, RuntimeError):
    """A forward hook returned something the call cannot use."""


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

# The (target, array) assignments of the load_state_dict in progress: applied only once
# every module has checked and converted its values.
_PENDING_LOAD: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "lucid_nn_pending_load", default=None)


class RemovableHandle:
    """What ``register_forward_hook`` returns: ``remove()`` unregisters the hook; as a
    context manager, the hook is removed on leaving the block."""

    _next_id = itertools.count()

    def __init__(self, hooks: dict, extra: dict | None = None):
        self.id = next(RemovableHandle._next_id)
        self._refs = tuple(weakref.ref(d) for d in (hooks, extra) if d is not None)

    def remove(self) -> None:
        for ref in self._refs:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _as_array(value, like: Tensor) -> mx.array:
    """MLX array of a state-dict value (Tensor, MLX/NumPy array, anything array-like)."""
    if isinstance(value, Tensor):
        arr = value._data
    elif isinstance(value, mx.array):
        arr = value
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # e.g. a torch tensor
        arr = mx.array(value.detach().cpu().numpy())
    else:
        arr = mx.array(np.asarray(value))
    return arr.astype(like.dtype) if arr.dtype != like.dtype else arr


def _dtype_note(value) -> str:
    dtype = getattr(value, "dtype", None)
    return f" of dtype {dtype}" if dtype is not None else ""


class Module:
    """Base class: subclasses set layers in ``__init__`` and compute in ``forward``."""

    training: bool
    _version: int = 1  # stored in state_dict()._metadata, read back by _load_from_state_dict

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not d.get("_forward_pre_hooks") and not d.get("_forward_hooks"):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    # ----- hooks ------------------------------------------------------------------
    def _hooks(self, name: str) -> dict:
        """The hook registry ``name`` (created on first use; an OrderedDict, which a
        handle can refer to weakly)."""
        reg = self.__dict__.get(name)
        if reg is None:
            reg = OrderedDict()
            object.__setattr__(self, name, reg)
        return reg

    def _register_hook(self, kind: str, hook, prepend: bool, with_kwargs: bool):
        if not callable(hook):
            raise ArgumentTypeError(f"register_{kind}: hook must be callable, got "
                                    f"{type(hook).__name__}")
        hooks, flagged = self._hooks(f"_{kind}s"), self._hooks(f"_{kind}s_with_kwargs")
        handle = RemovableHandle(hooks, flagged)
        hooks[handle.id] = hook
        if with_kwargs:
            flagged[handle.id] = True
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before every ``forward``; a returned value replaces
        ``args`` (a non-tuple is wrapped in one). With ``with_kwargs``, ``hook(module, args,
        kwargs)`` may return a new ``(args, kwargs)``. Hooks run in registration order,
        ``prepend`` puts this one first."""
        return self._register_hook("forward_pre_hook", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every ``forward`` (``hook(module, args,
        kwargs, output)`` with ``with_kwargs``); a returned value replaces the output. The
        ``args`` are those ``forward`` received, after any pre-hook."""
        return self._register_hook("forward_hook", hook, prepend, with_kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        d = self.__dict__
        flagged = d.get("_forward_pre_hooks_with_kwargs") or {}
        for hid, hook in list((d.get("_forward_pre_hooks") or {}).items()):
            if hid in flagged:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise HookError(f"{self._get_name()}: a forward pre-hook with kwargs "
                                        f"must return None or (args, kwargs), got {result!r}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        flagged = d.get("_forward_hooks_with_kwargs") or {}
        for hid, hook in list((d.get("_forward_hooks") or {}).items()):
            result = hook(self, args, kwargs, out) if hid in flagged else hook(self, args, out)
            if result is not None:
                out = result
        return out

    # ----- registration -----------------------------------------------------------
    def _registry(self, what: str) -> dict:
        reg = self.__dict__.get(what)
        if reg is None:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() is called; "
                "call super().__init__() first in __init__"
            )
        return reg

    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._registry("_parameters")
            self._forget(name)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise ArgumentTypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' of "
                    f"{type(self).__name__}: a Parameter or None is expected"
                )
            params[name] = None
        elif isinstance(value, Module):
            modules = self._registry("_modules")
            self._forget(name, keep="_modules")
            modules[name] = value
        elif name in self.__dict__.get("_modules", ()):
            if value is not None:
                raise ArgumentTypeError(
                    f"cannot assign {type(value).__name__} as child module '{name}' of "
                    f"{type(self).__name__}: a Module or None is expected"
                )
            self._modules[name] = None
        elif name in self.__dict__.get("_buffers", ()):
            if value is not None and not isinstance(value, Tensor):
                raise ArgumentTypeError(
                    f"cannot assign {type(value).__name__} as buffer '{name}' of "
                    f"{type(self).__name__}: a Tensor or None is expected"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str | None = None) -> None:
        """Remove ``name`` from the instance dict and the registries other than ``keep``."""
        self.__dict__.pop(name, None)
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg != keep:
                self.__dict__[reg].pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name: str):
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg in d and name in d[reg]:
                return d[reg][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for reg in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(reg, ()):
                del self.__dict__[reg][name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = set(super().__dir__())
        for reg in ("_parameters", "_buffers", "_modules"):
            keys.update(self.__dict__.get(reg, ()))
        return sorted(keys)

    def _check_name(self, name: str, kind: str) -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{kind} name must be a non-empty string without '.', got {name!r}")
        if name in self.__dict__ and not any(
            name in self.__dict__[r] for r in ("_parameters", "_buffers", "_modules")
        ):
            raise KeyError(f"attribute '{name}' already exists on {type(self).__name__}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a ``Parameter`` or ``None``) under ``name``."""
        params = self._registry("_parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise ArgumentTypeError(
                f"cannot register {type(param).__name__} as parameter '{name}': wrap it in "
                "nn.Parameter (or use register_buffer for non-trainable state)"
            )
        self._forget(name, keep="_parameters")
        params[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register non-trainable state; ``persistent`` buffers are part of ``state_dict``."""
        buffers = self._registry("_buffers")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise ArgumentTypeError(f"buffer '{name}' must be a Tensor or None, got "
                                    f"{type(tensor).__name__}")
        self._forget(name, keep="_buffers")
        buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as child ``name`` (what attribute assignment does)."""
        modules = self._registry("_modules")
        if module is not None and not isinstance(module, Module):
            raise ArgumentTypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        self._forget(name, keep="_modules")
        modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` (``""`` is this module)."""
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules or mod._modules[part] is None:
                raise AttributeError(f"{mod._get_name()} has no submodule '{part}' ({target})")
            mod = mod._modules[part]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter '{name}' ({target})")
        return mod._parameters[name]

    # ----- traversal --------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """``(dotted name, module)`` for this module and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from child.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool,
                       persistent_only: bool = False):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in mod.__dict__[registry].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                if persistent_only and name in mod._non_persistent_buffers:
                    continue
                seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """``(dotted name, Parameter)`` pairs; a parameter shared by two layers comes once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def count_parameters(self) -> int:
        """Number of trainable parameter elements (``requires_grad=True``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def apply(self, fn) -> Module:
        """Call ``fn(m)`` on every child (recursively), then on this module."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ----- modes, gradients, devices ----------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) recursively."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode): mode must be a bool, got {mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (``None``, or zeros with ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor._wrap(mx.zeros_like(p.grad._data), p.grad.device)

    def to(self, *args, device=None, dtype=None) -> Module:
        """Move parameters and buffers to ``device`` and/or cast floating ones to ``dtype``.

        Parameters stay the same objects (so an optimizer built before keeps working).
        """
        for a in args:
            if isinstance(a, str) or a is None or "device" in type(a).__name__.lower():
                device = a
            else:
                dtype = a
        dev = devices.canonical(device) if device is not None else None
        dt = _dt.to_dtype(dtype) if dtype is not None else None
        if dt is not None and not _dt.is_floating(dt):
            raise DTypeError(f"Module.to only casts to floating dtypes, got {_dt.name(dt)}")

        def move(t: Tensor) -> None:
            if dt is not None and _dt.is_floating(t.dtype) and t.dtype != dt:
                t.data = t._data.astype(dt)
                if t.grad is not None:
                    t.grad = Tensor._wrap(t.grad._data.astype(dt), t.grad.device)
            if dev is not None:
                t.device = dev
                if t.grad is not None:
                    t.grad.device = dev

        for m in self.modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is not None:
                    move(t)
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def gpu(self) -> Module:
        return self.to("gpu")

    cuda = gpu

    def float(self) -> Module:
        return self.to(dtype=mx.float32)

    def half(self) -> Module:
        return self.to(dtype=mx.float16)

    def bfloat16(self) -> Module:
        return self.to(dtype=mx.bfloat16)

    # ----- state dict -------------------------------------------------------------
    def _save_to_state_dict(self, destination, prefix: str, keep_vars: bool) -> None:
        """Put this module's own parameters and persistent buffers (not its children's)
        into ``destination`` under ``prefix + name``."""
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else Tensor._wrap(p._data, p.device)
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else Tensor._wrap(b._data, b.device)

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by dotted name, in registration order (each
        module's ``_save_to_state_dict``, then its children's). ``._metadata`` holds each
        module's ``version``."""
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        if prefix and not prefix.endswith("."):
            prefix += "."
        metadata = getattr(destination, "_metadata", None)
        if metadata is not None:
            metadata[prefix[:-1]] = {"version": self._version}
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination=destination, prefix=prefix + name + ".",
                                 keep_vars=keep_vars)
        return destination

    def _own_state(self) -> dict:
        """This module's parameters and persistent buffers, by name (``None`` left out)."""
        own = {k: v for k, v in self._parameters.items() if v is not None}
        own.update((k, v) for k, v in self._buffers.items()
                   if v is not None and k not in self._non_persistent_buffers)
        return own

    def _load_from_state_dict(self, state_dict, prefix: str, local_metadata: dict,
                              strict: bool, missing_keys: list, unexpected_keys: list,
                              error_msgs: list) -> None:
        """Load this module's own entries of ``state_dict`` (keys ``prefix + name``): shape
        mismatches and unconvertible values go to ``error_msgs``, absent names to
        ``missing_keys`` and, with ``strict``, keys under ``prefix`` that name nothing here
        to ``unexpected_keys``. Inside ``load_state_dict`` the values are assigned only once
        every module has loaded without error. Override to rename legacy keys (read
        ``local_metadata.get("version")``) before calling this."""
        own = self._own_state()
        pending = _PENDING_LOAD.get()
        for name, target in own.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            shape = tuple(getattr(value, "shape", np.shape(value)))
            if shape != target.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {shape} from "
                    f"checkpoint, the shape in current model is {target.shape}."
                )
                continue
            try:  # convert now: an error must come before anything is assigned
                arr = _as_array(value, target)
                mx.eval(arr)
            except Exception as err:  # noqa: BLE001 - MLX raises bare RuntimeError/bad_cast
                error_msgs.append(
                    f"cannot convert {key} ({type(value).__name__}"
                    f"{_dtype_note(value)}) to {_dt.name(target.dtype)}: {err}"
                )
                continue
            if pending is None:
                target.data = arr
            else:
                pending.append((target, arr))
        if strict:
            for key in state_dict:
                if not key.startswith(prefix):
                    continue
                head, dot, _ = key[len(prefix):].partition(".")
                if (head not in self._modules) if dot else (head not in own):
                    unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` (Tensors or arrays) into parameters and buffers,
        module by module through ``_load_from_state_dict``.

        Nothing is changed when an error is raised. Shape mismatches are always errors;
        missing or unexpected keys are errors when ``strict`` and are returned either way.
        """
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)  # overrides may rename keys in this copy
        missing, unexpected, errors, updates = [], [], [], []

        def load(module, local, prefix):
            meta = {} if metadata is None else metadata.get(prefix[:-1], {})
            module._load_from_state_dict(local, prefix, meta, True, missing, unexpected,
                                         errors)
            for name, child in module._modules.items():
                if child is not None:
                    sub = prefix + name + "."
                    load(child, OrderedDict((k, v) for k, v in local.items()
                                            if k.startswith(sub)), sub)

        token = _PENDING_LOAD.set(updates)
        try:
            load(self, state_dict, "")
        finally:
            _PENDING_LOAD.reset(token)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            text = f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(
                errors)
            only_shapes = all(e.startswith("size mismatch") for e in errors)
            raise (ShapeError if only_shapes else StateDictError)(text)
        for target, arr in updates:
            target.data = arr
        return IncompatibleKeys(missing, unexpected)

    # ----- repr -------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text between the parentheses of this module's one-line ``repr``."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({name}): " + _addindent(repr(mod), 2) for name, mod in self._modules.items()
        ]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"
