"""Kubernetes' URL library; examples from urls.go's documentation."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.kyverno.cel import CelEvaluationError
from tests.analyzers.kyverno_cel.cel_helpers import evaluate


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("https://example.com/", True),
        ("https://user:pass@example.com:80/path?query=val#fragment", True),
        ("/absolute-path", True),
        ("https://[::1]:80/", True),
        ("../relative-path", False),
        ("example.com:80", True),  # Go reads "example.com" as a scheme, "80" as opaque
        ("https://a:b:c/", False),
        ("", False),
        ("https://example.com:port/", False),
        ("https://example.com/%zz", False),
    ],
)
def test_is_url(text: str, valid: bool) -> None:
    assert evaluate(f"isURL('{text}')") is valid


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("url('https://example.com/').getScheme()", "https"),
        ("url('HTTPS://example.com/').getScheme()", "https"),
        ("url('/path').getScheme()", ""),
        ("url('https://example.com:80/').getHost()", "example.com:80"),
        ("url('https://[::1]:80/').getHost()", "[::1]:80"),
        ("url('https://example.com:80/').getHostname()", "example.com"),
        ("url('https://[::1]:80/').getHostname()", "::1"),
        ("url('https://example.com:80/').getPort()", "80"),
        ("url('https://example.com/').getPort()", ""),
        ("url('https://example.com/path').getEscapedPath()", "/path"),
        ("url('https://example.com/path with spaces/').getEscapedPath()", "/path%20with%20spaces/"),
        ("url('https://example.com/a%2Fb').getEscapedPath()", "/a%2Fb"),
        ("url('https://example.com/').getEscapedPath()", "/"),
        (
            "url('https://example.com/path?k1=a&k2=b&k2=c').getQuery()",
            {"k1": ["a"], "k2": ["b", "c"]},
        ),
        ("url('https://example.com/').getQuery()", {}),
        ("url('https://example.com/path?').getQuery()", {}),
        (
            "url('https://example.com/path?key with spaces=value with spaces').getQuery()",
            {"key with spaces": ["value with spaces"]},
        ),
        ("url('https://example.com').getEscapedPath()", ""),
        ("url('/path').getHost()", ""),
        ("url('https://127.0.0.1:80/').getHostname()", "127.0.0.1"),
        ("url('https://example.com/p#frag').getEscapedPath()", "/p"),
    ],
)
def test_url_parts(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


def test_url_conversion_error() -> None:
    with pytest.raises(CelEvaluationError, match="invalid URI for request"):
        evaluate("url('../relative').getScheme() == ''")
