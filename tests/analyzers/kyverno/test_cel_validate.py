"""validate.cel rules in a ClusterPolicy: what the kyverno-test suite (tests/data/kyverno/
cel-validate) does not show: the failing field, messages, UPDATE against a different old
object, parameter resources, autogen restricted by the annotation, and policies Kyverno
refuses (a CEL expression that does not compile is a policy problem at its line)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.analyzers.kyverno.cel_bindings import BindingMode, CelInputs
from bot.analyzers.kyverno.engine import Status
from tests.analyzers.kyverno.cel_policies import cel_rule, config_map, evaluate, load, one, pod

HOST_NETWORK = cel_rule(
    '        - expression: "!has(object.spec.hostNetwork) || !object.spec.hostNetwork"\n'
    '          message: "hostNetwork is not allowed"\n',
    kinds="[Pod]",
)


def test_fail_points_at_the_field_the_expression_names() -> None:
    result = one(HOST_NETWORK, pod(hostNetwork=True))
    assert (result.status, result.message) == (Status.FAIL, "hostNetwork is not allowed")
    assert result.path == ("spec", "hostNetwork")
    assert result.rule.name == "check" and result.index == 0


def test_autogen_rules_check_the_pod_template_and_name_the_base_rule() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": {"hostNetwork": True, "containers": []}}},
    }
    (result,) = evaluate(HOST_NETWORK, deployment)
    assert result.status is Status.FAIL
    assert result.rule.name == "autogen-check" and result.rule.base_name == "check"
    assert result.path == ("spec", "template", "spec", "hostNetwork")


def test_the_autogen_annotation_restricts_the_controllers() -> None:
    text = HOST_NETWORK.replace(
        "  name: cp\n",
        "  name: cp\n  annotations:\n    pod-policies.kyverno.io/autogen-controllers: Deployment\n",
    )
    cronjob: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "shop"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostNetwork": True}}}}},
    }
    assert evaluate(text, cronjob) == []
    names = [r.name for r in load(text).policies[0].rules]
    assert names == ["check", "autogen-check"]


def test_messages_fall_back_to_the_rule_message_then_the_expression() -> None:
    text = cel_rule('        - expression: "has(object.data)"\n')
    assert one(text, config_map()).message == "failed expression: has(object.data)"
    with_message = text.replace("    validate:\n", "    validate:\n      message: need data\n")
    assert one(with_message, config_map()).message == "need data"


def test_an_evaluation_error_is_a_fail_with_the_error() -> None:
    result = one(cel_rule("        - expression: \"object.data.mode == 'strict'\"\n"), config_map())
    assert result.status is Status.FAIL
    assert "resulted in error" in result.message and "data" in result.message


def test_a_false_precondition_skips_and_is_not_unsupported() -> None:
    text = cel_rule(
        '        - expression: "false"\n',
        extra='    celPreconditions:\n    - name: never\n      expression: "false"\n',
    )
    result = one(text, config_map())
    assert (result.status, result.message, result.unsupported) == (
        Status.SKIP,
        "cel preconditions not met",
        False,
    )


ENFORCE_DATA = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: cp
spec:
  validationFailureAction: Enforce
  rules:
  - name: data
    match:
      any:
      - resources: {kinds: [ConfigMap]}
    validate:
      cel:
        expressions:
        - expression: "has(object.data) && object.data.size() < 3"
"""


def test_update_is_not_blamed_for_a_violation_the_base_already_had() -> None:
    head = config_map(a="1", b="2", c="3")
    base = config_map(a="1", b="2", c="3", d="4")
    result = one(ENFORCE_DATA, head, operation="UPDATE", old_resource=base)
    assert result.status is Status.SKIP
    assert "pre-existing violations are allowed" in result.message
    fixed = one(ENFORCE_DATA, head, operation="UPDATE", old_resource=config_map(a="1"))
    assert fixed.status is Status.FAIL  # the change introduced the violation


def test_audit_rules_are_blamed_on_update_too() -> None:
    text = ENFORCE_DATA.replace("Enforce", "Audit")
    head = config_map(a="1", b="2", c="3")
    assert one(text, head, operation="UPDATE", old_resource=head).status is Status.FAIL


PARAMS = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: replica-limit
spec:
  rules:
  - name: max-replicas
    match:
      any:
      - resources: {kinds: [Deployment]}
    validate:
      cel:
        paramKind: {apiVersion: v1, kind: ConfigMap}
        paramRef: {name: limits}
        expressions:
        - expression: "object.spec.replicas <= int(params.data.maxReplicas)"
          messageExpression: "'at most ' + params.data.maxReplicas + ' replicas'"
"""
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"replicas": 5},
}


def test_params_come_from_the_repository() -> None:
    params = [config_map("limits", "shop", maxReplicas="3"), config_map("limits", "other")]
    result = one(PARAMS, DEPLOYMENT, cel=CelInputs(params=params))
    assert (result.status, result.message) == (Status.FAIL, "at most 3 replicas")
    relaxed = [config_map("limits", "shop", maxReplicas="9")]
    assert one(PARAMS, DEPLOYMENT, cel=CelInputs(params=relaxed)).status is Status.PASS


def test_missing_params_skip_with_the_reason() -> None:
    result = one(PARAMS, DEPLOYMENT, cel=CelInputs(mode=BindingMode.CLI))
    assert result.status is Status.SKIP and result.unsupported
    assert "ConfigMap (v1) limits" in result.message


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("object.spec.containers.all(c, c.image", "Syntax error"),
        ("object.metadata.name == 'a' + 1", "no matching overload"),
        ("object.metadata.name.size()", "must evaluate to a bool, not int"),
        ("[1, 'a'].size() > 0", "homogeneous literals"),
        ("params.data.x == 'y'", "undeclared reference to 'params"),
    ],
)
def test_bad_cel_is_a_policy_problem_at_the_expression(expression: str, problem: str) -> None:
    text = cel_rule(f"        - message: m\n          expression: {json.dumps(expression)}\n")
    loaded = load(text)
    assert loaded.policies == []
    (found,) = loaded.problems
    assert found.path == "policies/cel.yaml" and found.policy == "cp"
    assert found.line == 16  # the expression's line
    assert "rule check" in found.message and problem in found.message
    assert expression in found.message


def test_a_variable_cycle_is_a_policy_problem() -> None:
    text = cel_rule('        - expression: "variables.a"\n').replace(
        "        expressions:\n",
        "        variables:\n"
        "        - {name: a, expression: variables.b}\n"
        "        - {name: b, expression: variables.a}\n"
        "        expressions:\n",
    )
    (problem,) = load(text).problems
    assert "refers to itself" in problem.message and "b -> a -> b" in problem.message
    assert problem.line == 15  # variable a, whose expression closes the cycle
