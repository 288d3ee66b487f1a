"""Kubernetes' quantity library (k8s.io/apiserver/pkg/cel/library/quantity.go).

A quantity is parsed as resource.ParseQuantity does (``1.5Gi``, ``100m``, ``1e3``; ``200K``
and ``Mi`` are errors; values finer than 1n round up to 1n) and kept as an exact rational
in a tagged map: ``{"@celType": "kubernetes.Quantity", "value": "3/2"}``. Kubernetes
quantities have no string conversion in CEL, so the canonical value is all there is to
keep, and equal quantities are equal maps. ``mul`` is supported; ``div`` and ``divInt``
(newer Kubernetes) are not.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction
from typing import Any

from bot.analyzers.kyverno.cel.libs.base import (
    Function,
    LibraryError,
    Method,
    expect,
    register_comparator,
    tagged,
)

TAG = "kubernetes.Quantity"

_NUMBER = re.compile(r"([+-]?)(\d+\.?\d*|\.\d+)([eEinumkKMGTP]*[-+]?\d*)")
_DECIMAL_SUFFIXES = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_NANO = Fraction(1, 10**9)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Fraction:
    """The exact value of a Kubernetes quantity string; LibraryError if it is not one."""
    match = _NUMBER.fullmatch(text)
    if match is None:
        raise LibraryError(f"quantities must match the regular expression: {text!r}")
    sign, number, suffix = match.groups()
    value = Fraction(number)
    if suffix in _DECIMAL_SUFFIXES:
        value *= Fraction(10) ** _DECIMAL_SUFFIXES[suffix]
    elif suffix in _BINARY_SUFFIXES:
        value *= 2 ** _BINARY_SUFFIXES[suffix]
    elif suffix[:1] in ("e", "E") and re.fullmatch(r"[-+]?\d+", suffix[1:]):
        value *= Fraction(10) ** int(suffix[1:])
    else:
        raise LibraryError(f"unable to parse quantity's suffix: {text!r}")
    if sign == "-":
        value = -value
    if value.denominator > 1 and (value / _NANO).denominator > 1:
        # Kubernetes keeps nothing below 1n: it rounds away from zero to the next nano.
        nanos = value / _NANO
        rounded = math.ceil(abs(nanos))
        value = (rounded if value > 0 else -rounded) * _NANO
    return value


def make(value: Fraction) -> dict[str, Any]:
    return tagged(TAG, value=str(value))


def value_of(quantity: Any) -> Fraction:
    return _fraction(expect(quantity, TAG, "quantity")["value"])


@functools.lru_cache(maxsize=4096)
def _fraction(text: str) -> Fraction:
    # Policies compare the same few quantities over and over; Fraction() parsing is slow.
    return Fraction(text)


def quantity(text: str) -> dict[str, Any]:
    return make(parse(text))


def is_quantity(text: str) -> bool:
    try:
        parse(text)
    except LibraryError:
        return False
    return True


def compare(left: Any, right: Any) -> int:
    a, b = value_of(left), value_of(right)
    return (a > b) - (a < b)


def sign(q: Any) -> int:
    value = value_of(q)
    return (value > 0) - (value < 0)


def is_integer(q: Any) -> bool:
    value = value_of(q)
    return value.denominator == 1 and _INT64_MIN <= value <= _INT64_MAX


def as_integer(q: Any) -> int:
    if not is_integer(q):
        raise LibraryError("cannot convert value to integer")
    return int(value_of(q))


def as_approximate_float(q: Any) -> float:
    value = value_of(q)
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def add(q: Any, other: Any) -> dict[str, Any]:
    return make(value_of(q) + _operand(other))


def sub(q: Any, other: Any) -> dict[str, Any]:
    return make(value_of(q) - _operand(other))


def mul(q: Any, factor: int) -> dict[str, Any]:
    return make(value_of(q) * factor)


def _operand(other: Any) -> Fraction:
    if isinstance(other, int) and not isinstance(other, bool):
        return Fraction(other)
    return value_of(other)


register_comparator(TAG, compare)

FUNCTIONS = (
    Function("quantity", "string_to_quantity", ("string",), "map", quantity),
    Function("isQuantity", "is_quantity_string", ("string",), "bool", is_quantity),
    # Kubernetes declares sign as a global overload; policies call it as a method too.
    Function("sign", "quantity_sign_global", ("map",), "int", sign),
)

METHODS = (
    Method("sign", TAG, (), "int", sign),
    Method("isGreaterThan", TAG, ("map",), "bool", lambda a, b: compare(a, b) == 1),
    Method("isLessThan", TAG, ("map",), "bool", lambda a, b: compare(a, b) == -1),
    Method("compareTo", TAG, ("map",), "int", compare),
    Method("asApproximateFloat", TAG, (), "double", as_approximate_float),
    Method("asInteger", TAG, (), "int", as_integer),
    Method("isInteger", TAG, (), "bool", is_integer),
    Method("add", TAG, ("map",), "map", add),
    Method("add", TAG, ("int",), "map", add),
    Method("sub", TAG, ("map",), "map", sub),
    Method("sub", TAG, ("int",), "map", sub),
    Method("mul", TAG, ("int",), "map", mul),
)
