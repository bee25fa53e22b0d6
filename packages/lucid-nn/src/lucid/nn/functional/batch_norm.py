"""``batch_norm`` (the engine's ``lucid.batch_norm``, with its running-statistics update)."""

from __future__ import annotations

import lucid


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, relu=False):
    """Batch normalisation over axis 1 of ``(N, C, *)``; see ``lucid.batch_norm``."""
    return lucid.batch_norm(input, running_mean, running_var, weight, bias, training,
                            momentum, eps, relu)
