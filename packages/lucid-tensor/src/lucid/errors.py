"""Lucid's exception types: every error Lucid raises on purpose is one of these.

Each one also derives from the built-in exception a PyTorch user would catch for that
mistake, so ``except IndexError`` or ``except TypeError`` keeps working, while
``except lucid.LucidError`` catches everything Lucid raises. Which type for which mistake
(the policy) is the table in lucid-tensor's README, section "Errors"; in short: out of
range -> ``LucidIndexError``, wrong type or missing argument -> ``ArgumentTypeError``,
refused dtype -> ``DTypeError``, shapes that do not fit -> ``ShapeError``, conflicting or
invalid values -> ``ArgumentError``.
"""


class LucidError(Exception):
    """Base class of every error Lucid raises on purpose."""


class LucidIndexError(LucidError, IndexError):
    """An axis (``dim``) or index out of range, or an index of an unsupported kind."""


class ArgumentTypeError(LucidError, TypeError):
    """An argument of the wrong type (an axis that is not an int), or a required argument
    missing (``clamp`` with neither bound)."""


class DTypeError(LucidError, TypeError):
    """A dtype the op does not accept (e.g. gradients of an integer tensor)."""


class ShapeError(LucidError, ValueError):
    """Shapes that do not fit the op (broadcasting, matmul, reshape, ...)."""


class ArgumentError(LucidError, ValueError):
    """Argument values the op does not accept or that conflict (``axis=`` and ``dim=``
    both given, ``randint`` with ``low >= high``, an unknown mode, a repeated axis)."""


class TensorTooLargeError(ShapeError, MemoryError):
    """A tensor larger than the device's memory (or MLX's 2**31 - 1 per axis) was asked for."""


class IntegerDivisionByZeroError(LucidError, ZeroDivisionError):
    """Integer ``//`` by zero (PyTorch raises too; floats give ``inf``/``nan``)."""


class DeviceError(LucidError, RuntimeError):
    """An unknown or unavailable device, or tensors on different devices."""


class GradError(LucidError, RuntimeError):
    """Misuse of autograd: backward twice, non-scalar backward, in-place on a leaf."""


class CheckpointError(LucidError, ValueError):
    """A checkpoint that cannot be written (unsupported object) or read (damaged file)."""


class CheckpointWriteError(CheckpointError, OSError):
    """A checkpoint could not be written (read-only folder, full disk); the previous file
    at that path, if any, is unchanged."""
