"""``{{ ... }}`` substitution and the variable context (Kyverno's pkg/engine/variables/vars.go)."""

from typing import Any

import pytest

from bot.analyzers.kyverno.context import Context
from bot.analyzers.kyverno.errors import NotFoundError, SubstitutionError
from bot.analyzers.kyverno.variables import has_variables, substitute, variable_expression

POD: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web", "tier": "front"}},
    "spec": {"replicas": 2.0, "containers": [{"name": "nginx", "image": "nginx:1.25"}]},
}


def context(operation: str = "CREATE", **extra: Any) -> Context:
    request = {"object": POD, "oldObject": None, "operation": operation, "namespace": "prod"}
    return Context({"request": request, **extra})


def test_a_whole_string_variable_keeps_the_raw_value() -> None:
    ctx = context()
    assert substitute("{{request.object.spec.replicas}}", ctx) == 2.0
    labels = substitute("{{ request.object.metadata.labels }}", ctx)
    assert labels == {"app": "web", "tier": "front"}
    assert substitute("{{request.object.spec.containers[].name}}", ctx) == ["nginx"]
    assert substitute("{{request.oldObject}}", ctx) is None


def test_values_are_spliced_into_strings_as_go_json() -> None:
    ctx = context()
    assert substitute("pod {{request.object.metadata.name}} in {{request.namespace}}", ctx) == (
        "pod web in prod"
    )
    assert substitute("replicas={{request.object.spec.replicas}}", ctx) == "replicas=2"
    assert substitute("labels: {{request.object.metadata.labels}}", ctx) == (
        'labels: {"app":"web","tier":"front"}'
    )
    assert substitute("old: {{request.oldObject}}", ctx) == "old: null"


def test_substitution_walks_lists_maps_and_keys() -> None:
    ctx = context()
    document = {
        "{{request.object.metadata.name}}-key": ["{{request.namespace}}", 3, None],
        "plain": {"x": "{{request.object.metadata.labels.app}}"},
    }
    assert substitute(document, ctx) == {"web-key": ["prod", 3, None], "plain": {"x": "web"}}


def test_unchanged_documents_are_returned_as_is() -> None:
    document = {"spec": {"containers": [{"image": "!*:latest"}]}}
    assert substitute(document, context()) is document
    mixed = {"a": {"b": "x"}, "c": "{{request.namespace}}"}
    result = substitute(mixed, context())
    assert result["a"] is mixed["a"]
    assert result["c"] == "prod"


def test_unknown_key_is_a_substitution_error_naming_the_variable() -> None:
    with pytest.raises(SubstitutionError) as raised:
        substitute("team {{request.object.metadata.labels.team}}", context())
    assert raised.value.variable == "request.object.metadata.labels.team"
    assert 'Unknown key "team"' in str(raised.value)


def test_or_default_avoids_the_error() -> None:
    assert substitute("{{request.object.metadata.labels.team || 'none'}}", context()) == "none"


def test_escaped_variables_stay_literal() -> None:
    assert substitute(r"keep \{{ not.a.variable }} here", context()) == (
        "keep {{ not.a.variable }} here"
    )
    assert substitute(r"\{{request.namespace}} {{request.namespace}}", context()) == (
        "{{request.namespace}} prod"
    )


def test_nested_variables_resolve_inside_out() -> None:
    ctx = context(key="app")
    assert substitute("{{request.object.metadata.labels.{{key}}}}", ctx) == "web"


def test_values_that_contain_variables_are_substituted_again() -> None:
    ctx = context(template="{{request.namespace}}")
    assert substitute("ns={{template}}", ctx) == "ns=prod"


def test_dash_form_substitutes_once() -> None:
    ctx = context(template="{{request.namespace}}")
    assert substitute("ns={{- template}}", ctx) == "ns={{request.namespace}}"
    assert substitute("{{- request.namespace}}", ctx) == "prod"


def test_delete_requests_read_the_old_object() -> None:
    ctx = Context(
        {"request": {"object": None, "oldObject": POD, "operation": "DELETE"}},
    )
    assert substitute("{{request.object.metadata.name}}", ctx) == "web"


def test_current_value() -> None:
    ctx = context()
    assert substitute("{{@}}", ctx, current="nginx:1.25") == "nginx:1.25"
    # without `current`, {{@}} is the resource value at the same path as in the pattern
    pattern = {"spec": {"containers": [{"=(image)": "{{@}}"}]}}
    assert substitute(pattern, ctx) == {"spec": {"containers": [{"=(image)": "nginx:1.25"}]}}


def test_references_read_the_same_document() -> None:
    # ported: kyverno pkg/engine/validate/validate_test.go
    # (TestValidateMap_CorrectRelativePathInConfig)
    pattern = {
        "spec": {
            "containers": [
                {
                    "name": "*",
                    "resources": {
                        "requests": {"memory": "$(<=./../../limits/memory)"},
                        "limits": {"memory": "2048Mi"},
                    },
                }
            ]
        }
    }
    result = substitute(pattern, context())
    assert result["spec"]["containers"][0]["resources"]["requests"]["memory"] == "<=2048Mi"


def test_reference_to_a_missing_path_is_an_error() -> None:
    pattern = {"spec": {"a": "$(./../somekey/memory)"}}
    with pytest.raises(SubstitutionError, match="got nil resolved variable"):
        substitute(pattern, context())
    assert substitute({"a": r"\$(./b)", "b": "x"}, context()) == {"a": "$(./b)", "b": "x"}


def test_has_variables() -> None:
    assert has_variables({"a": ["{{x}}"]})
    assert has_variables({"a": "$(./b)"})
    assert not has_variables({"a": ["{x}", "x}}", 1]})
    assert variable_expression("{{ request.object }}") == "request.object"


# --- Context ----------------------------------------------------------------------------------


def test_context_child_scopes_do_not_leak() -> None:
    parent = context()
    child = parent.child(element={"name": "a"}, elementIndex=0)
    assert child.query("element.name") == "a"
    assert child.query("request.namespace") == "prod"
    with pytest.raises(NotFoundError):
        parent.query("element")


def test_set_path_creates_maps_and_copies_on_write() -> None:
    parent = context()
    child = parent.child()
    child.set_path("request.operation", "UPDATE")
    child.add_variable("team.name", "blue")
    assert child.query("request.operation") == "UPDATE"
    assert child.query("team.name") == "blue"
    assert parent.query("request.operation") == "CREATE"
    assert child.operation() == "UPDATE"
    assert Context({}).operation() == "CREATE"
