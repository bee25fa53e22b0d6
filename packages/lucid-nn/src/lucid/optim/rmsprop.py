"""RMSprop: divide the gradient by a running root mean square of recent gradients.

PyTorch's algorithm (``torch/optim/rmsprop.py``), per parameter p with gradient g:

    g = -g                                       (maximize)
    g = g + wd * p                               (weight_decay != 0)
    sq = alpha * sq + (1 - alpha) * g^2
    ga = ga + (1 - alpha) * (g - ga),  avg = sqrt(sq - ga^2) + eps      (centered)
    avg = sqrt(sq) + eps                                                 (otherwise)
    buf = mu * buf + g / avg,  p = p - lr * buf                          (momentum > 0)
    p = p - lr * g / avg                                                 (otherwise)

State per parameter: ``step``, ``square_avg`` (sq), and ``momentum_buffer`` (momentum > 0)
and ``grad_avg`` (ga, centered).
"""

from __future__ import annotations

import mlx.core as mx

from .optimizer import Optimizer


class RMSprop(Optimizer):
    """PyTorch's RMSprop (see the module docstring for the algorithm).

    Defaults (PyTorch's): lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, maximize=False.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False, compile: bool = True):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, compile=compile)

    def init_single(self, p, state: dict, group: dict) -> None:
        self._init_state(p, state, self._keys(group))

    @staticmethod
    def _keys(group: dict) -> tuple:
        return ("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ()) + (
            ("grad_avg",) if group["centered"] else ())

    def plan_single(self, group: dict, state: dict) -> tuple:
        momentum, alpha = group["momentum"], group["alpha"]
        flags = dict(weight_decay=group["weight_decay"] != 0, maximize=group["maximize"],
                     momentum=momentum > 0, centered=group["centered"])
        scalars = (group["lr"], group["weight_decay"], alpha, 1 - alpha, group["eps"], momentum)
        return flags, self._keys(group), scalars

    @staticmethod
    def apply_single(p, g, state, hyper, *, weight_decay, maximize, momentum, centered):
        lr, wd, alpha, one_minus_alpha, eps, mu = hyper
        if maximize:
            g = -g
        if weight_decay:
            g = g + wd * p
        square_avg = state[0] * alpha + one_minus_alpha * g * g
        new_state = [square_avg]
        if centered:
            grad_avg = state[-1]
            grad_avg = grad_avg + one_minus_alpha * (g - grad_avg)
            avg = mx.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = mx.sqrt(square_avg) + eps
        if momentum:
            buf = state[1] * mu + g / avg
            new_state.append(buf)
            p = p - lr * buf
        else:
            p = p - lr * (g / avg)
        if centered:
            new_state.append(grad_avg)
        return p, new_state
