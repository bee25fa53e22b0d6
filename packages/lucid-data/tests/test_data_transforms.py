import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lucid.data import (
    Compose,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomVerticalFlip,
    ToFloat,
)


class FixedRng:
    """Stands in for a Generator: ``integers`` and ``random`` return preset arrays."""

    def __init__(self, integers=(), random=()):
        self._ints = list(integers)
        self._rand = list(random)

    def integers(self, low, high, size):
        out = np.asarray(self._ints.pop(0))
        assert out.shape == (size,) and np.all((out >= low) & (out < high))
        return out

    def random(self, size):
        out = np.asarray(self._rand.pop(0), dtype=float)
        assert out.shape == (size,)
        return out


def test_random_crop_hand_computed():
    x = np.array([[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]]], dtype=np.float32)  # (2, 1, 2, 2)
    # padding 1 -> 4x4 padded images; crop 2x2 at (top, left) = (0, 0) and (2, 1)
    out = RandomCrop(2, padding=1)(x, FixedRng(integers=[[0, 2], [0, 1]]))
    expected = np.array([[[[0, 0], [0, 1]]], [[[7, 8], [0, 0]]]], dtype=np.float32)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.float32


def test_random_crop_fill_and_edge_modes_hand_computed():
    x = np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)
    out = RandomCrop(2, padding=1, fill=-1.0)(x, FixedRng(integers=[[0], [0]]))
    np.testing.assert_array_equal(out[0, 0], [[-1, -1], [-1, 1]])
    out = RandomCrop(2, padding=1, padding_mode="edge")(x, FixedRng(integers=[[0], [2]]))
    np.testing.assert_array_equal(out[0, 0], [[2, 2], [2, 2]])
    out = RandomCrop(2, padding=1, padding_mode="reflect")(x, FixedRng(integers=[[2], [0]]))
    np.testing.assert_array_equal(out[0, 0], [[4, 3], [2, 1]])


def test_random_crop_matches_per_image_loop():
    rng_data = np.random.default_rng(1)
    x = rng_data.random((16, 3, 32, 32), dtype=np.float32)
    crop = RandomCrop(32, padding=4)
    out = crop(x, np.random.default_rng(7))
    # the same draws, applied image by image
    rng = np.random.default_rng(7)
    top = rng.integers(0, 9, 16)
    left = rng.integers(0, 9, 16)
    padded = np.pad(x, ((0, 0), (0, 0), (4, 4), (4, 4)))
    for i in range(16):
        np.testing.assert_array_equal(
            out[i], padded[i, :, top[i] : top[i] + 32, left[i] : left[i] + 32]
        )
    assert out.shape == x.shape and out.flags.c_contiguous


def test_random_crop_asymmetric_padding_and_rect_size():
    x = np.arange(2 * 1 * 3 * 4, dtype=np.float32).reshape(2, 1, 3, 4)
    crop = RandomCrop((3, 2), padding=(1, 0, 0, 2))  # left 1, top 0, right 0, bottom 2
    padded = crop.pad(x)
    assert padded.shape == (2, 1, 5, 5)
    np.testing.assert_array_equal(padded[:, :, :3, 1:], x)
    assert padded[:, :, 3:].sum() == 0 and padded[:, :, :, 0].sum() == 0
    out = crop(x, FixedRng(integers=[[2, 0], [3, 1]]))
    np.testing.assert_array_equal(out[0], padded[0, :, 2:5, 3:5])
    np.testing.assert_array_equal(out[1], padded[1, :, 0:3, 1:3])


def test_random_crop_3d_batch_and_uint8():
    x = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    out = RandomCrop(28, padding=2)(x, np.random.default_rng(0))
    assert out.shape == (5, 28, 28) and out.dtype == np.uint8


def test_random_crop_errors():
    with pytest.raises(ValueError, match="larger than padded"):
        RandomCrop(40)(np.zeros((1, 1, 32, 32)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="padding"):
        RandomCrop(32, padding=-1)
    with pytest.raises(ValueError, match="expected a batch"):
        RandomCrop(2)(np.zeros((2, 2)), np.random.default_rng(0))


def test_horizontal_flip_hand_computed():
    x = np.array([[[[1, 2, 3]]], [[[4, 5, 6]]], [[[7, 8, 9]]]], dtype=np.float32)
    out = RandomHorizontalFlip(0.5)(x, FixedRng(random=[[0.1, 0.9, 0.4]]))
    np.testing.assert_array_equal(out[:, 0, 0], [[3, 2, 1], [4, 5, 6], [9, 8, 7]])
    np.testing.assert_array_equal(x[0, 0, 0], [1, 2, 3])  # input untouched


def test_vertical_flip_hand_computed():
    x = np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)
    out = RandomVerticalFlip(1.0)(x, np.random.default_rng(0))
    np.testing.assert_array_equal(out[0, 0], [[3, 4], [1, 2]])


def test_flip_probability_extremes_and_loop():
    x = np.random.default_rng(0).random((64, 3, 4, 5), dtype=np.float32)
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0)(x, np.random.default_rng(0)), x)
    np.testing.assert_array_equal(
        RandomHorizontalFlip(1.0)(x, np.random.default_rng(0)), x[..., ::-1]
    )
    out = RandomHorizontalFlip()(x, np.random.default_rng(3))
    flip = np.random.default_rng(3).random(64) < 0.5
    assert 0 < flip.sum() < 64
    for i in range(64):
        np.testing.assert_array_equal(out[i], x[i, :, :, ::-1] if flip[i] else x[i])


def test_normalize_hand_computed():
    x = np.array([[[[0.5]], [[1.0]]]], dtype=np.float32)  # (1, 2, 1, 1)
    out = Normalize((0.5, 0.25), (0.5, 0.25))(x)
    np.testing.assert_allclose(out.ravel(), [0.0, 3.0])
    assert out.dtype == np.float32
    x = np.full((2, 3, 2, 2), 0.6, dtype=np.float32)
    mean, std = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
    out = Normalize(mean, std)(x)
    for c in range(3):
        np.testing.assert_allclose(out[:, c], (0.6 - mean[c]) / std[c], rtol=1e-6)


def test_normalize_errors():
    with pytest.raises(TypeError, match="ToFloat"):
        Normalize((0.5,), (0.5,))(np.zeros((1, 1, 2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="channels"):
        Normalize((0.5, 0.5), (0.5, 0.5))(np.zeros((1, 3, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="positive"):
        Normalize((0.5,), (0.0,))


def test_to_float_matches_division_by_255():
    x = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    out = ToFloat()(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, x.astype(np.float32) / np.float32(255))
    assert out.max() == 1.0 and out.min() == 0.0


def test_compose_shares_one_rng_in_order():
    x = np.random.default_rng(0).integers(0, 256, (8, 3, 32, 32), dtype=np.uint8)
    t = Compose(
        [
            RandomCrop(32, padding=4),
            RandomHorizontalFlip(),
            ToFloat(),
            Normalize((0.5,) * 3, (0.25,) * 3),
        ]
    )
    out = t(x, np.random.default_rng(42))
    rng = np.random.default_rng(42)
    step = RandomCrop(32, padding=4)(x, rng)
    step = RandomHorizontalFlip()(step, rng)
    step = (step.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.25)
    np.testing.assert_array_equal(out, step)
    np.testing.assert_array_equal(t(x, np.random.default_rng(42)), out)
    assert not np.array_equal(t(x, np.random.default_rng(43)), out)
    assert "RandomCrop" in repr(t)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 6),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    pad=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_crop_property(n, h, w, pad, seed):
    x = np.random.default_rng(seed).random((n, 2, h, w)).astype(np.float32)
    out = RandomCrop((h, w), padding=pad)(x, np.random.default_rng(seed))
    assert out.shape == x.shape
    # every crop is a window of the padded image: its values are x's or zeros
    rng = np.random.default_rng(seed)
    top, left = rng.integers(0, 2 * pad + 1, n), rng.integers(0, 2 * pad + 1, n)
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    for i in range(n):
        np.testing.assert_array_equal(
            out[i], padded[i, :, top[i] : top[i] + h, left[i] : left[i] + w]
        )


def test_random_crop_outputs_do_not_share_memory_and_pickle():
    import pickle

    crop = RandomCrop(4, padding=2)
    a = np.ones((3, 1, 4, 4), dtype=np.float32)
    first = crop(a, np.random.default_rng(0))
    kept = first.copy()
    second = crop(a * 5, np.random.default_rng(0))
    np.testing.assert_array_equal(first, kept)  # the reused pad buffer is not the output
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(second, kept * 5)
    # a buffer of another shape / dtype is rebuilt with the fill value
    wide = RandomCrop(2, padding=1, fill=7)(np.zeros((1, 1, 2, 2), np.int64), FixedRng([[0], [0]]))
    np.testing.assert_array_equal(wide[0, 0], [[7, 7], [7, 0]])
    clone = pickle.loads(pickle.dumps(crop))
    np.testing.assert_array_equal(clone(a, np.random.default_rng(0)), kept)
