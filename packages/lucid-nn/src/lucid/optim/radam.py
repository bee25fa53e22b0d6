"""RAdam: Adam whose adaptive step is rectified by the variance of its estimate (Liu et al.).

PyTorch's algorithm (``torch/optim/radam.py``), per parameter p with gradient g, step t:

    g = -g                                       (maximize)
    p = p * (1 - lr * wd)                        (decoupled_weight_decay)
    g = g + wd * p                               (otherwise, weight_decay != 0)
    m = m + (1 - b1) * (g - m)
    v = b2 * v + (1 - b2) * g^2
    rho_inf = 2 / (1 - b2) - 1;  rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
    if rho_t > 5:
        r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        p = p - m / (1 - b1^t) * lr * sqrt(1 - b2^t) / (sqrt(v) + eps) * r
    else:
        p = p - m / (1 - b1^t) * lr

State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v).
"""

from __future__ import annotations

import mlx.core as mx

from ._rules import adam_moments, signed_decayed
from .optimizer import Optimizer


class RAdam(Optimizer):
    """PyTorch's RAdam (see the module docstring for the algorithm).

    Defaults (PyTorch's): lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False, maximize=False.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False, compile: bool = True):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, compile=compile)

    def init_single(self, p, state: dict, group: dict) -> None:
        self._init_state(p, state, ("exp_avg", "exp_avg_sq"))

    def plan_single(self, group: dict, state: dict) -> tuple:
        lr, (beta1, beta2), wd, t = group["lr"], group["betas"], group["weight_decay"], state["step"]
        bc1, bc2 = 1 - beta1**t, 1 - beta2**t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / bc2
        rectify = rho_t > 5.0
        rect = (((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                ** 0.5 if rectify else 1.0)
        flags = dict(weight_decay=wd != 0, decoupled=group["decoupled_weight_decay"],
                     maximize=group["maximize"], rectify=rectify)
        scalars = (1 - beta1, beta2, 1 - beta2, group["eps"], wd, 1 - lr * wd, bc1, lr,
                   bc2**0.5, rect)
        return flags, ("exp_avg", "exp_avg_sq"), scalars

    @staticmethod
    def apply_single(p, g, state, hyper, *, weight_decay, decoupled, maximize, rectify):
        one_minus_b1, b2, one_minus_b2, eps, wd, decay, bc1, lr, bc2_sqrt, rect = hyper
        p, g = signed_decayed(p, g, wd, decay, weight_decay=weight_decay, decoupled=decoupled,
                              maximize=maximize)
        m, v = adam_moments(state[0], state[1], g, one_minus_b1, b2, one_minus_b2)
        step = m / bc1 * lr
        if rectify:
            step = step * (bc2_sqrt / (mx.sqrt(v) + eps)) * rect
        return p - step, [m, v]
