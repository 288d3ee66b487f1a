"""Kubernetes' regex library and the CEL regex extension (ValidatingPolicy)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.kyverno.cel import CelEvaluationError
from tests.analyzers.kyverno_cel.cel_helpers import evaluate


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'abc 123'.find('[0-9]+')", "123"),
        ("'abc'.find('[0-9]+')", ""),
        ("'123 abc 456'.findAll('[0-9]+')", ["123", "456"]),
        ("'123 abc 456'.findAll('[0-9]+', 1)", ["123"]),
        ("'123 abc 456'.findAll('[0-9]+', 0)", []),
        ("'123 abc 456'.findAll('[0-9]+', -1)", ["123", "456"]),
        ("'abc'.findAll('x')", []),
        ("object.spec.containers[0].image.find('[^/]+$')", "web:1.4.2"),
        ("'Hello'.find('(?i)h')", "H"),
    ],
)
def test_find_and_find_all(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


def test_invalid_regex_is_an_evaluation_error() -> None:
    with pytest.raises(CelEvaluationError, match="invalid regular expression"):
        evaluate("'abc'.find('(') == ''")


def test_matches_is_builtin() -> None:
    assert evaluate("'/var/run/docker.sock'.matches('^/var/run/.*\\\\.sock$')") is True


def test_regex_extension_in_validating_policy() -> None:
    assert evaluate("regex.extract('image:1.2', ':(.*)').value()") == "1.2"
    assert evaluate("regex.extractAll('a1b2', '[0-9]')") == ["1", "2"]
