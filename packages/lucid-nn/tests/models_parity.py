"""Shared pieces of the whole-model parity tests: the PyTorch twins and comparisons."""

from __future__ import annotations

import copy

import lucid
import lucid.nn.functional as F
import numpy as np
import torch
import torchvision
from lucid.models import from_torch_state_dict, renamer
from torch import nn as tnn

torch.set_num_threads(1)


class TorchLeNet5(tnn.Module):
    """LeNet-5 in PyTorch, with the module names of ``lucid.models.LeNet5``."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 6, 5, padding=2)
        self.act1 = tnn.Tanh()
        self.pool1 = tnn.AvgPool2d(2)
        self.conv2 = tnn.Conv2d(6, 16, 5)
        self.act2 = tnn.Tanh()
        self.pool2 = tnn.AvgPool2d(2)
        self.flatten = tnn.Flatten()
        self.fc1 = tnn.Linear(400, 120)
        self.act3 = tnn.Tanh()
        self.fc2 = tnn.Linear(120, 84)
        self.act4 = tnn.Tanh()
        self.fc3 = tnn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.act3(self.fc1(self.flatten(x)))
        return self.fc3(self.act4(self.fc2(x)))


def torch_cifar_resnet18(num_classes: int = 10) -> tnn.Module:
    """The seed's PyTorch model: torchvision resnet18, 3x3 stride-1 conv1, no maxpool."""
    model = torchvision.models.resnet18(num_classes=num_classes)
    model.conv1 = tnn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = tnn.Identity()
    return model


def copy_from_torch(lucid_model, torch_model, name_map=None):
    """Load ``torch_model``'s weights and buffers into ``lucid_model``; returns it."""
    from_torch_state_dict(lucid_model, torch_model.state_dict(), name_map=name_map)
    return lucid_model


def rel_err(a, b) -> float:
    """||a - b|| / ||b|| (0 when both are 0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    denom = np.linalg.norm(b)
    num = np.linalg.norm(a - b)
    return float(num / denom) if denom > 0 else float(num)


def lucid_step(model, x: np.ndarray, y: np.ndarray):
    """Forward, cross-entropy, backward in Lucid; returns (logits, loss) as NumPy/float."""
    logits = model(lucid.tensor(x))
    loss = F.cross_entropy(logits, lucid.tensor(y))
    loss.backward()
    return logits.numpy(), float(loss.item())


def torch_step(model, x: np.ndarray, y: np.ndarray):
    dtype = next(model.parameters()).dtype
    logits = model(torch.from_numpy(x).to(dtype))
    loss = tnn.functional.cross_entropy(logits, torch.from_numpy(y))
    loss.backward()
    return logits.detach().numpy(), float(loss.item())


def grad_errors(lucid_model, torch_model, name_map=None) -> dict[str, float]:
    """Relative error of each parameter's gradient, by Lucid name."""
    rename = renamer(lucid_model, name_map) if not isinstance(lucid_model, tnn.Module) else str
    tgrads = {k: p.grad.numpy() for k, p in torch_model.named_parameters()}
    out = {}
    for k, p in lucid_model.named_parameters():
        assert p.grad is not None, f"no gradient reached {k}"
        grad = p.grad.numpy() if not isinstance(p, torch.Tensor) else p.grad.detach().numpy()
        out[k] = rel_err(grad, tgrads[rename(k)])
    return out


def check_grads(lucid_model, torch_model, before: tnn.Module, batch, tol: float = 1e-3,
                name_map=None) -> float:
    """Assert Lucid's float32 gradients match PyTorch's, or are as accurate.

    First per parameter against PyTorch float32: relative error below ``tol``. When that
    fails, the batch has put some ReLU input within float32 rounding of zero: one element
    whose sign rounds the other way moves whole gradient tensors by 1e-3 or more, in either
    framework, and which one it hits is chance. Lucid is then judged against a float64 twin
    (``before``, a copy of the torch model taken before this pass, run on ``batch``) whose
    ReLUs use Lucid's own signs (``relu_signs``): every sign that differs from float64's
    must belong to an input within 1e-5 (relative) of zero, and Lucid's worst error must
    stay below 3x PyTorch float32's error against the plain float64 twin.
    Returns Lucid's worst error.
    """
    vs_torch = grad_errors(lucid_model, torch_model, name_map)
    if max(vs_torch.values()) < tol:
        return max(vs_torch.values())
    t64 = copy.deepcopy(before).double()
    t64.zero_grad()
    torch_step(t64, *batch)
    theirs = max(grad_errors(torch_model, t64).values())
    masked = _MaskedReLU(relu_signs(lucid_model, batch[0]))
    t64 = before.double()
    _replace_relus(t64, masked)
    t64.zero_grad()
    torch_step(t64, *batch)
    assert masked.used == len(masked.signs), "ReLU calls differ between Lucid and PyTorch"
    assert max(masked.flipped, default=0.0) < 1e-5, masked.flipped
    ours = grad_errors(lucid_model, t64, name_map)
    worst = max(ours, key=ours.get)
    assert ours[worst] < 3 * theirs, (worst, ours[worst], theirs, max(vs_torch.values()))
    return ours[worst]


def relu_signs(lucid_model, x: np.ndarray) -> list[np.ndarray]:
    """``input > 0`` of every ReLU call in one forward pass of ``lucid_model`` on ``x``, in
    call order (the pass is recomputed; BatchNorm running statistics are restored)."""
    saved = {k: b._data for k, b in lucid_model.named_buffers()}
    relus = [mod for mod in lucid_model.modules() if isinstance(mod, lucid.nn.ReLU)]
    signs = []
    for mod in relus:
        mod.forward = lambda inp, f=mod.forward: signs.append(inp.numpy() > 0) or f(inp)
    try:
        with lucid.no_grad():
            lucid_model(lucid.tensor(x))
    finally:
        for mod in relus:
            del mod.forward
        for k, b in lucid_model.named_buffers():
            b.data = saved[k]
    return signs


class _MaskedReLU(tnn.Module):
    """``x * sign`` with the given signs, one array per call: a ReLU whose kinks fall where
    another run's did. Records, per call, the largest |x| (relative) where the signs differ."""

    def __init__(self, signs):
        super().__init__()
        self.signs, self.used, self.flipped = signs, 0, []

    def forward(self, x):
        sign = torch.from_numpy(self.signs[self.used])
        self.used += 1
        differs = sign != (x > 0)
        if bool(differs.any()):
            v = x.detach().abs()
            self.flipped.append(float(v[differs].max() / v.max()))
        return x * sign.to(x.dtype)


def _replace_relus(model: tnn.Module, relu: tnn.Module) -> None:
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, tnn.ReLU):
                setattr(parent, name, relu)


def ulp_nudged(model: tnn.Module, seed: int = 0) -> tnn.Module:
    """A copy whose every parameter element moved by one float32 ULP (``np.nextafter``).

    Each element moves up or down at random, as rounding differences do; moving all of them
    up would mostly rescale each conv's weights, which a following BatchNorm cancels.
    """
    rng = np.random.default_rng(seed)
    out = copy.deepcopy(model)
    with torch.no_grad():
        for p in out.parameters():
            a = p.detach().numpy()
            toward = np.where(rng.random(a.shape) < 0.5, -np.inf, np.inf).astype(np.float32)
            p.copy_(torch.from_numpy(np.nextafter(a, toward)))
    return out


def buffer_errors(lucid_model, torch_model, name_map=None) -> dict[str, float]:
    """Max abs difference of every float buffer (BatchNorm running stats), by Lucid name."""
    rename = renamer(lucid_model, name_map)
    tbufs = dict(torch_model.named_buffers())
    out = {}
    for k, b in lucid_model.named_buffers():
        if k.endswith("num_batches_tracked"):
            assert int(b.item()) == int(tbufs[rename(k)].item()), k
            continue
        out[k] = float(np.abs(b.numpy() - tbufs[rename(k)].numpy()).max())
    return out


def cifar_batch(rng: np.random.Generator, n: int):
    x = rng.standard_normal((n, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    return x, y


def mnist_like_batches(seed: int, steps: int, batch: int, noise: float = 0.8):
    """``steps`` learnable MNIST-shaped batches: 10 fixed prototype images plus noise."""
    rng = np.random.default_rng(seed)
    protos = rng.standard_normal((10, 1, 28, 28)).astype(np.float32)
    out = []
    for _ in range(steps):
        y = rng.integers(0, 10, batch).astype(np.int64)
        x = protos[y] + noise * rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
        out.append((x.astype(np.float32), y))
    return out
