"""Kubernetes' IP and CIDR libraries; examples from ip.go and cidr.go."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.kyverno.cel import CelEvaluationError
from tests.analyzers.kyverno_cel.cel_helpers import evaluate


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("fe80::1%eth0", False),
        ("::ffff:1.2.3.4", False),
        ("1.01.1.1", False),
        ("256.0.0.1", False),
        ("x", False),
    ],
)
def test_is_ip(text: str, valid: bool) -> None:
    assert evaluate(f"isIP('{text}')") is valid


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("ip.isCanonical('127.0.0.1')", True),
        ("ip.isCanonical('2001:db8::abcd')", True),
        ("ip.isCanonical('2001:DB8::ABCD')", False),
        ("ip.isCanonical('2001:db8:0:0:0:0:0:abcd')", False),
        ("ip('127.0.0.1').family()", 4),
        ("ip('::1').family()", 6),
        ("ip('0.0.0.0').isUnspecified()", True),
        ("ip('::').isUnspecified()", True),
        ("ip('127.0.0.1').isUnspecified()", False),
        ("ip('127.0.0.1').isLoopback()", True),
        ("ip('::1').isLoopback()", True),
        ("ip('10.0.0.1').isLoopback()", False),
        ("ip('224.0.0.1').isLinkLocalMulticast()", True),
        ("ip('ff02::1').isLinkLocalMulticast()", True),
        ("ip('224.0.1.1').isLinkLocalMulticast()", False),
        ("ip('169.254.169.254').isLinkLocalUnicast()", True),
        ("ip('fe80::1').isLinkLocalUnicast()", True),
        ("ip('192.168.0.1').isLinkLocalUnicast()", False),
        ("ip('192.168.0.1').isGlobalUnicast()", True),  # netip counts private ranges
        ("ip('2001:db8::1').isGlobalUnicast()", True),
        ("ip('255.255.255.255').isGlobalUnicast()", False),
        ("ip('ff00::1').isGlobalUnicast()", False),
        ("string(ip('2001:DB8::1'))", "2001:db8::1"),
        ("ip('10.0.0.1') == ip('10.0.0.1')", True),
    ],
)
def test_ip_functions(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("192.168.0.0/24", True),
        ("192.168.0.1/24", True),
        ("::1/128", True),
        ("192.168.0.0/33", False),
        ("192.168.0.0/08", False),
        ("192.168.0.0", False),
        ("10.0.0.0/255.0.0.0", False),
        ("::ffff:1.2.3.4/120", False),
    ],
)
def test_is_cidr(text: str, valid: bool) -> None:
    assert evaluate(f"isCIDR('{text}')") is valid


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))", True),
        ("cidr('192.168.0.0/24').containsIP(ip('192.168.1.1'))", False),
        ("cidr('192.168.0.0/24').containsIP('192.168.0.1')", True),
        ("cidr('192.168.0.0/24').containsIP(ip('::1'))", False),
        ("cidr('192.168.0.0/24').containsCIDR(cidr('192.168.0.0/25'))", True),
        ("cidr('192.168.0.0/24').containsCIDR('192.168.0.0/23')", False),
        ("cidr('192.168.0.0/24').containsCIDR('192.168.0.0/24')", True),
        ("cidr('::1/128').containsCIDR('10.0.0.0/8')", False),
        ("cidr('192.168.0.1/24').ip() == ip('192.168.0.1')", True),
        ("string(cidr('192.168.0.1/24').masked())", "192.168.0.0/24"),
        ("cidr('192.168.0.1/24').masked() == cidr('192.168.0.0/24')", True),
        ("cidr('192.168.0.1/24').prefixLength()", 24),
        ("string(cidr('192.168.0.1/24'))", "192.168.0.1/24"),
        ("cidr('::1/128').ip().family()", 6),
    ],
)
def test_cidr_functions(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


def test_ip_conversion_errors() -> None:
    with pytest.raises(CelEvaluationError, match="IPv4-mapped IPv6 address"):
        evaluate("ip('::ffff:1.2.3.4').family() == 6")
    with pytest.raises(CelEvaluationError, match="zone value is not allowed"):
        evaluate("ip('fe80::1%eth0').family() == 6")
    with pytest.raises(CelEvaluationError, match="network address parse error"):
        evaluate("cidr('10.0.0.0').prefixLength() == 0")


def test_string_of_a_plain_map_is_an_error() -> None:
    with pytest.raises(CelEvaluationError, match="not an IP or CIDR"):
        evaluate("string(object.metadata.labels) == ''")
