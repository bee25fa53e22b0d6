"""``lucid.nn``: modules, layers, losses, initialisers and functional ops.

    import lucid.nn as nn
    import lucid.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(784, 10)

        def forward(self, x):
            return self.fc(x)
"""

import lucid._engine  # noqa: F401  (the tensor engine, before its modules are used)

from . import functional, init, parallel, utils
from .containers import ModuleDict, ModuleList, Sequential
from .layers import *  # noqa: F401,F403
from .layers import __all__ as _layers
from .module import IncompatibleKeys, Module, StateDictError
from .parallel import DataParallel
from .parameter import Parameter

__all__ = [
    "DataParallel", "IncompatibleKeys", "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential",
    "StateDictError", "functional", "init", "parallel", "utils", *_layers,
]
