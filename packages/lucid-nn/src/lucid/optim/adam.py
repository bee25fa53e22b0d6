"""Adam: adaptive moment estimation, with L2 weight decay and the AMSGrad variant."""

from __future__ import annotations

import math

from . import functional
from .optimizer import Optimizer, OptimizerError


class Adam(Optimizer):
    """PyTorch's Adam.

    g = grad + weight_decay * p (L2, folded into the gradient);
    m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g^2;  (AMSGrad: v_max = max(v_max, v))
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

    Defaults (PyTorch's): lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    amsgrad=False. ``decoupled_weight_decay=True`` is AdamW. State per parameter: ``step``
    (int), ``exp_avg``, ``exp_avg_sq`` and, with AMSGrad, ``max_exp_avg_sq``.
    ``compile=True`` fuses each parameter's update into one MLX kernel.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False, compile: bool = True):
        name = type(self).__name__
        if not 0.0 <= lr:
            raise OptimizerError(f"{name}: invalid learning rate lr={lr} (must be >= 0)")
        if not 0.0 <= eps:
            raise OptimizerError(f"{name}: invalid eps={eps} (must be >= 0)")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise OptimizerError(f"{name}: invalid betas[{i}]={b} (must be in [0, 1))")
        if len(betas) != 2:
            raise OptimizerError(f"{name}: betas must be two numbers, got {betas!r}")
        if not 0.0 <= weight_decay:
            raise OptimizerError(f"{name}: invalid weight_decay={weight_decay} (must be >= 0)")
        self.compile = compile
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _step_group(self, group: dict, touched: list) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        wd = group["weight_decay"]
        amsgrad = group["amsgrad"]
        kernel = self._kernel(
            functional.adam, weight_decay=wd != 0, decoupled=group["decoupled_weight_decay"],
            maximize=group["maximize"], amsgrad=amsgrad,
        )
        keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg", "exp_avg_sq")
        hypers = {}
        for p, state in self._with_grad(group):
            if not state:
                state["step"] = 0
                state["exp_avg"] = self._zeros(p)
                state["exp_avg_sq"] = self._zeros(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = self._zeros(p)
            elif amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = self._zeros(p)
            t = state["step"] = state["step"] + 1
            key = (t, p.dtype)
            if key not in hypers:
                bias_correction1 = 1 - beta1**t
                bias_correction2 = 1 - beta2**t
                hypers[key] = self._scalars(
                    (lr / bias_correction1, math.sqrt(bias_correction2), 1 - beta1, beta2,
                     1 - beta2, eps, wd, 1 - lr * wd),
                    p.dtype,
                )
            self._update(kernel, p, state, keys, hypers[key], touched)
