"""Conditions (preconditions / deny) and Kyverno's operators. Tables marked "ported" come from
kyverno/kyverno pkg/engine/variables/operator/*_test.go."""

from typing import Any

import pytest

from bot.analyzers.kyverno.conditions import OPERATORS, evaluate_conditions, operator_handler
from bot.analyzers.kyverno.context import Context
from bot.analyzers.kyverno.errors import PolicyDefinitionError, SubstitutionError


def op(name: str, key: Any, value: Any) -> bool:
    return operator_handler(name)(key, value)


CTX = Context(
    {
        "request": {
            "operation": "CREATE",
            "object": {
                "metadata": {"name": "web", "labels": {"app": "web"}},
                "spec": {"replicas": 3},
            },
        }
    }
)


def cond(key: Any, operator: str, value: Any) -> dict[str, Any]:
    return {"key": key, "operator": operator, "value": value}


# --- blocks -----------------------------------------------------------------------------------


def test_any_is_or_and_all_is_and() -> None:
    true, false = cond(1, "Equals", 1), cond(1, "Equals", 2)
    assert evaluate_conditions({"any": [false, true]}, CTX)
    assert not evaluate_conditions({"any": [false, false]}, CTX)
    assert evaluate_conditions({"all": [true, true]}, CTX)
    assert not evaluate_conditions({"all": [true, false]}, CTX)
    assert not evaluate_conditions({"any": [true], "all": [false]}, CTX)
    assert evaluate_conditions({"any": [true], "all": [true]}, CTX)


def test_empty_and_legacy_blocks() -> None:
    assert not evaluate_conditions({"any": []}, CTX)  # present but empty: false
    assert evaluate_conditions({"all": []}, CTX)
    assert evaluate_conditions({}, CTX)  # deny: {} always denies
    assert evaluate_conditions(None, CTX)
    assert evaluate_conditions([cond(1, "Equals", 1)], CTX)  # legacy list = AND
    assert not evaluate_conditions([cond(1, "Equals", 1), cond(1, "Equals", 2)], CTX)


def test_evaluation_is_lazy() -> None:
    # the second condition cannot be resolved but is never evaluated
    broken = cond("{{request.object.metadata.labels.team}}", "Equals", "x")
    assert evaluate_conditions({"any": [cond(1, "Equals", 1), broken]}, CTX)
    assert not evaluate_conditions({"all": [cond(1, "Equals", 2), broken]}, CTX)
    with pytest.raises(SubstitutionError, match="team"):
        evaluate_conditions({"all": [broken]}, CTX)


def test_key_and_value_are_substituted() -> None:
    block = {
        "all": [
            cond("{{request.operation}}", "AnyIn", ["CREATE", "UPDATE"]),
            cond("{{request.object.spec.replicas}}", "GreaterThan", 2),
            cond("{{request.object.metadata.labels.team || ''}}", "Equals", ""),
            cond("{{request.object.metadata.labels}}", "Equals", {"app": "web"}),
        ]
    }
    assert evaluate_conditions(block, CTX)


def test_unknown_operator_names_the_operator() -> None:
    with pytest.raises(PolicyDefinitionError, match="'Contains'"):
        evaluate_conditions({"all": [cond(1, "Contains", 1)]}, CTX)
    with pytest.raises(PolicyDefinitionError):
        evaluate_conditions({"all": ["not a map"]}, CTX)


def test_operators_are_case_insensitive_with_aliases() -> None:
    assert op("equals", "a", "a") and op("EQUAL", "a", "a") and op("Equal", "a", "a")
    assert op("notequals", "a", "b") and op("NotEqual", "a", "b")
    assert {"anyin", "allnotin", "durationlessthanorequals", "in", "notin"} <= OPERATORS


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_a_null_key_makes_every_operator_false(name: str) -> None:
    assert op(name, None, "x") is False
    assert op(name, None, None) is False


# --- Equals / NotEquals (ported: equal_test.go, notequal_test.go) ----------------------------

EQUAL_CASES = [
    (True, True, True),
    (False, False, True),
    (True, False, False),
    (True, "true", False),
    (42, 42, True),
    (42, 43, False),
    (42, 42.0, True),
    (42, 42.5, False),
    (42, "42", True),
    (42, "invalid", False),
    (3.14, 3.14, True),
    (3.14, 2.71, False),
    (3.14, "3.14", True),
    (3.14, "invalid", False),
    (10.5, 10, False),
    (3.14, True, False),
    ("hello", "hello", True),
    ("hello", "world", False),
    ("hello-world", "hello-*", True),
    ("goodbye-world", "hello-*", False),
    ("hello", 123, False),
    ("100Mi", "100Mi", True),
    ("1Gi", "1024Mi", True),
    ("100Mi", "200Mi", False),
    ("1h", "60m", True),
    ("1h", "30m", False),
    ("1h", 3600, True),  # a number on the other side is seconds
    ({"foo": "bar"}, {"foo": "bar"}, True),
    ({"foo": "bar"}, {"foo": "baz"}, False),
    ({"foo": "bar"}, "not a map", False),
    (["a", "b", "c"], ["a", "b", "c"], True),
    (["a", "b", "c"], ["a", "b", "d"], False),
    (["a", "b", "c"], ["a", "b"], False),
    (["a", "b", "c"], "not a slice", False),
    ("5", 5, True),
    ("5", 5.0, True),
]


@pytest.mark.parametrize(("key", "value", "expected"), EQUAL_CASES)
def test_equals(key: Any, value: Any, expected: bool) -> None:
    assert op("Equals", key, value) is expected


NOT_EQUAL_CASES = [
    (True, False, True),
    (42, 43, True),
    (5, 5.5, True),
    (3.14, 2.71, True),
    ("hello", "world", True),
    ("5", 5, False),
    ("5", 5.0, False),
    ("5", 6, True),
    ("abc", 5, True),
    ("100Mi", "not-a-quantity", True),
    ("1h", "30m", True),
    ({"foo": "bar"}, {"foo": "baz"}, True),
    (["a", "b"], ["a", "c"], True),
    ("kube-system", "kube-*", False),
    ("x", None, True),  # a null value is just another value
]


@pytest.mark.parametrize(("key", "value", "expected"), NOT_EQUAL_CASES)
def test_not_equals(key: Any, value: Any, expected: bool) -> None:
    assert op("NotEquals", key, value) is expected


# --- In family (ported: anyin_test.go, anynotin_test.go, allnotin_test.go, in_test.go) --------

ANY_IN_CASES = [
    ("kyverno", "kyverno", True),
    ("kube-system", ["default", "kube-*"], True),
    ("kyverno", "default", False),
    (64, "64", True),
    (1, [1, 2, 3], True),
    (64, "default", False),
    (3.14, "3.14", True),
    (2.2, [1.1, 2.2, 3.3], True),
    (3.14, "default", False),
    (True, "true", True),
    (["kube-system", "kube-public"], "kube-*", True),
    (["kube-system", "default"], "kube-system", True),
    (["default", "kyverno"], "kube-*", False),
    (["default", "kyverno"], ["kube-*", "ky*"], True),
    (["default", "kyverno"], ["kube-*", "kube-system"], False),
    ([], ["default", "kyverno"], False),
    ("", ["default", "kyverno"], False),
    ({"foo": "bar"}, "test", False),
    ("kube-*", ["kube-system"], True),  # bidirectional wildcard
    ("a", '["a", "b"]', True),  # JSON array text
    ("5", "1-10", True),  # a range
    ("50", "1-10", False),
    (["5", "7"], "1-10", True),
    (["5", "70"], "1-10", True),
]


@pytest.mark.parametrize(("key", "value", "expected"), ANY_IN_CASES)
def test_any_in(key: Any, value: Any, expected: bool) -> None:
    assert op("AnyIn", key, value) is expected


ALL_IN_CASES = [
    (["kube-system", "kube-public"], "kube-*", True),
    (["kube-system", "default"], "kube-*", False),
    (["a", "b"], ["a", "b", "c"], True),
    (["a", "d"], ["a", "b", "c"], False),
    ([], ["a"], True),  # an empty key list is "all in"
    ("kyverno", "kyverno", True),
    (["5", "7"], "1-10", True),
    (["5", "70"], "1-10", False),
]


@pytest.mark.parametrize(("key", "value", "expected"), ALL_IN_CASES)
def test_all_in(key: Any, value: Any, expected: bool) -> None:
    assert op("AllIn", key, value) is expected


ANY_NOT_IN_CASES = [
    ("kyverno", "kyverno", False),
    ("kube-system", ["default", "kube-*"], False),
    ("kyverno", "default", True),
    (64, "64", False),
    (1, [1, 2, 3], False),
    (64, "default", True),
    (3.14, "3.14", False),
    (2.2, [1.1, 2.2, 3.3], False),
    (3.14, "default", True),
    (True, True, False),
    (["kube-system", "kube-public"], "kube-*", False),
    (["kube-system", "default"], "kube-system", True),
    (["default", "kyverno"], "kube-*", True),
    ([1, 2, 3], 2, True),
    ([1, 2, 3], 4, True),
    ([1.1, 2.2, 3.3], 1.1, True),
    ([1.1, 2.2, 3.3], 4.4, True),
    ([True, False], True, True),
    ([True], False, True),
    (["default", "kyverno"], ["kube-*", "kube-system"], True),
    (["default", "kyverno"], ["kube-*", "ky*"], True),
    ([], ["default", "kyverno"], False),
    ("", ["default", "kyverno"], True),
    (["5", "70"], "1-10", True),
    (["5", "7"], "1-10", False),
]


@pytest.mark.parametrize(("key", "value", "expected"), ANY_NOT_IN_CASES)
def test_any_not_in(key: Any, value: Any, expected: bool) -> None:
    assert op("AnyNotIn", key, value) is expected


ALL_NOT_IN_CASES = [
    ("kyverno", "kyverno", False),
    ("kube-system", ["default", "kube-*"], False),
    ("kyverno", "default", True),
    (64, "64", False),
    (64, "default", True),
    (["kube-system", "kube-public"], "kube-*", False),
    (["kube-system", "default"], "kube-system", False),
    (["default", "kyverno"], "kube-*", True),
    (["default", "kyverno"], ["kube-*", "kube-system"], True),
    (["default", "kyverno"], ["kube-*", "ky*"], False),
    ([], ["a"], True),  # an empty key list is "all not in"
    (["50", "70"], "1-10", True),
    (["5", "70"], "1-10", False),
]


@pytest.mark.parametrize(("key", "value", "expected"), ALL_NOT_IN_CASES)
def test_all_not_in(key: Any, value: Any, expected: bool) -> None:
    assert op("AllNotIn", key, value) is expected


IN_CASES = [
    ("apple", ["apple", "banana", "cherry"], True),
    ("grape", ["apple", "banana", "cherry"], False),
    ("apple", [], False),
    ("hello", "hello", True),
    ("hello-world", "hello-*", True),
    ("goodbye-world", "hello-*", False),
    ("apple", '["apple", "banana", "cherry"]', True),
    ("grape", '["apple", "banana", "cherry"]', False),
    (42, ["42", "43", "44"], True),
    (99, ["42", "43", "44"], False),
    (3.14, ["3.14", "2.71"], True),
    (True, ["true", "false"], True),
    (["apple", "banana"], ["apple", "banana", "cherry"], True),
    (["apple", "grape"], ["apple", "banana", "cherry"], False),
    (["apple", "banana"], '["apple", "banana", "cherry"]', True),
    ({"foo": "bar"}, ["a", "b"], False),
    ("apple", 12345, False),
    ("hello-*", ["hello-world", "goodbye"], True),
    ("hello-world", ["hello-*", "goodbye"], True),
    ("a", "not-valid-json", False),
    (["a"], ["a", 123], False),  # non-string list value: invalid
    (["test"], "test", True),
    (["other"], "test", False),
    (["kube-*"], ["kube-system"], False),  # list keys: exact members, no wildcards
]


@pytest.mark.parametrize(("key", "value", "expected"), IN_CASES)
def test_in(key: Any, value: Any, expected: bool) -> None:
    assert op("In", key, value) is expected


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("grape", ["apple"], True),
        ("apple", ["apple"], False),
        (["a", "d"], ["a", "b", "c"], True),
        (["a", "b"], ["a", "b", "c"], False),
        ([], ["a"], False),
        ("apple", 12345, False),  # an invalid value is false for NotIn too
    ],
)
def test_not_in(key: Any, value: Any, expected: bool) -> None:
    assert op("NotIn", key, value) is expected


# --- numeric comparisons (ported: numeric_test.go) -------------------------------------------

NUMERIC_CASES = [
    ("GreaterThan", 10, 5, True),
    ("GreaterThan", 5, 10, False),
    ("GreaterThan", 5, 5, False),
    ("GreaterThanOrEquals", 10, 10, True),
    ("LessThan", 5, 10, True),
    ("LessThanOrEquals", 5, 5, True),
    ("GreaterThan", 10.5, 10.4, True),
    ("LessThan", 10.4, 10.5, True),
    ("GreaterThan", "100", 50, True),
    ("LessThan", "50", "100", True),
    ("GreaterThan", "1.2.3", "1.2.2", True),
    ("LessThan", "1.1.0", "1.2.0", True),
    ("GreaterThanOrEquals", "1.2.0", "1.2.0", True),
    ("GreaterThan", "200Mi", "100Mi", True),
    ("LessThan", "1Gi", "2Gi", True),
    ("GreaterThanOrEquals", "500m", "0.5", True),
    ("GreaterThan", True, 5, False),
    ("GreaterThan", "not-a-number", 5, False),
    ("GreaterThan", None, 5, False),
    ("GreaterThan", "2h", "90m", True),  # durations first
    ("GreaterThan", "2h", 3600, True),  # a number is seconds when the other side is a duration
    ("LessThan", 30, "1m", True),
    ("GreaterThan", ["a"], 1, False),
    ("GreaterThan", "1.10.0", "1.9.0", True),  # semver, not float ("1.10.0" is no float)
]


@pytest.mark.parametrize(("name", "key", "value", "expected"), NUMERIC_CASES)
def test_numeric_operators(name: str, key: Any, value: Any, expected: bool) -> None:
    assert op(name, key, value) is expected


# --- Duration* (ported: duration_test.go) ------------------------------------------------------

DURATION_CASES = [
    ("DurationGreaterThan", "2h", "1h", True),
    ("DurationGreaterThan", "1h", "2h", False),
    ("DurationGreaterThan", "1h", "1h", False),
    ("DurationGreaterThan", "60m", "1h", False),
    ("DurationGreaterThan", "61m", "1h", True),
    ("DurationGreaterThan", 120, 60, True),
    ("DurationGreaterThan", 60, 120, False),
    ("DurationGreaterThan", 120, "1m", True),
    ("DurationGreaterThan", 120.5, 60.5, True),
    ("DurationGreaterThan", 120.5, 60, True),
    ("DurationGreaterThan", 120.0, "1m", True),
    ("DurationGreaterThan", True, False, False),
    ("DurationGreaterThan", 120, "invalid", False),
    ("DurationGreaterThan", 120, True, False),
    ("DurationGreaterThan", "2m", 60, True),
    ("DurationGreaterThan", "invalid", 60, False),
    ("DurationGreaterThan", "1h", "invalid", False),
    ("DurationGreaterThanOrEquals", "1h", "60m", True),
    ("DurationGreaterThanOrEquals", "30m", "1h", False),
    ("DurationGreaterThanOrEquals", 60, 60, True),
    ("DurationLessThan", "30m", "1h", True),
    ("DurationLessThan", "1h", "60m", False),
    ("DurationLessThan", 30, 60, True),
    ("DurationLessThanOrEquals", "1h", "60m", True),
    ("DurationLessThanOrEquals", "2h", "1h", False),
]


@pytest.mark.parametrize(("name", "key", "value", "expected"), DURATION_CASES)
def test_duration_operators(name: str, key: Any, value: Any, expected: bool) -> None:
    assert op(name, key, value) is expected


def test_zero_string_never_makes_a_duration_comparison() -> None:
    # operator.go parseDuration ignores "0"; "0" vs 0 falls back to quantities/numbers
    assert op("Equals", "0", "0")
    assert not op("Equals", "1h", "0")
