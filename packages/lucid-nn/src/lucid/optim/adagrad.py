"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients.

PyTorch's algorithm (``torch/optim/adagrad.py``), per parameter p with gradient g, step t:

    g = -g                                       (maximize)
    g = g + wd * p                               (weight_decay != 0)
    clr = lr / (1 + (t - 1) * lr_decay)
    sum = sum + g^2
    p = p - clr * g / (sqrt(sum) + eps)

State per parameter, created with the optimizer as in PyTorch: ``step``, ``sum`` (filled
with ``initial_accumulator_value``).
"""

from __future__ import annotations

import mlx.core as mx

from .optimizer import Optimizer


class Adagrad(Optimizer):
    """PyTorch's Adagrad (see the module docstring for the algorithm).

    Defaults (PyTorch's): lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, maximize=False.
    """

    init_at_construction = True

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *,
                 maximize: bool = False, compile: bool = True):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults, compile=compile)

    def init_single(self, p, state: dict, group: dict) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = self._zeros(p, group["initial_accumulator_value"])

    def plan_single(self, group: dict, state: dict) -> tuple:
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        flags = dict(weight_decay=group["weight_decay"] != 0, maximize=group["maximize"])
        return flags, ("sum",), (clr, group["weight_decay"], group["eps"])

    @staticmethod
    def apply_single(p, g, state, hyper, *, weight_decay, maximize):
        clr, wd, eps = hyper
        if maximize:
            g = -g
        if weight_decay:
            g = g + wd * p
        total = state[0] + g * g
        return p - clr * (g / (mx.sqrt(total) + eps)), [total]
