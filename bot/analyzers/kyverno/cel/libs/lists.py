"""Kubernetes' list library: isSorted, sum, min, max, indexOf, lastIndexOf.

Semantics of k8s.io/apiserver/pkg/cel/library/lists.go. Kubernetes declares these on
``list(A)`` with a type parameter; Python overloads cannot take type parameters, so they
are declared on ``list(dyn)`` and the result is ``dyn``: the values are the same, the
static type is less precise (``[1u, 2u].sum()`` is the int 3, equal to ``3u``). ``sum``,
``min`` and ``max`` of durations or timestamps are refused with an error: a Python
function declared ``dyn`` cannot return those (``isSorted`` and ``indexOf`` work).
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Sequence
from typing import Any

from bot.analyzers.kyverno.cel.libs.base import (
    Function,
    LibraryError,
    cel_compare,
    cel_equal,
    describe,
)


def is_sorted(values: Sequence[Any]) -> bool:
    return all(cel_compare(a, b) <= 0 for a, b in itertools.pairwise(values))


def total(values: Sequence[Any]) -> Any:
    if not values:
        return 0
    _refuse_time_values(values, "sum")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return sum(values)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        if not all(isinstance(v, float) for v in values):
            raise LibraryError("no such overload: sum of a list mixing int and double")
        return float(sum(values))
    kinds = sorted({describe(v) for v in values})
    raise LibraryError(f"no such overload: sum of list({', '.join(kinds)})")


def _refuse_time_values(values: Sequence[Any], function: str) -> None:
    # cel-expr-python converts a Python timedelta/datetime back to CEL only from a function
    # declared to return duration/timestamp, and these are declared on list(dyn) -> dyn.
    if any(isinstance(v, datetime.timedelta | datetime.datetime) for v in values):
        raise LibraryError(
            f"{function}() of durations or timestamps is not supported by this engine"
        )


def minimum(values: Sequence[Any]) -> Any:
    if not values:
        raise LibraryError("min called on empty list")
    _refuse_time_values(values, "min")
    best = values[0]
    for value in values[1:]:
        if cel_compare(value, best) < 0:
            best = value
    return best


def maximum(values: Sequence[Any]) -> Any:
    if not values:
        raise LibraryError("max called on empty list")
    _refuse_time_values(values, "max")
    best = values[0]
    for value in values[1:]:
        if cel_compare(value, best) > 0:
            best = value
    return best


def index_of(values: Sequence[Any], wanted: Any) -> int:
    for i, value in enumerate(values):
        if cel_equal(value, wanted):
            return i
    return -1


def last_index_of(values: Sequence[Any], wanted: Any) -> int:
    for i in range(len(values) - 1, -1, -1):
        if cel_equal(values[i], wanted):
            return i
    return -1


FUNCTIONS = (
    Function("isSorted", "k8s_list_is_sorted", ("list",), "bool", is_sorted, member=True),
    Function("sum", "k8s_list_sum", ("list",), "dyn", total, member=True),
    Function("min", "k8s_list_min", ("list",), "dyn", minimum, member=True),
    Function("max", "k8s_list_max", ("list",), "dyn", maximum, member=True),
    Function("indexOf", "k8s_list_index_of", ("list", "dyn"), "int", index_of, member=True),
    Function(
        "lastIndexOf", "k8s_list_last_index_of", ("list", "dyn"), "int", last_index_of, member=True
    ),
)
