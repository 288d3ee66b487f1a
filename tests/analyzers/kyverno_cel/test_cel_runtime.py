"""The runtime protocol: compile, evaluate, cache, errors, Kyverno's typing rules."""

from __future__ import annotations

import pytest

from bot.analyzers.kyverno.cel import (
    CelCompileError,
    CelEvaluationError,
    CelRuntime,
    CelUnavailableError,
    Environment,
    OptionalValue,
)
from tests.analyzers.kyverno_cel.cel_helpers import evaluate, pod, runtime


def test_compile_and_evaluate_returns_plain_values() -> None:
    compiled = runtime().compile("object.spec.containers.map(c, {'n': c.name, 'ports': 1})")
    assert compiled.evaluate({"object": pod()}) == [
        {"n": "app", "ports": 1},
        {"n": "sidecar", "ports": 1},
    ]


def test_compiled_expressions_are_cached_per_text_and_declarations() -> None:
    rt = CelRuntime()
    first = rt.compile("object.metadata.name")
    assert rt.compile("object.metadata.name") is first
    assert rt.compile("object.metadata.name", variables=("object",)) is not first
    assert rt.compile("object.metadata.name", lazy_variables={"a": "1"}) is not first


def test_compile_errors_are_cached_too() -> None:
    rt = CelRuntime()
    with pytest.raises(CelCompileError) as first:
        rt.compile("object.spec +")
    with pytest.raises(CelCompileError) as second:
        rt.compile("object.spec +")
    assert first.value is second.value


def test_syntax_error_names_expression_line_and_column() -> None:
    with pytest.raises(CelCompileError) as err:
        runtime().compile("object.spec.containers.all(c,\n  c.name ==)")
    assert err.value.expression == "object.spec.containers.all(c,\n  c.name ==)"
    assert (err.value.line, err.value.column) == (2, 12)
    assert "Syntax error" in err.value.message
    assert "line 2, column 12" in str(err.value)


def test_type_error_has_column_of_the_operator() -> None:
    with pytest.raises(CelCompileError) as err:
        runtime().compile("size(object) + 'x'")
    assert err.value.column == 14
    assert "no matching overload for '_+_'" in err.value.message


def test_undeclared_variable_is_a_compile_error() -> None:
    with pytest.raises(CelCompileError, match="undeclared reference to 'podSpec"):
        runtime().compile("podSpec.containers.size() > 0")


def test_declared_variables_restrict_the_environment() -> None:
    # JSON evaluation mode binds only object and variables.
    with pytest.raises(CelCompileError, match="undeclared reference to 'request"):
        runtime().compile("request.operation == 'CREATE'", variables=("object", "variables"))
    compiled = runtime().compile("object.a", variables={"object": "map(string, int)"})
    assert compiled.evaluate({"object": {"a": 3}}) == 3


def test_evaluation_error_names_the_expression() -> None:
    with pytest.raises(CelEvaluationError) as err:
        evaluate("object.spec.nodeName == 'x'")
    assert 'Key not found in map : "nodeName"' in err.value.message
    assert err.value.expression == "object.spec.nodeName == 'x'"


def test_division_by_zero_is_an_evaluation_error() -> None:
    with pytest.raises(CelEvaluationError, match="divide by zero"):
        evaluate("size(object.spec.containers) / 0 == 1")


def test_cross_type_numeric_ordering_is_on() -> None:
    assert evaluate("1 < 2.5") is True
    assert evaluate("3u >= 2.5") is True
    assert evaluate("2.0 <= 1") is False
    assert evaluate("-1 < 0u") is True


def test_cross_type_equality_on_dynamic_values() -> None:
    # Values from the object are dyn: equality crosses numeric types at run time.
    assert evaluate("object.spec.replicas == 3.0", {"object": {"spec": {"replicas": 3}}})
    assert evaluate("dyn(1) == 1.0") is True
    assert evaluate("object.x in [1.0, 2.0]", {"object": {"x": 2}}) is True


def test_literal_int_double_equality_is_a_compile_error_as_in_cel_go() -> None:
    with pytest.raises(CelCompileError) as err:
        runtime().compile("1 == 1.0")
    assert err.value.column == 3
    assert "'_==_' applied to '(int, double)'" in err.value.message


def test_heterogeneous_list_literal_is_a_compile_error() -> None:
    with pytest.raises(CelCompileError) as err:
        runtime().compile("object.metadata.name in ['web', 1]")
    assert "list literal mixes string and int" in err.value.message
    assert "dyn()" in err.value.message
    assert (err.value.line, err.value.column) == (1, 25)


def test_heterogeneous_map_literal_is_a_compile_error() -> None:
    with pytest.raises(CelCompileError, match="map literal mixes int and string"):
        runtime().compile("{'replicas': 1, 'name': 'web'}.size() == 2")


def test_nested_and_comprehension_literals_are_checked() -> None:
    with pytest.raises(CelCompileError, match="list literal mixes list"):
        runtime().compile("[[1], ['a']].size() == 2")
    with pytest.raises(CelCompileError, match="list literal mixes int and string"):
        runtime().compile("object.spec.containers.map(c, [size(c.name), 'x']).size() > 0")
    # A field of a dyn value is dyn, which joins with anything (as in cel-go).
    assert evaluate("object.spec.containers.map(c, [c.name, 1]).size()") == 2


def test_dyn_makes_a_mixed_literal_legal() -> None:
    assert evaluate("[dyn(1), 'a'][1]") == "a"
    assert evaluate("{'a': dyn(1), 'b': 'x'}.b") == "x"
    assert evaluate("[object.spec.containers[0].name, 1].size()") == 2  # dyn element


def test_homogeneous_literals_with_optional_entries() -> None:
    assert evaluate("[?object.?metadata.?name, 'x']") == ["web", "x"]
    assert evaluate("{?'a': object.?metadata.?name, 'b': 'x'}") == {"a": "web", "b": "x"}


def test_optional_results_are_optional_values() -> None:
    assert evaluate("object.?metadata.?labels.?app") == OptionalValue(True, "web")
    assert evaluate("object.?metadata.?labels.?tier") == OptionalValue(False)


def test_dynamic_optional_result_is_a_clear_error() -> None:
    with pytest.raises(CelEvaluationError, match="optional value"):
        evaluate("dyn(object.?metadata)")


def test_prepared_activation_is_reused_across_expressions() -> None:
    rt = runtime()
    activation = rt.activation({"object": pod(), "variables": {}})
    names = rt.compile("object.spec.containers.map(c, c.name)")
    count = rt.compile("size(object.spec.containers)")
    assert names.evaluate(activation) == ["app", "sidecar"]
    assert count.evaluate(activation) == 2
    other = rt.compile("object.metadata.name", variables=("object",))
    assert other.evaluate(activation) == "web"  # another env: rebuilt from the values


def test_cluster_functions_compile_and_are_unavailable_offline() -> None:
    with pytest.raises(CelUnavailableError) as err:
        evaluate("resource.Get('v1', 'configmaps', 'default', 'registries').data.size() > 0")
    assert err.value.function == "resource.Get"
    assert "offline" in err.value.message
    for expression in (
        "resource.List('apps/v1', 'deployments', '').items.size() > 0",
        "globalContext.Get('deployments', '').size() > 0",
        "http.Get('https://example.com/x').allowed",
        "image.GetMetadata('nginx').config.user != ''",
    ):
        with pytest.raises(CelUnavailableError):
            evaluate(expression)


def test_kyverno_libraries_only_in_the_validating_policy_environment() -> None:
    assert evaluate("parseServiceAccount('system:serviceaccount:a:b').name") == "b"
    with pytest.raises(CelCompileError, match="parseServiceAccount"):
        runtime(Environment.VALIDATE_CEL).compile("parseServiceAccount('x').name == ''")
    with pytest.raises(CelCompileError, match="regex"):
        runtime(Environment.VALIDATE_CEL).compile("regex.replace('abc', 'b', 'x') == 'axc'")
    assert evaluate("regex.replace('abc', 'b', 'x')") == "axc"


def test_validate_cel_environment_has_the_kubernetes_libraries() -> None:
    env = Environment.VALIDATE_CEL
    assert evaluate("quantity('1Gi').isGreaterThan(quantity('1G'))", environment=env) is True
    assert evaluate("object.spec.containers.all(c, isImage(c.image))", environment=env) is True
    assert evaluate("object.metadata.?owner.orValue('none')", environment=env) == "none"


def test_compiled_source_shows_the_rewrites() -> None:
    compiled = runtime().compile(
        "variables.names.all(n, n != '')",
        lazy_variables={"names": "object.spec.containers.map(c, c.name)"},
    )
    assert compiled.expression == "variables.names.all(n, n != '')"
    assert compiled.source == "(object.spec.containers.map(c, c.name)).all(n, n != '')"


def test_bindings_cel_cannot_take_are_evaluation_errors() -> None:
    with pytest.raises(CelEvaluationError, match="Non-CEL value type"):
        runtime().compile("object.x").evaluate({"object": {"x": {1, 2}}})
    with pytest.raises(CelEvaluationError, match="out of range"):
        runtime().compile("object.x").evaluate({"object": {"x": 2**64}})


def test_missing_binding_is_an_evaluation_error() -> None:
    with pytest.raises(CelEvaluationError, match='No value with name "object"'):
        runtime().compile("object.metadata.name").evaluate({})
