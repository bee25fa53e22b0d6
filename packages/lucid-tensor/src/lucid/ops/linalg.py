"""Batched products: ``bmm`` and ``einsum``.

``einsum`` takes PyTorch's equation strings: explicit (``"bij,bjk->bik"``) or implicit
output (``"ij,jk"``: the labels seen once, sorted, after the ellipsis axes), ``...`` for
broadcast leading axes, and repeated labels within an operand (``"ii->i"``, a diagonal;
``"ii"``, a trace). The equation is rewritten with letters only and handed to
``mx.einsum``.

Backward: the gradient of operand k is einsum again, with the output's subscripts in
operand k's place and operand k's subscripts as the output:

    out = einsum("ij,jk->ik", a, b)   =>   da = einsum("ik,jk->ij", g, b)

Labels only operand k has are summed over, so their gradient is ``g`` broadcast along
them; a label repeated in operand k (a diagonal) gets the gradient on that diagonal and
zero elsewhere; an axis of length 1 broadcast against a longer one is summed back.
"""

from __future__ import annotations

import string

import mlx.core as mx

from .._tensor import Tensor
from ..errors import ArgumentError, ArgumentTypeError, ShapeError
from ..function import op
from .arithmetic import matmul

__all__ = ["bmm", "einsum"]


def bmm(x: Tensor, y: Tensor) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p): out[i] = x[i] @ y[i] (no broadcasting)."""
    if not (isinstance(x, Tensor) and isinstance(y, Tensor)):
        raise ArgumentTypeError(
            f"bmm: both operands must be tensors, got {type(x).__name__} and {type(y).__name__}"
        )
    if x.ndim != 3 or y.ndim != 3:
        raise ShapeError(f"bmm: both operands must be 3-D, got shapes {x.shape} and {y.shape}")
    if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[1]:
        raise ShapeError(
            f"bmm: shapes {x.shape} and {y.shape} do not match: need (b, n, m) and (b, m, p)"
        )
    return matmul(x, y)


# ----- parsing the equation --------------------------------------------------------
def _parse(equation: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """Each operand's subscripts and the output's, in letters only (``...`` expanded)."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, out = eq.split("->", 1)
    else:
        lhs, out = eq, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(
            f"einsum: the equation {equation!r} has {len(terms)} operand(s), "
            f"but {len(shapes)} tensor(s) were given"
        )
    for term in terms + ([out] if out is not None else []):
        bad = set(term.replace("...", "")) - set(string.ascii_letters)
        if bad or term.count("...") > 1:
            raise ArgumentError(
                f"einsum: invalid subscripts {term!r} in {equation!r}: labels are letters, with "
                "at most one '...' per operand"
            )
    used = set(eq)
    spare = [c for c in string.ascii_letters if c not in used]
    rank = 0  # the number of axes '...' stands for (the most any operand gives it)
    for term, shape in zip(terms, shapes, strict=True):
        named = len(term.replace("...", ""))
        dots = len(shape) - named
        if dots < 0 or ("..." not in term and dots):
            raise ShapeError(
                f"einsum: subscripts {term!r} name {named} axes, but the operand has shape "
                f"{tuple(shape)} in {equation!r}"
            )
        rank = max(rank, dots)
    if rank > len(spare):
        raise ShapeError(f"einsum: too many axes under '...' in {equation!r}")
    ell = "".join(spare[:rank])
    subs = [
        t.replace("...", ell[rank - (len(s) - len(t.replace("...", ""))):]) if "..." in t else t
        for t, s in zip(terms, shapes, strict=True)
    ]
    if out is None:
        counts = {c: "".join(subs).count(c) for c in set("".join(subs)) - set(ell)}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    else:
        if "..." not in out and rank and any("..." in t for t in terms):
            out_ell = ""  # PyTorch: '...' axes not in the output are summed
        else:
            out_ell = ell
        out = out.replace("...", out_ell)
        if len(set(out)) != len(out):
            raise ArgumentError(f"einsum: output subscripts repeat a label in {equation!r}")
        missing = set(out) - set("".join(subs))
        if missing:
            raise ArgumentError(
                f"einsum: output label(s) {sorted(missing)} appear in no operand of {equation!r}"
            )
    _check_sizes(equation, subs, shapes)
    return subs, out


def _check_sizes(equation, subs, shapes) -> None:
    sizes: dict[str, int] = {}
    for term, shape in zip(subs, shapes, strict=True):
        seen: dict[str, int] = {}
        for c, n in zip(term, shape, strict=True):
            if c in seen and seen[c] != n:
                raise ShapeError(
                    f"einsum: label {c!r} repeated in one operand spans axes of lengths "
                    f"{seen[c]} and {n} (shape {tuple(shape)}, {equation!r})"
                )
            seen[c] = n
            if n != 1 and sizes.get(c, 1) != 1 and sizes[c] != n:
                raise ShapeError(
                    f"einsum: label {c!r} has lengths {sizes[c]} and {n} in {equation!r} "
                    f"(shapes {[tuple(s) for s in shapes]})"
                )
            sizes[c] = n if n != 1 else sizes.get(c, 1)


# ----- the op ----------------------------------------------------------------------
def _grad_of(k: int, subs: list[str], out: str, g: mx.array, arrays) -> mx.array:
    """d out / d operand k, contracted with ``g``: einsum with out in k's place."""
    x, term = arrays[k], subs[k]
    others = [s for i, s in enumerate(subs) if i != k]
    reach = set(out).union(*others) if others else set(out)
    unique = "".join(dict.fromkeys(term))
    target = "".join(c for c in unique if c in reach)
    spec = ",".join([out] + others) + "->" + target
    grad = mx.einsum(spec, g, *[a for i, a in enumerate(arrays) if i != k])
    first = {c: term.index(c) for c in unique}
    # sum back axes of length 1 that the other operands broadcast
    wide = [i for i, c in enumerate(target) if x.shape[first[c]] == 1 and grad.shape[i] != 1]
    if wide:
        grad = mx.sum(grad, axis=wide, keepdims=True)
    # one axis per first occurrence (length 1 for labels only x has), then broadcast
    sizes = dict(zip(target, grad.shape, strict=True))
    grad = grad.reshape([sizes.get(c, 1) if first[c] == i else 1 for i, c in enumerate(term)])
    grad = mx.broadcast_to(grad, x.shape)
    for i, c in enumerate(term):  # repeated labels: keep the diagonal only
        if first[c] != i:
            j, n = first[c], x.shape[i]
            eye = mx.arange(n).reshape([n if d == j else 1 for d in range(x.ndim)]) == (
                mx.arange(n).reshape([n if d == i else 1 for d in range(x.ndim)]))
            grad = mx.where(eye, grad, mx.zeros_like(grad))
    return grad.astype(x.dtype)


@op("einsum")
def _einsum(*arrays, subs, out):
    """out = einsum(subs -> out);  d operand k = einsum(out, others -> subs[k]).

    Integer operands (MLX's einsum takes floating types only) go through float64 on the
    CPU, exact below 2^53, and record no gradient.
    """
    spec = ",".join(subs) + "->" + out
    if not any(mx.issubdtype(a.dtype, mx.inexact) for a in arrays):
        kind = arrays[0].dtype if all(a.dtype == arrays[0].dtype for a in arrays) else mx.int64
        wide = mx.einsum(spec, *[a.astype(mx.float64) for a in arrays], stream=mx.cpu)
        return wide.astype(kind), None
    result = mx.einsum(spec, *arrays)
    return result, lambda g: tuple(
        _grad_of(k, subs, out, g, arrays) for k in range(len(arrays))
    )


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, as ``torch.einsum(equation, *operands)`` (or a list of operands)."""
    if not isinstance(equation, str):
        raise ArgumentTypeError(f"einsum: the first argument must be the equation string, got "
                                f"{type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ArgumentTypeError("einsum: needs at least one operand")
    operands = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in operands)
    subs, out = _parse(equation, [t.shape for t in operands])
    return _einsum(*operands, subs=subs, out=out)


TENSOR_METHODS = {"bmm": bmm}
