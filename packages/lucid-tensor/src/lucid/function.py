"""How an op is written: its forward and, beside it, its backward.

    @op("exp")
    def exp(x):
        out = mx.exp(x)
        return out, lambda g: (g * out,)

The decorated function receives the MLX arrays of its Tensor arguments (other arguments
pass through unchanged) and returns ``(output array, backward)``; ``backward(g)`` returns
one gradient per positional argument, in order (``None``, or nothing at the end, for
arguments that have none). A positional argument may also be a list or tuple of Tensors
(``cat``, ``stack``): the function receives the list of their arrays, each Tensor is an
input of the graph, and the backward returns a sequence of gradients in that position. The decorator checks that the tensors share one device, runs
the forward there, wraps MLX's errors into Lucid's naming the op, shapes, dtypes and
devices, and records the graph when gradients are needed. Broadcasting is undone by the
engine, so a backward may return gradients of the broadcast shape.
"""

from __future__ import annotations

import functools

import mlx.core as mx

from . import autograd, devices
from ._tensor import Tensor
from .devices import run_on  # noqa: F401 - re-exported: it lived here before devices.py
from .dtypes import FLOATING
from .errors import DeviceError, DTypeError, LucidError, ShapeError


def describe(args) -> str:
    parts = []
    for a in args:
        if isinstance(a, Tensor):
            parts.append(f"Tensor(shape={tuple(a.shape)}, dtype={a.dtype_name}, device={a.device})")
        elif isinstance(a, mx.array):
            parts.append(f"array(shape={tuple(a.shape)}, dtype={a.dtype})")
        elif isinstance(a, (list, tuple)) and a and isinstance(a[0], Tensor):
            parts.append("[" + ", ".join(f"{tuple(t.shape)}" for t in a) + "]")
        else:
            parts.append(repr(a) if len(repr(a)) < 40 else type(a).__name__)
    return ", ".join(parts)


def common_device(name: str, tensors) -> str:
    dev = None
    for t in tensors:
        if dev is None:
            dev = t.device
        elif t.device != dev:
            raise DeviceError(
                f"{name}: tensors are on different devices ({describe(tensors)}); "
                "move them with .to(device) first"
            )
    return dev or devices.get_default_device()


def translate_mlx_error(name: str, args, err: Exception) -> LucidError:
    msg = str(err)
    text = f"{name}: {msg.split('] ', 1)[-1]} (inputs: {describe(args)})"
    lower = msg.lower()
    if "dtype" in lower or ("type" in lower and "shape" not in lower):
        return DTypeError(text)
    return ShapeError(text)


def record(name: str, out: mx.array, inputs, backward, device: str):
    """Wrap ``out`` as a Tensor; attach a Node when some input requires grad."""
    result = Tensor._wrap(out, device)
    if (
        backward is not None
        and autograd.is_grad_enabled()
        and out.dtype in FLOATING
        and any(t is not None and t.requires_grad for t in inputs)
    ):
        result.requires_grad = True
        result._node = autograd.Node(name, tuple(inputs), backward)
    return result


def _is_tensor_list(a) -> bool:
    return isinstance(a, (list, tuple)) and len(a) > 0 and all(isinstance(t, Tensor) for t in a)


def _flatten_grads(args, backward):
    """A backward for the graph's flat input list, from one returning a gradient sequence
    in the position of each list-of-tensors argument."""

    def flat(g):
        out = []
        for a, grad in zip(args, backward(g)):
            if _is_tensor_list(a):
                out.extend(grad if grad is not None else [None] * len(a))
            else:
                out.append(grad)
        return out

    return flat


def op(name: str):
    """Decorator turning ``f(arrays...) -> (out, backward)`` into a differentiable Lucid op."""

    def decorate(forward):
        @functools.wraps(forward)
        def apply(*args, **kwargs):
            tensors, raw, inputs, nested = [], [], [], False
            for a in args:
                if isinstance(a, Tensor):
                    tensors.append(a)
                    raw.append(a._data)
                    inputs.append(a)
                elif _is_tensor_list(a):
                    nested = True
                    tensors.extend(a)
                    raw.append([t._data for t in a])
                    inputs.extend(a)
                else:
                    raw.append(a)
                    inputs.append(None)
            device = common_device(name, tensors)
            try:
                out, backward = run_on(device, forward, *raw, **kwargs)
            except LucidError:
                raise
            except (ValueError, TypeError, RuntimeError) as err:
                raise translate_mlx_error(name, args, err) from err
            if backward is not None:
                if nested:
                    backward = _flatten_grads(args, backward)
                if device != devices.get_default_device():
                    backward = _on_device(device, backward)
            return record(name, out, inputs, backward, device)

        apply.op_name = name
        return apply

    return decorate


def _on_device(device, backward):
    return lambda g: run_on(device, backward, g)
