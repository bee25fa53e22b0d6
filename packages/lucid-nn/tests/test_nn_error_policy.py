"""lucid-nn follows lucid-tensor's error policy (its README, "Errors"): an axis or index out
of range is a LucidIndexError, a wrong argument type an ArgumentTypeError, an invalid
argument value an ArgumentError, shapes that do not fit a ShapeError; each is also the
built-in a PyTorch user catches, and the message names the layer or function."""

import ast
import pathlib

import lucid
import lucid.nn as nn
import lucid.nn.functional as F
import pytest
from lucid.nn import init
from lucid.testing import assert_error_policy, error_policy_cases

POLICY = {
    "axis or index out of range": (lucid.LucidIndexError, IndexError, [
        ("Unflatten", lambda: nn.Unflatten(2, (2, 2))(lucid.zeros(3, 4))),
        ("Unflatten", lambda: nn.Unflatten(-3, (2, 2))(lucid.zeros(3, 4))),
        ("Sequential", lambda: nn.Sequential(nn.Identity())[1]),
        ("ModuleList", lambda: nn.ModuleList([nn.Identity()])[-2]),
    ]),
    "wrong argument type or missing argument": (lucid.ArgumentTypeError, TypeError, [
        ("LSTM", lambda: nn.LSTM(3, 4)(lucid.zeros(2, 1, 3), lucid.zeros(1, 1, 4))),
        ("calculate_gain", lambda: init.calculate_gain("leaky_relu", "0.1")),
        ("DataParallel", lambda: nn.DataParallel(lambda x: x)),
        ("nn.Parameter", lambda: nn.Linear(2, 2).register_parameter("w", lucid.zeros(2))),
        ("register_forward_hook", lambda: nn.Linear(2, 2).register_forward_hook(5)),
        ("buffer 'b'", lambda: nn.Linear(2, 2).register_buffer("b", [1.0])),
    ]),
    "dtype the layer refuses": (lucid.DTypeError, TypeError, [
        ("Module.to", lambda: nn.Linear(2, 2).to(lucid.int32)),
    ]),
    "shapes that do not fit": (lucid.ShapeError, ValueError, [
        ("Unflatten", lambda: nn.Unflatten(1, (4, 4))(lucid.zeros(2, 15))),
        ("Unflatten", lambda: nn.Unflatten(0, (1,))(lucid.zeros(()))),
        ("RNN", lambda: nn.RNN(3, 4)(lucid.zeros(5))),
        ("GRU", lambda: nn.GRU(3, 4)(lucid.zeros(2, 1, 5))),
        ("fan in and fan out", lambda: init.kaiming_uniform_(lucid.zeros(3))),
        ("scaled_dot_product_attention", lambda: F.scaled_dot_product_attention(
            lucid.zeros(1, 2, 4), lucid.zeros(1, 2, 3), lucid.zeros(1, 2, 3))),
    ]),
    "conflicting or invalid argument values": (lucid.ArgumentError, ValueError, [
        ("MSELoss", lambda: nn.MSELoss(reduction="avg")),
        ("KLDivLoss", lambda: nn.KLDivLoss(reduction="avg")),
        ("GELU", lambda: nn.GELU(approximate="erf")),
        ("Dropout", lambda: nn.Dropout(1.5)),
        ("Dropout2d", lambda: nn.Dropout2d(-0.5)),
        ("Conv2d", lambda: nn.Conv2d(1, 1, 3, padding_mode="wrap")),
        ("MultiheadAttention", lambda: nn.MultiheadAttention(5, 2)),
        ("GroupNorm", lambda: nn.GroupNorm(3, 4)),
        ("Embedding", lambda: nn.Embedding(3, 2, padding_idx=5)),
        ("RNN", lambda: nn.RNN(3, 4, nonlinearity="gelu")),
        ("calculate_gain", lambda: init.calculate_gain("swish")),
        ("fan_in", lambda: init.kaiming_uniform_(lucid.zeros(3, 3), mode="fan_avg")),
        ("cross_entropy", lambda: F.cross_entropy(
            lucid.zeros(2, 3), lucid.tensor([0, 1]), label_smoothing=-0.1)),
        ("dropout", lambda: F.dropout(lucid.zeros(2), 2.0)),                  # functional
        ("normalize", lambda: F.normalize(lucid.zeros(2, 3), out=lucid.zeros(2, 3))),
        ("scaled_dot_product_attention", lambda: F.scaled_dot_product_attention(
            lucid.zeros(1, 2, 4), lucid.zeros(1, 2, 4), lucid.zeros(1, 2, 4),
            attn_mask=lucid.zeros(2, 2), is_causal=True)),
        ("instance_norm", lambda: F.instance_norm(lucid.zeros(1, 2, 3),
                                                  use_input_stats=False)),
        ("kl_div", lambda: F.kl_div(lucid.zeros(2), lucid.zeros(2), reduce=True)),
    ]),
}

@pytest.mark.parametrize("case", error_policy_cases(POLICY), ids=str)
def test_each_mistake_raises_its_type(case):
    assert_error_policy(case)


def test_unflatten_reads_negative_dims_as_pytorch():
    out = nn.Unflatten(-1, (2, 2))(lucid.zeros(3, 4))
    assert out.shape == (3, 2, 2)


def test_run_on_lives_in_devices_and_stays_importable_from_function():
    import lucid.devices
    import lucid.function
    assert lucid.function.run_on is lucid.devices.run_on
    x = lucid.devices.run_on("cpu", lambda a, b: a + b, 2, b=3)
    assert x == 5


def _imports_of(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_lucid_nn_imports_nothing_of_lucid_function():
    """lucid-nn reaches the engine's device helper through lucid.devices; no file of it
    uses lucid.function's ``op``: every op with its own backward lives in the engine."""
    src = pathlib.Path(nn.__file__).resolve().parents[1]  # .../src/lucid
    users = sorted(str(p.relative_to(src)) for pkg in ("nn", "optim", "models", "utils")
                   for p in (src / pkg).rglob("*.py")
                   if any(m == "lucid.function" or m.startswith("lucid.function.")
                          for m in _imports_of(p)))
    assert users == []
