"""Adadelta: steps scaled by the ratio of running RMS of past updates and of gradients.

PyTorch's algorithm (``torch/optim/adadelta.py``), per parameter p with gradient g:

    g = -g                                       (maximize)
    g = g + wd * p                               (weight_decay != 0)
    v = rho * v + (1 - rho) * g^2
    d = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho * u + (1 - rho) * d^2
    p = p - lr * d

State per parameter: ``step``, ``square_avg`` (v), ``acc_delta`` (u).
"""

from __future__ import annotations

import mlx.core as mx

from ._rules import signed_decayed
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """PyTorch's Adadelta (see the module docstring for the algorithm).

    Defaults (PyTorch's): lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False.
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False, compile: bool = True):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, compile=compile)

    def init_single(self, p, state: dict, group: dict) -> None:
        self._init_state(p, state, ("square_avg", "acc_delta"))

    def plan_single(self, group: dict, state: dict) -> tuple:
        rho, wd = group["rho"], group["weight_decay"]
        flags = dict(weight_decay=wd != 0, maximize=group["maximize"])
        return flags, ("square_avg", "acc_delta"), (group["lr"], wd, rho, 1 - rho, group["eps"])

    @staticmethod
    def apply_single(p, g, state, hyper, *, weight_decay, maximize):
        lr, wd, rho, one_minus_rho, eps = hyper
        _, g = signed_decayed(p, g, wd, None, weight_decay=weight_decay, maximize=maximize)
        square_avg = state[0] * rho + one_minus_rho * g * g
        delta = mx.sqrt(state[1] + eps) / mx.sqrt(square_avg + eps) * g
        acc_delta = state[1] * rho + one_minus_rho * delta * delta
        return p - lr * delta, [square_avg, acc_delta]
