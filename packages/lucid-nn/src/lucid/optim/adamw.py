"""AdamW: Adam with decoupled weight decay (PyTorch's ``torch/optim/adamw.py``).

    p = p * (1 - lr * weight_decay);  then Adam's update with the raw gradient

(the decay shrinks the weights directly instead of entering the moments; see ``adam.py``).
"""

from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    """PyTorch's AdamW.

    Defaults (PyTorch's): lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    amsgrad=False, maximize=False.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 compile: bool = True):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True,
                         compile=compile)
