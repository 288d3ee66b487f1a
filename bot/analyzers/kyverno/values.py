"""Scalar values as Kyverno compares them: wildcards, Kubernetes quantities, Go durations, the
operators of pattern strings, and Go's number formatting where Kyverno turns numbers into text.

Sources (kyverno/kyverno): ``pkg/engine/pattern/pattern.go``, ``pkg/engine/operator/operator.go``,
``ext/wildcard`` (IGLOU-EU/go-wildcard v1.0.3), k8s.io/apimachinery ``resource.ParseQuantity``,
Go's ``time.ParseDuration`` and ``strconv.FormatFloat``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, Literal

# ---------------------------------------------------------------------------------------------
# Wildcards


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    # go-wildcard: `*` any run (also empty), `?` exactly one character, everything else literal;
    # no escaping and no character classes (unlike fnmatch, `[` is an ordinary character).
    parts: list[str] = []
    for char in pattern:
        if char == "*":
            if not parts or parts[-1] != ".*":
                parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def has_wildcard(text: str) -> bool:
    """True when ``text`` contains a wildcard character (``*`` or ``?``)."""
    return "*" in text or "?" in text


def wildcard_match(pattern: str, text: str) -> bool:
    """go-wildcard ``Match(pattern, text)``: the empty pattern matches only ``""``."""
    if pattern == text or pattern == "*":
        return True
    if not pattern or not has_wildcard(pattern):
        return False
    return _wildcard_regex(pattern).fullmatch(text) is not None


# ---------------------------------------------------------------------------------------------
# Kubernetes quantities

_QUANTITY = re.compile(
    r"([+-]?)(\d+\.?\d*|\.\d+)"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?"
)
_BINARY_SUFFIX = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIX = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}


QuantityFormat = Literal["BinarySI", "DecimalSI", "DecimalExponent"]


@lru_cache(maxsize=4096)
def parse_quantity_with_format(text: str) -> tuple[Fraction, QuantityFormat] | None:
    """``resource.ParseQuantity``: the exact value and the format its suffix implies."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        return None
    sign, number, suffix = match.groups()
    value = Fraction(Decimal(number))
    fmt: QuantityFormat = "DecimalSI"
    if suffix:
        if suffix in _BINARY_SUFFIX:
            value *= _BINARY_SUFFIX[suffix]
            fmt = "BinarySI"
        elif suffix in _DECIMAL_SUFFIX:
            value *= _DECIMAL_SUFFIX[suffix]
        else:
            value *= Fraction(10) ** int(suffix[1:])
            fmt = "DecimalExponent"
    # Kubernetes keeps at most nano precision and rounds up (away from zero)
    nanos = value * 10**9
    if nanos.denominator != 1:
        value = Fraction(math.ceil(nanos), 10**9)
    return (-value if sign == "-" else value), fmt


def parse_quantity(text: str) -> Fraction | None:
    """``resource.ParseQuantity`` as an exact rational, or None when ``text`` is not a quantity
    (``500m``, ``1Gi``, ``2``, ``1e3``, ``.5``, ``-1.5k``)."""
    parsed = parse_quantity_with_format(text)
    return None if parsed is None else parsed[0]


_DECIMAL_SUFFIX_BY_EXPONENT = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G"}
_DECIMAL_SUFFIX_BY_EXPONENT.update({12: "T", 15: "P", 18: "E"})
_BINARY_SUFFIX_BY_POWER = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}


def format_quantity(value: Fraction, fmt: QuantityFormat = "DecimalSI") -> str:
    """``Quantity.String()``: the canonical text (``1536Mi``, ``1500m``, ``2k``, ``1e3``)."""
    if value == 0:
        return "0"
    if fmt == "BinarySI" and (-1024 < value < 1024 or value.denominator != 1):
        fmt = "DecimalSI"
    if fmt == "BinarySI":
        amount, power = int(value), 0
        while amount % 1024 == 0 and power < 6:
            amount //= 1024
            power += 1
        return f"{amount}{_BINARY_SUFFIX_BY_POWER[power]}"
    # round up to nano precision (away from zero), then strip factors of ten
    nanos = value * 10**9
    amount = math.ceil(abs(nanos)) * (1 if value > 0 else -1)
    exponent = -9
    while amount % 10 == 0:
        amount //= 10
        exponent += 1
    shift = exponent % 3
    amount *= 10**shift
    exponent -= shift
    if fmt == "DecimalExponent":
        return f"{amount}" + (f"e{exponent}" if exponent else "")
    suffix = _DECIMAL_SUFFIX_BY_EXPONENT.get(exponent)
    return f"{amount}{suffix}" if suffix is not None else f"{amount}e{exponent}"


# ---------------------------------------------------------------------------------------------
# Go durations

_DURATION_UNITS = {
    "ns": Fraction(1, 10**9),
    "us": Fraction(1, 10**6),
    "\u00b5s": Fraction(1, 10**6),
    "\u03bcs": Fraction(1, 10**6),
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)([^\d.]+)")
_DURATION = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)[^\d.]+)+")


@lru_cache(maxsize=4096)
def parse_duration(text: str) -> Fraction | None:
    """Go ``time.ParseDuration`` in seconds (exact), or None: ``30s``, ``1h30m``, ``-1.5h``,
    ``"0"``; no days, a unit on every number."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return Fraction(0)
    if not body or _DURATION.fullmatch(text) is None:
        return None
    total = Fraction(0)
    for number, unit in _DURATION_PART.findall(body):
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            return None
        total += Fraction(Decimal(number)) * scale
    return -total if text.startswith("-") else total


def format_duration(seconds: Fraction) -> str:
    """Go ``time.Duration.String()`` for a duration given in seconds (``1h30m0s``, ``1.5s``,
    ``500ms``, ``0s``)."""
    nanos = int(seconds * 10**9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 10**9:
        for unit, scale in (("ms", 10**6), ("\u00b5s", 10**3), ("ns", 1)):
            if nanos >= scale:
                return sign + _trim_fraction(Fraction(nanos, scale)) + unit
    hours, rest = divmod(nanos, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = _trim_fraction(Fraction(rest, 10**9)) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _trim_fraction(value: Fraction) -> str:
    whole, rest = divmod(value.numerator, value.denominator)
    if rest == 0:
        return str(whole)
    digits = str(Decimal(value.numerator) / Decimal(value.denominator))
    return digits.rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------------------------
# Go number formatting


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(value)`` and the decimal exponent of the first digit
    (value = d.ddd x 10**exp), as Go's strconv computes them."""
    _sign, digits_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in digits_tuple).lstrip("0") or "0"
    if digits == "0":
        return "0", 0
    # strip trailing zeros into the exponent
    stripped = digits.rstrip("0")
    assert isinstance(exponent, int)
    exponent += len(digits) - len(stripped)
    return stripped, exponent + len(stripped) - 1


def _format_exponent(digits: str, exponent: int, letter: str) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exponent < 0 else "+"
    return f"{mantissa}{letter}{sign}{abs(exponent):02d}"


def _format_fixed(digits: str, exponent: int) -> str:
    if exponent < 0:
        return "0." + "0" * (-exponent - 1) + digits
    if exponent + 1 >= len(digits):
        return digits + "0" * (exponent + 1 - len(digits))
    return digits[: exponent + 1] + "." + digits[exponent + 1 :]


def _special_float(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def go_format_float_e(value: float) -> str:
    """``strconv.FormatFloat(v, 'E', -1, 64)``: ``80.0`` -> ``8E+01``."""
    special = _special_float(value)
    if special is not None:
        return special
    digits, exponent = _shortest_digits(value)
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    return sign + _format_exponent(digits, exponent, "E")


def go_format_float_g(value: float) -> str:
    """``fmt.Sprint(float64)`` (``%v``): shortest digits, exponent form when the exponent is
    below -4 or at least 21 (``1e+21``, ``1e-05``, ``1.5``, ``100000``)."""
    special = _special_float(value)
    if special is not None:
        return special
    digits, exponent = _shortest_digits(value)
    sign = "-" if value < 0 else ""
    if exponent < -4 or exponent >= 21:
        return sign + _format_exponent(digits, exponent, "e")
    return sign + _format_fixed(digits, exponent)


def go_format_float_json(value: float) -> str:
    """``encoding/json`` for a float64: plain decimal, exponent form below 1e-6 or from 1e21."""
    special = _special_float(value)
    if special is not None:
        return special
    digits, exponent = _shortest_digits(value)
    sign = "-" if value < 0 else ""
    absolute = abs(value)
    if absolute != 0 and (absolute < 1e-6 or absolute >= 1e21):
        text = _format_exponent(digits, exponent, "e")
        # encoding/json writes e-7, not e-07
        return sign + re.sub(r"e([+-])0(\d)$", r"e\1\2", text)
    return sign + _format_fixed(digits, exponent)


def scalar_text(value: Any, float_text: Callable[[float], str]) -> str | None:
    """A string, bool or number as Go prints it (``float_text`` chooses the float form: each
    Kyverno code path formats float64 its own way); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    return None


def go_sprint(value: Any) -> str:
    """``fmt.Sprint`` of a JSON value (what Kyverno's In-family operators compare)."""
    if value is None:
        return "<nil>"
    text = scalar_text(value, go_format_float_g)
    if text is not None:
        return text
    if isinstance(value, list):
        return "[" + " ".join(go_sprint(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = " ".join(f"{key}:{go_sprint(value[key])}" for key in sorted(value))
        return "map[" + inner + "]"
    return str(value)


_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
    r"|inf(?:inity)?|nan)",
    re.IGNORECASE,
)


def go_parse_float(text: str) -> float | None:
    """``strconv.ParseFloat(text, 64)`` for decimal input, or None (no surrounding spaces)."""
    if _GO_FLOAT.fullmatch(text) is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def is_number(value: Any) -> bool:
    """A JSON number (Python bools are ints; they are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Scalar value patterns (pkg/engine/pattern/pattern.go)

Operator = Literal["", "!", ">", "<", ">=", "<="]


@dataclass(frozen=True, slots=True)
class _Atom:
    """One comparison of a pattern string: ``op`` and the operand text."""

    op: Operator
    operand: str


@dataclass(frozen=True, slots=True)
class _Range:
    """``a-b`` (inside, inclusive) or ``a!-b`` (outside)."""

    low: _Atom
    high: _Atom
    inside: bool


_RANGE = re.compile(r"([-|+]?\d+(?:\.\d+)?[A-Za-z]*)-([-|+]?\d+(?:\.\d+)?[A-Za-z]*)")
_NOT_RANGE = re.compile(r"([-|+]?\d+(?:\.\d+)?[A-Za-z]*)!-([-|+]?\d+(?:\.\d+)?[A-Za-z]*)")


_PREFIX_OPERATORS: tuple[Operator, ...] = (">=", "<=", ">", "<", "!")


def _atom(text: str) -> _Atom | _Range:
    """``operator.GetOperatorFromStringPattern`` plus the operand, ranges expanded."""
    if len(text) >= 2:
        for op in _PREFIX_OPERATORS:
            if text.startswith(op):
                return _Atom(op, text[len(op) :].strip())
        match = _NOT_RANGE.fullmatch(text)
        if match is not None:
            return _Range(_atom_of("<", match[1]), _atom_of(">", match[2]), inside=False)
        match = _RANGE.fullmatch(text)
        if match is not None:
            return _Range(_atom_of(">=", match[1]), _atom_of("<=", match[2]), inside=True)
    return _Atom("", text.strip())


def range_kind(text: str) -> Literal["in", "out"] | None:
    """``GetOperatorFromStringPattern`` for ranges: "in" for ``a-b``, "out" for ``a!-b``."""
    parsed = _atom(text)
    if isinstance(parsed, _Range):
        return "in" if parsed.inside else "out"
    return None


def _atom_of(op: Operator, operand: str) -> _Atom:
    # Kyverno re-parses "<op> <operand>" (the operand may itself start with an operator sign).
    parsed = _atom(f"{op} {operand}")
    assert isinstance(parsed, _Atom)
    return parsed


@lru_cache(maxsize=8192)
def compile_string_pattern(pattern: str) -> tuple[tuple[_Atom | _Range, ...], ...]:
    """A pattern string as OR-of-AND atoms: split on ``|`` then ``&``, spaces trimmed."""
    return tuple(
        tuple(_atom(part.strip(" ")) for part in alternative.strip(" ").split("&"))
        for alternative in pattern.split("|")
    )


def _value_as_number_text(value: Any) -> str | None:
    """``convertNumberToString``: what a value is compared as for durations and quantities;
    an absent/null value counts as ``"0"``."""
    if value is None:
        return "0"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:f}"
    return None


def _value_as_wildcard_text(value: Any) -> str | None:
    """The text a value is wildcard-matched as (float64 in Go ``%E`` form: ``8E+01``)."""
    return scalar_text(value, go_format_float_e)


def _compare(result: int, op: Operator) -> bool:
    if op == "":
        return result == 0
    if op == "!":
        return result != 0
    if op == ">":
        return result > 0
    if op == "<":
        return result < 0
    if op == ">=":
        return result >= 0
    return result <= 0


def _cmp(left: Fraction, right: Fraction) -> int:
    return (left > right) - (left < right)


def _match_atom(value: Any, atom: _Atom) -> bool:
    # Durations first: "1m" is a minute here, though it also parses as a quantity (1 milli).
    for parse in (parse_duration, parse_quantity):
        operand = parse(atom.operand)
        if operand is not None:
            text = _value_as_number_text(value)
            number = parse(text) if text is not None else None
            if number is not None:
                return _compare(_cmp(number, operand), atom.op)
    if atom.op not in ("", "!"):
        return False  # ordering does not apply to strings
    text = _value_as_wildcard_text(value)
    if text is None:
        return False
    matched = wildcard_match(atom.operand, text)
    return matched if atom.op == "" else not matched


def _match_term(value: Any, term: _Atom | _Range) -> bool:
    if isinstance(term, _Atom):
        return _match_atom(value, term)
    if term.inside:
        return _match_atom(value, term.low) and _match_atom(value, term.high)
    return _match_atom(value, term.low) or _match_atom(value, term.high)


def match_string_pattern(pattern: str, value: Any) -> bool:
    """``validateStringPatterns``: a pattern string against any scalar value."""
    if isinstance(value, str) and value == pattern:
        return True
    return any(
        all(_match_term(value, term) for term in alternative)
        for alternative in compile_string_pattern(pattern)
    )


def _match_number_pattern(pattern: float, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return pattern == math.trunc(pattern) and value == pattern
    if isinstance(value, float):
        return value == pattern
    if isinstance(value, str):
        parsed = go_parse_float(value)
        return parsed is not None and parsed == pattern
    return False


def _match_null_pattern(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, str):
        return value == ""
    return False


def match_scalar(pattern: Any, value: Any) -> bool:
    """``pattern.Validate``: does ``value`` satisfy the leaf ``pattern``? A map pattern only
    checks that the value is a map; list patterns never match here."""
    if isinstance(pattern, bool):
        return isinstance(value, bool) and value == pattern
    if isinstance(pattern, int | float):
        return _match_number_pattern(float(pattern), value)
    if pattern is None:
        return _match_null_pattern(value)
    if isinstance(pattern, dict):
        return isinstance(value, dict)
    if isinstance(pattern, str):
        return match_string_pattern(pattern, value)
    return False
