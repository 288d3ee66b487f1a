"""Kubernetes' quantity library; examples from quantity.go's documentation."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.kyverno.cel import CelEvaluationError
from tests.analyzers.kyverno_cel.cel_helpers import evaluate


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("1.3G", True),
        ("1.3Gi", True),
        ("10000k", True),
        ("100m", True),
        ("1e3", True),
        ("1E", True),
        (".5", True),
        ("-1.5Mi", True),
        ("1,3G", False),
        ("200K", False),
        ("Three", False),
        ("Mi", False),
        ("", False),
        ("1.2.3", False),
        ("1e", False),
    ],
)
def test_is_quantity(text: str, valid: bool) -> None:
    assert evaluate(f"isQuantity('{text}')") is valid


def test_quantity_parse_error() -> None:
    with pytest.raises(CelEvaluationError, match="200K"):
        evaluate("quantity('200K').sign() == 1")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("quantity('50000000G').isInteger()", True),
        ("quantity('50k').isInteger()", True),
        ("quantity('1.5').isInteger()", False),
        ("quantity('9999999999999999999999999999999999999G').isInteger()", False),
        ("quantity('50k').asInteger()", 50000),
        ("quantity('1Ki').asInteger()", 1024),
        ("quantity('50k').sub(20000).asApproximateFloat()", 30000.0),
        ("quantity('250m').asApproximateFloat()", 0.25),
        ("quantity('-5').sign()", -1),
        ("quantity('0').sign()", 0),
        ("quantity('5m').sign()", 1),
        ("sign(quantity('-1'))", -1),
        ("quantity('50k').add(quantity('20k')) == quantity('70k')", True),
        ("quantity('50k').add(20) == quantity('50020')", True),
        ("quantity('50k').sub(quantity('20k')) == quantity('30k')", True),
        ("quantity('50k').sub(20000) == quantity('30k')", True),
        ("quantity('50k').add(20).sub(quantity('100k')).sub(-50000) == quantity('20')", True),
        ("quantity('2Gi').mul(2) == quantity('4Gi')", True),
        ("quantity('1') == quantity('1000m')", True),
        ("quantity('1Ki') == quantity('1024')", True),
        ("quantity('0.0000000001').compareTo(quantity('1n'))", 0),  # rounds up to 1n
        ("quantity('200M').compareTo(quantity('0.2G'))", 0),
        ("quantity('50M').compareTo(quantity('50Mi'))", -1),
        ("quantity('50Mi').compareTo(quantity('50M'))", 1),
        ("quantity('150Mi').isGreaterThan(quantity('100Mi'))", True),
        ("quantity('50Mi').isGreaterThan(quantity('100Mi'))", False),
        ("quantity('50M').isLessThan(quantity('100M'))", True),
        ("quantity('100M').isLessThan(quantity('50M'))", False),
    ],
)
def test_quantity_functions(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


def test_as_integer_of_a_fraction_is_an_error() -> None:
    with pytest.raises(CelEvaluationError, match="cannot convert value to integer"):
        evaluate("quantity('1.5').asInteger() == 1")


def test_huge_quantity_float_is_infinite() -> None:
    assert evaluate("quantity('9e400').asApproximateFloat()") == float("inf")


def test_memory_limit_policy_expression() -> None:
    expression = (
        "object.spec.containers.all(c, "
        "quantity(c.resources.limits.memory).compareTo(quantity('1Gi')) <= 0)"
    )
    assert evaluate(expression) is True


def test_quantity_method_on_a_plain_map_is_an_error() -> None:
    with pytest.raises(CelEvaluationError, match="no such overload"):
        evaluate("object.metadata.labels.isInteger()")
