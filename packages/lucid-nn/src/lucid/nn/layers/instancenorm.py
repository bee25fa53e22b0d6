"""``InstanceNorm1d`` and ``InstanceNorm2d``, with PyTorch's semantics and defaults.

Each channel of each sample is normalised over its own spatial positions (biased
variance). PyTorch's defaults: no affine map (``affine=False``) and no running statistics
(``track_running_stats=False``). With ``track_running_stats=True``, training updates
``running_mean``/``running_var`` with the batch average of the per-instance statistics
(``momentum=None`` leaves them unchanged, as in PyTorch) and evaluation normalises with them.
"""

from __future__ import annotations

import warnings

import lucid
from lucid.errors import ShapeError

from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


class _InstanceNorm(Module):
    _spatial: int = 0

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(lucid.ones(num_features, dtype=dtype, device=device))
            self.bias = Parameter(lucid.zeros(num_features, dtype=dtype, device=device))
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
            init.zeros_(self.bias)

    def forward(self, x):
        name, k = type(self).__name__, self._spatial
        if x.ndim not in (k + 1, k + 2):
            raise ShapeError(f"{name}: expected {k + 2}D input (N, C, *) or {k + 1}D without "
                             f"the batch axis, got shape {x.shape}")
        channels = x.shape[-k - 1]
        if channels != self.num_features:
            message = (f"{name}: input has {channels} channels (shape {x.shape}), expected "
                       f"num_features={self.num_features}")
            if self.affine:
                raise ShapeError(message)
            warnings.warn(message + "; normalising each channel anyway", UserWarning,
                          stacklevel=2)
        unbatched = x.ndim == k + 1
        if unbatched:
            x = x.unsqueeze(0)
        out = F.instance_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias,
            use_input_stats=self.training or not self.track_running_stats,
            momentum=self.momentum if self.momentum is not None else 0.0, eps=self.eps)
        return out.squeeze(0) if unbatched else out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of ``(N, C, L)`` (or ``(C, L)``) over L."""

    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of ``(N, C, H, W)`` (or ``(C, H, W)``) over H and W."""

    _spatial = 2
