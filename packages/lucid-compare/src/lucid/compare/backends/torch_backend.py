"""PyTorch's side: the primitives of ``Backend`` in torch."""

from __future__ import annotations

import os
import uuid

import numpy as np
import torch
import torch.nn.functional as F

from . import torch_models
from .base import Backend


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
