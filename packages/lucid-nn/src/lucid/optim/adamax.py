"""Adamax: Adam with the infinity norm of past gradients in place of their second moment.

PyTorch's algorithm (``torch/optim/adamax.py``), per parameter p with gradient g, step t:

    g = -g                                       (maximize)
    g = g + wd * p                               (weight_decay != 0)
    m = m + (1 - b1) * (g - m)
    u = max(b2 * u, |g| + eps)
    p = p - lr / (1 - b1^t) * m / u

State per parameter: ``step``, ``exp_avg`` (m), ``exp_inf`` (u).
"""

from __future__ import annotations

import mlx.core as mx

from ._rules import signed_decayed
from .optimizer import Optimizer


class Adamax(Optimizer):
    """PyTorch's Adamax (see the module docstring for the algorithm).

    Defaults (PyTorch's): lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    maximize=False.
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, maximize: bool = False, compile: bool = True):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults, compile=compile)

    def init_single(self, p, state: dict, group: dict) -> None:
        self._init_state(p, state, ("exp_avg", "exp_inf"))

    def plan_single(self, group: dict, state: dict) -> tuple:
        (beta1, beta2), wd = group["betas"], group["weight_decay"]
        clr = group["lr"] / (1 - beta1 ** state["step"])
        flags = dict(weight_decay=wd != 0, maximize=group["maximize"])
        return flags, ("exp_avg", "exp_inf"), (clr, wd, 1 - beta1, beta2, group["eps"])

    @staticmethod
    def apply_single(p, g, state, hyper, *, weight_decay, maximize):
        clr, wd, one_minus_b1, b2, eps = hyper
        _, g = signed_decayed(p, g, wd, None, weight_decay=weight_decay, maximize=maximize)
        m = state[0] + one_minus_b1 * (g - state[0])
        u = mx.maximum(state[1] * b2, mx.abs(g) + eps)
        return p - clr * (m / u), [m, u]
