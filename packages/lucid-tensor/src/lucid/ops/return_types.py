"""PyTorch's named ``(values, indices)`` results, as ``torch.return_types``.

    values, indices = x.max(1)        # or: out = x.max(1); out.values, out.indices

Each is a ``collections.namedtuple``: it unpacks, indexes (``x.max(1)[1]``) and compares
like a plain tuple. ``lucid.return_types`` is this module.
"""

from collections import namedtuple

_FIELDS = ("values", "indices")


def _result(name: str) -> type:
    def __repr__(self):  # noqa: N807
        return f"lucid.return_types.{name}(values={self.values!r}, indices={self.indices!r})"

    base = namedtuple(name, _FIELDS)
    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__module__": __name__})


max = _result("max")  # noqa: A001 - PyTorch's names
min = _result("min")  # noqa: A001
sort = _result("sort")
topk = _result("topk")
kthvalue = _result("kthvalue")
median = _result("median")

__all__ = ["max", "min", "sort", "topk", "kthvalue", "median"]
