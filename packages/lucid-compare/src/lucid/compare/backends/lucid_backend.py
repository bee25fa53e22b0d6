"""Lucid's side: the primitives of ``Backend`` in Lucid (MLX underneath)."""

from __future__ import annotations

import time
import weakref

import lucid
import lucid.nn.functional as F
import lucid.optim
import mlx.core as mx
import numpy as np
from lucid.models import from_torch_state_dict, renamer, to_numpy_state_dict
from lucid.nn.parallel import DistributedDataParallel

from ..errors import UsageError
from . import lucid_models
from .base import Backend


class LucidBackend(Backend):
    name = "lucid"
    functional = F
    optim = lucid.optim

    @staticmethod
    def resolve_device(name: str) -> str:
        """``cpu`` or ``gpu`` (checked: MLX must see a GPU)."""
        return lucid.devices.canonical(name or "cpu")

    @staticmethod
    def seed(n: int) -> None:
        lucid.random.seed(int(n))

    @staticmethod
    def prepare_runtime() -> str | None:
        """Build the native CPU kernels now if this machine has none cached, so that the
        compile (under a minute, once) never lands inside a timed epoch."""
        info = lucid.native_info()
        if info.get("built_now"):
            return f"Lucid: native CPU kernels compiled into {info.get('path')}"
        return None

    def set_threads(self, n: int) -> None:
        if n:
            lucid.set_num_threads(int(n))

    def build_model(self):
        self.device = self.resolve_device(self.cfg.device)
        model = lucid_models.build(self.cfg.model, self.num_classes, self.input_shape,
                                   self.cfg.hidden)
        self._rename = renamer(model)
        model.to(self.device)
        model.train()
        return model

    def forward(self, xb, yb):
        net = self.parallel if self.parallel is not None and self.model.training else self.model
        logits = net(xb)
        return logits, F.cross_entropy(logits, yb)

    def init_distributed(self, nproc: int) -> None:
        """Join the ring that ``mlx.launch`` started; wrap the model in Lucid's DDP."""
        import lucid.distributed as dist

        try:
            dist.init("ring")
        except dist.DistributedError as err:
            if "port is in use" in str(err):
                raise UsageError(f"--port: {err}") from None
            raise
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        if self.world != nproc:
            raise RuntimeError(f"mlx.launch started {self.world} ranks, --nproc asked {nproc}")
        self.parallel = _TimedDDP(self.model, self)

    def _all_sum(self, values):
        import lucid.distributed as dist

        return np.array(dist._sum(mx.array(values, dtype=mx.float64)))

    def to_device(self, x, y):
        return (lucid.tensor(x, dtype=lucid.float32, device=self.device),
                lucid.tensor(y, dtype=lucid.int64, device=self.device))

    def count_correct(self, logits, yb) -> int:
        with lucid.no_grad():
            return int((lucid.argmax(logits, axis=1) == yb).sum().item())

    def to_numpy(self, value):
        return np.array(value.numpy())

    def no_grad(self):
        return lucid.no_grad()

    def sync(self, *values) -> None:
        mx.eval([v._data for v in values])

    def sync_gradients(self) -> None:
        mx.eval([p.grad._data for p in self.model.parameters() if p.grad is not None])

    def sync_parameters(self) -> None:
        mx.eval([p._data for p in self.model.parameters()])

    def export_state(self) -> dict:
        return dict(to_numpy_state_dict(self.model))

    def import_state(self, state: dict) -> None:
        from_torch_state_dict(self.model, state)

    def parameter_names(self) -> list[str]:
        return [self._rename(k) for k, _ in self.model.named_parameters()]

    def gradients(self) -> dict:
        return {self._rename(k): np.array(p.grad.numpy())
                for k, p in self.model.named_parameters() if p.grad is not None}

    def save_checkpoint(self, path, meta: dict) -> None:
        lucid.save({
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "meta": meta,
        }, path)

    def load_checkpoint(self, path) -> dict:
        obj = lucid.load(path, device=self.device)
        self.model.load_state_dict(obj["model"])
        self.optimizer.load_state_dict(obj["optimizer"])
        if self.scheduler is not None and obj.get("scheduler") is not None:
            self.scheduler.load_state_dict(obj["scheduler"])
        return obj.get("meta") or {}

    def environment(self) -> dict:
        blas = lucid.blas_info()
        return {
            "framework": "Lucid",
            "version": lucid.__version__,
            "mlx": getattr(mx, "__version__", "?"),
            "device": self.device,
            "threads": blas.get("threads"),
            "blas": {k: blas.get(k) for k in ("status", "path", "config")},
            "gpu_available": lucid.gpu_available(),
        }


class _TimedDDP(DistributedDataParallel):
    """Lucid's DDP, adding to its backend's ``grad_sync_time`` the time of each gradient
    average (the gradients are computed first, so the time is the communication's)."""

    def __init__(self, module, backend):
        super().__init__(module)
        object.__setattr__(self, "_backend", weakref.proxy(backend))

    def _after_backward(self) -> None:
        if not self._pending:
            return
        mx.eval([p.grad._data for p in self.module.parameters() if p.grad is not None])
        t0 = time.perf_counter()
        super()._after_backward()
        self._backend.grad_sync_time += time.perf_counter() - t0
