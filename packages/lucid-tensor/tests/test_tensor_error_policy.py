"""The error policy of lucid-tensor's README ("Errors"), row by row: for each kind of
mistake, ops from different modules raise the same Lucid type, which is also the Python
built-in a PyTorch user catches, and the message names the op."""

import lucid
import pytest
from lucid import creation, errors, serialization
from lucid.ops import arithmetic
from lucid.testing import assert_error_policy, error_policy_cases


def _x():
    return lucid.zeros(2, 3)


# (Lucid type, built-in, [(op name in the message, call), ...]): one row of the table each
POLICY = {
    "axis or index out of range": (lucid.LucidIndexError, IndexError, [
        ("sum", lambda: _x().sum(2)),                                   # reduction
        ("softmax", lambda: lucid.softmax(_x(), dim=-3)),
        ("cumsum", lambda: _x().cumsum(dim=5)),
        ("squeeze", lambda: _x().squeeze(2)),                           # shape
        ("concatenate", lambda: lucid.cat([_x(), _x()], 2)),
        ("stack", lambda: lucid.stack([_x()], -4)),
        ("transpose", lambda: _x().transpose(0, 3)),
        ("gather", lambda: _x().gather(2, lucid.tensor([[0]]))),        # indexing
        ("index_select", lambda: _x().index_select(-3, lucid.tensor([0]))),
        ("getitem", lambda: _x()[2]),
        ("scatter", lambda: _x().scatter(2, lucid.tensor([[0]]), 1.0)),  # scatter
        ("sort", lambda: _x().sort(dim=2)),                             # sorting
        ("topk", lambda: _x().topk(4)),
        ("kthvalue", lambda: _x().kthvalue(1, dim=3)),
        ("normalize", lambda: lucid.normalize(_x(), dim=2)),             # nn distance
        ("cosine_similarity", lambda: lucid.cosine_similarity(_x(), _x(), dim=-3)),
    ]),
    "wrong argument type or missing argument": (lucid.ArgumentTypeError, TypeError, [
        ("clamp", lambda: _x().clamp()),                                # elementwise
        ("sum", lambda: _x().sum(axis=0.5)),                            # reduction
        ("argmax", lambda: _x().argmax(axis=(0, 1))),
        ("max", lambda: _x().max(dim="0")),
        ("softmax", lambda: lucid.softmax(_x(), dim=(0, 1))),
        ("transpose", lambda: _x().transpose(0)),                       # shape
        ("concatenate", lambda: lucid.cat(_x())),
        ("unsqueeze", lambda: _x().unsqueeze(1.0)),
        ("zeros", lambda: lucid.zeros(2.5, 3)),                          # creation
        ("scatter", lambda: _x().scatter(0, lucid.tensor([[0]]))),      # scatter
        ("topk", lambda: _x().topk(1.5)),                               # sorting
        ("randint", lambda: lucid.randint(0, 2.5, (2,))),                 # random
        ("randn_like", lambda: lucid.randn_like([1.0, 2.0])),
        ("randperm", lambda: lucid.randperm(2.5)),
        ("bmm", lambda: lucid.bmm(lucid.zeros(1, 2, 2), [[[1.0]]])),      # linalg
        ("einsum", lambda: lucid.einsum(_x(), "ij->")),
        ("expand_as", lambda: _x().expand_as((2, 3))),                  # views
        ("dropout", lambda: lucid.dropout([1.0], 0.5)),                 # nn
        ("embedding", lambda: lucid.embedding([0], _x())),
        ("conv_transpose2d", lambda: lucid.conv_transpose2d([[1.0]], lucid.zeros(1, 1, 1, 1))),
    ]),
    "dtype the op refuses": (lucid.DTypeError, TypeError, [
        ("softmax", lambda: lucid.softmax(lucid.zeros(2, dtype=lucid.int32))),
        ("gather", lambda: _x().gather(0, lucid.tensor([[0.5]]))),
        ("norm", lambda: lucid.zeros(2, dtype=lucid.int32).norm()),
        ("gradients", lambda: lucid.zeros(2, dtype=lucid.int32).requires_grad_()),
        ("invert", lambda: ~_x()),
    ]),
    "shapes that do not fit": (lucid.ShapeError, ValueError, [
        ("reshape", lambda: _x().reshape(7)),
        ("concatenate", lambda: lucid.cat([_x(), lucid.zeros(2, 4)])),
        ("matmul", lambda: _x() @ _x()),
        ("gather", lambda: _x().gather(1, lucid.tensor([0, 1]))),
        ("max", lambda: lucid.zeros(0, 3).max(0)),
        ("add", lambda: _x() + lucid.zeros(4)),
    ]),
    "conflicting or invalid argument values": (lucid.ArgumentError, ValueError, [
        ("sum", lambda: _x().sum(axis=0, dim=1)),                       # reduction
        ("sum", lambda: _x().sum(axis=(1, -1))),
        ("var", lambda: _x().var(ddof=1, correction=0)),
        ("norm", lambda: _x().norm(p=-1)),
        ("cumsum", lambda: _x().cumsum(axis=0, dim=0)),
        ("squeeze", lambda: _x().squeeze(0, dim=0)),                    # shape
        ("cat", lambda: lucid.cat([_x()], 0, axis=0)),
        ("chunk", lambda: _x().chunk(0)),
        ("pad", lambda: lucid.pad(_x(), (1, 1), mode="wrap")),
        ("sort", lambda: _x().sort(dim=0, axis=0)),                     # sorting
        ("randint", lambda: lucid.randint(5, 5, (2,))),                 # random
        ("einsum", lambda: lucid.einsum("ij->ii", _x())),               # linalg
        ("isclose", lambda: lucid.isclose(_x(), _x(), atol=-1)),        # comparison
        ("cross_entropy", lambda: lucid.cross_entropy(_x(), lucid.tensor([0, 1]),  # nn loss
                                                      reduction="avg")),
        ("cross_entropy", lambda: lucid.cross_entropy(_x(), lucid.tensor([0, 1]),
                                                      label_smoothing=1.5)),
        ("kl_div", lambda: lucid.kl_div(_x(), _x(), reduction="avg")),
        ("huber_loss", lambda: lucid.huber_loss(_x(), _x(), delta=0)),
        ("gelu", lambda: lucid.gelu(_x(), approximate="erf")),           # nn activation
        ("normalize", lambda: lucid.normalize(_x(), p=0)),               # nn distance
        ("dropout", lambda: lucid.dropout(_x(), 1.5)),                   # nn dropout
        ("dropout2d", lambda: lucid.dropout2d(lucid.zeros(1, 2, 3, 3), -0.1)),
        ("interpolate", lambda: lucid.interpolate(lucid.zeros(1, 1, 4), mode="cubic")),
        ("max_pool2d", lambda: lucid.max_pool2d(lucid.zeros(1, 1, 4, 4), (2, 2, 2))),
    ]),
}


@pytest.mark.parametrize("case", error_policy_cases(POLICY), ids=str)
def test_each_mistake_raises_its_type(case):
    assert_error_policy(case)


def _case(error, builtin, name, call):
    return error_policy_cases({"row": (error, builtin, [(name, call)])})[0]


def _raise(err):
    def call():
        raise err
    return call


def test_the_policy_check_fails_on_each_kind_of_miss():
    assert_error_policy(_case(lucid.ShapeError, ValueError, "reshape", lambda: _x().reshape(7)))
    misses = {
        "nothing was raised": _case(lucid.ShapeError, ValueError, "f", lambda: None),
        "not both a LucidError": _case(ValueError, ValueError, "f", _raise(ValueError("f"))),
        "not both a LucidError and a TypeError": _case(
            lucid.ShapeError, TypeError, "f", _raise(lucid.ShapeError("f"))),
        "does not name 'g'": _case(lucid.ShapeError, ValueError, "g", _raise(
            lucid.ShapeError("f"))),
    }
    for says, case in misses.items():
        with pytest.raises(AssertionError, match=says):
            assert_error_policy(case)
    with pytest.raises(KeyError):  # another type propagates
        assert_error_policy(_case(lucid.ShapeError, ValueError, "f", _raise(KeyError("f"))))


@pytest.mark.parametrize("typ, builtin", [
    (lucid.LucidIndexError, IndexError), (lucid.ArgumentTypeError, TypeError),
    (lucid.DTypeError, TypeError), (lucid.ShapeError, ValueError),
    (lucid.ArgumentError, ValueError), (lucid.TensorTooLargeError, MemoryError),
    (lucid.IntegerDivisionByZeroError, ZeroDivisionError), (lucid.DeviceError, RuntimeError),
    (lucid.GradError, RuntimeError), (lucid.CheckpointError, ValueError),
    (lucid.CheckpointWriteError, OSError),
])
def test_every_type_is_a_lucid_error_and_its_builtin(typ, builtin):
    assert issubclass(typ, lucid.LucidError) and issubclass(typ, builtin)
    assert getattr(errors, typ.__name__) is typ  # defined in lucid.errors


def test_the_other_rows():
    with pytest.raises(lucid.TensorTooLargeError, match="zeros") as info:
        lucid.zeros(10**6, 10**6)
    assert isinstance(info.value, MemoryError) and isinstance(info.value, lucid.ShapeError)
    with pytest.raises(ZeroDivisionError, match="floor_divide"):
        lucid.tensor([1, 2]) // 0
    x = lucid.ones(2, requires_grad=True)
    with pytest.raises(lucid.GradError, match="scalar"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="backward"):
        lucid.ones(2).sum().backward()


def test_types_stay_importable_where_they_were_defined():
    assert creation.TensorTooLargeError is errors.TensorTooLargeError
    assert creation.ArgumentError is errors.ArgumentError
    assert arithmetic.IntegerDivisionByZeroError is errors.IntegerDivisionByZeroError
    assert serialization.CheckpointWriteError is errors.CheckpointWriteError
