"""Framework backends: ``get_backend(name)`` imports a framework only when it is used.

``require(name)`` checks that a framework is installed without importing it: the process
that starts the workers loads no framework.
"""

from __future__ import annotations

import importlib
import importlib.util
import random

import numpy as np

from ..errors import FrameworkMissingError
from .base import Backend

#: framework -> (module, class, the pip requirement that provides it)
BACKENDS = {
    "lucid": ("lucid_backend", "LucidBackend", "lucid-nn (pip install lucid-nn 'mlx[cpu]')"),
    "torch": ("torch_backend", "TorchBackend",
              "the torch extra (pip install 'lucid-compare[torch]')"),
}
LABELS = {"lucid": "Lucid", "torch": "PyTorch"}
#: framework -> the top-level modules it needs (found, not imported, by ``require``)
REQUIRES = {"lucid": ("mlx", "lucid.nn"), "torch": ("torch",)}


def require(name: str) -> None:
    """Raise ``FrameworkMissingError`` unless ``name``'s modules can be found (not imported)."""
    for module in REQUIRES[name]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise FrameworkMissingError(
                f"{LABELS[name]} is not installed (no module named {module!r}); install "
                f"{BACKENDS[name][2]}, or leave it out with --frameworks")


def backend_module(name: str):
    """The backend module of ``name``; a clear error naming what to install when it is missing."""
    module, _, install = BACKENDS[name]
    try:
        return importlib.import_module(f"{__name__}.{module}")
    except ImportError as err:
        raise FrameworkMissingError(
            f"{LABELS[name]} is not installed ({err}); install {install}, "
            f"or leave it out with --frameworks"
        ) from err


def get_backend(name: str) -> type[Backend]:
    return getattr(backend_module(name), BACKENDS[name][1])


def seed_all(seed: int, frameworks) -> None:
    """Seed Python, NumPy and every framework in ``frameworks``, together."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    for fw in frameworks:
        get_backend(fw).seed(seed)


__all__ = ["BACKENDS", "Backend", "LABELS", "backend_module", "get_backend", "require",
           "seed_all"]
