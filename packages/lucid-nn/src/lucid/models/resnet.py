"""ResNet (He et al., 2016), laid out as torchvision's v1.5 and trained the same way.

    stem (conv 7x7 s2 p3 -> BN -> ReLU) -> maxpool 3 s2 p1
    -> layer1 (64) -> layer2 (128, s2) -> layer3 (256, s2) -> layer4 (512, s2)
    -> avgpool to 1x1 -> fc

A stage is a ``Sequential`` of residual blocks, ``out = relu(F(x) + shortcut(x))``; the
shortcut is the identity, or ``downsample`` (1x1 conv with the block's stride, then BN) when
the block changes the stride or the width. ``_Bottleneck`` puts its stride on the 3x3 conv.

Initialisation is torchvision's: convs ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``
(std = sqrt(2 / (out_channels * kh * kw))), BN weight 1 and bias 0, ``fc`` the Linear default
U(-1/sqrt(fan_in), 1/sqrt(fan_in)). ``zero_init_residual=True`` zeroes each block's last BN
weight so that every block starts as the identity.

Module names follow the seed's code: ``stem.0``/``stem.1`` are torchvision's ``conv1``/``bn1``
(see ``RESNET_TORCH_NAME_MAP``); blocks have ``relu1``, ``relu2`` (no parameters).
For 32x32 images (CIFAR) ``cifar_stem`` swaps in a 3x3 stride-1 stem and drops the maxpool.
"""

from __future__ import annotations

import lucid
from lucid import Tensor

from .. import nn
from ..nn import init

# Lucid module prefix -> torchvision module prefix; every other name is the same.
RESNET_TORCH_NAME_MAP = {"stem.0": "conv1", "stem.1": "bn1"}


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1,
                     bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


def _unwatched(*modules) -> bool:
    """No hook and no replaced ``forward`` on any of ``modules``."""
    return not any(vars(m).get(name) for m in modules
                   for name in ("_forward_hooks", "_forward_pre_hooks", "forward"))


def bn_relu(bn: nn.Module, relu: nn.Module, x: Tensor) -> Tensor:
    """``relu(bn(x))``, as one fused BatchNorm+ReLU op (same values, one pass fewer) when
    both are the plain modules, and no hook or replaced ``forward`` watches either;
    otherwise the two modules as written, so that what watches them (a user's hook, the
    parity check's ReLU signs) sees each call."""
    if type(bn) is nn.BatchNorm2d and type(relu) is nn.ReLU and _unwatched(bn, relu):
        return bn.forward(x, relu=True)
    return relu(bn(x))


def conv_bn(conv: nn.Module, bn: nn.Module, x: Tensor, relu: nn.Module | None = None) -> Tensor:
    """``bn(conv(x))``, then ``relu`` when given. In inference (``bn`` in eval mode, with
    running statistics) one op, the BatchNorm and ReLU as the convolution's epilogue
    (``lucid.conv2d_batch_norm``), when all are the plain modules (zero padding) and none is
    watched, as in ``bn_relu``; otherwise the convolution, then ``bn_relu`` or ``bn``."""
    watched = (conv, bn) if relu is None else (conv, bn, relu)
    if (not bn.training and type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d
            and (relu is None or type(relu) is nn.ReLU) and conv.padding_mode == "zeros"
            and bn.running_mean is not None and _unwatched(*watched)):
        return lucid.conv2d_batch_norm(x, conv.weight, conv.bias, bn.running_mean,
                                       bn.running_var, bn.weight, bn.bias, bn.eps,
                                       relu is not None, conv.stride, conv.padding,
                                       conv.dilation, conv.groups)
    out = conv(x)
    return bn(out) if relu is None else bn_relu(bn, relu, out)


def conv_bn_sequence(seq: nn.Module, x: Tensor) -> Tensor:
    """``seq(x)`` for a stem or a downsample, a ``Sequential`` (conv, bn[, relu]), through
    ``conv_bn`` when ``seq`` itself is plain and unwatched."""
    parts = list(seq) if type(seq) is nn.Sequential and _unwatched(seq) else []
    if len(parts) in (2, 3):
        return conv_bn(parts[0], parts[1], x, parts[2] if len(parts) == 3 else None)
    return seq(x)


def residual_relu(out: Tensor, identity: Tensor, relu: nn.Module) -> Tensor:
    """``relu(out + identity)``, a block's end, as one fused op (``lucid.add_relu``) under
    the same condition as ``bn_relu``."""
    if type(relu) is nn.ReLU and _unwatched(relu):
        return lucid.add_relu(out, identity)
    return relu(out + identity)


class _BasicBlock(nn.Module):
    """Two 3x3 convs: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``."""

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU()
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = conv_bn(self.conv1, self.bn1, x, self.relu1)
        out = conv_bn(self.conv2, self.bn2, out)
        if self.downsample is not None:
            identity = conv_bn_sequence(self.downsample, x)
        return residual_relu(out, identity, self.relu2)


class _Bottleneck(nn.Module):
    """1x1 (reduce) -> 3x3 (stride) -> 1x1 (expand by 4), plus the shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, downsample=None):
        super().__init__()
        width = out_channels
        self.conv1 = conv1x1(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu1 = nn.ReLU()
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU()
        self.conv3 = conv1x1(width, out_channels * self.expansion)
        self.bn3 = nn.BatchNorm2d(out_channels * self.expansion)
        self.relu3 = nn.ReLU()
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = conv_bn(self.conv1, self.bn1, x, self.relu1)
        out = conv_bn(self.conv2, self.bn2, out, self.relu2)
        out = conv_bn(self.conv3, self.bn3, out)
        if self.downsample is not None:
            identity = conv_bn_sequence(self.downsample, x)
        return residual_relu(out, identity, self.relu3)


class ResNet(nn.Module):
    """``ResNet(block, layers, num_classes)``; ``layers`` = blocks per stage, e.g. [2, 2, 2, 2]."""

    torch_name_map = RESNET_TORCH_NAME_MAP

    def __init__(self, block, layers: list[int], num_classes: int = 1000,
                 zero_init_residual: bool = False):
        super().__init__()
        self.in_channels = 64
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0], stride=1)
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        init_resnet_weights(self, zero_init_residual)

    def _make_layer(self, block, out_channels: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.in_channels != out_channels * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.in_channels, out_channels * block.expansion, stride),
                nn.BatchNorm2d(out_channels * block.expansion),
            )
        layers = [block(self.in_channels, out_channels, stride, downsample)]
        self.in_channels = out_channels * block.expansion
        layers += [block(self.in_channels, out_channels, stride=1) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = conv_bn_sequence(self.stem, x)
        x = self.maxpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        x = self.layer4(x)
        x = self.avgpool(x)
        return self.fc(x.reshape(x.shape[0], -1))


def init_resnet_weights(model: nn.Module, zero_init_residual: bool = False) -> None:
    """torchvision's ResNet initialisation (Linear layers keep their default)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            init.ones_(m.weight)
            init.zeros_(m.bias)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, _Bottleneck):
                init.zeros_(m.bn3.weight)
            elif isinstance(m, _BasicBlock):
                init.zeros_(m.bn2.weight)


def resnet_18(num_classes: int = 1000, **kwargs) -> ResNet:
    return ResNet(_BasicBlock, [2, 2, 2, 2], num_classes, **kwargs)


def resnet_34(num_classes: int = 1000, **kwargs) -> ResNet:
    return ResNet(_BasicBlock, [3, 4, 6, 3], num_classes, **kwargs)


def resnet_50(num_classes: int = 1000, **kwargs) -> ResNet:
    return ResNet(_Bottleneck, [3, 4, 6, 3], num_classes, **kwargs)


def resnet_101(num_classes: int = 1000, **kwargs) -> ResNet:
    return ResNet(_Bottleneck, [3, 4, 23, 3], num_classes, **kwargs)


def resnet_152(num_classes: int = 1000, **kwargs) -> ResNet:
    return ResNet(_Bottleneck, [3, 8, 36, 3], num_classes, **kwargs)


_DEPTHS = {18: resnet_18, 34: resnet_34, 50: resnet_50, 101: resnet_101, 152: resnet_152}


def cifar_stem(model: ResNet, in_channels: int = 3) -> ResNet:
    """Adapt ``model`` to 32x32 inputs in place: 3x3 stride-1 stem conv, no maxpool.

    The same change as the usual torchvision recipe (``conv1 = Conv2d(3, 64, 3, 1, 1,
    bias=False)``, ``maxpool = Identity()``); the new conv gets the ResNet initialisation.
    Returns ``model``.
    """
    conv = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    model.stem = nn.Sequential(conv, nn.BatchNorm2d(64), nn.ReLU())
    model.maxpool = nn.Identity()
    return model


def resnet_cifar(depth: int = 18, num_classes: int = 10, **kwargs) -> ResNet:
    """``resnet_<depth>`` with the CIFAR stem (11,173,962 parameters for depth 18, 10 classes)."""
    if depth not in _DEPTHS:
        raise ValueError(f"resnet_cifar: depth must be one of {sorted(_DEPTHS)}, got {depth}")
    return cifar_stem(_DEPTHS[depth](num_classes=num_classes, **kwargs))


def build_cifar_resnet18(num_classes: int = 10) -> ResNet:
    """The seed's CIFAR-10 ResNet-18: ``resnet_18`` with ``cifar_stem``."""
    return resnet_cifar(18, num_classes)
