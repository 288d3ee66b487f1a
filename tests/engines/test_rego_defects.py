"""The known engine defects (reference/rego-conftest.md §2.2, rows 1-17, found in regopy) and the
Regorus pitfalls, through RegorusEngine: each gives OPA's answer or a clear PolicyError, never
a silent wrong or empty answer. Re-run on every Regorus upgrade before relaxing a guard."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.engines.policy_engine import EvalRequest, PolicyError, PolicyModule, RegoVersion
from bot.engines.rego_engine import RegorusEngine

INPUT = {
    "list": ["nginx:latest", "redis:7"],
    "c": [{"image": "xyz:1", "ports": [80, 443]}, {"image": "abc:2", "ports": [8080]}],
    "a": [1, 2],
    "b": [2, 3],
}


@pytest.fixture(scope="module")
def engine() -> Iterator[RegorusEngine]:
    with RegorusEngine() as shared:
        yield shared


def evaluate(
    engine: RegorusEngine,
    policy: str,
    rule: str = "r",
    document: Any = None,
    version: RegoVersion = RegoVersion.V1,
) -> Any:
    """The rule's value (``None`` when undefined); compile errors fail the test."""
    _, errors = engine.compile([PolicyModule("p.rego", policy, version)], {})
    assert errors == []
    ref = f"data.main.{rule}"
    (evaluation,) = engine.evaluate([ref], [EvalRequest(INPUT if document is None else document)])
    assert evaluation.error is None
    return evaluation.values.get(ref)


def compile_errors(
    engine: RegorusEngine, policy: str, version: RegoVersion = RegoVersion.V1
) -> list[PolicyError]:
    _, errors = engine.compile([PolicyModule("p.rego", policy, version)], {})
    return errors


def input_error(engine: RegorusEngine, policy: str, document: Any) -> PolicyError:
    _, errors = engine.compile([PolicyModule("p.rego", policy)], {})
    assert errors == []
    (evaluation,) = engine.evaluate(["data.main.r"], [EvalRequest(document)])
    assert evaluation.error is not None, f"expected an error, got {evaluation.values}"
    assert evaluation.values == {}
    return evaluation.error


# --- §2.2 rows 1-17 --------------------------------------------------------------------------


def test_defect_01_iterator_ref_as_call_argument(engine: RegorusEngine) -> None:
    p = "package main\n\n"
    assert evaluate(engine, p + 'r contains 1 if endswith(input.list[_], ":latest")') == [1]
    assert evaluate(engine, p + 'r contains 1 if startswith(input.c[_].image, "x")') == [1]
    assert evaluate(engine, p + 'r contains 1 if not startswith(input.list[_], "nginx")') == [1]
    assert evaluate(engine, p + "r contains n if n := count(input.c[_].ports)") == [1, 2]


def test_defect_02_named_variable_in_call_argument(engine: RegorusEngine) -> None:
    policy = (
        'package main\n\nr contains i if {\n  some i\n  endswith(input.list[i], ":latest")\n}\n'
    )
    assert evaluate(engine, policy) == [0]


def test_defect_03_two_iterators_compared(engine: RegorusEngine) -> None:
    assert evaluate(engine, "package main\n\nr contains 1 if input.a[_] == input.b[_]\n") == [1]


def test_defect_04_named_iterators_compared(engine: RegorusEngine) -> None:
    pairs = "package main\n\nr contains [p, q] if {\n  some p, q\n  input.a[p] == input.b[q]\n}\n"
    assert evaluate(engine, pairs) == [[1, 0]]
    member = "package main\n\nr contains p if {\n  some p\n  input.c[p].ports[_] in [443]\n}\n"
    assert evaluate(engine, member) == [0]


def test_defect_05_string_through_function_argument_into_sprintf(engine: RegorusEngine) -> None:
    policy = 'package main\n\nf(id) := sprintf("%s!", [id])\n\nr := f("ID-2")\n'
    assert evaluate(engine, policy) == "ID-2!"


def test_defect_06_sprintf_s_of_array_and_set(engine: RegorusEngine) -> None:
    assert evaluate(engine, 'package main\n\nr := sprintf("%s", [["a", "b"]])\n') == '["a", "b"]'
    assert evaluate(engine, 'package main\n\nr := sprintf("%s", [{"a"}])\n') == '{"a"}'


def test_defect_07_sprintf_q(engine: RegorusEngine) -> None:
    assert evaluate(engine, 'package main\n\nr := sprintf("%q", ["x"])\n') == '"x"'


def test_defect_08_sprintf_d_of_a_division(engine: RegorusEngine) -> None:
    assert evaluate(engine, 'package main\n\nr := sprintf("%d", [12 / 2])\n') == "6"


def test_defect_09_test_rule_with_input_over_dependent_rules(engine: RegorusEngine) -> None:
    policy = """\
package main

deny contains "root" if input.root

nv := count(deny)

test_x if {
    nv == 1 with input as {"root": true}
}
"""
    results, errors = engine.run_tests([PolicyModule("p_test.rego", policy)], {})
    assert errors == []
    assert [(r.name, r.passed) for r in results] == [("test_x", True)]
    # ... and loading the test file does not break ordinary queries
    (evaluation,) = engine.evaluate(["data.main.deny"], [EvalRequest({"root": True})])
    assert evaluation.values == {"data.main.deny": ["root"]}


def test_defect_10_v0_partial_set_is_a_set_under_v0_and_an_error_under_v1(
    engine: RegorusEngine,
) -> None:
    policy = 'package main\n\nr[msg] {\n  input.a\n  msg := "x"\n}\n'
    assert evaluate(engine, policy, version=RegoVersion.V0) == ["x"]
    (error,) = compile_errors(engine, policy)
    assert (error.path, error.line) == ("p.rego", 3)
    assert "rego_version: v0" in error.message


def test_defect_11_v0_and_v1_rules_in_one_package(engine: RegorusEngine) -> None:
    # In separate modules, each with its own version, both rules count.
    v0 = 'package main\n\nr[msg] {\n  msg := "v0"\n}\n'
    v1 = 'package main\n\nr contains msg if {\n  msg := "v1"\n}\n'
    heads, errors = engine.compile(
        [PolicyModule("a.rego", v0, RegoVersion.V0), PolicyModule("b.rego", v1)], {}
    )
    assert errors == [] and len(heads) == 2
    (evaluation,) = engine.evaluate(["data.main.r"], [EvalRequest({})])
    assert evaluation.values == {"data.main.r": ["v0", "v1"]}
    # In one v0 module without future keywords, OPA rejects it too: a clear error.
    errors = compile_errors(engine, v0 + "\n" + v1.removeprefix("package main\n"), RegoVersion.V0)
    assert errors and errors[0].path == "p.rego"
    assert "rego_version: v1" in errors[0].message


def test_defect_12_unsafe_variable(engine: RegorusEngine) -> None:
    (error,) = compile_errors(engine, "package main\n\nr if x == 1\n")
    assert (error.path, error.line) == ("p.rego", 3)
    assert "unsafe" in error.message


def test_defect_13_type_error(engine: RegorusEngine) -> None:
    # OPA: a compile-time type error. Regorus: an error when the expression runs, which is
    # every input's error here (never undefined); arity errors are found at compile time.
    error = input_error(engine, 'package main\n\nr := 1 + "a"\n', {})
    assert (error.path, error.line) == ("p.rego", 3)
    assert "expects numeric argument" in error.message
    error = input_error(engine, 'package main\n\nr := input.n + "a"\n', {"n": 1})
    assert (error.path, error.line) == ("p.rego", 3)
    (arity,) = compile_errors(engine, "package main\n\nr := count(1, 2)\n")
    assert (arity.path, arity.line, arity.message) == ("p.rego", 3, "`count` expects 1 argument")


def test_defect_14_case_insensitive_regex(engine: RegorusEngine) -> None:
    assert evaluate(engine, 'package main\n\nr := regex.match("(?i)latest", "LATEST")\n') is True


def test_defect_15_rfc3339_with_z(engine: RegorusEngine) -> None:
    policy = 'package main\n\nr := time.parse_rfc3339_ns("2024-01-02T03:04:05Z")\n'
    assert evaluate(engine, policy) == 1704164645000000000


def test_defect_16_builtins_regopy_lacks(engine: RegorusEngine) -> None:
    policy = 'package main\n\nr := net.cidr_contains("10.0.0.0/8", "10.1.2.3")\n'
    assert evaluate(engine, policy) is True
    schema = 'package main\n\nr := json.match_schema({"a": 1}, {"type": "object"})[0]\n'
    assert evaluate(engine, schema) is True
    # Regorus lacks these two: refused at compile time, at the call.
    errors = compile_errors(
        engine,
        "package main\n\n"
        "r := rego.metadata.rule() if input.x\n\n"
        's := strings.render_template("{{.a}}", {"a": 1}) if input.x\n',
    )
    assert [(e.line, e.message) for e in errors] == [
        (3, "unknown function rego.metadata.rule: not a Regorus built-in"),
        (5, "unknown function strings.render_template: not a Regorus built-in"),
    ]


def test_defect_17_trace(engine: RegorusEngine) -> None:
    assert evaluate(engine, 'package main\n\nr if trace("x")\n') is True


# --- Regorus pitfalls --------------------------------------------------------------------------


def test_regorus_package_query_with_import_alias_keeps_every_module(
    engine: RegorusEngine,
) -> None:
    """Querying ``data.main`` drops rules of later modules that import with an alias; the
    engine queries each rule by its full path instead."""
    modules = [
        PolicyModule("a.rego", 'package main\n\ndeny contains "a" if true\n'),
        PolicyModule(
            "b.rego",
            "package main\n\nimport data.lib as l\n\n"
            'deny contains "b" if l.x == 1\n\nwarn contains "w" if l.x == 1\n',
        ),
        PolicyModule("lib.rego", "package lib\n\nx := 1\n"),
    ]
    _, errors = engine.compile(modules, {})
    assert errors == []
    (evaluation,) = engine.evaluate(["data.main.deny", "data.main.warn"], [EvalRequest({})])
    assert evaluation.values == {"data.main.deny": ["a", "b"], "data.main.warn": ["w"]}


@pytest.mark.parametrize(
    ("expression", "document"),
    [
        ("to_number(input.v)", {"v": "abc"}),
        ("units.parse_bytes(input.v)", {"v": "lots"}),
        ('object.get(input.v, "a", 1)', {"v": None}),
        ("1 / input.v", {"v": 0}),
        ("[x | some x in input.v]", {"v": "str"}),
    ],
)
def test_regorus_strict_builtin_errors_fail_that_input(
    engine: RegorusEngine, expression: str, document: Any
) -> None:
    """OPA makes these undefined (conftest without --show-builtin-errors); Regorus raises.
    Fail closed: the input gets an error at the policy's line, never a silent pass."""
    error = input_error(engine, f"package main\n\nr := {expression}\n", document)
    assert (error.path, error.line) == ("p.rego", 3)
    assert error.message


@pytest.mark.parametrize(
    "call",
    [
        'io.jwt.decode("a.b.c")',
        'crypto.sha256("x")',
        'regex.globs_match("a*", "a.*")',
        "rego.metadata.chain()",
    ],
)
def test_regorus_missing_builtins_are_compile_errors(engine: RegorusEngine, call: str) -> None:
    errors = compile_errors(engine, f"package main\n\nr := {call} if input.never\n")
    assert [(e.path, e.line, e.column) for e in errors] == [("p.rego", 3, 6)]
    assert errors[0].message.startswith("unknown function ")


def test_regorus_sprintf_forms_that_match_opa(engine: RegorusEngine) -> None:
    policy = (
        "package main\n\n"
        'r := sprintf("%v %s %d %q %x %05d %3d|%b %c 100%%", '
        '[[1, "a"], {"k": 1}, 42, "q", 255, 42, 5, 5, 65])\n'
    )
    assert evaluate(engine, policy) == '[1, "a"] {"k": 1} 42 "q" ff 00042   5|101 A 100%'


@pytest.mark.parametrize("verb", ["%f", "%.1f", "%e", "%g", "%5s", "%-5s", "%t", "%o", "%+d"])
def test_regorus_sprintf_forms_that_differ_are_refused(engine: RegorusEngine, verb: str) -> None:
    """Regorus prints ``%f`` of 1.5 as "1.5", ``%.1f`` of 2 as "2", ``%t`` as "", ``%-5s``
    without its argument...: OPA's text differs, so the policy is refused at the format."""
    errors = compile_errors(engine, f'package main\n\nr := sprintf("n={verb}", [input.x])\n')
    assert [(e.path, e.line, e.column) for e in errors] == [("p.rego", 3, 17)]
    assert f"sprintf format {verb} is not supported" in errors[0].message
