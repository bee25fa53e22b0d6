"""Training parity, step by step: the same weights, batches and optimizer in both frameworks.

LeNet-5 (tanh, smooth) follows PyTorch to 1e-5 relative at every one of 200 steps. A
BatchNorm/ReLU network is chaotic: rounding differences grow with the steps, as they do
between two PyTorch runs that round differently; Lucid must stay within that spread.
"""


import copy

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import lucid.optim
import numpy as np
import torch
from lucid import models
from models_parity import TorchLeNet5, copy_from_torch, mnist_like_batches, ulp_nudged
from torch import nn as tnn

STEPS = 200


def _train_lucid(model, opt, batches) -> np.ndarray:
    model.train()
    losses = []
    for x, y in batches:
        opt.zero_grad()
        loss = F.cross_entropy(model(lucid.tensor(x)), lucid.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


def _train_torch(model, opt, batches) -> np.ndarray:
    model.train()
    losses = []
    for x, y in batches:
        opt.zero_grad()
        x = torch.from_numpy(x) if isinstance(x, np.ndarray) else x
        loss = tnn.functional.cross_entropy(model(x), torch.from_numpy(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


def test_lenet5_sgd_momentum_follows_torch_step_by_step():
    torch.manual_seed(0)
    t = TorchLeNet5()
    m = copy_from_torch(models.lenet_5(), t)
    batches = mnist_like_batches(0, STEPS, 32)
    tl = _train_torch(t, torch.optim.SGD(t.parameters(), lr=0.02, momentum=0.9), batches)
    ll = _train_lucid(m, lucid.optim.SGD(m.parameters(), lr=0.02, momentum=0.9), batches)
    assert tl[-20:].mean() < 0.5 * tl[:20].mean()  # it learns
    rel = np.abs(ll - tl) / np.abs(tl)
    assert rel.max() < 1e-5, (rel.argmax(), rel.max())


def test_lenet5_adam_follows_torch_step_by_step():
    torch.manual_seed(1)
    t = TorchLeNet5()
    m = copy_from_torch(models.lenet_5(), t)
    batches = mnist_like_batches(1, STEPS, 32)
    tl = _train_torch(t, torch.optim.Adam(t.parameters(), lr=1e-3), batches)
    ll = _train_lucid(m, lucid.optim.Adam(m.parameters(), lr=1e-3), batches)
    assert tl[-20:].mean() < 0.5 * tl[:20].mean()
    rel = np.abs(ll - tl) / np.abs(tl)
    assert rel.max() < 1e-5, (rel.argmax(), rel.max())


def _bn_net(ns):
    """Conv-BN-ReLU-pool twice, then a linear layer, built from ``ns``: ``tnn`` or ``nn``."""

    class BNNet(ns.Module):
        def __init__(self):
            super().__init__()
            self.features = ns.Sequential(
                ns.Conv2d(1, 8, 3, padding=1, bias=False), ns.BatchNorm2d(8), ns.ReLU(),
                ns.MaxPool2d(2),
                ns.Conv2d(8, 16, 3, padding=1, bias=False), ns.BatchNorm2d(16), ns.ReLU(),
                ns.MaxPool2d(2),
            )
            self.flatten = ns.Flatten()
            self.fc = ns.Linear(16 * 7 * 7, 10)

        def forward(self, x):
            return self.fc(self.flatten(self.features(x)))

    return BNNet()


def _train_torch_channels_last(model, opt, batches) -> np.ndarray:
    model.to(memory_format=torch.channels_last)
    batches = [(torch.from_numpy(x).to(memory_format=torch.channels_last), y) for x, y in batches]
    return _train_torch(model, opt, batches)


def test_bn_relu_cnn_stays_within_the_controls():
    """Lucid's gap to PyTorch, in windows of 25 steps, within the spread of two controls.

    Controls: PyTorch from weights one ULP away (the perturbation enters once), and PyTorch
    in channels_last layout (other kernels: different rounding at every step, as in Lucid).
    """
    torch.manual_seed(2)
    t = _bn_net(tnn)
    t_ulp = ulp_nudged(t)
    t_cl = copy.deepcopy(t)
    m = copy_from_torch(_bn_net(nn), t)
    batches = mnist_like_batches(2, STEPS, 32, noise=1.5)

    def adam(model, lib):
        return lib.optim.Adam(model.parameters(), lr=2e-3)

    tl = _train_torch(t, adam(t, torch), batches)
    ul = _train_torch(t_ulp, adam(t_ulp, torch), batches)
    cl = _train_torch_channels_last(t_cl, adam(t_cl, torch), batches)
    ll = _train_lucid(m, adam(m, lucid), batches)
    assert tl[-20:].mean() < 0.1 * tl[:20].mean()  # it learns

    def windows(gap):  # the largest relative gap in each window of 25 steps
        return (np.abs(gap - tl) / tl).reshape(-1, 25).max(axis=1)

    ours = windows(ll)
    spread = np.maximum.accumulate(np.maximum(windows(ul), windows(cl)))
    assert ours[0] < 1e-5, ours
    assert np.all(ours < 3 * spread + 1e-5), (ours, windows(ul), windows(cl))
