"""``InstanceNorm1d`` and ``InstanceNorm2d``, with PyTorch's semantics and defaults.

Each channel of each sample is normalised over its own spatial positions (biased
variance). PyTorch's defaults: no affine map (``affine=False``) and no running statistics
(``track_running_stats=False``). With ``track_running_stats=True``, training updates
``running_mean``/``running_var`` with the batch average of the per-instance statistics
(``momentum=None`` leaves them unchanged, as in PyTorch) and evaluation normalises with them.
"""

from __future__ import annotations

import warnings

from lucid.errors import ShapeError

from .. import functional as F
from ._norm_base import _NormBase


class _InstanceNorm(_NormBase):
    _spatial: int = 0

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)

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
