"""Weight exchange with PyTorch: from_torch_state_dict / to_torch_state_dict."""

import sys

import lucid
import numpy as np
import pytest
import torch
import torchvision
from lucid import models
from lucid.errors import LucidError, ShapeError
from lucid.models import RESNET_TORCH_NAME_MAP, from_torch_state_dict, to_torch_state_dict
from lucid.models.convert import to_numpy_state_dict
from lucid.nn.module import StateDictError
from models_parity import TorchLeNet5, copy_from_torch, torch_cifar_resnet18


def _assert_same_values(lucid_model, torch_sd, name_map=None):
    rename = models.renamer(lucid_model, name_map)
    for k, v in lucid_model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), torch_sd[rename(k)].numpy(), err_msg=k)


def test_lenet_roundtrip_is_exact():
    torch.manual_seed(0)
    t = TorchLeNet5()
    m = copy_from_torch(models.lenet_5(), t)
    _assert_same_values(m, t.state_dict())
    back = to_torch_state_dict(m)
    assert list(back) == list(t.state_dict())
    assert all(isinstance(v, torch.Tensor) for v in back.values())
    t2 = TorchLeNet5()
    t2.load_state_dict(back)  # strict
    for k, v in t2.state_dict().items():
        assert torch.equal(v, t.state_dict()[k]), k


def test_resnet_name_map_is_used_by_default_and_roundtrips_torchvision():
    torch.manual_seed(1)
    t = torchvision.models.resnet18(num_classes=10)
    with torch.no_grad():  # make the buffers distinguishable from their defaults
        for mod in t.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_()
                mod.running_var.uniform_(0.5, 2.0)
    m = models.resnet_18(num_classes=10)
    from_torch_state_dict(m, t.state_dict())
    np.testing.assert_array_equal(m.stem[0].weight.numpy(), t.conv1.weight.detach().numpy())
    np.testing.assert_array_equal(m.stem[1].running_var.numpy(), t.bn1.running_var.numpy())
    np.testing.assert_array_equal(m.layer3[0].downsample[1].bias.numpy(),
                                  t.layer3[0].downsample[1].bias.detach().numpy())
    _assert_same_values(m, t.state_dict())
    back = to_torch_state_dict(m)
    assert "conv1.weight" in back and "stem.0.weight" not in back
    t2 = torchvision.models.resnet18(num_classes=10)
    t2.load_state_dict(back)  # strict: every torchvision key is there
    for k, v in t.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(t2.state_dict()[k], v), k


def test_cifar_resnet_and_explicit_name_map():
    t = torch_cifar_resnet18()
    m = models.build_cifar_resnet18()
    from_torch_state_dict(m, t.state_dict(), name_map=RESNET_TORCH_NAME_MAP)
    _assert_same_values(m, t.state_dict())
    # a function works as a name map too
    m2 = models.build_cifar_resnet18()
    from_torch_state_dict(m2, t.state_dict(),
                          name_map=lambda k: k.replace("stem.0.", "conv1.").replace("stem.1.", "bn1."))
    _assert_same_values(m2, t.state_dict())


def test_numpy_state_dict_and_numpy_export():
    torch.manual_seed(2)
    t = TorchLeNet5()
    sd = {k: v.numpy().copy() for k, v in t.state_dict().items()}
    m = models.lenet_5()
    from_torch_state_dict(m, sd)
    _assert_same_values(m, t.state_dict())
    out = to_numpy_state_dict(m)
    assert all(isinstance(v, np.ndarray) for v in out.values())
    assert out["conv1.weight"].shape == (6, 1, 5, 5) and out["conv1.weight"].dtype == np.float32
    # copies: changing the export does not touch the model
    out["fc3.bias"][:] = 7.0
    assert not np.any(m.fc3.bias.numpy() == 7.0)


def test_export_has_one_return_type_per_function(monkeypatch):
    """to_torch_state_dict: torch tensors or a clear ImportError, never NumPy by chance;
    to_numpy_state_dict: NumPy arrays whether torch is there or not."""
    m = models.lenet_5()
    as_torch, as_numpy = to_torch_state_dict(m), to_numpy_state_dict(m)
    assert list(as_torch) == list(as_numpy)
    assert all(isinstance(v, torch.Tensor) for v in as_torch.values())
    for k, v in as_numpy.items():
        np.testing.assert_array_equal(as_torch[k].numpy(), v, err_msg=k)
    with pytest.warns(DeprecationWarning, match="to_numpy_state_dict"):
        old = to_torch_state_dict(m, as_numpy=True)
    assert all(isinstance(v, np.ndarray) for v in old.values())
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(ImportError, match="to_torch_state_dict needs PyTorch"):
        to_torch_state_dict(m)
    assert all(isinstance(v, np.ndarray) for v in to_numpy_state_dict(m).values())


def test_loaded_values_are_copies_and_dtypes_kept():
    t = TorchLeNet5()
    m = models.lenet_5()
    from_torch_state_dict(m, t.state_dict())
    with torch.no_grad():
        t.fc3.bias.add_(1.0)
    assert not np.allclose(m.fc3.bias.numpy(), t.fc3.bias.detach().numpy())
    sd = {k: v.double() for k, v in t.state_dict().items()}  # float64 in, float32 kept
    from_torch_state_dict(m, sd)
    assert m.fc3.bias.dtype == lucid.float32
    assert m.fc3.weight.requires_grad


def test_missing_and_unexpected_keys_are_clear_errors():
    t = torchvision.models.resnet18(num_classes=10)
    sd = t.state_dict()
    m = models.resnet_18(num_classes=10)
    before = m.fc.weight.numpy().copy()
    partial = {k: v for k, v in sd.items() if k != "layer2.0.bn1.running_mean"}
    with pytest.raises(StateDictError, match=r"missing.*layer2\.0\.bn1\.running_mean"):
        from_torch_state_dict(m, partial)
    extra = dict(sd, **{"head.weight": torch.zeros(3)})
    with pytest.raises(StateDictError, match=r"unexpected.*head\.weight"):
        from_torch_state_dict(m, extra)
    # without the name map torchvision's conv1/bn1 are unexpected and stem.* missing
    with pytest.raises(StateDictError, match=r"stem\.0\.weight.*conv1\.weight|name_map") as info:
        from_torch_state_dict(m, sd, name_map={})
    assert "conv1.weight" in str(info.value) and "stem.0.weight" in str(info.value)
    assert isinstance(info.value, LucidError)
    # nothing was changed by the failed loads
    np.testing.assert_array_equal(m.fc.weight.numpy(), before)
    # strict=False loads what matches and reports the rest
    result = from_torch_state_dict(m, partial, strict=False)
    assert result.missing_keys == ["layer2.0.bn1.running_mean"]
    assert result.unexpected_keys == []
    np.testing.assert_array_equal(m.fc.weight.numpy(), sd["fc.weight"].numpy())


def test_shape_mismatch_names_the_key_and_shapes():
    t = torchvision.models.resnet18()  # 1000 classes
    m = models.resnet_18(num_classes=10)
    with pytest.raises(ShapeError, match=r"fc\.weight.*\(1000, 512\).*\(10, 512\)"):
        from_torch_state_dict(m, t.state_dict())
    with pytest.raises(ShapeError, match=r"conv1\.weight"):  # ImageNet stem into CIFAR model
        from_torch_state_dict(models.build_cifar_resnet18(num_classes=1000), t.state_dict())


def test_colliding_name_map_is_rejected():
    m = models.lenet_5()
    with pytest.raises(StateDictError, match="fc1.weight"):
        to_torch_state_dict(m, name_map=lambda k: "fc1.weight" if k.startswith("fc") else k)
