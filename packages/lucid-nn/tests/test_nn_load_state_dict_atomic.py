"""``load_state_dict`` converts and checks every value before it assigns any."""

from __future__ import annotations

import lucid
import lucid.nn as nn
import numpy as np
import pytest
from lucid.errors import LucidError


def _model():
    lucid.seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


@pytest.mark.parametrize(
    "bad",
    [
        lambda shape: np.full(shape, "a"),
        lambda shape: np.full(shape, None, dtype=object),
        lambda shape: np.full(shape, b"x"),
    ],
    ids=["str", "object", "bytes"],
)
def test_unconvertible_last_value_changes_nothing(bad):
    model = _model()
    before = {k: np.array(v.numpy()) for k, v in model.state_dict().items()}
    state = {k: np.zeros(v.shape, np.float32) for k, v in before.items()}
    last = list(state)[-1]
    state[last] = bad(before[last].shape)
    with pytest.raises(LucidError, match=rf"{last}"):
        model.load_state_dict(state)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)


def test_convertible_values_still_load():
    model = _model()
    state = {k: np.ones(v.shape, np.float64) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    for v in model.state_dict().values():
        np.testing.assert_array_equal(v.numpy(), 1.0)
        assert v.dtype == lucid.float32
