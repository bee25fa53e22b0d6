"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from . import functional
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """PyTorch's RMSprop.

    g = grad + weight_decay * p;  sq = alpha * sq + (1 - alpha) * g^2;
    centered: ga = alpha * ga + (1 - alpha) * g, avg = sqrt(sq - ga^2) + eps, else
    avg = sqrt(sq) + eps;  momentum: buf = momentum * buf + g / avg, p -= lr * buf;
    otherwise p -= lr * g / avg.

    Defaults (PyTorch's): lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False. State per parameter: ``step``, ``square_avg``, and ``momentum_buffer``
    (momentum > 0) and ``grad_avg`` (centered).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False, compile: bool = True):
        self._check_non_negative("RMSprop", lr=lr, eps=eps, momentum=momentum,
                                 weight_decay=weight_decay, alpha=alpha)
        self.compile = compile
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _step_group(self, group: dict, touched: list) -> None:
        momentum, centered, alpha = group["momentum"], group["centered"], group["alpha"]
        kernel = self._kernel(
            functional.rmsprop, weight_decay=group["weight_decay"] != 0,
            maximize=group["maximize"], momentum=momentum > 0, centered=centered,
        )
        keys = ("square_avg",) + (("momentum_buffer",) if momentum > 0 else ()) + (
            ("grad_avg",) if centered else ())
        values = (group["lr"], group["weight_decay"], alpha, 1 - alpha, group["eps"], momentum)
        hypers = {}
        for p, state in self._with_grad(group):
            if not state:
                state["step"] = 0
                state["square_avg"] = self._zeros(p)
            for key in keys[1:]:
                if key not in state:
                    state[key] = self._zeros(p)
            state["step"] += 1
            if p.dtype not in hypers:
                hypers[p.dtype] = self._scalars(values, p.dtype)
            self._update(kernel, p, state, keys, hypers[p.dtype], touched)
