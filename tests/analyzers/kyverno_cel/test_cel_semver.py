"""Kubernetes' semver library (version 1, with normalization)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.kyverno.cel import CelEvaluationError
from tests.analyzers.kyverno_cel.cel_helpers import evaluate


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("1.0.0", True),
        ("0.1.0-alpha.1", True),
        ("1.0.0+build.5", True),
        ("1.0.0-rc.1+sha.abc", True),
        ("hello", False),
        ("v1.0.0", False),
        ("1.0", False),
        ("01.1.1", False),
        ("1.0.0-01", False),
        ("1.0.0-", False),
        ("200K", False),
    ],
)
def test_is_semver(text: str, valid: bool) -> None:
    assert evaluate(f"isSemver('{text}')") is valid


@pytest.mark.parametrize(
    ("text", "valid"),
    [("v1.0", True), ("1.0", True), ("01.01.01", True), ("1.0-rc", False), ("x", False)],
)
def test_is_semver_normalized(text: str, valid: bool) -> None:
    assert evaluate(f"isSemver('{text}', true)") is valid


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("semver('1.2.3').major()", 1),
        ("semver('1.2.3').minor()", 2),
        ("semver('1.2.3').patch()", 3),
        ("semver('v1.0.0', true) == semver('1.0.0')", True),
        ("semver('1.0', true) == semver('1.0.0')", True),
        ("semver('01.01.01', true) == semver('1.1.1')", True),
        ("semver('1.2.3').compareTo(semver('1.2.3'))", 0),
        ("semver('1.2.3').compareTo(semver('2.0.0'))", -1),
        ("semver('1.2.3').compareTo(semver('0.1.2'))", 1),
        ("semver('1.10.0').isGreaterThan(semver('1.9.0'))", True),
        ("semver('1.0.0-alpha').isLessThan(semver('1.0.0'))", True),
        ("semver('1.0.0-alpha.1').isLessThan(semver('1.0.0-alpha.beta'))", True),
        ("semver('1.0.0-beta.2').isLessThan(semver('1.0.0-beta.11'))", True),
        ("semver('1.0.0+a') == semver('1.0.0+b')", True),  # build metadata is ignored
    ],
)
def test_semver_functions(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


def test_semver_parse_error_names_the_problem() -> None:
    with pytest.raises(CelEvaluationError, match="leading zeroes"):
        evaluate("semver('01.0.0').major() == 1")
