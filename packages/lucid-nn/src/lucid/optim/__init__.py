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
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .optimizer import Optimizer, OptimizerError, required
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer", "OptimizerError", "required", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad",
    "lr_scheduler", "functional",
]
