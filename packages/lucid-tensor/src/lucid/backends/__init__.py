"""``lucid.backends``: ``lucid.backends.mps.is_available()``, ``lucid.backends.cudnn`` flags, as PyTorch's."""

from . import cudnn, mps

__all__ = ["cudnn", "mps"]
