"""``_NormBase``: what BatchNorm and InstanceNorm share, as PyTorch's ``_NormBase``.

Per-channel ``weight`` (ones) and ``bias`` (zeros) when ``affine``, and, when
``track_running_stats``, the buffers ``running_mean`` (zeros), ``running_var`` (ones) and
``num_batches_tracked`` (0), under PyTorch's names so state dicts exchange.
"""

from __future__ import annotations

import lucid

from .. import init
from ..module import Module
from ..parameter import Parameter


class _NormBase(Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(lucid.ones(num_features, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(lucid.zeros(num_features, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", lucid.zeros(num_features, device=device))
            self.register_buffer("running_var", lucid.ones(num_features, device=device))
            self.register_buffer("num_batches_tracked",
                                 lucid.tensor(0, dtype=lucid.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)
