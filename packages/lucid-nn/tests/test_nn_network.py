"""A small residual CNN, built the same way in Lucid and PyTorch: one training step's
loss and every parameter gradient agree, running statistics agree, and the evaluation
output agrees."""

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import numpy as np
import torch
from nn_parity import assert_close, assert_same_state, copy_from_torch, randint, randn


def build(ns):
    class Block(ns.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = ns.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = ns.BatchNorm2d(cout)
            self.relu1 = ns.ReLU()
            self.conv2 = ns.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = ns.BatchNorm2d(cout)
            self.relu2 = ns.ReLU()
            self.downsample = ns.Sequential(ns.Conv2d(cin, cout, 1, stride, bias=False),
                                            ns.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu1(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu2(out + self.downsample(x))

    class Net(ns.Module):
        def __init__(self):
            super().__init__()
            self.stem = ns.Conv2d(3, 4, 7, 2, 3)
            self.maxpool = ns.MaxPool2d(3, 2, 1)
            self.layer = ns.Sequential(Block(4, 8, 2))
            self.avgpool = ns.AdaptiveAvgPool2d((1, 1))
            self.drop = ns.Dropout(0.0)
            self.fc = ns.Linear(8, 5)

        def forward(self, x):
            x = self.maxpool(self.stem(x))
            x = self.avgpool(self.layer(x))
            return self.fc(self.drop(x.reshape(x.shape[0], -1)))

    net = Net()
    net.stem = ns.Sequential(ns.Conv2d(3, 4, 3, 1, 1, bias=False), ns.BatchNorm2d(4), ns.ReLU())
    net.maxpool = ns.Identity()
    return net


def test_training_steps_match_torch():
    lnet, tnet = build(nn), build(torch.nn)
    copy_from_torch(lnet, tnet)
    for step in range(2):
        x, y = randn(4, 3, 8, 8, seed=step), randint(0, 5, 4, seed=10 + step)
        lnet.zero_grad()
        tnet.zero_grad()
        l_loss = F.cross_entropy(lnet(lucid.tensor(x)), lucid.tensor(y), label_smoothing=0.1)
        t_loss = torch.nn.functional.cross_entropy(tnet(torch.from_numpy(x)),
                                                   torch.from_numpy(y), label_smoothing=0.1)
        l_loss.backward()
        t_loss.backward()
        assert_close(l_loss, t_loss, what="loss")
        tgrads = dict(tnet.named_parameters())
        for name, p in lnet.named_parameters():
            assert_close(p.grad, tgrads[name].grad, rtol=1e-3, atol=1e-5, what=f"grad {name}")
        assert_same_state(lnet, tnet, atol=1e-5)
    lnet.eval()
    tnet.eval()
    x = randn(3, 3, 8, 8, seed=7)
    with lucid.no_grad():
        out = lnet(lucid.tensor(x))
    assert not out.requires_grad
    assert_close(out, tnet(torch.from_numpy(x)), rtol=1e-4, atol=1e-5)
    assert lnet.count_parameters() == sum(p.numel() for p in tnet.parameters())
    assert np.isfinite(out.numpy()).all()
