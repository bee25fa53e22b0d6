"""ReduceLROnPlateau: cut the rate when a monitored metric stops improving.

PyTorch's rule (``torch/optim/lr_scheduler.py``), at each ``step(metric)``:

    better = metric < best * (1 - threshold)     (mode "min", threshold_mode "rel")
             metric < best - threshold           (mode "min", "abs")
             metric > best * (1 + threshold)     (mode "max", "rel")
             metric > best + threshold           (mode "max", "abs")
    better: best = metric, bad_epochs = 0;  otherwise bad_epochs += 1
    in cooldown: cooldown_counter -= 1, bad_epochs = 0
    bad_epochs > patience: lr = max(lr * factor, min_lr) for each group (only when that
        lowers it by more than eps), cooldown_counter = cooldown, bad_epochs = 0
"""

from __future__ import annotations

import math
import warnings

from .lr_scheduler import LRScheduler
from .optimizer import Optimizer, OptimizerError


class ReduceLROnPlateau(LRScheduler):
    """PyTorch's ReduceLROnPlateau (see the module docstring for the rule).

    Unlike the other schedulers it is stepped with the metric, ``scheduler.step(val_loss)``,
    and makes no step at construction. Defaults (PyTorch's): mode="min", factor=0.1,
    patience=10, threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=0 (one value or
    one per parameter group), eps=1e-8.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr=0, eps: float = 1e-8):
        if factor >= 1.0:
            raise OptimizerError(f"ReduceLROnPlateau: factor={factor} must be < 1.0")
        if not isinstance(optimizer, Optimizer):
            raise OptimizerError(
                f"ReduceLROnPlateau: {type(optimizer).__name__} is not an Optimizer"
            )
        self.factor = factor
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise OptimizerError(
                    f"ReduceLROnPlateau: expected {n} min_lrs (one per param group), "
                    f"got {len(min_lr)}"
                )
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics, epoch: int | None = None) -> None:
        """Record ``metrics`` (a number, or a one-element Tensor) for the next epoch."""
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn("ReduceLROnPlateau.step: the epoch argument is deprecated",
                          UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise OptimizerError(
                    f"ReduceLROnPlateau: the optimizer has {len(groups)} param groups but "
                    f"min_lr has {len(self.min_lrs)} values (a group was added after the "
                    "scheduler was made); set min_lrs to one per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise OptimizerError(f"ReduceLROnPlateau: mode {mode!r} is not 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise OptimizerError(
                f"ReduceLROnPlateau: threshold_mode {threshold_mode!r} is not 'rel' or 'abs'"
            )
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
