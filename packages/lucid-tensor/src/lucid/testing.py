"""Testing helpers for code built on Lucid (as ``torch.testing``).

The error policy (lucid-tensor's README, "Errors") is a table: each kind of mistake raises
one Lucid type that is also the Python built-in a PyTorch user catches, with the op's name
in its message. A package's tests write their own calls into a table of that shape,
``{row: (Lucid type, built-in, [(name in the message, call), ...])}``;
``error_policy_cases`` flattens it into cases and ``assert_error_policy`` checks one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lucid.errors import LucidError

__all__ = ["PolicyCase", "assert_error_policy", "error_policy_cases"]

Policy = dict[str, tuple[type, type, list[tuple[str, Callable[[], object]]]]]


@dataclass(frozen=True)
class PolicyCase:
    """One mistake: ``call()`` must raise ``error``, which is also a LucidError and a
    ``builtin``, with ``name`` (a regular expression) found in its message. ``str`` of a
    case is its ``id``, unique within its table (for test reports)."""

    id: str
    error: type
    builtin: type
    name: str
    call: Callable[[], object]

    def __str__(self) -> str:
        return self.id


def error_policy_cases(policy: Policy) -> list[PolicyCase]:
    """The table's calls, row by row, each a case with id ``"<row>-<name>-<index>"``."""
    flat = [(row, typ, builtin, name, call)
            for row, (typ, builtin, calls) in policy.items() for name, call in calls]
    return [PolicyCase(f"{row}-{name}-{i}", typ, builtin, name, call)
            for i, (row, typ, builtin, name, call) in enumerate(flat)]


def assert_error_policy(case: PolicyCase) -> BaseException:
    """Run ``case.call()``; return what it raised if that is ``case.error``, a LucidError and
    a ``case.builtin`` naming ``case.name``, else raise AssertionError saying which part
    failed. Another exception type propagates unchanged (as in ``pytest.raises``)."""
    try:
        case.call()
    except case.error as err:
        if not isinstance(err, LucidError) or not isinstance(err, case.builtin):
            raise AssertionError(f"{case.id}: {type(err).__name__} is not both a LucidError "
                                 f"and a {case.builtin.__name__}") from err
        if not re.search(case.name, str(err)):
            raise AssertionError(f"{case.id}: the message {str(err)!r} does not name "
                                 f"{case.name!r}") from err
        return err
    raise AssertionError(f"{case.id}: expected {case.error.__name__}; nothing was raised")
