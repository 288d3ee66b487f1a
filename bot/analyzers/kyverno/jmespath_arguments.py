"""Argument checks and error wording shared by every Kyverno JMESPath function.

Kyverno's functions check the JSON types of their arguments themselves and fail with messages
such as ``JMESPath function 'to_upper': argument #1 is expected of string type, got number``;
policy tests compare those messages. Each family of functions (strings, regex, objects,
arithmetic, time, x509...) lives in its own module and checks its arguments with these helpers,
then hands its functions to the registry (``jmespath_functions``) as a ``FunctionTable``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from bot.analyzers.kyverno.errors import JMESPathError
from bot.analyzers.kyverno.values import is_number, scalar_text

Handler = Callable[[str, list[Any]], Any]
"""A function's implementation, called with the function's name (for messages) and its
evaluated arguments."""

FunctionTable = dict[str, tuple[int | None, Handler]]
"""Function name -> (number of arguments, None for any; implementation)."""


def fail(name: str, message: str) -> JMESPathError:
    """The error a function raises, prefixed with the function's name as Kyverno does."""
    return JMESPathError(f"JMESPath function '{name}': {message}")


def type_name(value: Any) -> str:
    """The JMESPath type of a value, as argument errors name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "expref"


def arg(name: str, args: list[Any], index: int, *types: str) -> Any:
    """Argument ``index`` if its JMESPath type is one of ``types``, else Kyverno's error."""
    value = args[index]
    if type_name(value) not in types:
        expected = " or ".join(types)
        raise fail(
            name, f"argument #{index + 1} is expected of {expected} type, got {type_name(value)}"
        )
    return value


def string_args(name: str, args: list[Any]) -> list[str]:
    """Every argument, each checked to be a string."""
    return [arg(name, args, i, "string") for i in range(len(args))]


def iface_to_string(name: str, value: Any, index: int) -> str:
    """Kyverno's ``ifaceToString`` (numbers as float32 text, bools as true/false)."""
    text = scalar_text(value, _float32_text)
    if text is None:
        raise fail(name, f"argument #{index + 1} is expected of String or Real type")
    return text


def _float32_text(value: float) -> str:
    """``strconv.FormatFloat(v, 'f', -1, 32)``: shortest digits that round-trip as float32."""
    rounded = struct.unpack("f", struct.pack("f", value))[0]
    for precision in range(1, 10):
        text = f"{rounded:.{precision}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == rounded:
            break
    number = float(text)
    if number == int(number) and abs(number) < 1e21:
        return str(int(number))
    return format(Fraction(text), "f").rstrip("0").rstrip(".") if "e" in text else text
