"""What a framework must provide to be compared, and the logic written once for all.

A backend wraps one framework's model, optimizer and scheduler. Subclasses implement the
framework primitives (moving a NumPy batch in, forward, backward, optimizer step, reading
a scalar, state exchange in PyTorch's names, checkpoints); ``Backend`` builds the
optimizer and scheduler from the config through the framework's ``optim`` module (Lucid's
mirrors PyTorch's) and composes the primitives into ``train_step`` and ``eval_step``.
"""

from __future__ import annotations

import abc
import contextlib
import time

import numpy as np

from ..config import TrainConfig

#: Schedulers stepped after every batch; the others step once per epoch.
PER_BATCH_SCHEDULERS = ("onecycle",)


class Backend(abc.ABC):
    """One framework's side of a comparison."""

    name: str = "?"
    #: the framework's optimizer module (``torch.optim`` / ``lucid.optim``), set by subclasses
    optim = None
    #: the framework's functional module (``torch.nn.functional`` / ``lucid.nn.functional``)
    functional = None

    def __init__(self, cfg: TrainConfig, num_classes: int, input_shape: tuple[int, int, int],
                 steps_per_epoch: int = 1):
        self.cfg = cfg
        self.num_classes = num_classes
        self.input_shape = tuple(input_shape)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.set_threads(cfg.threads)
        self.model = self.build_model()
        self.optimizer = self.make_optimizer()
        self.scheduler = self.make_scheduler()

    # ----- framework primitives ----------------------------------------------------------
    @staticmethod
    @abc.abstractmethod
    def resolve_device(name: str) -> str:
        """The framework's name of the device ``name`` asks for (``auto``: the best one
        present), or an error when this machine lacks it."""

    @staticmethod
    @abc.abstractmethod
    def seed(n: int) -> None:
        """Seed the framework's global generator."""

    @staticmethod
    def prepare_runtime() -> str | None:
        """Make the framework ready to train at full speed before any timed run (compile what
        it compiles on first use); returns a line to show when it did work, else None."""
        return None

    @abc.abstractmethod
    def build_model(self):
        """The experiment's model, on the configured device, in train mode."""

    def parameters(self):
        """The model's parameters, in registration order."""
        return self.model.parameters()

    @abc.abstractmethod
    def to_device(self, x: np.ndarray, y: np.ndarray):
        """A NumPy batch as the framework's tensors."""

    def forward(self, xb, yb):
        """``(logits, mean cross-entropy loss)``."""
        logits = self.model(xb)
        return logits, self.functional.cross_entropy(logits, yb)

    def backward(self, loss) -> None:
        loss.backward()

    def scalar(self, value) -> float:
        """A 0-d tensor as a Python float (this synchronises lazy or asynchronous work)."""
        return float(value.item())

    @abc.abstractmethod
    def count_correct(self, logits, yb) -> int: ...

    @abc.abstractmethod
    def to_numpy(self, value) -> np.ndarray:
        """A tensor's values as a NumPy copy."""

    @abc.abstractmethod
    def no_grad(self) -> contextlib.AbstractContextManager: ...

    def train_mode(self, mode: bool = True) -> None:
        self.model.train(mode)

    @abc.abstractmethod
    def export_state(self) -> dict[str, np.ndarray]:
        """Parameters and buffers as NumPy copies, under PyTorch's names."""

    @abc.abstractmethod
    def import_state(self, state: dict) -> None:
        """Load a state in PyTorch's names (NumPy arrays or torch tensors)."""

    @abc.abstractmethod
    def parameter_names(self) -> list[str]:
        """PyTorch names of the parameters (not the buffers)."""

    @abc.abstractmethod
    def gradients(self) -> dict[str, np.ndarray]:
        """Each parameter's gradient as NumPy, under PyTorch's names."""

    @abc.abstractmethod
    def save_checkpoint(self, path, meta: dict) -> None:
        """Model, optimizer and scheduler state plus ``meta``, written atomically."""

    @abc.abstractmethod
    def load_checkpoint(self, path) -> dict:
        """Restore what ``save_checkpoint`` wrote; returns its ``meta``."""

    @abc.abstractmethod
    def environment(self) -> dict:
        """Framework version, device, threads: what a reader needs to judge the timings."""

    def set_threads(self, n: int) -> None:
        """Use ``n`` CPU threads (0: leave the framework's default)."""
        return None

    def sync(self, *values) -> None:
        """Wait until ``values`` are computed (lazy or asynchronous frameworks)."""
        return None

    def sync_gradients(self) -> None:
        """Wait until every gradient is computed."""
        return None

    def sync_parameters(self) -> None:
        """Wait until every parameter update is computed."""
        return None

    def count_parameters(self) -> int:
        return int(sum(int(np.prod(p.shape)) for p in self.parameters()))

    # ----- optimizer and scheduler, from the shared config --------------------------------
    def make_optimizer(self):
        c, params = self.cfg, list(self.parameters())
        if c.optimizer == "sgd":
            return self.optim.SGD(params, lr=c.lr, momentum=c.momentum,
                                  weight_decay=c.weight_decay)
        cls = self.optim.Adam if c.optimizer == "adam" else self.optim.AdamW
        return cls(params, lr=c.lr, betas=tuple(c.betas), eps=c.eps, weight_decay=c.weight_decay)

    def make_scheduler(self):
        c, opt, sched = self.cfg, self.optimizer, self.optim.lr_scheduler
        if c.scheduler == "step":
            return sched.StepLR(opt, step_size=c.step_size, gamma=c.gamma)
        if c.scheduler == "multistep":
            return sched.MultiStepLR(opt, milestones=list(c.milestones), gamma=c.gamma)
        if c.scheduler == "exponential":
            return sched.ExponentialLR(opt, gamma=c.gamma)
        if c.scheduler == "cosine":
            return sched.CosineAnnealingLR(opt, T_max=c.t_max, eta_min=c.eta_min)
        if c.scheduler == "onecycle":
            return sched.OneCycleLR(opt, max_lr=c.max_lr, pct_start=float(c.pct_start),
                                    total_steps=c.epochs * self.steps_per_epoch)
        return None

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def after_batch(self) -> None:
        if self.scheduler is not None and self.cfg.scheduler in PER_BATCH_SCHEDULERS:
            step = getattr(self.scheduler, "last_epoch", 0)
            if step + 1 < self.scheduler.total_steps:  # never step past the last one
                self.scheduler.step()

    def after_epoch(self) -> None:
        if self.scheduler is not None and self.cfg.scheduler not in PER_BATCH_SCHEDULERS:
            self.scheduler.step()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def optimizer_step(self) -> None:
        self.optimizer.step()

    # ----- the steps, written once ---------------------------------------------------------
    def train_step(self, x: np.ndarray, y: np.ndarray,
                   weight: float = 1.0) -> tuple[float, int]:
        """One optimisation step on a NumPy batch: ``(loss, number of correct predictions)``.
        ``weight`` scales the loss before ``backward`` (a rank's share of a global batch:
        ``ranks.shard``); the loss returned is unscaled."""
        xb, yb = self.to_device(x, y)
        self.zero_grad()
        logits, loss = self.forward(xb, yb)
        self.backward(loss * weight if weight != 1 else loss)
        self.optimizer_step()
        return self.scalar(loss), self.count_correct(logits, yb)

    def eval_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """``(summed loss, correct)`` of a batch, without gradients (call ``train_mode(False)``)."""
        with self.no_grad():
            xb, yb = self.to_device(x, y)
            logits, loss = self.forward(xb, yb)
            return self.scalar(loss) * len(y), self.count_correct(logits, yb)

    # ----- data parallelism (``--nproc``: one rank of several, see ``ranks.py``) -----------
    #: this process's rank and the number of ranks training together
    rank = 0
    world = 1
    #: the model's data-parallel wrapper (gradients averaged over the ranks), or None
    parallel = None
    #: seconds spent so far averaging gradients over the ranks (around the all-reduces)
    grad_sync_time = 0.0
    #: seconds spent so far summing metrics over the ranks
    metric_sync_time = 0.0

    def init_distributed(self, nproc: int) -> None:
        """Join the other ``nproc - 1`` ranks (started by the framework's launcher), set
        ``rank``/``world`` and wrap the model in the framework's DistributedDataParallel."""
        raise NotImplementedError(f"{self.name}: no data-parallel training")

    def _all_sum(self, values: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{self.name}: no data-parallel training")

    def all_sum(self, values) -> np.ndarray:
        """``values`` (float64) summed over the ranks; themselves in one process."""
        values = np.asarray(values, dtype=np.float64)
        if self.world == 1:
            return values
        t0 = time.perf_counter()
        out = self._all_sum(values)
        self.metric_sync_time += time.perf_counter() - t0
        return out

    def perturb_ulp(self, direction: str = "up", weights: str = "all") -> None:
        """Move parameters one float32 ULP (``np.nextafter`` towards +inf for ``"up"``, -inf
        for ``"down"``): every element (``weights="all"``) or every other one of each
        parameter (``"even"``: flat indices 0, 2, 4, ...)."""
        target = np.float32(np.inf if direction == "up" else -np.inf)
        state = self.export_state()
        for k in set(self.parameter_names()):
            a = np.asarray(state[k], dtype=np.float32)
            moved = np.nextafter(a, target).astype(np.float32)
            if weights == "even":
                flat = moved.reshape(-1)
                flat[1::2] = a.reshape(-1)[1::2]
            state[k] = moved
        self.import_state(state)
