"""Hostile and broken input: crafted pickles, damaged caches, stale temporaries, bad labels."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from lucid.datasets import CorruptFileError, UnsafePickleError, safe_loads


# ----- pickles: linear-time, bounded-depth structure check ------------------------------
def _nested_lists(depth: int) -> bytes:
    """A protocol-2 pickle of ``depth`` nested lists, built from opcodes (no recursion)."""
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


def test_shared_sublists_are_checked_once():
    leaf = [1]
    for _ in range(30):  # 2**30 paths, 31 distinct lists
        leaf = [leaf, leaf]
    out = safe_loads(pickle.dumps({b"x": leaf}, protocol=4))
    assert out[b"x"][0] is out[b"x"][1]


def test_deep_shared_dag_is_refused_fast():
    leaf = [1]
    for _ in range(64):
        leaf = [leaf, leaf]
    with pytest.raises(CorruptFileError, match="nested deeper"):
        safe_loads(pickle.dumps({b"x": leaf}, protocol=4))


def test_self_referencing_list_is_refused():
    a = []
    a.append(a)
    with pytest.raises(CorruptFileError, match="holds itself"):
        safe_loads(pickle.dumps(a, protocol=2), "cyc.pkl")


def test_5000_deep_nesting_is_refused_without_recursion_error():
    with pytest.raises(CorruptFileError, match="deep.pkl"):
        safe_loads(_nested_lists(5000), "deep.pkl")


def test_object_array_deep_inside_is_still_refused():
    obj = {b"data": [[np.array([1, None], dtype=object)]]}
    with pytest.raises(UnsafePickleError):
        safe_loads(pickle.dumps(obj, protocol=2))


def test_check_structure_refuses_object_array_and_accepts_cifar_shape():
    from lucid.datasets.safe_pickle import check_structure

    with pytest.raises(UnsafePickleError, match="f.pkl"):
        check_structure({b"a": [(np.array([None], dtype=object),)]}, "f.pkl")
    check_structure({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]}, "ok")
