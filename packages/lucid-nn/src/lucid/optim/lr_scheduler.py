"""Learning-rate schedulers with PyTorch's semantics (and its formulas, so values match).

A scheduler rewrites ``group["lr"]`` of each of its optimizer's parameter groups every
time its ``step()`` is called (usually once per epoch, after ``optimizer.step()``).
Construction performs an initial step: it records ``group["initial_lr"]`` (``base_lrs``)
and sets ``last_epoch`` to 0. Like PyTorch's, most schedulers update the current rate
recursively (``lr_t`` from ``lr_{t-1}``), so they compose when several act on one
optimizer; ``step(epoch)`` (deprecated in PyTorch) uses the closed form instead.

``ReduceLROnPlateau`` (``reduce_lr_on_plateau.py``) is the exception: it is stepped with
a metric, ``scheduler.step(val_loss)``, and makes no step at construction. ``CyclicLR``
(``cyclic_lr.py``) is stepped once per batch, like ``OneCycleLR``.
"""

from __future__ import annotations

import math
import types
import warnings
import weakref
from bisect import bisect_right
from collections import Counter

from .optimizer import Optimizer, OptimizerError

__all__ = [
    "LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
    "ExponentialLR", "LinearLR", "CosineAnnealingLR", "OneCycleLR", "CyclicLR", "SequentialLR",
    "ReduceLROnPlateau",
]


def _track_optimizer_steps(optimizer: Optimizer) -> None:
    """Wrap ``optimizer.step`` to note that it ran (to warn about a wrong call order)."""
    step = optimizer.step
    if getattr(step, "_tracked_by_scheduler", False) or not hasattr(step, "__func__"):
        return
    func, ref = step.__func__, weakref.ref(optimizer)

    def wrapper(*args, **kwargs):
        opt = ref()
        opt._opt_called = True
        return func(opt, *args, **kwargs)

    wrapper.__doc__ = func.__doc__
    wrapper._tracked_by_scheduler = True
    optimizer.step = wrapper


class LRScheduler:
    """Base class. Subclasses implement ``get_lr()``: the new rate of every group.

    ``last_epoch`` counts ``step()`` calls (0 after construction); ``base_lrs`` are the
    groups' ``initial_lr``. Pass ``last_epoch`` only when resuming (the optimizer's groups
    must then hold ``initial_lr``).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise OptimizerError(
                f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer"
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise OptimizerError(
                        f"{type(self).__name__}: resuming with last_epoch={last_epoch} needs "
                        f"'initial_lr' in param_groups[{i}]; load the optimizer's state first"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        _track_optimizer_steps(optimizer)
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The learning rates set by the latest ``step()``, one per parameter group."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or jump to ``epoch`` with the closed form) and set the rates."""
        if self._step_count == 1:
            if not getattr(self.optimizer.step, "_tracked_by_scheduler", False):
                warnings.warn(
                    "optimizer.step() was replaced after the scheduler was created; call "
                    "optimizer.step() before scheduler.step()", UserWarning, stacklevel=2,
                )
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn(
                    "scheduler.step() was called before optimizer.step(): call them the other "
                    "way round, or the first value of the schedule is skipped",
                    UserWarning, stacklevel=2,
                )
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (a dict ``lucid.save`` can store)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


class _LambdaScheduler(LRScheduler):
    """A scheduler driven by ``lr_lambda``: one function of the epoch, or one per group.

    Its state dict keeps the ``__dict__`` of callable objects; plain functions and lambdas
    cannot be saved, so they are stored as ``None`` (as PyTorch does).
    """

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        self.optimizer = optimizer
        name, n = type(self).__name__, len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise OptimizerError(f"{name}: expected {n} lr_lambdas, got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        for f in self.lr_lambdas:
            if not callable(f):
                raise OptimizerError(
                    f"{name}: lr_lambda should be a function, got {type(f).__name__}"
                )
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict:
        """As the base, with the ``__dict__`` of callable objects (plain functions: ``None``)."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(f, types.FunctionType) else dict(f.__dict__) for f in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        lambdas = state.pop("lr_lambdas", [])
        self.__dict__.update(state)
        for f, saved in zip(self.lr_lambdas, lambdas, strict=False):
            if saved is not None:
                f.__dict__.update(saved)


class LambdaLR(_LambdaScheduler):
    """lr = base_lr * lr_lambda(epoch); one function, or one per parameter group."""

    def get_lr(self) -> list:
        pairs = zip(self.lr_lambdas, self.base_lrs, strict=True)
        return [base * f(self.last_epoch) for f, base in pairs]


class MultiplicativeLR(_LambdaScheduler):
    """lr_t = lr_{t-1} * lr_lambda(t) for t >= 1 (the rate at construction is kept);
    one function, or one per parameter group."""

    def get_lr(self) -> list:
        if self._is_initial:
            return self._current_lrs()
        pairs = zip(self.lr_lambdas, self._current_lrs(), strict=True)
        return [lr * f(self.last_epoch) for f, lr in pairs]


class ConstantLR(LRScheduler):
    """lr = base_lr * factor for epochs < total_iters, then base_lr (applied recursively:
    multiplied by ``factor`` at epoch 0, divided by it at ``total_iters``).
    Defaults (PyTorch's): factor=1/3, total_iters=5."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        if factor > 1.0 or factor < 0:
            raise OptimizerError(f"ConstantLR: factor={factor} must be in [0, 1]")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [lr * (1.0 / self.factor) for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        done = self.last_epoch >= self.total_iters
        return [base * (self.factor + done * (1 - self.factor)) for base in self.base_lrs]


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size).  Default gamma=0.1."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = base_lr * gamma ** (number of milestones <= epoch).  Default gamma=0.1."""

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        milestones = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base in self.base_lrs]

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter(self.milestones)  # a plain dict after a checkpoint


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Multiply the rate by a factor going linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` epochs, then keep it.  Defaults: 1/3, 1.0, 5."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if start_factor > 1.0 or start_factor <= 0:
            raise OptimizerError(f"LinearLR: start_factor={start_factor} must be in (0, 1]")
        if end_factor > 1.0 or end_factor < 0:
            raise OptimizerError(f"LinearLR: end_factor={end_factor} must be in [0, 1]")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._current_lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [lr * ratio for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list:
        frac = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (self.start_factor + (self.end_factor - self.start_factor) * frac)
                for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """eta_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2, applied
    recursively as in PyTorch (past ``T_max`` the rate climbs back: a period of 2 T_max)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803
                 last_epoch: int = -1):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        t, T, lo = self.last_epoch, self.T_max, self.eta_min  # noqa: N806
        lrs = self._current_lrs()
        if self._is_initial:
            return lrs
        if self._step_count == 1 and t > 0:
            return [lo + (base - lo) * (1 + math.cos(t * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, lrs, strict=True)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - lo) + lo for lr in lrs]

    def _get_closed_form_lr(self) -> list:
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), stepped once per batch.

    The rate warms up from ``max_lr / div_factor`` to ``max_lr`` over ``pct_start`` of
    ``total_steps`` and anneals (cosine or linear) to ``initial_lr / final_div_factor``;
    ``three_phase`` goes back to the initial rate before the final anneal. With
    ``cycle_momentum`` the momentum (SGD, RMSprop) or beta1 (Adam) moves inversely between
    ``max_momentum`` and ``base_momentum``. Defaults are PyTorch's: pct_start=0.3,
    anneal_strategy="cos", base_momentum=0.85, max_momentum=0.95, div_factor=25,
    final_div_factor=1e4.
    """

    def __init__(self, optimizer: Optimizer, max_lr, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise OptimizerError(f"OneCycleLR: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise OptimizerError(
                    f"OneCycleLR: total_steps must be a positive int, got {total_steps}"
                )
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            for key, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not isinstance(value, int) or value <= 0:
                    raise OptimizerError(f"OneCycleLR: {key} must be a positive int, got {value}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise OptimizerError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise OptimizerError(
                f"OneCycleLR: pct_start must be a float in [0, 1], got {pct_start}"
            )
        if anneal_strategy not in ("cos", "linear"):
            raise OptimizerError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self._anneal_func_type = anneal_strategy
        n = self.total_steps
        warm_up = _phase(float(pct_start * n) - 1, "initial_lr", "max_lr", "max", "base")
        if three_phase:
            self._schedule_phases = [
                warm_up,
                _phase(float(2 * pct_start * n) - 2, "max_lr", "initial_lr", "base", "max"),
                _phase(n - 1, "initial_lr", "min_lr", "max", "max"),
            ]
        else:
            self._schedule_phases = [warm_up, _phase(n - 1, "max_lr", "min_lr", "base", "max")]
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1, lows, highs = _momentum_cycle(
                "OneCycleLR", optimizer, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list:
        step = self.last_epoch
        if step > self.total_steps:
            raise OptimizerError(
                f"OneCycleLR: stepped {step} times, but total_steps is {self.total_steps}"
            )
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == last:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        m = self._anneal(group[phase["start_momentum"]],
                                         group[phase["end_momentum"]], pct)
                        if self.use_beta1:
                            group["betas"] = (m, *group["betas"][1:])
                        else:
                            group["momentum"] = m
                    break
                start = end
        return lrs


def _phase(end_step, start_lr, end_lr, start_momentum, end_momentum) -> dict:
    """One stretch of the cycle: the group keys its rate and momentum anneal between."""
    return {"end_step": end_step, "start_lr": start_lr, "end_lr": end_lr,
            "start_momentum": f"{start_momentum}_momentum",
            "end_momentum": f"{end_momentum}_momentum"}


def _momentum_cycle(scheduler: str, optimizer: Optimizer, base_momentum, max_momentum,
                    last_epoch: int) -> tuple[bool, list, list]:
    """For ``cycle_momentum``: whether the momentum is Adam's beta1, and the per-group base
    and max momenta; on a fresh start each group begins at its max, as in PyTorch."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise OptimizerError(
            f"{scheduler}: cycle_momentum needs an optimizer with momentum or betas; "
            f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)"
        )
    use_beta1 = "betas" in optimizer.defaults
    lows = _per_group("base_momentum", optimizer, base_momentum, scheduler)
    highs = _per_group("max_momentum", optimizer, max_momentum, scheduler)
    if last_epoch == -1:
        for high, low, group in zip(highs, lows, optimizer.param_groups, strict=True):
            if use_beta1:
                group["betas"] = (high, *group["betas"][1:])
            else:
                group["momentum"] = high
            group["max_momentum"] = high
            group["base_momentum"] = low
    return use_beta1, lows, highs


def _per_group(name: str, optimizer: Optimizer, value, scheduler: str = "OneCycleLR") -> list:
    """``value`` once per parameter group (a list or tuple must have one per group)."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise OptimizerError(
                f"{scheduler}: {name} has {len(value)} values but the optimizer has {n} "
                "param_groups"
            )
        return list(value)
    return [value] * n


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at the epochs in ``milestones``.

    At a milestone the next scheduler starts from its own beginning (its epoch 0, on the
    groups' ``initial_lr``).
    """

    def __init__(self, optimizer: Optimizer, schedulers: list, milestones: list,
                 last_epoch: int = -1):
        if len(schedulers) < 1:
            raise OptimizerError("SequentialLR: expects at least one scheduler")
        for i, s in enumerate(schedulers):
            if getattr(s, "optimizer", None) is not optimizer:
                raise OptimizerError(
                    f"SequentialLR: scheduler {i} ({type(s).__name__}) belongs to another "
                    "optimizer; all schedulers must share the one given"
                )
        if len(milestones) != len(schedulers) - 1:
            raise OptimizerError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} "
                f"milestones, got {len(milestones)}"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # undo the schedulers' initial steps
            group["lr"] = group["initial_lr"]
        self._undo(self)
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _undo(self, sched) -> None:
        if hasattr(sched, "_schedulers"):
            for s in sched._schedulers:
                self._undo(s)
        elif hasattr(sched, "last_epoch"):
            sched.last_epoch -= 1

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        saved = state.pop("_schedulers", [])
        self.__dict__.update(state)
        for s, sd in zip(self._schedulers, saved, strict=False):
            s.load_state_dict(sd)


# Schedulers in files of their own (they build on LRScheduler, defined above).
from .cyclic_lr import CyclicLR  # noqa: E402
from .reduce_lr_on_plateau import ReduceLROnPlateau  # noqa: E402
