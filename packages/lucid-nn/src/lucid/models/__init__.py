"""Ready-made models and weight exchange with PyTorch.

- ``lenet_5()``: LeNet-5 for 28x28 MNIST-style inputs (61,706 parameters).
- ``resnet_18/34/50/101/152(num_classes=1000)``: torchvision-compatible ResNets.
- ``build_cifar_resnet18()``, ``resnet_cifar(depth)``, ``cifar_stem(model)``: the 32x32 variant.
- ``from_torch_state_dict`` / ``to_torch_state_dict``: load and export PyTorch weights.
"""

import lucid._engine  # noqa: F401  (the tensor engine, before its modules are used)

from .convert import from_torch_state_dict, renamer, to_numpy_state_dict, to_torch_state_dict
from .lenet import LeNet5, lenet_5
from .resnet import (
    RESNET_TORCH_NAME_MAP,
    ResNet,
    _BasicBlock,
    _Bottleneck,
    build_cifar_resnet18,
    cifar_stem,
    init_resnet_weights,
    resnet_18,
    resnet_34,
    resnet_50,
    resnet_101,
    resnet_152,
    resnet_cifar,
)

BasicBlock = _BasicBlock
Bottleneck = _Bottleneck

__all__ = [
    "LeNet5", "lenet_5", "ResNet", "BasicBlock", "Bottleneck", "resnet_18", "resnet_34",
    "resnet_50", "resnet_101", "resnet_152", "resnet_cifar", "cifar_stem",
    "build_cifar_resnet18", "init_resnet_weights", "RESNET_TORCH_NAME_MAP", "to_numpy_state_dict",
    "from_torch_state_dict", "to_torch_state_dict", "renamer",
]
