"""``linear``: ``y = x W^T + b`` (the engine's ``lucid.linear``)."""

from __future__ import annotations

import lucid


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` for ``input`` of shape ``(*, in_features)``."""
    return lucid.linear(input, weight, bias)
