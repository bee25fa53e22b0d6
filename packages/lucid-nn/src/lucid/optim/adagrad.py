"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

from . import functional
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """PyTorch's Adagrad.

    g = grad + weight_decay * p;  clr = lr / (1 + (t - 1) * lr_decay);  sum += g^2;
    p -= clr * g / (sqrt(sum) + eps).

    Defaults (PyTorch's): lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10. State per parameter, created with the optimizer as in PyTorch: ``step``,
    ``sum`` (filled with ``initial_accumulator_value``).
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *,
                 maximize: bool = False, compile: bool = True):
        self._check_non_negative("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                 initial_accumulator_value=initial_accumulator_value, eps=eps)
        self.compile = compile
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)

    def _init_state(self, p, group: dict) -> None:
        state = self.state[p]
        state["step"] = 0
        state["sum"] = self._zeros(p, group["initial_accumulator_value"])

    def _step_group(self, group: dict, touched: list) -> None:
        kernel = self._kernel(functional.adagrad, weight_decay=group["weight_decay"] != 0,
                              maximize=group["maximize"])
        lr, lr_decay = group["lr"], group["lr_decay"]
        hypers = {}
        for p, state in self._with_grad(group):
            if not state:
                self._init_state(p, group)
            t = state["step"] = state["step"] + 1
            key = (t, p.dtype)
            if key not in hypers:
                clr = lr / (1 + (t - 1) * lr_decay)
                hypers[key] = self._scalars((clr, group["weight_decay"], group["eps"]), p.dtype)
            self._update(kernel, p, state, ("sum",), hypers[key], touched)
