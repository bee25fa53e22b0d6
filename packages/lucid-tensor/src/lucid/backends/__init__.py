"""``lucid.backends``: ``lucid.backends.mps.is_available()``, as PyTorch's."""

from . import mps

__all__ = ["mps"]
