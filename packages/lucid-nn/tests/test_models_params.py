"""Architecture checks: parameter counts and state-dict layouts against torchvision."""

import lucid.nn as nn
import pytest
import torch
import torchvision
from lucid import models
from lucid.models import renamer
from models_parity import TorchLeNet5, torch_cifar_resnet18


def _torch_meta(builder, **kwargs):
    with torch.device("meta"):  # shapes only: nothing is allocated or initialised
        return builder(**kwargs)


def _torch_shapes(model) -> dict:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def _lucid_shapes(model) -> dict:
    rename = renamer(model)
    return {rename(k): tuple(v.shape) for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def test_lenet5_has_61706_parameters_like_torch():
    model = models.lenet_5()
    assert model.count_parameters() == 61_706
    assert model.count_parameters() == sum(p.numel() for p in TorchLeNet5().parameters())
    assert _lucid_shapes(model) == _torch_shapes(TorchLeNet5())


def test_resnet18_counts():
    assert models.resnet_18(num_classes=10).count_parameters() == 11_181_642
    cifar = models.build_cifar_resnet18()
    assert cifar.count_parameters() == 11_173_962
    assert models.resnet_cifar(18).count_parameters() == 11_173_962
    assert sum(p.numel() for p in torch_cifar_resnet18().parameters()) == 11_173_962
    assert isinstance(cifar.maxpool, nn.Identity)
    assert tuple(cifar.stem[0].weight.shape) == (64, 3, 3, 3)


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_resnet_matches_torchvision_layout(depth):
    lucid_model = getattr(models, f"resnet_{depth}")()
    torch_model = _torch_meta(getattr(torchvision.models, f"resnet{depth}"))
    assert lucid_model.count_parameters() == sum(p.numel() for p in torch_model.parameters())
    # every parameter and buffer sits under torchvision's name with torchvision's shape
    assert _lucid_shapes(lucid_model) == _torch_shapes(torch_model)


def test_resnet_known_counts():
    assert models.resnet_34().count_parameters() == 21_797_672
    assert models.resnet_50().count_parameters() == 25_557_032
    assert models.resnet_50(num_classes=10).count_parameters() == 23_528_522


def test_resnet_cifar_other_depth_and_bad_depth():
    m = models.resnet_cifar(50, num_classes=100)
    t = _torch_meta(torchvision.models.resnet50, num_classes=100)
    t.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False, device="meta")
    assert m.count_parameters() == sum(p.numel() for p in t.parameters())
    with pytest.raises(ValueError, match="depth"):
        models.resnet_cifar(20)


def test_block_structure_follows_the_seed():
    m = models.resnet_18()
    block = m.layer2[0]
    assert isinstance(block, models.BasicBlock)
    for name in ("conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "downsample"):
        assert hasattr(block, name), name
    assert block.conv1.stride in (2, (2, 2))
    assert isinstance(block.downsample, nn.Sequential) and len(block.downsample) == 2
    assert m.layer1[0].downsample is None and m.layer2[1].downsample is None
    b50 = models.resnet_50().layer3[0]
    assert isinstance(b50, models.Bottleneck)
    # torchvision v1.5: the stride sits on the 3x3 conv, not the first 1x1
    assert b50.conv2.stride in (2, (2, 2)) and b50.conv1.stride in (1, (1, 1))
    assert tuple(b50.conv3.weight.shape) == (1024, 256, 1, 1)
