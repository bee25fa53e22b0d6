"""``Parameter``: a tensor that a ``Module`` registers as trainable when assigned to it."""

from __future__ import annotations

import mlx.core as mx
from lucid import Tensor


class Parameter(Tensor):
    """A leaf ``Tensor`` with ``requires_grad=True`` (unless told otherwise).

    ``Parameter(t)`` shares ``t``'s values (MLX arrays are immutable, so nothing is copied);
    ``Parameter(data)`` accepts anything ``lucid.tensor`` does.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = mx.zeros((0,), dtype=mx.float32)
        if isinstance(data, Tensor):
            self.data, self.device = data._data, data.device
            self.grad, self._node, self.requires_grad = None, None, False
        else:
            super().__init__(data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
