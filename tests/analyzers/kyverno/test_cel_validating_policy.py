"""ValidatingPolicy: matching by matchConstraints (what the kyverno-test suites cannot show,
since kyverno test reports a resource that does not match as "excluded"), autogen details,
validation actions, and the policies Kyverno refuses."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.kyverno.cel_bindings import BindingMode, CelInputs
from bot.analyzers.kyverno.engine import Status
from bot.analyzers.kyverno.policy import FailureAction
from tests.analyzers.kyverno.cel_policies import (
    config_map,
    evaluate,
    load,
    one,
    pod,
    policy_set,
    vpol,
)

HAS_DATA = '  - expression: "has(object.data)"\n'


def _deployment(name: str = "web", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", **meta},
        "spec": {"template": {"metadata": {}, "spec": {"containers": []}}},
    }


def _match(rules: str, extra: str = "") -> str:
    return f"""\
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: vp
spec:
  matchConstraints:
{rules}{extra}  validations:
  - expression: "false"
"""


APPS = """\
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE]
      resources: [deployments]
"""


def test_resource_rules_decide_which_requests_match() -> None:
    text = _match(APPS)
    assert one(text, _deployment()).status is Status.FAIL
    assert evaluate(text, _deployment(), operation="UPDATE") == []
    assert evaluate(text, config_map()) == []
    other_version = {**_deployment(), "apiVersion": "apps/v1beta2"}
    assert evaluate(text, other_version) == []


def test_exclude_rules_resource_names_and_generate_name() -> None:
    exclude = """\
    excludeResourceRules:
    - apiGroups: ["*"]
      apiVersions: ["*"]
      operations: ["*"]
      resources: ["*"]
      resourceNames: [legacy]
"""
    text = _match(APPS, exclude)
    assert evaluate(text, _deployment("legacy")) == []
    assert one(text, _deployment("web")).status is Status.FAIL
    generated = _deployment("")
    generated["metadata"]["generateName"] = "legacy-"
    assert evaluate(text, generated) == []


def test_object_selector_reads_the_object_or_the_old_object() -> None:
    selector = "    objectSelector:\n      matchLabels: {checked: 'yes'}\n"
    text = _match(APPS.replace("[CREATE]", "[CREATE, UPDATE]"), selector)
    labelled = _deployment(labels={"checked": "yes"})
    assert one(text, labelled).status is Status.FAIL
    assert evaluate(text, _deployment()) == []
    result = one(text, _deployment(), operation="UPDATE", old_resource=labelled)
    assert result.status is Status.FAIL


def test_scope_and_wildcards() -> None:
    rules = """\
    resourceRules:
    - apiGroups: ["*"]
      apiVersions: ["*"]
      operations: ["*"]
      resources: ["*"]
      scope: Cluster
"""
    text = _match(rules)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert one(text, namespace).status is Status.FAIL
    assert evaluate(text, config_map()) == []


def test_namespace_selector_without_the_namespace_labels_is_an_unsupported_skip() -> None:
    selector = "    namespaceSelector:\n      matchLabels: {env: prod}\n"
    text = _match(APPS, selector)
    result = one(text, _deployment())
    assert result.status is Status.SKIP and result.unsupported
    assert 'namespace "shop"' in result.message
    prod = {"metadata": {"name": "shop", "labels": {"env": "prod"}}}
    gate = CelInputs(namespaces={"shop": prod})
    assert one(text, _deployment(), cel=gate).status is Status.FAIL
    dev = CelInputs(namespaces={"shop": {"metadata": {"name": "shop"}}})
    assert evaluate(text, _deployment(), cel=dev) == []
    # kyverno test: the values file's labels, else only kubernetes.io/metadata.name.
    cli = CelInputs(mode=BindingMode.CLI)
    assert evaluate(text, _deployment(), cel=cli) == []
    assert one(text, _deployment(), cel=cli, namespace_labels={"env": "prod"}).status is (
        Status.FAIL
    )


def test_a_selector_on_the_namespace_name_label_needs_no_manifest() -> None:
    selector = "    namespaceSelector:\n      matchLabels: {kubernetes.io/metadata.name: shop}\n"
    text = _match(APPS, selector)
    assert one(text, _deployment()).status is Status.FAIL
    elsewhere = _deployment()
    elsewhere["metadata"]["namespace"] = "other"
    assert evaluate(text, elsewhere) == []


def test_a_policy_without_match_constraints_never_matches() -> None:
    text = """\
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: vp}
spec:
  validations: [{expression: "false"}]
"""
    assert evaluate(text, config_map()) == []
    assert policy_set(text).candidates("ConfigMap") == []


def test_the_kind_index_knows_the_matched_and_generated_kinds() -> None:
    policies = policy_set(vpol(HAS_DATA, resources="[pods]"))
    for kind in ("Pod", "Deployment", "CronJob", "Job", "StatefulSet"):
        assert [p.name for p in policies.candidates(kind)] == ["vp"], kind
    assert policies.candidates("ConfigMap") == []


def test_validation_actions_give_the_failure_action() -> None:
    deny = load(vpol(HAS_DATA, extra="  validationActions: [Deny, Audit]\n")).policies[0]
    assert deny.rules[0].failure_action is FailureAction.ENFORCE
    audit = load(vpol(HAS_DATA, extra="  validationActions: [Audit, Warn]\n")).policies[0]
    assert audit.rules[0].failure_action is FailureAction.AUDIT
    default = load(vpol(HAS_DATA)).policies[0]
    assert default.rules[0].failure_action is FailureAction.ENFORCE  # Deny by default


def test_results_carry_the_validation_index_and_no_rule_name() -> None:
    text = vpol(
        '  - expression: "true"\n  - expression: "has(object.data)"\n    message: "data required"\n'
    )
    result = one(text, config_map())
    assert (result.status, result.index, result.message) == (Status.FAIL, 1, "data required")
    assert result.rule.base_name == ""


def test_message_expression_errors_are_reported_in_the_message() -> None:
    text = vpol(
        '  - expression: "has(object.data)"\n'
        "    messageExpression: \"'missing: ' + object.data.x\"\n"
    )
    result = one(text, config_map())
    assert result.status is Status.FAIL
    assert result.message.startswith("failed to evaluate message expression:")


def test_audit_annotations_that_cannot_be_evaluated_are_errors() -> None:
    extra = '  auditAnnotations:\n  - key: mode\n    valueExpression: "object.data.mode"\n'
    result = one(vpol('  - expression: "true"\n', extra=extra), config_map())
    assert result.status is Status.ERROR and "auditAnnotation 'mode'" in result.message
    assert one(vpol('  - expression: "true"\n', extra=extra), config_map(mode="x")).status is (
        Status.PASS
    )


AUTOGEN = vpol(
    "  - expression: \"object.spec.containers.all(c, c.image != 'bad')\"\n",
    resources="[pods]",
)


def test_autogen_controllers_can_be_chosen() -> None:
    text = AUTOGEN.replace(
        "  validations:",
        "  autogen:\n    podControllers:\n      controllers: [deployments]\n  validations:",
    )
    cronjob = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c", "namespace": "shop"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": []}}}}},
    }
    assert evaluate(text, cronjob) == []
    assert one(text, _deployment()).status is Status.PASS
    assert one(AUTOGEN, cronjob).status is Status.PASS


def test_no_autogen_with_an_object_selector() -> None:
    text = AUTOGEN.replace(
        "  validations:", "    objectSelector:\n      matchLabels: {app: web}\n  validations:"
    )
    assert evaluate(text, _deployment(labels={"app": "web"})) == []
    assert one(text, pod()).status is Status.PASS


def test_a_namespaced_policy_applies_in_its_namespace_only() -> None:
    text = vpol(HAS_DATA).replace(
        "kind: ValidatingPolicy\nmetadata:\n  name: vp\n",
        "kind: NamespacedValidatingPolicy\nmetadata:\n  name: vp\n  namespace: team\n",
    )
    assert evaluate(text, config_map(namespace="shop")) == []
    assert one(text, config_map(namespace="team")).status is Status.FAIL
    assert load(text).policies[0].key == "vp"  # kyverno test rows name it without namespace


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("  validationActions: [Block]\n", 'unknown validation action "Block"'),
        ("  failurePolicy: Sometimes\n", "failurePolicy must be Fail or Ignore"),
    ],
)
def test_bad_policy_fields_are_problems(extra: str, problem: str) -> None:
    (found,) = load(vpol(HAS_DATA, extra=extra)).problems
    assert problem in found.message and found.policy == "vp"


def test_a_message_expression_must_be_a_string() -> None:
    text = vpol('  - expression: "true"\n    messageExpression: "1 + 1"\n')
    (found,) = load(text).problems
    assert "messageExpression of validation 0 must evaluate to a string, not int" in (found.message)
    assert found.line == 14


def test_bad_match_constraints_are_problems_at_their_line() -> None:
    text = vpol(HAS_DATA).replace("[CREATE, UPDATE, DELETE]", "[CREATE, PATCH]")
    (found,) = load(text).problems
    assert 'unknown operation "PATCH"' in found.message and found.line == 10


def test_json_mode_declares_only_object_and_variables() -> None:
    extra = "  evaluation:\n    mode: JSON\n"
    request = vpol("  - expression: \"request.operation == 'CREATE'\"\n", extra=extra)
    (found,) = load(request).problems
    assert "undeclared reference to 'request" in found.message
    ok = vpol("  - expression: \"object.kind == 'Secret'\"\n", extra=extra)
    assert one(ok, config_map()).status is Status.FAIL  # JSON mode: every resource
    assert one(ok, pod()).status is Status.FAIL


def test_policy_exceptions_of_other_policies_do_not_apply() -> None:
    text = vpol(HAS_DATA) + (
        "---\napiVersion: policies.kyverno.io/v1\nkind: PolicyException\n"
        "metadata: {name: ex}\nspec:\n  policyRefs: [{name: other, kind: ValidatingPolicy}]\n"
        '  matchConditions: [{name: all, expression: "true"}]\n'
    )
    assert one(text, config_map()).status is Status.FAIL
    loaded = load(text)
    assert [e.name for e in loaded.exceptions] == ["ex"] and len(loaded.policies) == 1


def test_a_policy_exception_that_does_not_compile_is_a_problem() -> None:
    text = (
        "apiVersion: policies.kyverno.io/v1\nkind: PolicyException\n"
        "metadata: {name: ex}\nspec:\n  policyRefs: [{name: vp, kind: ValidatingPolicy}]\n"
        '  matchConditions: [{name: broken, expression: "object.metadata.name =="}]\n'
    )
    (found,) = load(text).problems
    assert "PolicyException ex: condition broken" in found.message
