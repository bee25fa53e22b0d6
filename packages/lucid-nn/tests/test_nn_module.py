"""The Module API: registration, traversal, state dicts, modes, devices, repr, containers.

Most checks build the same network in Lucid and in PyTorch (the APIs are the same, so one
builder takes either namespace) and compare what each reports.
"""

import lucid
import lucid.nn as nn
import numpy as np
import pytest
import torch
from nn_parity import assert_close, torch_state


def block_class(ns):
    class Block(ns.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.conv1 = ns.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = ns.BatchNorm2d(cout)
            self.relu = ns.ReLU()
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = ns.Sequential(ns.Conv2d(cin, cout, 1, stride, bias=False),
                                                ns.BatchNorm2d(cout))

    return Block


def build_net(ns):
    """A small ResNet-like net, then the seed's edits: replace the stem, drop the pool."""
    Block = block_class(ns)

    class Net(ns.Module):
        def __init__(self):
            super().__init__()
            self.stem = ns.Conv2d(3, 8, 7, 2, 3)
            self.maxpool = ns.MaxPool2d(3, 2, 1)
            self.layer1 = ns.Sequential(Block(8, 8), Block(8, 16, 2))
            self.heads = ns.ModuleList([ns.Linear(16, 4), ns.Linear(16, 4), ns.Linear(16, 2)])
            self.avgpool = ns.AdaptiveAvgPool2d((1, 1))
            self.fc = ns.Linear(16, 10)

    net = Net()
    net.stem = ns.Sequential(ns.Conv2d(3, 8, 3, 1, 1, bias=False), ns.BatchNorm2d(8), ns.ReLU())
    net.maxpool = ns.Identity()
    return net


@pytest.fixture(scope="module")
def nets():
    return build_net(nn), build_net(torch.nn)


def test_state_dict_keys_match_torch(nets):
    lnet, tnet = nets
    lkeys, tkeys = list(lnet.state_dict()), list(tnet.state_dict())
    assert lkeys == tkeys
    assert "stem.1.running_mean" in lkeys and "layer1.1.downsample.1.num_batches_tracked" in lkeys
    for k, v in lnet.state_dict().items():
        assert v.shape == tuple(tnet.state_dict()[k].shape), k


def test_names_and_counts_match_torch(nets):
    lnet, tnet = nets
    assert [n for n, _ in lnet.named_parameters()] == [n for n, _ in tnet.named_parameters()]
    assert [n for n, _ in lnet.named_buffers()] == [n for n, _ in tnet.named_buffers()]
    assert [n for n, _ in lnet.named_modules()] == [n for n, _ in tnet.named_modules()]
    assert [n for n, _ in lnet.named_children()] == [n for n, _ in tnet.named_children()]
    assert [type(m).__name__ for m in lnet.modules()] == [type(m).__name__ for m in tnet.modules()]
    assert lnet.count_parameters() == sum(p.numel() for p in tnet.parameters())
    assert len(list(lnet.parameters())) == len(list(tnet.parameters()))
    assert len(list(lnet.buffers())) == len(list(tnet.buffers()))
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in lnet.parameters())


def test_repr_matches_torch(nets):
    lnet, tnet = nets
    assert repr(lnet) == repr(tnet)


@pytest.mark.parametrize("make", [
    lambda m: m.Conv2d(3, 8, (3, 5), stride=2, padding="same" if False else 1, dilation=2,
                       groups=1, bias=False),
    lambda m: m.Conv2d(4, 8, 3, padding="same", groups=2),
    lambda m: m.Conv1d(3, 6, 5, stride=2, padding=2),
    lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1),
    lambda m: m.BatchNorm1d(5, eps=1e-3, momentum=None, affine=False),
    lambda m: m.BatchNorm2d(5, track_running_stats=False),
    lambda m: m.LayerNorm((4, 5), elementwise_affine=False),
    lambda m: m.GroupNorm(2, 6),
    lambda m: m.Dropout(0.25),
    lambda m: m.Embedding(10, 3, padding_idx=0),
    lambda m: m.LeakyReLU(0.2),
    lambda m: m.GELU(approximate="tanh"),
    lambda m: m.SiLU(),
    lambda m: m.Tanh(),
    lambda m: m.Sigmoid(),
    lambda m: m.Softmax(dim=1),
    lambda m: m.LogSoftmax(dim=-1),
    lambda m: m.MaxPool2d(2),
    lambda m: m.AvgPool2d(3, 2, 1),
    lambda m: m.Flatten(),
    lambda m: m.Linear(3, 4, bias=False),
    lambda m: m.CrossEntropyLoss(label_smoothing=0.1),
    lambda m: m.Sequential(m.Linear(2, 2), m.Sequential(m.ReLU(), m.Tanh())),
    lambda m: m.ModuleList([m.ReLU(), m.ReLU(), m.Linear(1, 1), m.ReLU()]),
    lambda m: m.ModuleDict({"a": m.ReLU(), "b": m.Linear(1, 2)}),
])
def test_layer_repr_matches_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


def test_load_torch_state_dict(nets):
    lnet, tnet = nets
    state = torch_state(tnet)
    state["stem.1.running_var"] = np.full(8, 2.5, np.float32)
    state["layer1.0.bn1.num_batches_tracked"] = np.array(7)
    result = lnet.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in lnet.state_dict().items():
        assert_close(v, state[k], rtol=0, atol=0, what=k)
    assert lnet.layer1[0].bn1.num_batches_tracked.dtype == lucid.int64
    assert lnet.stem[0].weight.dtype == lucid.float32
    # torch tensors, lucid tensors and a Lucid state dict load as well
    lnet.load_state_dict(tnet.state_dict())
    lnet.load_state_dict(tnet.state_dict(keep_vars=True))  # torch Parameters requiring grad
    other = build_net(nn)
    other.load_state_dict(lnet.state_dict())
    assert_close(other.fc.weight, tnet.fc.weight, rtol=0, atol=0)


def test_load_keeps_parameter_objects():
    lin = nn.Linear(3, 2)
    w = lin.weight
    lin.load_state_dict({"weight": np.ones((2, 3), np.float32), "bias": np.zeros(2, np.float32)})
    assert lin.weight is w and np.all(w.numpy() == 1) and w.requires_grad


def test_strict_load_errors_name_keys():
    lnet = build_net(nn)
    before = lnet.fc.weight.numpy().copy()
    state = {k: v.numpy() for k, v in lnet.state_dict().items()}
    del state["layer1.0.bn1.running_mean"]
    state["fc.extra"] = np.zeros(3, np.float32)
    state["fc.weight"] = np.zeros((10, 16), np.float32)
    with pytest.raises(nn.StateDictError) as info:
        lnet.load_state_dict(state)
    msg = str(info.value)
    assert "Missing key(s)" in msg and '"layer1.0.bn1.running_mean"' in msg
    assert "Unexpected key(s)" in msg and '"fc.extra"' in msg
    assert "Net" in msg
    np.testing.assert_array_equal(lnet.fc.weight.numpy(), before)  # nothing was loaded
    result = lnet.load_state_dict(state, strict=False)
    assert result.missing_keys == ["layer1.0.bn1.running_mean"]
    assert result.unexpected_keys == ["fc.extra"]
    assert np.all(lnet.fc.weight.numpy() == 0)


def test_shape_mismatch_is_an_error_even_when_not_strict():
    lin = nn.Linear(3, 2)
    bad = {"weight": np.zeros((2, 4), np.float32), "bias": np.zeros(2, np.float32)}
    for strict in (True, False):
        with pytest.raises(lucid.ShapeError, match=r"size mismatch for weight.*\(2, 4\).*\(2, 3\)"):
            lin.load_state_dict(bad, strict=strict)


def test_registration_and_replacement():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 3)
            self.b = nn.ReLU()
            self.w = nn.Parameter(lucid.ones(4))
            self.register_buffer("stat", lucid.zeros(2))
            self.register_buffer("scratch", lucid.zeros(1), persistent=False)
            self.plain = 3

    m = M()
    assert list(dict(m.named_children())) == ["a", "b"]
    assert list(m.state_dict()) == ["w", "stat", "a.weight", "a.bias"]
    assert [n for n, _ in m.named_buffers()] == ["stat", "scratch"]
    m.a = nn.Linear(2, 5)  # replacement keeps the position
    m.b = None
    assert list(m._modules) == ["a", "b"] and m.b is None
    assert m.a.out_features == 5 and m.count_parameters() == 4 + 15
    assert list(m.state_dict()) == ["w", "stat", "a.weight", "a.bias"]
    m.w = None
    assert "w" not in m.state_dict() and m.w is None
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = lucid.ones(4)
    m.w = nn.Parameter(lucid.zeros(2))
    m.stat = lucid.ones(2)
    assert np.all(m.state_dict()["stat"].numpy() == 1)
    m.register_parameter("extra", nn.Parameter(lucid.zeros(3)))
    assert "extra" in dict(m.named_parameters())
    with pytest.raises(TypeError, match="nn.Parameter"):
        m.register_parameter("bad", lucid.zeros(3))
    with pytest.raises(KeyError, match="'.'"):
        m.register_buffer("a.b", lucid.zeros(1))
    del m.a
    assert "a.weight" not in m.state_dict()
    with pytest.raises(AttributeError, match="'M' object has no attribute 'a'"):
        m.a  # noqa: B018
    assert m.plain == 3


def test_shared_parameters_counted_once():
    lin = nn.Linear(4, 4)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2 and seq.count_parameters() == 20
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_module_without_init_call():
    class Bad(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_train_eval_propagate(nets):
    lnet, _ = nets
    assert lnet.eval() is lnet
    assert all(not m.training for m in lnet.modules())
    lnet.train()
    assert all(m.training for m in lnet.modules())
    lnet.layer1.eval()
    assert lnet.training and not lnet.layer1[1].bn1.training


def test_apply_visits_in_torch_order(nets):
    lnet, tnet = nets
    seen_l, seen_t = [], []
    lnet.apply(lambda m: seen_l.append(type(m).__name__))
    tnet.apply(lambda m: seen_t.append(type(m).__name__))
    assert seen_l == seen_t


def test_count_parameters_counts_trainable_only():
    net = build_net(nn)
    total = net.count_parameters()
    net.fc.requires_grad_(False)
    assert net.count_parameters() == total - 170


def test_call_runs_forward_and_zero_grad():
    lin = nn.Linear(3, 2)
    out = lin(lucid.tensor(np.ones((4, 3), np.float32)))
    assert out.shape == (4, 2)
    out.sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad(set_to_none=False)
    assert np.all(lin.weight.grad.numpy() == 0)
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None


def test_to_dtype_and_device():
    net = build_net(nn)
    params = list(net.parameters())
    assert net.to(lucid.float16) is net
    assert all(p.dtype == lucid.float16 for p in net.parameters())
    assert list(net.parameters())[0] is params[0]
    assert net.stem[1].running_mean.dtype == lucid.float16
    assert net.stem[1].num_batches_tracked.dtype == lucid.int64
    net.to("cpu", dtype="float32")
    assert all(p.dtype == lucid.float32 and p.device == "cpu" for p in net.parameters())
    if not lucid.gpu_available():
        with pytest.raises(lucid.DeviceError, match="gpu"):
            net.to("cuda")


def test_get_submodule_and_parameter(nets):
    lnet, _ = nets
    assert lnet.get_submodule("layer1.1.downsample.0") is lnet.layer1[1].downsample[0]
    assert lnet.get_parameter("fc.bias") is lnet.fc.bias
    with pytest.raises(AttributeError, match="nope"):
        lnet.get_submodule("layer1.nope")


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_parameter():
    p = nn.Parameter(lucid.ones(2, 3))
    assert isinstance(p, lucid.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    q = nn.Parameter(np.zeros(3, np.float32), requires_grad=False)
    assert not q.requires_grad and q.shape == (3,)


def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    assert len(seq) == 2 and seq[0] is a and seq[-1] is b and list(seq) == [a, b]
    seq.append(c)
    assert len(seq) == 3 and seq[2] is c
    x = lucid.tensor(np.ones((5, 2), np.float32))
    np.testing.assert_allclose(seq(x).numpy(), c(b(a(x))).numpy())
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[0]
    assert list(dict(seq.named_children())) == ["0", "1"] and seq[1] is c
    with pytest.raises(IndexError, match="out of range"):
        seq[5]  # noqa: B018
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(1, 1)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert isinstance(named.act, nn.ReLU)


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 2)])
    ml.append(nn.Linear(2, 3))
    ml.extend([nn.ReLU()])
    ml += [nn.Tanh()]
    assert len(ml) == 4 and isinstance(ml[-1], nn.Tanh) and isinstance(ml[1:], nn.ModuleList)
    assert [type(m).__name__ for m in ml] == ["Linear", "Linear", "ReLU", "Tanh"]
    ml.insert(0, nn.Identity())
    assert isinstance(ml[0], nn.Identity) and len(ml) == 5
    assert list(ml.state_dict()) == ["1.weight", "1.bias", "2.weight", "2.bias"]
    md = nn.ModuleDict({"enc": nn.Linear(2, 2)})
    md["dec"] = nn.Linear(2, 1)
    assert list(md) == ["enc", "dec"] and "dec" in md and len(md) == 2
    assert list(md.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert isinstance(md.pop("enc"), nn.Linear) and list(md.keys()) == ["dec"]


def test_deepcopy_gives_independent_parameters():
    import copy

    net = build_net(nn)
    clone = copy.deepcopy(net)
    assert repr(clone) == repr(net)
    assert clone.fc.weight is not net.fc.weight and isinstance(clone.fc.weight, nn.Parameter)
    np.testing.assert_array_equal(clone.fc.weight.numpy(), net.fc.weight.numpy())
    nn.init.zeros_(clone.fc.weight)
    assert np.any(net.fc.weight.numpy() != 0)
