"""The experiments' models in Lucid (LeNet-5 and ResNet-18 come from ``lucid.models``)."""

from __future__ import annotations

import lucid.nn as nn


def mlp(in_features: int, hidden, num_classes: int) -> nn.Sequential:
    """``Sequential(Flatten, Linear, ReLU, ..., Linear)``: PyTorch's names ``1.weight``, ..."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def build(name: str, num_classes: int, input_shape, hidden=(256, 128)) -> nn.Module:
    from lucid import models

    c, h, w = input_shape
    if name == "lenet5":
        return models.lenet_5(num_classes, in_channels=c)
    if name == "mlp":
        return mlp(c * h * w, hidden, num_classes)
    if name == "resnet18-cifar":
        return models.build_cifar_resnet18(num_classes)
    raise ValueError(f"no Lucid model {name!r}")
