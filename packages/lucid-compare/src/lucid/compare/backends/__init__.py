"""Framework backends: ``get_backend(name)`` imports a framework only when it is used."""

from __future__ import annotations

import importlib

from ..errors import FrameworkMissingError
from .base import Backend

#: framework -> (module, class, the pip requirement that provides it)
BACKENDS = {
    "lucid": ("lucid_backend", "LucidBackend", "lucid-nn (pip install lucid-nn 'mlx[cpu]')"),
    "torch": ("torch_backend", "TorchBackend",
              "the torch extra (pip install 'lucid-compare[torch]')"),
}
LABELS = {"lucid": "Lucid", "torch": "PyTorch"}


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


__all__ = ["BACKENDS", "Backend", "LABELS", "backend_module", "get_backend"]
