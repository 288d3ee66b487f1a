"""Kyverno's arithmetic functions (``pkg/engine/jmespath/arithmetic.go``).

``add``, ``subtract``, ``multiply``, ``divide``, ``modulo``, ``sum`` and ``round`` over numbers,
Kubernetes quantities (``500m``, ``1Gi``) and Go durations (``1h30m``). Separate because operand
kinds, their mixing rules, ``inf.Dec`` scales and Go's float rounding form one body of rules that
no other function shares.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from bot.analyzers.kyverno.errors import JMESPathError
from bot.analyzers.kyverno.jmespath_arguments import FunctionTable, arg, fail
from bot.analyzers.kyverno.values import (
    QuantityFormat,
    format_duration,
    format_quantity,
    go_sprint,
    is_number,
    parse_duration,
    parse_quantity_with_format,
)

# kind ("scalar" | "quantity" | "duration"), value, quantity format, decimal scale
_Operand = tuple[str, Any, QuantityFormat, int]


_SCALE_SUFFIX = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def _decimal_scale(text: str) -> int:
    """The ``inf.Dec`` scale Kubernetes keeps for a parsed quantity: digits after the point
    minus the decimal exponent of the suffix (``500m`` -> 3, ``1.5`` -> 1, ``2k`` -> -3)."""
    match = re.fullmatch(r"[+-]?(\d*)(?:\.(\d*))?(.*)", text)
    assert match is not None
    decimals = len(match[2] or "")
    suffix = match[3]
    if suffix in _SCALE_SUFFIX:
        return decimals - _SCALE_SUFFIX[suffix]
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return decimals - int(suffix[1:])
    return decimals


def _operand(name: str, value: Any) -> _Operand | None:
    """Kyverno tries a string as a quantity first, then as a duration."""
    if is_number(value):
        return ("scalar", value, "DecimalSI", 0)
    if isinstance(value, str):
        quantity = parse_quantity_with_format(value)
        if quantity is not None:
            return ("quantity", quantity[0], quantity[1], _decimal_scale(value))
        duration = parse_duration(value)
        if duration is not None:
            return ("duration", duration, "DecimalSI", 0)
    return None


def _scalar_quantity(value: Any) -> tuple[Fraction, int]:
    """A scalar as Kyverno turns it into a quantity: ``ParseQuantity(fmt.Sprintf("%v", v))``."""
    text = go_sprint(value)
    return Fraction(text), _decimal_scale(text.replace("e+", "e"))


def _operands(name: str, args: list[Any]) -> tuple[_Operand, _Operand]:
    left, right = _operand(name, args[0]), _operand(name, args[1])
    if left is None or right is None:
        raise fail(name, "invalid operands")
    return left, right


def _mismatch(name: str) -> JMESPathError:
    return fail(name, "types mismatch")


def _scalar(value: Any) -> Any:
    """Keep integral results of integer inputs as ints (Go has float64 only; the text is the
    same either way)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _duration_nanos(seconds: Fraction) -> int:
    return int(seconds * 10**9)


def _arith_add(name: str, args: list[Any]) -> Any:
    (kind1, v1, fmt1, _), (kind2, v2, _, _) = _operands(name, args)
    if kind1 != kind2:
        raise _mismatch(name)
    if kind1 == "quantity":
        return format_quantity(v1 + v2, fmt1)
    if kind1 == "duration":
        return format_duration(v1 + v2)
    return v1 + v2


def _arith_subtract(name: str, args: list[Any]) -> Any:
    (kind1, v1, fmt1, _), (kind2, v2, _, _) = _operands(name, args)
    if kind1 != kind2:
        raise _mismatch(name)
    if kind1 == "quantity":
        return format_quantity(v1 - v2, fmt1)
    if kind1 == "duration":
        return format_duration(v1 - v2)
    return v1 - v2


def _arith_multiply(name: str, args: list[Any]) -> Any:
    left, right = _operands(name, args)
    if left[0] == "scalar" and right[0] != "scalar":
        left, right = right, left
    (kind1, v1, fmt1, _), (kind2, v2, _, _) = left, right
    if kind2 != "scalar":
        raise _mismatch(name)
    if kind1 == "quantity":
        return format_quantity(v1 * _scalar_quantity(v2)[0], fmt1)
    if kind1 == "duration":
        # Go: time.Duration(op1.Seconds() * v * 1e9), in float64
        return format_duration(Fraction(int(float(v1) * v2 * 1e9), 10**9))
    return v1 * v2


def _arith_divide(name: str, args: list[Any]) -> Any:
    (kind1, v1, fmt1, scale1), (kind2, v2, _, _) = _operands(name, args)
    zero = fail(name, "Zero divisor passed")
    if kind1 == "quantity" and kind2 == "quantity":
        if v2 == 0:
            raise zero
        return _scalar(float(v1) / float(v2))
    if kind1 == "duration" and kind2 == "duration":
        if v2 == 0:
            raise zero
        return _scalar(float(v1) / float(v2))
    if kind2 != "scalar":
        raise _mismatch(name)
    if v2 == 0:
        raise zero
    if kind1 == "quantity":
        # inf.Dec QuoRound at the larger scale of both operands, rounding toward zero
        divisor, scale2 = _scalar_quantity(v2)
        step = (
            Fraction(1, 10 ** max(scale1, scale2))
            if max(scale1, scale2) >= 0
            else Fraction(10 ** -max(scale1, scale2))
        )
        quotient = v1 / divisor
        return format_quantity(math.trunc(quotient / step) * step, fmt1)
    if kind1 == "duration":
        return format_duration(Fraction(int(float(v1) / v2 * 1e9), 10**9))
    return _scalar(v1 / v2)


def _arith_modulo(name: str, args: list[Any]) -> Any:
    (kind1, v1, fmt1, _), (kind2, v2, _, _) = _operands(name, args)
    if kind1 != kind2:
        raise _mismatch(name)
    if kind1 == "duration":
        if v2 == 0:
            raise fail(name, "Zero divisor passed")
        n1, n2 = _duration_nanos(v1), _duration_nanos(v2)
        return format_duration(Fraction(int(math.fmod(n1, n2)), 10**9))
    if Fraction(v1).denominator != 1 or Fraction(v2).denominator != 1:
        raise fail(name, "Non-integer argument(s) passed for modulo")
    if v2 == 0:
        raise fail(name, "Zero divisor passed")
    i1, i2 = int(v1), int(v2)
    remainder = abs(i1) % abs(i2) * (1 if i1 >= 0 else -1)  # Go: sign of the dividend
    if kind1 == "quantity":
        return format_quantity(Fraction(remainder), fmt1)
    return remainder


def _fn_sum(name: str, args: list[Any]) -> Any:
    items = arg(name, args, 0, "array")
    if not items:
        raise fail(name, "at least one element in the array is required")
    result = items[0]
    for item in items[1:]:
        result = _arith_add(name, [result, item])
    return result


def _fn_round(name: str, args: list[Any]) -> Any:
    value = arg(name, args, 0, "number")
    digits = arg(name, args, 1, "number")
    if float(digits) != int(digits):
        raise fail(name, "Non-integer argument(s) passed for round")
    if digits < 0:
        raise fail(name, "Argument(s) out of bounds")
    shift = 10.0 ** int(digits)
    scaled = value * shift
    # Go math.Round rounds half away from zero
    rounded = math.floor(abs(scaled) + 0.5) * (1 if scaled >= 0 else -1)
    return _scalar(rounded / shift)


FUNCTIONS: FunctionTable = {
    "add": (2, _arith_add),
    "sum": (1, _fn_sum),
    "subtract": (2, _arith_subtract),
    "multiply": (2, _arith_multiply),
    "divide": (2, _arith_divide),
    "modulo": (2, _arith_modulo),
    "round": (2, _fn_round),
}
