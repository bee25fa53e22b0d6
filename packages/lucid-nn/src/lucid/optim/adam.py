"""Adam: adaptive moment estimation, with L2 weight decay and the AMSGrad variant.

PyTorch's algorithm (``torch/optim/adam.py``), per parameter p with gradient g, step t:

    g = -g                                  (maximize)
    p = p * (1 - lr * wd)                   (decoupled_weight_decay: AdamW)
    g = g + wd * p                          (otherwise, weight_decay != 0: L2)
    m = m + (1 - b1) * (g - m)
    v = b2 * v + (1 - b2) * g^2
    v_max = max(v_max, v), v = v_max        (amsgrad)
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

State per parameter: ``step`` (int), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with
AMSGrad, ``max_exp_avg_sq``.
"""

from __future__ import annotations

import math

import mlx.core as mx

from ._rules import adam_moments, signed_decayed
from .optimizer import Optimizer


class Adam(Optimizer):
    """PyTorch's Adam (see the module docstring for the algorithm).

    Defaults (PyTorch's): lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    amsgrad=False, maximize=False, decoupled_weight_decay=False (True is AdamW).
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False, compile: bool = True):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, compile=compile)

    def init_single(self, p, state: dict, group: dict) -> None:
        self._init_state(p, state, self._keys(group))

    @staticmethod
    def _keys(group: dict) -> tuple:
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def plan_single(self, group: dict, state: dict) -> tuple:
        lr, (beta1, beta2), wd, t = group["lr"], group["betas"], group["weight_decay"], state["step"]
        flags = dict(weight_decay=wd != 0, decoupled=group["decoupled_weight_decay"],
                     maximize=group["maximize"], amsgrad=group["amsgrad"])
        scalars = (lr / (1 - beta1**t), math.sqrt(1 - beta2**t), 1 - beta1, beta2, 1 - beta2,
                   group["eps"], wd, 1 - lr * wd)
        return flags, self._keys(group), scalars

    @staticmethod
    def native_single(lib, p, g, state, hyper, *, scalars, weight_decay, decoupled, maximize,
                      amsgrad):
        out = lib.adam_update(p, g, state, scalars, weight_decay, decoupled, maximize, amsgrad)
        return out[0], out[1:]

    @staticmethod
    def apply_single(p, g, state, hyper, *, weight_decay, decoupled, maximize, amsgrad):
        step_size, bc2_sqrt, one_minus_b1, b2, one_minus_b2, eps, wd, decay = hyper
        p, g = signed_decayed(p, g, wd, decay, weight_decay=weight_decay, decoupled=decoupled,
                              maximize=maximize)
        m, v = adam_moments(state[0], state[1], g, one_minus_b1, b2, one_minus_b2)
        if amsgrad:
            vmax = mx.maximum(state[2], v)
            denom = mx.sqrt(vmax) / bc2_sqrt + eps
            state = [m, v, vmax]
        else:
            denom = mx.sqrt(v) / bc2_sqrt + eps
            state = [m, v]
        return p - step_size * (m / denom), state
