"""Kubernetes' format library, including its optional-returning forms."""

from __future__ import annotations

import pytest

from tests.analyzers.kyverno_cel.cel_helpers import evaluate

LABEL_ERROR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


@pytest.mark.parametrize(
    ("fmt", "value", "valid"),
    [
        ("dns1123Label", "my-label-name", True),
        ("dns1123Label", "My-Label", False),
        ("dns1123Label", "a.b", False),
        ("dns1123Label", "a" * 64, False),
        ("dns1123Subdomain", "apiextensions.k8s.io", True),
        ("dns1123Subdomain", "-bad.io", False),
        ("dns1035Label", "my-label-name", True),
        ("dns1035Label", "1abc", False),
        ("qualifiedName", "apiextensions.k8s.io/v1beta1", True),
        ("qualifiedName", "MyName", True),
        ("qualifiedName", "a/b/c", False),
        ("qualifiedName", "/name", False),
        ("dns1123LabelPrefix", "my-label-prefix-", True),
        ("dns1123SubdomainPrefix", "mysubdomain.prefix.-", True),
        ("dns1035LabelPrefix", "my-label-prefix-", True),
        ("labelValue", "", True),
        ("labelValue", "my_value", True),
        ("labelValue", "-bad", False),
        ("uri", "http://example.com", True),
        ("uri", "relative/path", False),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", True),
        ("uuid", "not-a-uuid", False),
        ("byte", "aGVsbG8=", True),
        ("byte", "not base64!", False),
        ("date", "2021-01-01", True),
        ("date", "2021-13-01", False),
        ("datetime", "2021-01-01T00:00:00Z", True),
        ("datetime", "yesterday", False),
    ],
)
def test_format_validate(fmt: str, value: str, valid: bool) -> None:
    has_errors = evaluate(f"format.{fmt}().validate('{value}').hasValue()")
    assert has_errors is not valid


def test_validate_returns_apimachinery_messages() -> None:
    assert evaluate("format.dns1123Label().validate('My.Label').value()") == [LABEL_ERROR]
    assert evaluate("format.dns1123Label().validate('a.b').value()") == ["must not contain dots"]
    assert evaluate(f"format.dns1123Label().validate('{'a' * 64}').value()") == [
        "must be no more than 63 characters"
    ]


def test_format_named() -> None:
    assert evaluate("format.named('dns1123Label').hasValue()") is True
    assert evaluate("format.named('nope').hasValue()") is False
    expression = "format.named('labelValue').value().validate(object.metadata.labels.app)"
    assert evaluate(f"{expression}.hasValue()") is False


def test_format_in_a_message_expression() -> None:
    expression = (
        "format.dns1123Label().validate(object.metadata.name + '_x').orValue([]).join(', ')"
    )
    assert evaluate(expression).startswith("a lowercase RFC 1123 label")
