"""Lucid's exception types.

Each one also derives from the built-in exception a Python user would expect
(``ValueError`` for shapes, ``TypeError`` for dtypes, ...), so ``except ValueError``
keeps working, while ``except lucid.LucidError`` catches everything Lucid raises.
"""


class LucidError(Exception):
    """Base class of every error Lucid raises on purpose."""


class ShapeError(LucidError, ValueError):
    """Shapes that do not fit the op (broadcasting, matmul, reshape, ...)."""


class DTypeError(LucidError, TypeError):
    """A dtype the op does not accept (e.g. gradients of an integer tensor)."""


class DeviceError(LucidError, RuntimeError):
    """An unknown or unavailable device, or tensors on different devices."""


class GradError(LucidError, RuntimeError):
    """Misuse of autograd: backward twice, non-scalar backward, in-place on a leaf."""


class LucidIndexError(LucidError, IndexError):
    """An index out of range or of an unsupported kind."""


class CheckpointError(LucidError, ValueError):
    """A checkpoint that cannot be written (unsupported object) or read (damaged file)."""
