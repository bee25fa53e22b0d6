"""The experiments' models in PyTorch, with the same module names as Lucid's.

- LeNet-5: the layers and names of ``lucid.models.LeNet5``.
- MLP: ``Sequential(Flatten, Linear, ReLU, ..., Linear)``, as ``lucid_models.mlp``.
- ResNet-18 (CIFAR): torchvision's ``resnet18`` with the seed's change: ``conv1`` a 3x3
  stride-1 conv and ``maxpool`` the identity. The new ``conv1`` gets the ResNet
  initialisation (``kaiming_normal_``, fan_out, relu), as in ``lucid.models.cifar_stem``,
  so both frameworks draw every weight from the same distribution.
"""

from __future__ import annotations

import torch
from torch import nn


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.act1 = nn.Tanh()
        self.pool1 = nn.AvgPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.act2 = nn.Tanh()
        self.pool2 = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.act3 = nn.Tanh()
        self.fc2 = nn.Linear(120, 84)
        self.act4 = nn.Tanh()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.flatten(x)
        x = self.act3(self.fc1(x))
        x = self.act4(self.fc2(x))
        return self.fc3(x)


def mlp(in_features: int, hidden, num_classes: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def cifar_resnet18(num_classes: int = 10) -> nn.Module:
    from torchvision import models

    model = models.resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model


def build(name: str, num_classes: int, input_shape, hidden=(256, 128)) -> nn.Module:
    c, h, w = input_shape
    if name == "lenet5":
        return LeNet5(num_classes, in_channels=c)
    if name == "mlp":
        return mlp(c * h * w, hidden, num_classes)
    if name == "resnet18-cifar":
        return cifar_resnet18(num_classes)
    raise ValueError(f"no PyTorch model {name!r}")
