"""The update rules of Lucid's optimizers, on MLX arrays, one function per algorithm.

Each is the ``apply_single`` of its optimizer (written, with its math, in the optimizer's
own file) and maps one parameter ``p``, its gradient ``g``, its state arrays and the
step's hyper-parameters (0-d arrays) to the new parameter and state:

    p, state = rule(p, g, state, hyper, **flags)

``kernel(rule, **flags)`` returns the rule with its flags fixed, fused by ``mx.compile``.
The formulas follow PyTorch's single-tensor implementations term for term, so results
agree to float32 rounding.
"""

from __future__ import annotations

from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .nadam import NAdam
from .optimizer import kernel
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

sgd = SGD.apply_single
adam = Adam.apply_single  # AdamW's too (decoupled=True)
rmsprop = RMSprop.apply_single
adagrad = Adagrad.apply_single
adadelta = Adadelta.apply_single
adamax = Adamax.apply_single
nadam = NAdam.apply_single
radam = RAdam.apply_single

__all__ = ["kernel", "sgd", "adam", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam"]
