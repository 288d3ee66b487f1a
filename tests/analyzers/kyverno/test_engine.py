"""The rule flow (reference §1, §7, §8, §12) and policy loading: what kyverno-test suites do not
show directly (failing field paths, UPDATE with a different old object, DELETE, applyRules,
unscored policies, policy problems at their lines)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from bot.analyzers.kyverno.engine import Engine, Request, RuleResult, Status
from bot.analyzers.kyverno.image_context import image_info, image_infos
from bot.analyzers.kyverno.policy import (
    BodyKind,
    FailureAction,
    PolicySet,
    load_policies,
)


def policy_set(yaml_text: str) -> PolicySet:
    loaded = load_policies("policies/p.yaml", textwrap.dedent(yaml_text))
    assert loaded.problems == [], loaded.problems
    return PolicySet.build(loaded.policies)


def evaluate(yaml_text: str, resource: dict[str, Any], **request: Any) -> list[RuleResult]:
    return Engine(policy_set(yaml_text)).evaluate(Request(resource=resource, **request))


def pod(*containers: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", **meta},
        "spec": {"containers": list(containers)},
    }


# A resource to evaluate policies on whose rules do not look at the resource.
CONFIG_MAP: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}

POLICY = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: images
  annotations:
    pod-policies.kyverno.io/autogen-controllers: none
spec:
  validationFailureAction: Enforce
  rules:
  - name: pattern
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "no latest in {{ request.object.metadata.name }}"
      pattern:
        spec:
          containers:
          - image: "!*:latest"
  - name: foreach
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      failureAction: Audit
      foreach:
      - list: request.object.spec.containers
        deny:
          conditions:
            any:
            - key: "{{ element.name }}"
              operator: Equals
              value: forbidden
"""


def test_failing_pattern_path_and_message() -> None:
    results = evaluate(
        POLICY, pod({"name": "a", "image": "a:1"}, {"name": "b", "image": "b:latest"})
    )
    by_rule = {r.rule.name: r for r in results}
    failed = by_rule["pattern"]
    assert failed.status is Status.FAIL
    assert failed.path == ("spec", "containers", 1, "image")
    assert failed.message == (
        "validation error: no latest in p. rule pattern failed at path /spec/containers/1/image/"
    )
    assert failed.rule.failure_action is FailureAction.ENFORCE
    assert by_rule["foreach"].status is Status.PASS
    assert by_rule["foreach"].rule.failure_action is FailureAction.AUDIT


def test_foreach_failure_points_at_the_element() -> None:
    results = evaluate(
        POLICY, pod({"name": "ok", "image": "a:1"}, {"name": "forbidden", "image": "b:1"})
    )
    failed = next(r for r in results if r.rule.name == "foreach")
    assert failed.status is Status.FAIL
    assert failed.path == ("spec", "containers", 1)
    assert failed.message == "validation failure: validation error: rule foreach failed"


def test_update_blames_only_new_violations() -> None:
    bad = pod({"name": "a", "image": "a:latest"})
    good = pod({"name": "a", "image": "a:1"})
    pattern = lambda results: next(r for r in results if r.rule.name == "pattern")  # noqa: E731
    unchanged = pattern(evaluate(POLICY, bad, operation="UPDATE", old_resource=bad))
    assert unchanged.status is Status.SKIP
    assert "have not changed" in unchanged.message
    new = pattern(evaluate(POLICY, bad, operation="UPDATE", old_resource=good))
    assert new.status is Status.FAIL
    fixed = pattern(evaluate(POLICY, good, operation="UPDATE", old_resource=bad))
    assert fixed.status is Status.PASS
    strict = POLICY.replace(
        'message: "no latest', 'allowExistingViolations: false\n      message: "no latest'
    )
    blamed = pattern(evaluate(strict, bad, operation="UPDATE", old_resource=bad))
    assert blamed.status is Status.FAIL


def test_delete_skips_patterns_and_reads_old_object_in_variables() -> None:
    yaml_text = """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata: {name: protect}
    spec:
      rules:
      - name: pattern
        match: {any: [{resources: {kinds: [ConfigMap]}}]}
        validate:
          pattern: {metadata: {labels: {keep: "?*"}}}
      - name: deny-delete
        match: {any: [{resources: {kinds: [ConfigMap], operations: [DELETE]}}]}
        validate:
          deny:
            conditions:
              any:
              - {key: "{{ request.object.metadata.name }}", operator: Equals, value: keep-me}
    """
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "keep-me"}}
    results = evaluate(yaml_text, config_map, operation="DELETE")
    assert [(r.rule.name, r.status) for r in results] == [("deny-delete", Status.FAIL)]


def test_apply_rules_one_stops_after_the_first_applied_rule() -> None:
    yaml_text = """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata: {name: one}
    spec:
      applyRules: One
      rules:
      - name: not-matching
        match: {any: [{resources: {kinds: [Secret]}}]}
        validate: {deny: {}}
      - name: first
        match: {any: [{resources: {kinds: [ConfigMap]}}]}
        validate: {deny: {}}
      - name: second
        match: {any: [{resources: {kinds: [ConfigMap]}}]}
        validate: {deny: {}}
    """
    results = evaluate(yaml_text, CONFIG_MAP)
    assert [r.rule.name for r in results] == ["first"]


def test_unscored_policy_reports_warn() -> None:
    yaml_text = """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata:
      name: soft
      annotations: {policies.kyverno.io/scored: "false"}
    spec:
      rules:
      - name: always
        match: {any: [{resources: {kinds: [ConfigMap]}}]}
        validate: {deny: {}}
    """
    (result,) = evaluate(yaml_text, CONFIG_MAP)
    assert (result.status, result.result) == (Status.FAIL, Status.WARN)


def test_what_the_gate_cannot_know_is_an_unsupported_skip() -> None:
    yaml_text = """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata: {name: cluster}
    spec:
      rules:
      - name: selector
        match:
          any:
          - resources:
              kinds: [ConfigMap]
              namespaceSelector: {matchLabels: {env: prod}}
        validate: {deny: {}}
      - name: api
        match: {any: [{resources: {kinds: [ConfigMap]}}]}
        context:
        - name: count
          apiCall: {urlPath: /api/v1/pods, jmesPath: "items | length(@)"}
        validate: {deny: {}}
    """
    results = evaluate(yaml_text, CONFIG_MAP)
    assert [(r.status, r.unsupported) for r in results] == [(Status.SKIP, True)] * 2
    assert "namespaceSelector" in results[0].message
    assert "apiCall" in results[1].message
    labelled = evaluate(yaml_text, CONFIG_MAP, namespace_labels={"env": "prod"})
    assert labelled[0].status is Status.FAIL


def test_context_variable_errors_are_rule_errors() -> None:
    yaml_text = """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata: {name: ctx}
    spec:
      rules:
      - name: missing
        match: {any: [{resources: {kinds: [ConfigMap]}}]}
        context:
        - name: team
          variable: {jmesPath: request.object.metadata.labels.team}
        validate: {deny: {}}
    """
    (result,) = evaluate(yaml_text, CONFIG_MAP)
    assert result.status is Status.ERROR
    assert result.message.startswith("failed to load context:")


def test_pod_security_rules_report_the_offending_field() -> None:
    yaml_text = """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata: {name: pss}
    spec:
      rules:
      - name: baseline
        match: {any: [{resources: {kinds: [Pod]}}]}
        validate:
          podSecurity: {level: baseline, version: latest}
    """
    privileged = pod({"name": "a", "image": "a:1", "securityContext": {"privileged": True}})
    (result,) = evaluate(yaml_text, privileged)
    assert result.status is Status.FAIL
    assert result.path == ("spec", "containers", 0, "securityContext", "privileged")
    assert "PodSecurity" in result.message
    (passed,) = evaluate(yaml_text, pod({"name": "a", "image": "a:1"}))
    assert passed.status is Status.PASS


def test_cel_policy_kinds_other_than_validating_policy_are_not_evaluated() -> None:
    yaml_text = """\
    apiVersion: policies.kyverno.io/v1
    kind: MutatingPolicy
    metadata: {name: cel}
    spec: {mutations: []}
    """
    vap = """\
    ---
    apiVersion: admissionregistration.k8s.io/v1
    kind: ValidatingAdmissionPolicy
    metadata: {name: vap}
    spec: {validations: [{expression: "true"}]}
    """
    policies = policy_set(textwrap.dedent(yaml_text) + textwrap.dedent(vap))
    cel, admission = policies.policies
    assert cel.unsupported and "MutatingPolicy" in cel.unsupported
    assert admission.unsupported and "ValidatingAdmissionPolicy" in admission.unsupported
    engine = Engine(policies)
    assert engine.evaluate(Request(resource={"kind": "ConfigMap", "metadata": {}})) == []


def test_candidates_index_by_kind() -> None:
    yaml_text = """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata: {name: pods}
    spec:
      rules:
      - name: r
        match: {any: [{resources: {kinds: [Pod]}}]}
        validate: {deny: {}}
    ---
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata: {name: everything}
    spec:
      rules:
      - name: r
        match: {any: [{resources: {kinds: ["*"]}}]}
        validate: {deny: {}}
    """
    policies = policy_set(yaml_text)
    assert [p.name for p in policies.candidates("Pod")] == ["pods", "everything"]
    assert [p.name for p in policies.candidates("Deployment")] == ["pods", "everything"]
    assert [p.name for p in policies.candidates("Secret")] == ["everything"]


# -- loading ---------------------------------------------------------------------------------


def test_policy_kinds_versions_and_namespaces() -> None:
    text = """\
    apiVersion: kyverno.io/v2beta1
    kind: ClusterPolicy
    metadata: {name: v2}
    spec:
      rules:
      - name: r
        match: {any: [{resources: {kinds: [Pod]}}]}
        validate: {pattern: {metadata: {name: "?*"}}}
    ---
    apiVersion: kyverno.io/v1
    kind: Policy
    metadata: {name: local}
    spec:
      rules:
      - name: r
        match: {any: [{resources: {kinds: [Pod]}}]}
        validate: {deny: {}}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: not-a-policy}
    """
    loaded = load_policies("p.yaml", textwrap.dedent(text))
    assert loaded.problems == []
    v2, local = loaded.policies
    assert (v2.key, v2.line) == ("v2", 1)
    assert v2.rules[0].body is not None and v2.rules[0].body.kind is BodyKind.PATTERN
    assert (local.key, local.namespace, local.line) == ("default/local", "default", 10)


@pytest.mark.parametrize(
    ("rule", "message", "line"),
    [
        ("- name: r\n  validate: {deny: {}}", "has no match block", 6),
        (
            "- name: r\n  match: {any: [{resources: {kinds: [Pod]}}]}\n"
            "  validate:\n    deny:\n      conditions:\n"
            "      - {key: a, operator: Bigger, value: b}",
            'unknown condition operator "Bigger"',
            11,
        ),
        (
            "- name: r\n  match: {any: [{resources: {kinds: [Pod]}}]}\n"
            '  validate:\n    message: "{{ request.object.metadata.[ }}"\n    deny: {}',
            "does not parse",
            9,
        ),
        (
            "- name: r\n  match: {any: [{resources: {kinds: [Pod]}}]}\n"
            "  validate:\n    anyPattern: {a: b}",
            "anyPattern must be a list",
            9,
        ),
        (
            "- name: r\n  match: {any: [{resources: {kinds: [Pod]}}]}\n  validate:\n    message: x",
            "validate needs one of",
            9,
        ),
        (
            "- name: r\n  match: {any: [{resources: {kinds: [Pod]}}]}\n"
            "  validate:\n    podSecurity: {level: strict}",
            "podSecurity",
            9,
        ),
        (
            "- name: r\n  match: {any: [{resources: {kinds: [Pod], operations: [PATCH]}}]}\n"
            "  validate: {deny: {}}",
            'unknown operation "PATCH"',
            7,
        ),
        (
            "- name: r\n  match: {any: [{resources: {kinds: [Pod]}}]}\n"
            "  validate:\n    foreach:\n    - list: 'request.object.spec.[containers'\n"
            "      deny: {}",
            "does not parse",
            10,
        ),
    ],
)
def test_policy_problems_name_file_and_line(rule: str, message: str, line: int) -> None:
    text = (
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: broken}\n"
        "spec:\n  rules:\n" + textwrap.indent(rule, "  ") + "\n"
    )
    loaded = load_policies("policies/broken.yaml", text)
    assert loaded.policies == []
    (problem,) = loaded.problems
    assert message in problem.message
    assert (problem.path, problem.line, problem.policy) == ("policies/broken.yaml", line, "broken")


def test_yaml_errors_are_problems_and_other_policies_load() -> None:
    text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: [\n---\n" + POLICY
    loaded = load_policies("p.yaml", text)
    assert [p.name for p in loaded.policies] == ["images"]
    (problem,) = loaded.problems
    assert problem.line is not None and problem.message.startswith("policy file: YAML syntax error")


def test_unsupported_rules_are_kept_with_a_reason() -> None:
    text = """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata: {name: mixed}
    spec:
      rules:
      - name: mutate
        match: {any: [{resources: {kinds: [ConfigMap]}}]}
        mutate: {patchStrategicMerge: {metadata: {labels: {a: b}}}}
      - name: images
        match: {any: [{resources: {kinds: [Pod]}}]}
        verifyImages: [{imageReferences: ["*"]}]
      - name: generate
        match: {any: [{resources: {kinds: [Namespace]}}]}
        generate: {kind: ConfigMap, name: x}
    """
    (policy,) = load_policies("p.yaml", textwrap.dedent(text)).policies
    reasons = {r.name: r.unsupported for r in policy.unsupported_rules}
    assert set(reasons) == {"mutate", "images", "generate"}
    assert all(reasons.values())


# -- images ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (
            "nginx",
            {
                "registry": "docker.io",
                "path": "nginx",
                "name": "nginx",
                "tag": "latest",
                "reference": "docker.io/nginx:latest",
                "referenceWithTag": "docker.io/nginx:latest",
            },
        ),
        (
            "ghcr.io/acme/app:1.2",
            {
                "registry": "ghcr.io",
                "path": "acme/app",
                "name": "app",
                "tag": "1.2",
                "reference": "ghcr.io/acme/app:1.2",
                "referenceWithTag": "ghcr.io/acme/app:1.2",
            },
        ),
        (
            "localhost:5000/app@sha256:" + "a" * 64,
            {
                "registry": "localhost:5000",
                "path": "app",
                "name": "app",
                "digest": "sha256:" + "a" * 64,
                "reference": "localhost:5000/app@sha256:" + "a" * 64,
                "referenceWithTag": "localhost:5000/app:",
            },
        ),
    ],
)
def test_image_info(image: str, expected: dict[str, str]) -> None:
    assert image_info(image) == expected


def test_image_infos_of_controllers() -> None:
    cron = {
        "kind": "CronJob",
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "a", "image": "a:1"}],
                            "initContainers": [{"name": "i", "image": "quay.io/i"}],
                        }
                    }
                }
            }
        },
    }
    infos = image_infos(cron)
    assert infos["containers"]["a"]["tag"] == "1"
    assert infos["initContainers"]["i"]["registry"] == "quay.io"
    assert image_infos({"kind": "ConfigMap"}) == {}
