"""Fresh models start where PyTorch's do.

A fresh torchvision CIFAR ResNet-18 gives a cross-entropy of about 2.35 on a normalised
random batch (ln 10 = 2.30). A loss near 6 at the start comes from a classifier head drawn
too wide: in train mode every conv feeds a BatchNorm, so conv scales cancel, and the logits'
scale is set by ``fc`` alone. torchvision's head is U(-1/sqrt(512), 1/sqrt(512)); a head
whose fan is taken from the wrong axis (10 outputs instead of 512 inputs),
U(-1/sqrt(10), 1/sqrt(10)), gives logits 7x wider and a starting loss near 5.6. These tests
pin each initialisation and the resulting loss.
"""

import math

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import numpy as np
import torch
from lucid import models
from models_parity import TorchLeNet5, cifar_batch, torch_cifar_resnet18


def _lucid_loss(model, x, y) -> float:
    model.train()
    with lucid.no_grad():
        return float(F.cross_entropy(model(lucid.tensor(x)), lucid.tensor(y)).item())


def _torch_loss(model, x, y) -> float:
    model.train()
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(model(torch.from_numpy(x)),
                                                       torch.from_numpy(y)))


def test_fresh_cifar_resnet18_loss_matches_torch():
    ours, theirs = [], []
    for seed in range(5):
        x, y = cifar_batch(np.random.default_rng(100 + seed), 128)
        lucid.seed(seed)
        torch.manual_seed(seed)
        ours.append(_lucid_loss(models.build_cifar_resnet18(), x, y))
        theirs.append(_torch_loss(torch_cifar_resnet18(), x, y))
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.15, (ours, theirs)
    assert 2.2 < np.mean(ours) < 2.6, ours


def test_fresh_lenet5_loss_matches_torch():
    ours, theirs = [], []
    for seed in range(5):
        rng = np.random.default_rng(200 + seed)
        x = rng.standard_normal((128, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, 128).astype(np.int64)
        lucid.seed(seed)
        torch.manual_seed(seed)
        ours.append(_lucid_loss(models.lenet_5(), x, y))
        theirs.append(_torch_loss(TorchLeNet5(), x, y))
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.15, (ours, theirs)


def test_resnet_initialisation_is_torchvisions():
    lucid.seed(0)
    m = models.build_cifar_resnet18()
    # convs: kaiming normal, fan_out, relu gain -> std sqrt(2 / (out * kh * kw))
    for name, conv in [("stem.0", m.stem[0]), ("layer1.0.conv1", m.layer1[0].conv1),
                       ("layer4.1.conv2", m.layer4[1].conv2),
                       ("layer3.0.downsample.0", m.layer3[0].downsample[0])]:
        w = conv.weight.numpy()
        expected = math.sqrt(2.0 / (w.shape[0] * w.shape[2] * w.shape[3]))
        assert abs(w.mean()) < 0.1 * expected, name
        assert abs(w.std() / expected - 1) < 0.05, (name, w.std(), expected)
    # BatchNorm: weight 1, bias 0, running statistics 0 and 1
    bns = [mod for mod in m.modules() if isinstance(mod, nn.BatchNorm2d)]
    assert len(bns) == 20
    for bn in bns:
        assert np.all(bn.weight.numpy() == 1) and np.all(bn.bias.numpy() == 0)
        assert np.all(bn.running_mean.numpy() == 0) and np.all(bn.running_var.numpy() == 1)
    # the head keeps the Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = 512
    bound = 1 / math.sqrt(512)
    w, b = m.fc.weight.numpy(), m.fc.bias.numpy()
    assert w.shape == (10, 512)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.05


def test_zero_init_residual():
    m = models.resnet_18(num_classes=10, zero_init_residual=True)
    for name in ("layer1.0", "layer2.1", "layer4.0"):
        block = m.get_submodule(name)
        assert np.all(block.bn2.weight.numpy() == 0)
        assert np.all(block.bn1.weight.numpy() == 1)
    m50 = models.resnet_50(num_classes=10, zero_init_residual=True)
    assert np.all(m50.layer1[0].bn3.weight.numpy() == 0)
    assert np.all(m50.layer1[0].bn2.weight.numpy() == 1)
    # every block starts as the identity on its residual branch: outputs stay finite and
    # the loss starts at the head's level
    x, y = cifar_batch(np.random.default_rng(0), 16)
    loss = _lucid_loss(models.cifar_stem(m), x, y)
    assert 2.0 < loss < 2.8
