"""Lucid's exception types: every error Lucid raises on purpose is one of these.

Each one also derives from the built-in exception a PyTorch user would catch for that
mistake, so ``except IndexError`` or ``except TypeError`` keeps working, while
``except lucid.LucidError`` catches everything Lucid raises. The policy (which type for
which mistake) is the table in lucid-tensor's README, section "Errors":

==========================  ==================================  =====================
mistake                     Lucid type                          built-in
==========================  ==================================  =====================
axis/dim or index out of    ``LucidIndexError``                 ``IndexError``
range, or a bad index kind
argument of a wrong type,   ``ArgumentTypeError``               ``TypeError``
or a required one missing
a dtype the op refuses      ``DTypeError``                      ``TypeError``
shapes that do not fit      ``ShapeError``                      ``ValueError``
conflicting or invalid      ``ArgumentError``                   ``ValueError``
argument values
a tensor too large          ``TensorTooLargeError``             ``MemoryError``
integer division by zero    ``IntegerDivisionByZeroError``      ``ZeroDivisionError``
device misuse               ``DeviceError``                     ``RuntimeError``
autograd misuse             ``GradError``                       ``RuntimeError``
unreadable checkpoint       ``CheckpointError``                 ``ValueError``
failed checkpoint write     ``CheckpointWriteError``            ``OSError``
==========================  ==================================  =====================
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
