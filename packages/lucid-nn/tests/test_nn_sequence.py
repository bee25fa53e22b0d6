"""Recurrent layers, attention and transformer encoders against PyTorch: outputs, states
and every gradient, with weights copied from PyTorch."""

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import numpy as np
import pytest
import torch
from nn_parity import assert_close, check_function, check_module, randn

RTOL, ATOL = 2e-4, 2e-5


class LucidAll(nn.Module):
    """One output tensor from a module that returns tuples (output, states...)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *args):
        return lucid.cat([t.reshape(-1) for t in _flat(self.inner(*args))])


class TorchAll(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *args):
        return torch.cat([t.reshape(-1) for t in _flat(self.inner(*args))])


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out if o is not None for t in _flat(o)]
    return [out]


RECURRENT = [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    ("LSTM", {}), ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"batch_first": True, "bias": False}), ("GRU", {}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
]


@pytest.mark.parametrize("kind, kwargs", RECURRENT, ids=lambda v: str(v))
def test_recurrent_layers_match_pytorch(kind, kwargs):
    torch.manual_seed(0)
    tmod = getattr(torch.nn, kind)(4, 5, **kwargs)
    lmod = getattr(nn, kind)(4, 5, **kwargs)
    shape = (3, 6, 4) if kwargs.get("batch_first") else (6, 3, 4)
    check_module(LucidAll(lmod), TorchAll(tmod), randn(*shape), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_with_initial_state_and_unbatched(kind):
    torch.manual_seed(1)
    tmod, lmod = getattr(torch.nn, kind)(3, 4, num_layers=2), getattr(nn, kind)(3, 4,
                                                                                  num_layers=2)
    h0 = randn(2, 2, 4, seed=1)
    state = (h0, randn(2, 2, 4, seed=2)) if kind == "LSTM" else h0

    class Lucid(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = lmod

        def forward(self, x, h, c=None):
            out = self.inner(x, (h, c) if kind == "LSTM" else h)
            return lucid.cat([t.reshape(-1) for t in _flat(out)])

    class Torch(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = tmod

        def forward(self, x, h, c=None):
            out = self.inner(x, (h, c) if kind == "LSTM" else h)
            return torch.cat([t.reshape(-1) for t in _flat(out)])

    inputs = (randn(5, 2, 3), *((state,) if kind != "LSTM" else state))
    check_module(Lucid(), Torch(), *inputs, rtol=RTOL, atol=ATOL)
    # unbatched (L, H_in) input with an unbatched state
    x = randn(5, 3, seed=3)
    t_out = tmod(torch.from_numpy(x))
    l_out = lmod(lucid.tensor(x))
    for a, b in zip(_flat(l_out), _flat(t_out)):
        assert_close(a, b, RTOL, ATOL)


def test_recurrent_errors_name_the_problem():
    lstm = nn.LSTM(4, 5)
    with pytest.raises(ValueError, match="input has 3 features, expected 4"):
        lstm(lucid.randn(2, 1, 3))
    with pytest.raises(ValueError, match=r"initial state has shape \(1, 1, 4\)"):
        lstm(lucid.randn(2, 1, 4), (lucid.zeros(1, 1, 4), lucid.zeros(1, 1, 5)))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(2, 2, nonlinearity="sigmoid")
    assert repr(nn.GRU(4, 5, num_layers=2, batch_first=True)) == repr(
        torch.nn.GRU(4, 5, num_layers=2, batch_first=True))


@pytest.mark.parametrize("case", ["plain", "causal", "bool_mask", "float_mask", "scale"])
def test_scaled_dot_product_attention(case):
    q, k, v = randn(2, 3, 5, 8, seed=1), randn(2, 3, 7, 8, seed=2), randn(2, 3, 7, 6, seed=3)
    if case == "causal":
        q = randn(2, 3, 7, 8, seed=1)
    mask = np.random.default_rng(4).random((5, 7)) > 0.3
    mask[:, 0] = True  # every query sees a key
    kwargs = {"plain": {}, "causal": {"is_causal": True}, "scale": {"scale": 0.3}}.get(case, {})

    def call(mod, fn, *t):
        extra = dict(kwargs)
        if case == "bool_mask":
            extra["attn_mask"] = mod.tensor(mask)
        if case == "float_mask":
            extra["attn_mask"] = mod.tensor(np.where(mask, 0.5, -2.0).astype(np.float32))
        return fn(*t, **extra)

    check_function(lambda *t: call(lucid, F.scaled_dot_product_attention, *t),
                   lambda *t: call(torch, torch.nn.functional.scaled_dot_product_attention, *t),
                   q, k, v, rtol=RTOL, atol=ATOL)


MHA = [
    ({}, {}), ({"batch_first": True}, {}), ({"bias": False}, {}),
    ({"kdim": 6, "vdim": 5}, {}), ({}, {"average_attn_weights": False}),
    ({}, {"attn_mask": "bool"}), ({}, {"attn_mask": "float"}),
    ({}, {"key_padding_mask": True}), ({}, {"is_causal": True, "attn_mask": "causal"}),
]


@pytest.mark.parametrize("init, call", MHA, ids=lambda v: str(v))
def test_multihead_attention_matches_pytorch(init, call):
    torch.manual_seed(0)
    tmod = torch.nn.MultiheadAttention(8, 2, **init)
    lmod = nn.MultiheadAttention(8, 2, **init)
    kd, vd = init.get("kdim", 8), init.get("vdim", 8)
    lead = (lambda n, s: (n, s)) if init.get("batch_first") else (lambda n, s: (s, n))
    q, k, v = randn(*lead(3, 4), 8, seed=1), randn(*lead(3, 6), kd, seed=2), randn(
        *lead(3, 6), vd, seed=3)
    extra_np = {}
    if call.get("attn_mask") == "bool":
        m = np.random.default_rng(5).random((4, 6)) > 0.6
        m[:, 0] = False
        extra_np["attn_mask"] = m
    elif call.get("attn_mask") == "float":
        extra_np["attn_mask"] = randn(4, 6, seed=6)
    elif call.get("attn_mask") == "causal":
        q, k, v = randn(6, 3, 8, seed=1), randn(6, 3, 8, seed=2), randn(6, 3, 8, seed=3)
        extra_np["attn_mask"] = np.triu(np.ones((6, 6), dtype=bool), 1)
    if call.get("key_padding_mask"):
        kp = np.zeros((3, 6), dtype=bool)
        kp[1, 4:] = True
        extra_np["key_padding_mask"] = kp
    flags = {k: v for k, v in call.items() if k in ("average_attn_weights", "is_causal")}

    class Lucid(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = lmod

        def forward(self, *t):
            extra = {k: lucid.tensor(v) for k, v in extra_np.items()}
            return lucid.cat([o.reshape(-1) for o in self.inner(*t, **extra, **flags)])

    class Torch(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = tmod

        def forward(self, *t):
            extra = {k: torch.from_numpy(v) for k, v in extra_np.items()}
            return torch.cat([o.reshape(-1) for o in self.inner(*t, **extra, **flags)])

    check_module(Lucid(), Torch(), q, k, v, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kwargs", [{}, {"norm_first": True, "activation": "gelu"},
                                    {"batch_first": True}], ids=str)
def test_transformer_encoder_matches_pytorch(kwargs):
    torch.manual_seed(0)
    t_layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                               **kwargs)
    l_layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, **kwargs)
    tmod = torch.nn.TransformerEncoder(t_layer, 2, enable_nested_tensor=False)
    lmod = nn.TransformerEncoder(l_layer, 2)
    check_module(lmod, tmod, randn(5, 3, 8), rtol=RTOL, atol=ATOL)
    mask = np.zeros((5, 5), dtype=np.float32)
    mask[:, 3:] = -1e9
    x = randn(*((3, 5) if kwargs.get("batch_first") else (5, 3)), 8, seed=2)
    l_out = lmod(lucid.tensor(x), mask=lucid.tensor(mask))
    t_out = tmod(torch.from_numpy(x), mask=torch.from_numpy(mask))
    assert_close(l_out, t_out, RTOL, ATOL)
