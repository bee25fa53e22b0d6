"""NAdam: Adam with Nesterov momentum and a momentum schedule (Dozat, 2016).

PyTorch's algorithm (``torch/optim/nadam.py``), per parameter p with gradient g, step t:

    g = -g                                       (maximize)
    p = p * (1 - lr * wd)                        (decoupled_weight_decay)
    g = g + wd * p                               (otherwise, weight_decay != 0)
    mu_t = b1 * (1 - 0.5 * 0.96^(t * momentum_decay)),  and mu_{t+1} likewise
    prod_t = mu_1 * ... * mu_t
    m = m + (1 - b1) * (g - m)
    v = b2 * v + (1 - b2) * g^2
    denom = sqrt(v / (1 - b2^t)) + eps
    p = p - lr * (1 - mu_t) / (1 - prod_t) * g / denom
          - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / denom

State per parameter: ``step``, ``mu_product`` (prod_t, a float), ``exp_avg`` (m),
``exp_avg_sq`` (v).
"""

from __future__ import annotations

import mlx.core as mx

from ._rules import adam_moments, signed_decayed
from .optimizer import Optimizer


class NAdam(Optimizer):
    """PyTorch's NAdam (see the module docstring for the algorithm).

    Defaults (PyTorch's): lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False.
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False,
                 compile: bool = True):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, compile=compile)

    def init_single(self, p, state: dict, group: dict) -> None:
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
            state["exp_avg"] = self._zeros(p)
            state["exp_avg_sq"] = self._zeros(p)

    def plan_single(self, group: dict, state: dict) -> tuple:
        """Also advances ``state["mu_product"]`` (a Python float) to this step's product."""
        lr, (beta1, beta2), wd, t = group["lr"], group["betas"], group["weight_decay"], state["step"]
        decay = group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * decay))
        state["mu_product"] = product = state["mu_product"] * mu
        flags = dict(weight_decay=wd != 0, decoupled=group["decoupled_weight_decay"],
                     maximize=group["maximize"])
        scalars = (1 - beta1, beta2, 1 - beta2, 1 - beta2**t, group["eps"], wd, 1 - lr * wd,
                   -lr * (1.0 - mu) / (1.0 - product),
                   -lr * mu_next / (1.0 - product * mu_next))
        return flags, ("exp_avg", "exp_avg_sq"), scalars

    @staticmethod
    def apply_single(p, g, state, hyper, *, weight_decay, decoupled, maximize):
        one_minus_b1, b2, one_minus_b2, bc2, eps, wd, decay, grad_coef, avg_coef = hyper
        p, g = signed_decayed(p, g, wd, decay, weight_decay=weight_decay, decoupled=decoupled,
                              maximize=maximize)
        m, v = adam_moments(state[0], state[1], g, one_minus_b1, b2, one_minus_b2)
        denom = mx.sqrt(v / bc2) + eps
        p = p + grad_coef * (g / denom)
        return p + avg_coef * (m / denom), [m, v]
