"""Reading an op's axis arguments: the one place axes are merged, checked and normalised.

Axes count from the end when negative: axis ``a`` of an ``n``-d tensor is valid for
``-n <= a < n`` and means ``a mod n``. A 0-d tensor accepts ``0`` and ``-1`` (PyTorch).
``dim=`` is PyTorch's name for NumPy's ``axis=``; every op takes either, not both.

Errors follow the policy in ``lucid.errors``: an axis out of range is a
:class:`LucidIndexError` (PyTorch's IndexError "Dimension out of range"), an axis that is
not an int an :class:`ArgumentTypeError`, ``axis=`` with ``dim=`` or a repeated axis an
:class:`ArgumentError`.
"""

from __future__ import annotations

import operator

from ..errors import ArgumentError, ArgumentTypeError, LucidIndexError


def pick(name: str, axis, dim, default=None):
    """The axis given as ``axis=`` or ``dim=`` (``default`` when neither)."""
    if dim is not None:
        if axis is not None:
            raise ArgumentError(f"{name}: pass axis= or dim=, not both (got {axis!r} and {dim!r})")
        return dim
    return default if axis is None else axis


def _as_int(name: str, a, given) -> int:
    if isinstance(a, bool):
        a = None  # True is not an axis
    try:
        return operator.index(a)
    except TypeError:
        raise ArgumentTypeError(
            f"{name}: an axis must be an int, got {given!r} ({type(given).__name__})"
        ) from None


def _out_of_range(name: str, a: int, ndim: int, shape) -> LucidIndexError:
    n = max(ndim, 1)
    where = f"shape {tuple(shape)}" if shape is not None else f"{ndim} dims"
    return LucidIndexError(
        f"{name}: axis {a} is out of range for a tensor of {where} (dimension out of range: "
        f"valid axes are {-n}..{n - 1})"
    )


def axis(name: str, a, ndim: int, shape=None) -> int:
    """One axis of an ``ndim``-d tensor as a non-negative int (0 for a 0-d tensor).

    ``ndim`` is the number of axes the op counts: ``x.ndim + 1`` for ``unsqueeze`` and
    ``stack``, which insert one.
    """
    if isinstance(a, (tuple, list)):
        raise ArgumentTypeError(f"{name}: takes one axis, an int, got {a!r}")
    i, n = _as_int(name, a, a), max(ndim, 1)
    if not -n <= i < n:
        raise _out_of_range(name, i, ndim, shape)
    return i % n if ndim else 0


def axes(name: str, given, shape) -> tuple | None:
    """``given`` (an int, a sequence of ints or None) as a sorted tuple of non-negative
    axes of ``shape``; None for every axis (also a 0-d tensor's ``0`` / ``-1``)."""
    if given is None:
        return None
    items = tuple(given) if isinstance(given, (tuple, list)) else (given,)
    ndim = len(shape)
    out = [axis(name, _as_int(name, a, given), ndim, shape) for a in items]
    if ndim == 0:
        return None
    if len(set(out)) != len(out):
        raise ArgumentError(f"{name}: axis {given!r} repeats an axis (shape {tuple(shape)})")
    return tuple(sorted(out))


def one(name: str, given, shape) -> int | None:
    """One axis of ``shape`` (an int, not a sequence) as a non-negative int; None for a
    0-d tensor or when ``given`` is None."""
    if given is None:
        return None
    i = axis(name, given, len(shape), shape)
    return i if shape else None
