"""Optimizers and learning-rate schedulers with PyTorch's semantics.

    optimizer = lucid.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = lucid.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.1)
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()
    scheduler.step()
"""

import lucid._engine  # noqa: F401  (the tensor engine, before its modules are used)

from . import functional, lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .adamw import AdamW
from .nadam import NAdam
from .optimizer import Optimizer, OptimizerError, check_hyperparameters, required
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer", "OptimizerError", "required", "check_hyperparameters", "SGD", "Adam", "AdamW",
    "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "lr_scheduler", "functional",
]
