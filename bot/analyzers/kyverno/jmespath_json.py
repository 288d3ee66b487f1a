"""JSON values compared and written the way Kyverno's Go code does.

``==`` in an expression is ``reflect.DeepEqual`` over decoded JSON (numbers by value, never equal
to booleans), and ``to_string`` and variable substitution write ``encoding/json`` text (Go's
number formatting, HTML-safe escapes, sorted keys). Separate because the interpreter, the
functions and variable substitution (``variables.py``) all need exactly these rules.
"""

from __future__ import annotations

import json
from typing import Any

from bot.analyzers.kyverno.values import go_format_float_json, is_number


def json_equal(left: Any, right: Any) -> bool:
    """``reflect.DeepEqual`` over JSON values (numbers compare by value, never with bools)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    return type(left) is type(right) and bool(left == right)


def to_json(value: Any) -> str:
    """``encoding/json`` text of a JSON value (compact, Go number formatting, keys sorted as Go
    sorts map keys)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return go_format_float_json(value)
    if isinstance(value, int | str):
        return (
            json.dumps(value, ensure_ascii=False)
            .replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
        )
    if isinstance(value, list):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{to_json(str(key))}:{to_json(value[key])}" for key in sorted(value))
        return "{" + ",".join(items) + "}"
    return json.dumps(str(value))
