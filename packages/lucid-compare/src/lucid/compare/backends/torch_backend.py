"""PyTorch's side: the primitives of ``Backend`` in torch."""

from __future__ import annotations

import datetime
import os
import time
import uuid

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UsageError
from . import torch_models
from .base import Backend

#: seconds a collective waits for a peer before failing (a lost rank is noticed sooner)
COLLECTIVE_TIMEOUT = 300


class TorchBackend(Backend):
    name = "torch"
    functional = F
    optim = torch.optim

    @staticmethod
    def resolve_device(name: str) -> str:
        """``auto`` -> ``cuda``, else ``mps``, else ``cpu``; other names are checked."""
        if name in ("auto", None, ""):
            if torch.cuda.is_available():
                return "cuda"
            if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
                return "mps"
            return "cpu"
        if name == "cuda" and not torch.cuda.is_available():
            raise ValueError("PyTorch sees no CUDA device here")
        if name == "mps" and not (getattr(torch.backends, "mps", None)
                                  and torch.backends.mps.is_available()):
            raise ValueError("PyTorch's MPS backend is not available here")
        if name not in ("cpu", "cuda", "mps"):
            raise ValueError(f"unknown PyTorch device {name!r}; valid: cpu, cuda, mps, auto")
        return name

    @staticmethod
    def seed(n: int) -> None:
        torch.manual_seed(int(n))

    def set_threads(self, n: int) -> None:
        if n:
            torch.set_num_threads(int(n))

    def build_model(self):
        self.device = torch.device(self.cfg.device)
        model = torch_models.build(self.cfg.model, self.num_classes, self.input_shape,
                                   self.cfg.hidden)
        return model.to(self.device).train()

    def forward(self, xb, yb):
        net = self.parallel if self.parallel is not None and self.model.training else self.model
        logits = net(xb)
        return logits, F.cross_entropy(logits, yb)

    def init_distributed(self, nproc: int) -> None:
        """Join the process group torchrun set up (gloo on the CPU, NCCL on CUDA); wrap the
        model in PyTorch's DDP, whose gradient all-reduce is timed by a comm hook."""
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        if self.device.type == "mps":
            raise UsageError("--nproc > 1: PyTorch's MPS device has no collective backend; "
                             "use --torch-device cpu")
        cuda = self.device.type == "cuda"
        if cuda and nproc > torch.cuda.device_count():
            raise UsageError(f"--nproc {nproc}: PyTorch's NCCL needs a GPU per process and "
                             f"this machine has {torch.cuda.device_count()}; use --nproc "
                             f"{torch.cuda.device_count()} or --torch-device cpu")
        if cuda:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(self.device)
            self.model.to(self.device)
        dist.init_process_group("nccl" if cuda else "gloo",
                                timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT))
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        if self.world != nproc:
            raise RuntimeError(f"torchrun started {self.world} ranks, --nproc asked {nproc}")
        self.parallel = DistributedDataParallel(
            self.model, device_ids=[self.device.index] if cuda else None)
        self.parallel.register_comm_hook(self, _timed_allreduce)

    def _all_sum(self, values):
        import torch.distributed as dist

        t = torch.from_numpy(values)
        if self.device.type == "cuda":
            t = t.to(self.device)
        dist.all_reduce(t)
        return t.cpu().numpy()

    def to_device(self, x, y):
        return (torch.from_numpy(np.ascontiguousarray(x)).to(self.device),
                torch.from_numpy(np.ascontiguousarray(y)).to(self.device))

    def count_correct(self, logits, yb) -> int:
        with torch.no_grad():
            return int((logits.argmax(dim=1) == yb).sum().item())

    def to_numpy(self, value):
        return value.detach().cpu().numpy().copy()

    def no_grad(self):
        return torch.no_grad()

    def sync(self, *values) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        elif self.device.type == "mps":
            torch.mps.synchronize()

    sync_gradients = sync_parameters = sync

    def export_state(self) -> dict:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}

    def import_state(self, state: dict) -> None:
        own = self.model.state_dict()
        new = {k: torch.as_tensor(np.asarray(v)).to(own[k].dtype) for k, v in state.items()}
        self.model.load_state_dict(new)

    def parameter_names(self) -> list[str]:
        return [k for k, _ in self.model.named_parameters()]

    def gradients(self) -> dict:
        return {k: p.grad.detach().cpu().numpy().copy()
                for k, p in self.model.named_parameters() if p.grad is not None}

    def save_checkpoint(self, path, meta: dict) -> None:
        obj = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "meta": meta,
        }
        path = os.fspath(path)
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            torch.save(obj, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def load_checkpoint(self, path) -> dict:
        obj = torch.load(os.fspath(path), map_location=self.device, weights_only=True)
        self.model.load_state_dict(obj["model"])
        self.optimizer.load_state_dict(obj["optimizer"])
        if self.scheduler is not None and obj.get("scheduler") is not None:
            self.scheduler.load_state_dict(obj["scheduler"])
        return obj.get("meta", {})

    def environment(self) -> dict:
        env = {
            "framework": "PyTorch",
            "version": torch.__version__,
            "device": str(self.device),
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "cuda_available": torch.cuda.is_available(),
        }
        if self.device.type == "cuda":
            env["device_name"] = torch.cuda.get_device_name(self.device)
        try:
            import torchvision

            env["torchvision"] = torchvision.__version__
        except ImportError:
            pass
        return env


def _timed_allreduce(backend: TorchBackend, bucket):
    """DDP comm hook: average one gradient bucket over the ranks (``all_reduce`` and
    divide, as DDP's default), blocking, and add its time to ``grad_sync_time``."""
    import torch.distributed as dist

    t0 = time.perf_counter()
    buf = bucket.buffer()
    dist.all_reduce(buf)
    buf.div_(backend.world)
    if buf.is_cuda:
        torch.cuda.synchronize(buf.device)
    backend.grad_sync_time += time.perf_counter() - t0
    fut = torch.futures.Future()
    fut.set_result(buf)
    return fut
