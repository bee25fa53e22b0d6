"""Gradient clipping, in place on ``.grad``, recording no graph."""

from __future__ import annotations

import math

import mlx.core as mx
from lucid import Tensor
from lucid.errors import GradError


def _with_grads(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients by ``min(1, max_norm / (total_norm + 1e-6))``.

    ``total_norm`` is the ``norm_type``-norm of all gradients taken as one vector
    (``inf``: the largest absolute value); it is returned as a 0-d tensor.
    """
    params = _with_grads(parameters)
    if not params:
        return Tensor._wrap(mx.array(0.0), "cpu")
    norm_type = float(norm_type)
    grads = [p.grad._data for p in params]
    if math.isinf(norm_type):
        total = mx.max(mx.stack([mx.max(mx.abs(g)).astype(mx.float32) for g in grads]))
    elif norm_type == 2.0:
        total = mx.sqrt(sum(mx.sum(mx.square(g.astype(mx.float32))) for g in grads))
    else:
        total = sum(mx.sum(mx.power(mx.abs(g.astype(mx.float32)), norm_type)) for g in grads)
        total = mx.power(total, 1.0 / norm_type)
    if error_if_nonfinite and not bool(mx.isfinite(total).item()):
        raise GradError(f"clip_grad_norm_: the total {norm_type}-norm of the gradients is "
                        f"{total.item()}; pass error_if_nonfinite=False to clip anyway")
    coef = mx.minimum(max_norm / (total + 1e-6), 1.0)
    for p in params:
        p.grad = Tensor._wrap((p.grad._data * coef).astype(p.grad.dtype), p.grad.device)
    return Tensor._wrap(total, params[0].grad.device)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``."""
    v = float(clip_value)
    for p in _with_grads(parameters):
        p.grad = Tensor._wrap(mx.clip(p.grad._data, -v, v), p.grad.device)
