"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay.

PyTorch's algorithm (``torch/optim/sgd.py``), per parameter p with gradient g:

    g = -g                                       (maximize)
    g = g + wd * p                               (weight_decay != 0)
    buf = g                                      (momentum != 0, first step)
    buf = mu * buf + (1 - dampening) * g         (momentum != 0, later steps)
    d = g + mu * buf (nesterov), buf (momentum), g (otherwise)
    p = p - lr * d

State per parameter, only with momentum: ``momentum_buffer``.
"""

from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    """PyTorch's SGD (see the module docstring for the algorithm).

    Defaults (PyTorch's): lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
    maximize=False. ``nesterov`` needs momentum > 0 and dampening = 0.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 compile: bool = True):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults, compile=compile)

    def init_single(self, p, state: dict, group: dict) -> None:
        """Nothing ahead: the first step makes the momentum buffer the gradient itself."""
        if state.get("momentum_buffer", 0) is None:  # a saved ``None`` buffer: start afresh
            del state["momentum_buffer"]

    def plan_single(self, group: dict, state: dict) -> tuple:
        momentum = group["momentum"]
        keys = ("momentum_buffer",) if momentum != 0 else ()
        flags = dict(weight_decay=group["weight_decay"] != 0, maximize=group["maximize"],
                     momentum=momentum != 0, nesterov=group["nesterov"],
                     first=momentum != 0 and "momentum_buffer" not in state)
        scalars = (group["lr"], group["weight_decay"], momentum, 1 - group["dampening"])
        return flags, keys, scalars

    @staticmethod
    def native_single(lib, p, g, state, hyper, *, scalars, weight_decay, maximize, momentum,
                      nesterov, first):
        out = lib.sgd_update(p, g, [] if first else state, scalars, weight_decay, maximize,
                             momentum, nesterov, first)
        return out[0], out[1:]

    @staticmethod
    def apply_single(p, g, state, hyper, *, weight_decay, maximize, momentum, nesterov, first):
        lr, wd, mu, one_minus_tau = hyper
        if maximize:
            g = -g
        if weight_decay:
            g = g + wd * p
        if momentum:
            buf = g if first else state[0] * mu + one_minus_tau * g
            g = g + mu * buf if nesterov else buf
            state = [buf]
        return p - lr * g, state
