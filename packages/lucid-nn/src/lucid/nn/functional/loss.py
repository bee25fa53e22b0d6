"""Losses under PyTorch's functional names and signatures: the engine's fused ops
(``lucid.cross_entropy``, ``lucid.nll_loss``, ...), each one op with its backward.

``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per-element losses).
Class-indexed losses take input ``(N, C, *)`` (or ``(C,)``) and targets ``(N, *)``.
"""

from __future__ import annotations

import lucid
from lucid.errors import ArgumentError


def _no_legacy(name, size_average, reduce):
    if size_average is not None or reduce is not None:
        raise ArgumentError(f"{name}: size_average and reduce are deprecated in PyTorch; "
                            "use reduction=")


def cross_entropy(input, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """Softmax cross entropy of logits ``input`` (N, C, *) against class indices (N, *)
    or class probabilities (N, C, *), fused: ``log_softmax`` and NLL in one op."""
    return lucid.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C, *) at class ``target``."""
    return lucid.nll_loss(input, target, weight, ignore_index, reduction)


def mse_loss(input, target, reduction: str = "mean"):
    """Mean squared error (inputs broadcast against each other)."""
    return lucid.mse_loss(input, target, reduction)


def l1_loss(input, target, reduction: str = "mean"):
    """Mean absolute error."""
    return lucid.l1_loss(input, target, reduction)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean"):
    """BCE of probabilities ``input`` in [0, 1] against ``target`` of the same shape."""
    return lucid.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean",
                                     pos_weight=None):
    """BCE on logits, computed stably; ``pos_weight`` scales the positive term per class."""
    return lucid.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0):
    """Quadratic for |x - t| < beta, linear beyond; beta = 0 is the L1 loss."""
    return lucid.smooth_l1_loss(input, target, reduction, beta)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0):
    """``(x - t)^2 / 2`` for |x - t| < delta, ``delta (|x - t| - delta / 2)`` beyond."""
    return lucid.huber_loss(input, target, reduction, delta)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False):
    """KL divergence ``sum p (log p - input)`` of the target ``p`` from the log-probabilities
    ``input``; ``reduction="batchmean"`` is the true KL divergence per sample."""
    _no_legacy("kl_div", size_average, reduce)
    return lucid.kl_div(input, target, reduction, log_target)
