"""Kyverno's behaviours that are source rewrites: orValue compat, lazy variables, autogen."""

from __future__ import annotations

import pytest

from bot.analyzers.kyverno.cel import (
    AutogenTarget,
    CelCompileError,
    CelEvaluationError,
    Environment,
    autogen,
    referenced_roots,
)
from bot.analyzers.kyverno.cel.rewrite import inline_variables, rewrite_or_value
from bot.analyzers.kyverno.cel.scanner import Kind, receiver_start, tokenize
from tests.analyzers.kyverno_cel.cel_helpers import cronjob, deployment, evaluate, pod, runtime

# --- scanner ----------------------------------------------------------------------------


def test_tokenizer_keeps_strings_whole() -> None:
    tokens = tokenize('a.b == \'x.orValue(1)\' + """multi\nline""" + r\'\\d\' // note')
    assert [t.kind for t in tokens].count(Kind.STRING) == 3
    assert tokens[4].text == "'x.orValue(1)'"
    assert all(t.text != "note" for t in tokens)  # comments are skipped


def test_receiver_start_walks_the_whole_postfix_chain() -> None:
    text = "x + object.spec.?a[0].f(1, [2]).g.orValue(1)"
    tokens = tokenize(text)
    dot = max(i for i, t in enumerate(tokens) if t.text == "orValue") - 1
    assert text[tokens[receiver_start(tokens, dot)].start :].startswith("object.spec")


# --- orValue compatibility ----------------------------------------------------------------


def test_or_value_on_a_present_non_optional_receiver_returns_it() -> None:
    # kyverno/policies use container.volumeMounts.orValue([]) on plain fields.
    expression = "object.spec.containers[0].volumeMounts.orValue([]).size()"
    assert evaluate(expression) == 1


def test_or_value_on_a_non_optional_receiver_works_in_validate_cel_too() -> None:
    assert evaluate("object.metadata.name.orValue('x')", environment=Environment.VALIDATE_CEL)


def test_or_value_after_an_optional_chain_is_left_alone() -> None:
    text = "object.spec.?initContainers.orValue([]) + object.?x[?'y'].orValue([])"
    assert rewrite_or_value(text) == text
    assert evaluate("object.spec.?initContainers.orValue([]).size()") == 0


def test_or_value_rewrite_skips_strings_and_nests() -> None:
    text = "'a.orValue(1)' + b.orValue(c.orValue('d'))"
    rewritten = rewrite_or_value(text)
    assert rewritten.startswith("'a.orValue(1)' + cel.bind(")
    assert rewritten.count("cel.bind(") == 2
    assert evaluate("object.metadata.name.orValue(object.metadata.namespace.orValue(''))") == (
        "web"
    )


def test_or_value_receiver_chain_after_a_rewritten_call() -> None:
    expression = "object.metadata.orValue({}).labels.app.orValue('none')"
    assert evaluate(expression) == "web"


def test_or_value_on_a_statically_optional_receiver_without_chain() -> None:
    assert evaluate("optional.none().orValue(3)") == 3
    assert evaluate("optional.of(object.metadata.name).orValue('x')") == "web"


def test_or_value_with_a_missing_plain_field_still_fails_as_in_kyverno() -> None:
    with pytest.raises(CelEvaluationError, match="volumeMounts"):
        evaluate("object.spec.containers[1].volumeMounts.orValue([]).size()")


# --- lazy variables -------------------------------------------------------------------------


def test_variable_referencing_an_earlier_variable() -> None:
    variables = {
        "allContainers": "object.spec.containers + object.spec.?initContainers.orValue([])",
        "names": "variables.allContainers.map(c, c.name)",
    }
    assert evaluate("variables.names", lazy_variables=variables) == ["app", "sidecar"]


def test_unused_variable_is_never_evaluated() -> None:
    # `boom` would fail (no such field) if it were evaluated; the short circuit skips it,
    # as Kyverno's lazy variables do (kyverno/policies disallow-cri-sock-mount relies on it).
    variables = {"noVolumes": "!has(object.spec.volumes)", "boom": "object.spec.volumes"}
    bare = pod()
    del bare["spec"]["volumes"]
    expression = "variables.noVolumes || variables.boom.size() == 0"
    assert evaluate(expression, {"object": bare}, lazy_variables=variables) is True
    with pytest.raises(CelEvaluationError, match="volumes"):
        evaluate("variables.boom.size() == 0", {"object": bare}, lazy_variables=variables)


def test_variable_never_referenced_is_not_compiled_into_the_expression() -> None:
    compiled = runtime().compile(
        "object.metadata.name == 'web'", lazy_variables={"bad": "object.nope.deeper"}
    )
    assert compiled.evaluate({"object": pod()}) is True


def test_variable_cycle_is_a_compile_error_naming_the_variables() -> None:
    with pytest.raises(CelCompileError, match="variable 'a' refers to itself: a -> b -> a"):
        runtime().compile(
            "variables.a", lazy_variables={"a": "variables.b + 1", "b": "variables.a"}
        )


def test_has_on_a_variable_tells_whether_it_is_defined() -> None:
    assert inline_variables("has(variables.a) && !has(variables.b)", {"a": "1"}) == (
        "true && !false"
    )


def test_variables_index_form_and_unknown_names() -> None:
    assert inline_variables("variables['a'] + variables.zzz", {"a": "1"}) == ("(1) + variables.zzz")
    with pytest.raises(CelEvaluationError, match="zzz"):
        evaluate("variables.zzz == 1", lazy_variables={"a": "1"})


def test_variable_keeps_optional_typing_when_inlined() -> None:
    variables = {"owner": "object.metadata.?labels.?owner"}
    assert evaluate("variables.owner.orValue('nobody')", lazy_variables=variables) == "nobody"


def test_variable_in_a_string_is_not_inlined() -> None:
    text = "'variables.a' + variables.a"
    assert inline_variables(text, {"a": "'x'"}) == "'variables.a' + ('x')"


# --- autogen ----------------------------------------------------------------------------------


def test_autogen_for_pod_controllers() -> None:
    text = "object.spec.containers.all(c, has(c.image)) && oldObject.metadata.name != ''"
    assert autogen(text, AutogenTarget.POD_CONTROLLER) == (
        "object.spec.template.spec.containers.all(c, has(c.image))"
        " && oldObject.spec.template.metadata.name != ''"
    )


def test_autogen_for_cronjobs() -> None:
    text = "object.metadata.labels.app == 'web' && object.spec.containers.size() > 0"
    generated = autogen(text, AutogenTarget.CRONJOB)
    assert generated == (
        "object.spec.jobTemplate.spec.template.metadata.labels.app == 'web'"
        " && object.spec.jobTemplate.spec.template.spec.containers.size() > 0"
    )
    assert evaluate(generated, {"object": cronjob()}) is True


def test_autogen_is_token_aware() -> None:
    text = "'object.spec' == x.object.spec && object.specification == object.spec.a"
    assert autogen(text, AutogenTarget.POD_CONTROLLER) == (
        "'object.spec' == x.object.spec && object.specification == object.spec.template.spec.a"
    )


def test_autogen_can_keep_the_namespace() -> None:
    text = "object.metadata.namespace != 'default' && object.metadata.name != ''"
    kept = autogen(text, AutogenTarget.POD_CONTROLLER, keep_namespace=True)
    assert kept == (
        "object.metadata.namespace != 'default' && object.spec.template.metadata.name != ''"
    )
    assert autogen(text, AutogenTarget.POD_CONTROLLER).startswith(
        "object.spec.template.metadata.namespace"
    )


def test_autogen_rule_evaluates_on_a_deployment() -> None:
    policy = "object.spec.containers.all(c, c.?securityContext.?runAsNonRoot.orValue(false))"
    generated = autogen(policy, AutogenTarget.POD_CONTROLLER)
    assert evaluate(generated, {"object": deployment()}) is True


# --- analysis ---------------------------------------------------------------------------------


def test_referenced_roots_finds_what_an_expression_needs() -> None:
    roots = referenced_roots(
        "authorizer.group('apps').resource('deployments').check('create').allowed()"
        " || request.userInfo.username == 'admin' || size('params.x') > 0"
    )
    assert {"authorizer", "request"} <= roots
    assert "params" not in roots
