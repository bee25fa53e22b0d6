"""Shared helpers of lucid-compare's tests: tiny, fast run arguments and the shared data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

#: a run that takes a few seconds: 128 training images, batches of 32, 1 thread each, and
#: no trajectory check (its five runs are tested on their own: test_compare_trajectory.py)
TINY = ["--subset", "128", "--test-subset", "100", "--batch-size", "32", "--epochs", "1",
        "--threads", "1", "--no-progress", "--trajectory-steps", "0"]

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def read_json(path):
    return json.loads(Path(path).read_text())


@pytest.fixture
def tiny():
    return list(TINY)
