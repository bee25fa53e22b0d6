"""``BatchNorm1d`` and ``BatchNorm2d``, with PyTorch's semantics.

Training mode normalises with the batch's statistics (biased variance) and updates
``running_mean``/``running_var`` (unbiased variance) with ``momentum`` (``None``: a
cumulative average over ``num_batches_tracked``); evaluation mode uses the running
estimates. ``track_running_stats=False`` always uses batch statistics.
"""

from __future__ import annotations

import lucid
import mlx.core as mx
from lucid.errors import ShapeError

from .. import functional as F
from .. import init
from ..module import Module
from ..parameter import Parameter


class _BatchNorm(Module):
    _ndims: tuple = ()

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

    def _check_input(self, x) -> None:
        if x.ndim not in self._ndims:
            want = " or ".join(f"{d}D" for d in self._ndims)
            raise ShapeError(f"{type(self).__name__}: expected {want} input, got shape "
                             f"{x.shape}")
        if x.shape[1] != self.num_features:
            raise ShapeError(f"{type(self).__name__}: input has {x.shape[1]} channels "
                             f"(shape {x.shape}), expected {self.num_features}")

    def forward(self, x):
        self._check_input(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            count = self.num_batches_tracked
            count.data = count.data + 1
            mx.async_eval(count.data)
            factor = 1.0 / float(count.item()) if self.momentum is None else self.momentum
        use_batch = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if keep else None,
                            self.running_var if keep else None, self.weight, self.bias,
                            use_batch, factor, self.eps)

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
