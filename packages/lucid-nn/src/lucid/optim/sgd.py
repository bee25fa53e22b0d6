"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from . import functional
from .optimizer import Optimizer, OptimizerError


class SGD(Optimizer):
    """PyTorch's SGD.

    g = grad + weight_decay * p;  buf = g on the first step, then
    buf = momentum * buf + (1 - dampening) * g;  d = g + momentum * buf (nesterov) or buf
    (momentum) or g;  p -= lr * d.  With ``maximize`` the gradient's sign is flipped first.

    Defaults (PyTorch's): lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False.
    State per parameter (only with momentum): ``momentum_buffer``.
    ``compile=True`` fuses each parameter's update into one MLX kernel.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 compile: bool = True):
        if lr < 0.0:
            raise OptimizerError(f"SGD: invalid learning rate lr={lr} (must be >= 0)")
        if momentum < 0.0:
            raise OptimizerError(f"SGD: invalid momentum={momentum} (must be >= 0)")
        if weight_decay < 0.0:
            raise OptimizerError(f"SGD: invalid weight_decay={weight_decay} (must be >= 0)")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise OptimizerError("SGD: nesterov=True needs momentum > 0 and dampening = 0")
        self.compile = compile
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _step_group(self, group: dict, touched: list) -> None:
        momentum = group["momentum"]
        flags = dict(weight_decay=group["weight_decay"] != 0, maximize=group["maximize"],
                     momentum=momentum != 0, nesterov=group["nesterov"])
        kernels = {}
        hypers = {}
        values = (group["lr"], group["weight_decay"], momentum, 1 - group["dampening"])
        keys = ("momentum_buffer",) if momentum != 0 else ()
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p] if momentum != 0 else {}
            first = momentum != 0 and state.get("momentum_buffer") is None
            if first not in kernels:
                kernels[first] = self._kernel(functional.sgd, first=first, **flags)
            if p.dtype not in hypers:
                hypers[p.dtype] = self._scalars(values, p.dtype)
            if first:
                state.pop("momentum_buffer", None)
            self._update(kernels[first], p, state, keys, hypers[p.dtype], touched)
