"""``preconditions`` and ``deny`` conditions: ``any``/``all`` blocks and Kyverno's operators.

Sources (kyverno/kyverno): ``pkg/engine/variables/evaluate.go`` and
``pkg/engine/variables/operator/*.go``. Operators are matched case-insensitively; a null key
makes every operator false; key and value are substituted one condition at a time, so a
variable that cannot be resolved only fails the conditions that are actually evaluated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from bot.analyzers.kyverno.context import Context
from bot.analyzers.kyverno.errors import PolicyDefinitionError
from bot.analyzers.kyverno.jmespath_dialect import semver_compare_versions
from bot.analyzers.kyverno.values import (
    go_parse_float,
    go_sprint,
    is_number,
    match_scalar,
    parse_duration,
    parse_quantity,
    range_kind,
    wildcard_match,
)
from bot.analyzers.kyverno.variables import substitute

Handler = Callable[[Any, Any], bool]


def evaluate_conditions(block: Any, ctx: Context) -> bool:
    """Evaluate a conditions block: ``{any: [...], all: [...]}`` (both must hold; ``any: []``
    is false), or a legacy list (all must hold). A missing/empty block is true.

    Raises ``SubstitutionError`` (or another ``KyvernoError``) when a variable of an evaluated
    condition cannot be resolved and ``PolicyDefinitionError`` for an unknown operator or a
    malformed condition."""
    if block is None:
        return True
    if isinstance(block, list):
        return all(evaluate_condition(condition, ctx) for condition in block)
    if not isinstance(block, dict):
        raise PolicyDefinitionError(
            f"conditions must be a map with any/all or a list, got {type(block).__name__}"
        )
    any_conditions = block.get("any")
    all_conditions = block.get("all")
    if any_conditions is not None:
        _require_list(any_conditions, "any")
        if not any(evaluate_condition(condition, ctx) for condition in any_conditions):
            return False
    if all_conditions is not None:
        _require_list(all_conditions, "all")
        if not all(evaluate_condition(condition, ctx) for condition in all_conditions):
            return False
    return True


def _require_list(value: Any, name: str) -> None:
    if not isinstance(value, list):
        raise PolicyDefinitionError(f"conditions.{name} must be a list")


def evaluate_condition(condition: Any, ctx: Context) -> bool:
    """One ``{key, operator, value}`` condition."""
    if not isinstance(condition, dict):
        raise PolicyDefinitionError(f"a condition must be a map, got {type(condition).__name__}")
    handler = operator_handler(condition.get("operator"))
    key = substitute(condition.get("key"), ctx)
    value = substitute(condition.get("value"), ctx)
    return handler(key, value)


def operator_handler(operator: Any) -> Handler:
    """The function of an operator name (case-insensitive, with Kyverno's aliases)."""
    name = operator.lower() if isinstance(operator, str) else None
    handler = _HANDLERS.get(name) if name is not None else None
    if handler is None:
        raise PolicyDefinitionError(f"unknown condition operator {operator!r}")
    return handler


# ---------------------------------------------------------------------------------------------
# Durations, as operator.go's parseDuration: a string "0" never makes a comparison a duration
# one; a number on the other side counts as (whole) seconds.


def _durations(key: Any, value: Any) -> tuple[Fraction, Fraction] | None:
    key_duration = _duration_text(key)
    value_duration = _duration_text(value)
    if key_duration is None and value_duration is None:
        return None
    if key_duration is None:
        key_duration = _seconds(key)
        if key_duration is None:
            return None
    if value_duration is None:
        value_duration = _seconds(value)
        if value_duration is None:
            return None
    return key_duration, value_duration


def _duration_text(value: Any) -> Fraction | None:
    if isinstance(value, str) and value != "0":
        return parse_duration(value)
    return None


def _seconds(value: Any) -> Fraction | None:
    if is_number(value) and math.isfinite(value):
        return Fraction(int(value))  # time.Duration(x) * time.Second drops the fraction
    return None


# ---------------------------------------------------------------------------------------------
# Equals / NotEquals


def _equals(key: Any, value: Any) -> bool:
    return _equality(key, value) is True


def _not_equals(key: Any, value: Any) -> bool:
    return _equality(key, value) is False


def _equality(key: Any, value: Any) -> bool | None:
    """Equals of (key, value); None when the key is null or of an unsupported type, which makes
    both Equals and NotEquals false. Mismatched types are unequal."""
    if key is None:
        return None
    if isinstance(key, bool):
        return isinstance(value, bool) and key == value
    if is_number(key):
        return _number_equality(float(key), value)
    if isinstance(key, str):
        return _string_equality(key, value)
    if isinstance(key, dict):
        return isinstance(value, dict) and _deep_equal(key, value)
    if isinstance(key, list):
        return isinstance(value, list) and _deep_equal(key, value)
    return None


def _number_equality(key: float, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return key == math.trunc(key) and key == value
    if isinstance(value, float):
        return key == value
    if isinstance(value, str):
        parsed = go_parse_float(value)
        return parsed is not None and parsed == key
    return False


def _string_equality(key: str, value: Any) -> bool:
    durations = _durations(key, value)
    if durations is not None:
        return durations[0] == durations[1]
    if isinstance(value, str):
        key_quantity = parse_quantity(key)
        if key_quantity is not None:
            value_quantity = parse_quantity(value)
            if value_quantity is not None:
                return key_quantity == value_quantity
        return wildcard_match(value, key)
    if is_number(value):
        # a numeric string key compares with a number by value (kyverno#16358)
        number = go_parse_float(key)
        return number is not None and number == float(value)
    return False


def _deep_equal(left: Any, right: Any) -> bool:
    """``reflect.DeepEqual`` of JSON values (Go has float64 numbers only)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return bool(float(left) == float(right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_deep_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_deep_equal, left, right))
    return type(left) is type(right) and bool(left == right)


# ---------------------------------------------------------------------------------------------
# The In family


def _is_range(text: str) -> bool:
    """``GetOperatorFromStringPattern(value) == InRange``."""
    return range_kind(text) == "in"


def _in_range(key: str, pattern: str) -> bool:
    """``handleRange``: the key (a string) against a range pattern."""
    return match_scalar(pattern, key)


def _string_list(text: str) -> list[str] | None:
    """A value string as a list: a JSON array of strings, or the string itself when it is not
    valid JSON; None (an invalid value type) for JSON that is not an array of strings."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return [text]
    if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
        return parsed
    return None


def _matches(left: str, right: str) -> bool:
    return wildcard_match(left, right) or wildcard_match(right, left)


def _scalar_key(key: Any) -> str | None:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or is_number(key):
        return go_sprint(key)
    return None


def _scalar_in(key: str, value: Any) -> bool | None:
    """``anyKeyExistsInArray``: is a scalar key in the value? None for an invalid value."""
    if isinstance(value, list):
        return any(_matches(go_sprint(item), key) for item in value)
    if isinstance(value, str):
        if wildcard_match(value, key):
            return True
        if _is_range(value):
            return _in_range(key, value)
        items = _string_list(value)
        if items is None:
            return None
        return key in items
    return None


def _set_values(keys: list[str], value: Any) -> tuple[str, list[str]] | None:
    """How a list key is compared with the value: ("single", [value]) when the key is exactly
    ``[value]``, ("range", [value]) for a range, ("list", items) otherwise; None if invalid.
    A number or bool value counts as a one-element list (Kyverno's AnyNotIn tests)."""
    if isinstance(value, list):
        return "list", [go_sprint(item) for item in value]
    if isinstance(value, bool) or is_number(value):
        return "list", [go_sprint(value)]
    if isinstance(value, str):
        if len(keys) == 1 and keys[0] == value:
            return "single", [value]
        if _is_range(value):
            return "range", [value]
        items = _string_list(value)
        if items is None:
            return None
        return "list", items
    return None


def _found(key: str, values: list[str]) -> bool:
    return any(_matches(key, value) for value in values)


def _set_operator(quantifier: Callable[[Iterable[bool]], bool], negated: bool) -> Handler:
    """AnyIn/AllIn (``quantifier`` any/all, not negated) and AnyNotIn/AllNotIn (negated): a
    list key is quantified over its items, a scalar key is looked up in the value. An invalid
    value is false whichever the operator, which is why a negated miss is not simply ``not``."""

    def handler(key: Any, value: Any) -> bool:
        if isinstance(key, list):
            keys = [go_sprint(item) for item in key]
            compared = _set_values(keys, value)
            if compared is None:
                return False
            mode, values = compared
            if mode == "single":
                return not negated
            if mode == "range":
                bounds = values[0].replace("-", "!-", 1) if negated else values[0]
                return quantifier(_in_range(k, bounds) for k in keys)
            return quantifier(_found(k, values) != negated for k in keys)
        scalar = _scalar_key(key)
        if scalar is None:
            return False
        found = _scalar_in(scalar, value)
        if negated:
            return found is not None and not found
        return bool(found)

    return handler


def _legacy_scalar_in(key: str, value: Any) -> bool | None:
    """The deprecated In's ``keyExistsInArray``: list items match in either direction; a string
    value is a wildcard pattern or else must be a JSON array of strings (exact members)."""
    if isinstance(value, list):
        return any(_matches(go_sprint(item), key) for item in value)
    if isinstance(value, str):
        if wildcard_match(value, key):
            return True
        items = _json_string_list(value)
        return None if items is None else key in items
    return None


def _json_string_list(text: str) -> list[str] | None:
    """The deprecated operators' string value: a JSON array of strings, else None (invalid)."""
    try:
        items = json.loads(text)
    except ValueError:
        return None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return None
    return items


def _legacy_set(keys: list[Any], value: Any) -> tuple[list[str], list[str]] | None:
    if not all(isinstance(k, str) for k in keys):
        return None
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            return None
        return keys, value
    if isinstance(value, str):
        if len(keys) == 1 and keys[0] == value:
            return keys, [value]
        items = _json_string_list(value)
        return None if items is None else (keys, items)
    return None


def _in(key: Any, value: Any) -> bool:
    if isinstance(key, list):
        compared = _legacy_set(key, value)
        return compared is not None and set(compared[0]) <= set(compared[1])
    scalar = _scalar_key(key)
    if scalar is None:
        return False
    return bool(_legacy_scalar_in(scalar, value))


def _not_in(key: Any, value: Any) -> bool:
    if isinstance(key, list):
        compared = _legacy_set(key, value)
        return compared is not None and not set(compared[0]) <= set(compared[1])
    scalar = _scalar_key(key)
    if scalar is None:
        return False
    found = _legacy_scalar_in(scalar, value)
    return found is not None and not found


# ---------------------------------------------------------------------------------------------
# Numeric comparisons (GreaterThan...) and the deprecated Duration* operators


def _ordering(compare: Callable[[Any, Any], bool]) -> Handler:
    def handler(key: Any, value: Any) -> bool:
        if isinstance(key, bool) or key is None:
            return False
        if is_number(key):
            return _number_ordering(float(key), value, compare)
        if isinstance(key, str):
            return _string_ordering(key, value, compare)
        return False

    return handler


def _number_ordering(key: float, value: Any, compare: Callable[[Any, Any], bool]) -> bool:
    if isinstance(value, bool):
        return False
    if is_number(value):
        return compare(key, float(value))
    if isinstance(value, str):
        durations = _durations(key, value)
        if durations is not None:
            return compare(*durations)
        parsed = go_parse_float(value)
        return parsed is not None and compare(key, parsed)
    return False


def _string_ordering(key: str, value: Any, compare: Callable[[Any, Any], bool]) -> bool:
    durations = _durations(key, value)
    if durations is not None:
        return compare(*durations)
    if isinstance(value, str):
        key_quantity, value_quantity = parse_quantity(key), parse_quantity(value)
        if key_quantity is not None and value_quantity is not None:
            return compare(key_quantity, value_quantity)
    number = go_parse_float(key)
    if number is not None:
        return _number_ordering(number, value, compare)
    if isinstance(value, str):
        order = semver_compare_versions(key, value)
        if order is not None:
            return compare(order, 0)
    return False


def _duration_ordering(compare: Callable[[Any, Any], bool]) -> Handler:
    def handler(key: Any, value: Any) -> bool:
        left = _duration_operand(key)
        right = _duration_operand(value)
        if left is None or right is None:
            return False
        return compare(left, right)

    return handler


def _duration_operand(value: Any) -> Fraction | None:
    if isinstance(value, bool):
        return None
    if is_number(value):
        return _seconds(value)
    if isinstance(value, str):
        return parse_duration(value)
    return None


def _greater(left: Any, right: Any) -> bool:
    return bool(left > right)


def _greater_equal(left: Any, right: Any) -> bool:
    return bool(left >= right)


def _less(left: Any, right: Any) -> bool:
    return bool(left < right)


def _less_equal(left: Any, right: Any) -> bool:
    return bool(left <= right)


_HANDLERS: dict[str, Handler] = {
    "equal": _equals,
    "equals": _equals,
    "notequal": _not_equals,
    "notequals": _not_equals,
    "in": _in,
    "anyin": _set_operator(any, negated=False),
    "allin": _set_operator(all, negated=False),
    "notin": _not_in,
    "anynotin": _set_operator(any, negated=True),
    "allnotin": _set_operator(all, negated=True),
    "greaterthan": _ordering(_greater),
    "greaterthanorequals": _ordering(_greater_equal),
    "lessthan": _ordering(_less),
    "lessthanorequals": _ordering(_less_equal),
    "durationgreaterthan": _duration_ordering(_greater),
    "durationgreaterthanorequals": _duration_ordering(_greater_equal),
    "durationlessthan": _duration_ordering(_less),
    "durationlessthanorequals": _duration_ordering(_less_equal),
}

OPERATORS: frozenset[str] = frozenset(_HANDLERS)
"""Operator names in lower case (the comparison is case-insensitive)."""
