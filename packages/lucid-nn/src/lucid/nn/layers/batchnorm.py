"""``BatchNorm1d`` and ``BatchNorm2d``, with PyTorch's semantics.

Training mode normalises with the batch's statistics (biased variance) and updates
``running_mean``/``running_var`` (unbiased variance) with ``momentum`` (``None``: a
cumulative average over ``num_batches_tracked``); evaluation mode uses the running
estimates. ``track_running_stats=False`` always uses batch statistics.
"""

from __future__ import annotations

import mlx.core as mx
from lucid.errors import ShapeError

from .. import functional as F
from ._norm_base import _NormBase


class _BatchNorm(_NormBase):
    _ndims: tuple = ()

    def _check_input(self, x) -> None:
        if x.ndim not in self._ndims:
            want = " or ".join(f"{d}D" for d in self._ndims)
            raise ShapeError(f"{type(self).__name__}: expected {want} input, got shape "
                             f"{x.shape}")
        if x.shape[1] != self.num_features:
            raise ShapeError(f"{type(self).__name__}: input has {x.shape[1]} channels "
                             f"(shape {x.shape}), expected {self.num_features}")

    def forward(self, x, *, relu: bool = False):
        """``relu=True`` returns ``relu(batch_norm(x))`` as one fused op (the same values)."""
        self._check_input(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            count = self.num_batches_tracked
            count.data = count._data + 1
            mx.async_eval(count._data)
            factor = 1.0 / float(count.item()) if self.momentum is None else self.momentum
        use_batch = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if keep else None,
                            self.running_var if keep else None, self.weight, self.bias,
                            use_batch, factor, self.eps, relu=relu)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` over N (and L)."""

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` over N, H and W, per channel C."""

    _ndims = (4,)
