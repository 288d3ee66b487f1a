"""Kubernetes' list library (isSorted, sum, min, max, indexOf, lastIndexOf)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.kyverno.cel import CelEvaluationError
from tests.analyzers.kyverno_cel.cel_helpers import evaluate


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[1, 2, 3].isSorted()", True),
        ("[1, 3, 2].isSorted()", False),
        ("['a', 'b', 'b'].isSorted()", True),
        ("[].isSorted()", True),
        ("[duration('1s'), duration('1m')].isSorted()", True),
        ("[quantity('1Gi'), quantity('2G')].isSorted()", True),
        ("[semver('1.10.0'), semver('1.9.0')].isSorted()", False),
    ],
)
def test_is_sorted(expression: str, expected: bool) -> None:
    assert evaluate(expression) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[1, 2, 3].sum()", 6),
        ("[1.5, 2.5].sum()", 4.0),
        ("[].sum()", 0),
        ("[1u, 2u].sum() == 3u", True),
        ("object.spec.containers.map(c, c.name.size()).sum()", 10),
    ],
)
def test_sum(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize("function", ["sum", "min", "max"])
def test_durations_are_refused_by_sum_min_max(function: str) -> None:
    # A documented limitation: cel-expr-python cannot return a duration from a dyn function.
    with pytest.raises(CelEvaluationError, match="durations or timestamps is not supported"):
        evaluate(f"[duration('1s'), duration('2s')].{function}() == duration('3s')")


def test_sum_of_non_numbers_is_an_error() -> None:
    with pytest.raises(CelEvaluationError, match="no such overload"):
        evaluate("['a', 'b'].sum() == 'ab'")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[3, 1, 2].min()", 1),
        ("[3, 1, 2].max()", 3),
        ("['b', 'a'].min()", "a"),
        ("[1.5, 0.5].max()", 1.5),
        ("[quantity('1Gi'), quantity('1G')].min() == quantity('1G')", True),
    ],
)
def test_min_max(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize("function", ["min", "max"])
def test_min_max_of_an_empty_list_is_an_error(function: str) -> None:
    with pytest.raises(CelEvaluationError, match=f"{function} called on empty list"):
        evaluate(f"[].{function}() == 0")


def test_min_of_mixed_types_is_an_error() -> None:
    with pytest.raises(CelEvaluationError, match="cannot compare"):
        evaluate("[1, dyn('a')].min() == 1")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[1, 2, 2, 3].indexOf(2)", 1),
        ("[1, 2, 2, 3].lastIndexOf(2)", 2),
        ("[1, 2].indexOf(5)", -1),
        ("[1, 2].lastIndexOf(5)", -1),
        ("['a', 'b'].indexOf('b')", 1),
        ("[1.0, 2.0].indexOf(dyn(2))", 1),  # numeric equality across types
        ("[true, false].indexOf(dyn(0))", -1),  # a bool is not a number
        ("object.spec.containers.map(c, c.name).indexOf('sidecar')", 1),
        ("'banana'.indexOf('an')", 1),  # the strings overload still works
        ("'banana'.lastIndexOf('an')", 3),
    ],
)
def test_index_of(expression: str, expected: int) -> None:
    assert evaluate(expression) == expected
