"""kyverno.io PolicyExceptions on ClusterPolicy/Policy rules: which rules and resources they
cover, their conditions and podSecurity controls, malformed exceptions as problems at their
line, and exceptions in ``gitops-gate check`` (from the trusted policy files only). Also the
gaps closed with them: the admission request's name/kind in check, values files'
``foreachValues`` and per-namespace failure action overrides."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from bot.analyzers.kyverno.analyzer import analyze, load, subjects
from bot.analyzers.kyverno.engine import Engine, Request, RuleResult, Status
from bot.analyzers.kyverno.findings import UNSUPPORTED
from bot.analyzers.kyverno.kyverno_test import SuiteFileError, parse_values, run_test_file
from bot.analyzers.kyverno.policy import PolicySet
from bot.analyzers.kyverno.settings import KyvernoConfig
from bot.core.document import load_text
from bot.core.filekind import FileKind
from bot.core.trusted import MemoryTree

POLICY = textwrap.dedent(
    """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata:
      name: no-host-network
    spec:
      validationFailureAction: Enforce
      rules:
      - name: host-network
        match:
          any:
          - resources:
              kinds: [Pod]
        validate:
          message: "hostNetwork is not allowed"
          pattern:
            spec:
              =(hostNetwork): false
    """
)


def _exception(spec: str, api_version: str = "kyverno.io/v2") -> str:
    head = f"apiVersion: {api_version}\nkind: PolicyException\n"
    head += "metadata:\n  name: allow\n  namespace: kyverno\n"
    return head + "spec:\n" + textwrap.indent(textwrap.dedent(spec), "  ")


HOST_NETWORK = _exception(
    """\
    exceptions:
    - policyName: no-host-network
      ruleNames: [host-?etwork]
    match:
      any:
      - resources:
          kinds: [Pod]
          names: [agent-*]
    """
)


def _pod(name: str, labels: dict[str, str] | None = None, namespace: str = "default") -> Any:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"hostNetwork": True, "containers": [{"name": "c", "image": "nginx:1"}]},
    }


def _results(*texts: str, resource: Any, labels: Any = None) -> list[RuleResult]:
    policy_set = PolicySet.from_texts([(f"p{i}.yaml", t) for i, t in enumerate(texts)])
    assert policy_set.problems == ()
    return Engine(policy_set).evaluate(Request(resource=resource, namespace_labels=labels))


def test_a_matching_exception_skips_the_rule_and_names_itself() -> None:
    (result,) = _results(POLICY, HOST_NETWORK, resource=_pod("agent-1"), labels={})
    assert result.status is Status.SKIP
    assert not result.unsupported
    assert result.message == "rule is skipped due to policy exception kyverno/allow"


def test_resources_the_exception_does_not_match_are_still_checked() -> None:
    (result,) = _results(POLICY, HOST_NETWORK, resource=_pod("web"), labels={})
    assert result.status is Status.FAIL


def test_v2beta1_exceptions_apply_too() -> None:
    text = HOST_NETWORK.replace("kyverno.io/v2\n", "kyverno.io/v2beta1\n")
    (result,) = _results(POLICY, text, resource=_pod("agent-1"), labels={})
    assert result.status is Status.SKIP


def test_rule_names_of_other_policies_or_rules_are_not_covered() -> None:
    other_policy = HOST_NETWORK.replace("policyName: no-host-network", "policyName: other")
    other_rule = HOST_NETWORK.replace("[host-?etwork]", "[host-pid]")
    for text in (other_policy, other_rule):
        (result,) = _results(POLICY, text, resource=_pod("agent-1"), labels={})
        assert result.status is Status.FAIL


def test_autogen_rules_are_covered_only_when_listed() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "agent-1", "namespace": "default"},
        "spec": {"template": {"metadata": {}, "spec": _pod("x")["spec"]}},
    }
    broad = HOST_NETWORK.replace("kinds: [Pod]", "kinds: [Pod, Deployment]")
    (result,) = _results(POLICY, broad, resource=deployment, labels={})
    assert (result.rule.name, result.status) == ("autogen-host-network", Status.FAIL)
    listed = broad.replace("[host-?etwork]", "[host-network, autogen-host-network]")
    (result,) = _results(POLICY, listed, resource=deployment, labels={})
    assert result.status is Status.SKIP


def test_conditions_decide_whether_the_exception_applies() -> None:
    text = HOST_NETWORK + textwrap.indent(
        textwrap.dedent(
            """\
            conditions:
              all:
              - key: "{{ request.object.metadata.labels.break_glass || '' }}"
                operator: Equals
                value: "yes"
            """
        ),
        "  ",
    )
    (held,) = _results(POLICY, text, resource=_pod("agent-1", {"break_glass": "yes"}), labels={})
    (not_held,) = _results(POLICY, text, resource=_pod("agent-1"), labels={})
    assert (held.status, not_held.status) == (Status.SKIP, Status.FAIL)


def test_a_namespaced_policy_is_named_with_its_namespace() -> None:
    policy = POLICY.replace("kind: ClusterPolicy", "kind: Policy").replace(
        "name: no-host-network\n", "name: no-host-network\n  namespace: team\n"
    )
    bare = HOST_NETWORK
    qualified = HOST_NETWORK.replace("policyName: no-host-network", "policyName: team/x")
    qualified = qualified.replace("team/x", "team/no-host-network")
    pod = _pod("agent-1", namespace="team")
    assert _results(policy, bare, resource=pod, labels={})[0].status is Status.FAIL
    assert _results(policy, qualified, resource=pod, labels={})[0].status is Status.SKIP


def test_pod_security_controls_exempt_only_those_controls() -> None:
    policy = textwrap.dedent(
        """\
        apiVersion: kyverno.io/v1
        kind: ClusterPolicy
        metadata:
          name: psa
        spec:
          validationFailureAction: Enforce
          rules:
          - name: baseline
            match:
              any:
              - resources:
                  kinds: [Pod]
            validate:
              podSecurity:
                level: baseline
        """
    )
    text = _exception(
        """\
        exceptions:
        - policyName: psa
          ruleNames: [baseline]
        match:
          any:
          - resources:
              kinds: [Pod]
        podSecurity:
        - controlName: Host Namespaces
        """
    )
    (exempted,) = _results(policy, text, resource=_pod("a"), labels={})
    assert exempted.status is Status.PASS
    privileged = _pod("b")
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    (still,) = _results(policy, text, resource=privileged, labels={})
    assert still.status is Status.FAIL
    assert "privileged" in still.message.lower()


def test_an_unknown_namespace_selector_turns_a_failure_into_a_notice() -> None:
    text = HOST_NETWORK.replace(
        "names: [agent-*]", "namespaceSelector:\n          matchLabels: {legacy: 'true'}"
    )
    (result,) = _results(POLICY, text, resource=_pod("web"), labels=None)
    assert result.status is Status.SKIP and result.unsupported
    assert "policy exception kyverno/allow" in result.message
    assert "without it the rule gives fail" in result.message
    (known,) = _results(POLICY, text, resource=_pod("web"), labels={"legacy": "true"})
    assert known.status is Status.SKIP and not known.unsupported


def test_malformed_exceptions_are_problems_at_their_line() -> None:
    no_rules = _exception(
        """\
        exceptions:
        - policyName: no-host-network
        match:
          any:
          - resources: {kinds: [Pod]}
        """
    )
    no_match = _exception("exceptions:\n- {policyName: p, ruleNames: [r]}\n")
    bad_operator = (
        HOST_NETWORK + "  conditions:\n    any:\n    - {key: a, operator: Nope, value: b}\n"
    )
    cases = [
        (no_rules, "ruleNames must be a non-empty list", 8),
        (no_match, "spec.match needs any or all", 7),
        (bad_operator, 'unknown condition operator "Nope"', 17),
    ]
    for text, message, line in cases:
        policy_set = PolicySet.from_texts([("p.yaml", POLICY), ("e.yaml", text)])
        (problem,) = policy_set.problems
        assert message in problem.message
        assert (problem.path, problem.line) == ("e.yaml", line)
        assert policy_set.policy_exceptions == ()


def test_check_applies_exceptions_from_the_policy_files_only() -> None:
    manifests = "\n---\n".join(
        [
            "apiVersion: v1\nkind: Pod\nmetadata: {name: agent-1, namespace: default}\n"
            "spec: {hostNetwork: true, containers: [{name: c, image: 'nginx:1'}]}\n",
            HOST_NETWORK.replace("agent-*", "web"),  # in the change: not trusted
            "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\n"
            "spec: {hostNetwork: true, containers: [{name: c, image: 'nginx:1'}]}\n",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n",
        ]
    )
    tree = MemoryTree({"kyverno/p.yaml": POLICY.encode(), "kyverno/e.yaml": HOST_NETWORK.encode()})
    policy_set, load_findings = load(tree, KyvernoConfig(paths=("kyverno/",)))
    assert load_findings == []
    loaded = load_text("app.yaml", manifests, FileKind.MANIFEST)
    findings = analyze(subjects([loaded]), policy_set)
    assert [(f.rule_id, f.line) for f in findings if f.rule_id != UNSUPPORTED] == [
        ("kyverno/no-host-network/host-network", 26)
    ]


def test_a_malformed_exception_file_in_a_test_is_an_error_naming_file_and_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "e.yaml").write_text("---\n" + HOST_NETWORK.replace("ruleNames", "rules"))
    (tmp_path / "r.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: agent-1}\nspec: {containers: []}\n"
    )
    (tmp_path / "kyverno-test.yaml").write_text(
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata: {name: t}\n"
        "policies: [p.yaml]\nresources: [r.yaml]\nexceptions: [e.yaml]\n"
        "results:\n- {policy: no-host-network, rule: host-network, kind: Pod,"
        " resources: [agent-1], result: skip}\n"
    )
    suite = run_test_file(tmp_path / "kyverno-test.yaml")
    assert suite.error is not None
    assert f"{tmp_path / 'e.yaml'}:9:" in suite.error
    assert "ruleNames must be a non-empty list" in suite.error


# -- the other gaps closed with exceptions: request.name/kind, foreachValues, overrides ---------

REQUEST_FIELDS = textwrap.dedent(
    """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata:
      name: request-fields
    spec:
      validationFailureAction: Enforce
      rules:
      - name: named
        match:
          any:
          - resources:
              kinds: [Deployment]
        validate:
          message: "{{ request.kind.kind }} {{ request.name }} in {{ request.namespace }}"
          deny:
            conditions:
              all:
              - key: "{{ request.kind.group }}/{{ request.resource.resource }}"
                operator: Equals
                value: apps/deployments
    """
)
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"template": {"metadata": {}, "spec": {"containers": []}}},
}


def test_the_gate_sees_the_admission_request_name_kind_and_resource() -> None:
    engine = Engine(PolicySet.from_texts([("p.yaml", REQUEST_FIELDS)]))
    (result,) = engine.evaluate(Request(resource=DEPLOYMENT, admission=True))
    assert (result.status, result.message) == (Status.FAIL, "Deployment web in shop")


def test_the_kyverno_cli_context_has_no_request_name() -> None:
    # kyverno test runs as the CLI does: its context has no AdmissionRequest fields.
    engine = Engine(PolicySet.from_texts([("p.yaml", REQUEST_FIELDS)]))
    (result,) = engine.evaluate(Request(resource=DEPLOYMENT))
    assert result.status is Status.ERROR
    assert "request.kind.group" in result.message


def test_foreach_values_are_per_element_and_must_be_lists() -> None:
    suite = run_test_file(
        Path(__file__).resolve().parents[2] / "data/kyverno/foreach-values/kyverno-test.yaml"
    )
    rows = {row.rule: row for row in suite.rows}
    assert rows["team-approval"].actual == "fail"
    assert "envoy:1.30" in rows["team-approval"].message  # the second element got "no"
    assert rows["registry-approval"].actual == "pass"

    bad = {"policies": [{"name": "p", "rules": [{"name": "r", "foreachValues": {"x": "yes"}}]}]}
    try:
        parse_values(bad)
    except SuiteFileError as exc:
        assert "foreachValues of rule r of policy p" in str(exc)
    else:
        raise AssertionError("a foreachValues entry that is not a list must be refused")


OVERRIDES = textwrap.dedent(
    """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata:
      name: no-host-network
    spec:
      validationFailureAction: Audit
      validationFailureActionOverrides:
      - action: Enforce
        namespaces: [prod-*]
      - action: Enforce
        namespaceSelector:
          matchLabels: {tier: critical}
      rules:
      - name: host-network
        match:
          any:
          - resources:
              kinds: [Pod]
        validate:
          message: "hostNetwork is not allowed"
          pattern:
            spec:
              =(hostNetwork): false
      - name: rule-level
        match:
          any:
          - resources:
              kinds: [Pod]
        validate:
          failureAction: Audit
          failureActionOverrides:
          - action: Enforce
            namespaces: [staging]
          message: "hostNetwork is not allowed"
          pattern:
            spec:
              =(hostNetwork): false
    """
)


def _severities(namespace: str, namespace_yaml: str = "") -> dict[str, str]:
    pod = (
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: {namespace}}}\n"
        "spec: {hostNetwork: true, containers: [{name: c, image: 'nginx:1'}]}\n"
    )
    tree = MemoryTree({"kyverno/p.yaml": OVERRIDES.encode()})
    policy_set, load_findings = load(tree, KyvernoConfig(paths=("kyverno/",)))
    assert load_findings == []
    loaded = load_text("app.yaml", pod + namespace_yaml, FileKind.MANIFEST)
    findings = analyze(subjects([loaded]), policy_set)
    return {f.rule_id.rsplit("/", 1)[1]: f.severity.value for f in findings}


def test_failure_action_overrides_decide_per_namespace_in_check() -> None:
    assert _severities("dev") == {"host-network": "warning", "rule-level": "warning"}
    assert _severities("prod-eu") == {"host-network": "error", "rule-level": "warning"}
    assert _severities("staging") == {"host-network": "warning", "rule-level": "error"}
    critical = (
        "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: pay, labels: {tier: critical}}\n"
    )
    assert _severities("pay", critical) == {"host-network": "error", "rule-level": "warning"}


def test_a_malformed_override_is_a_policy_problem_at_its_line() -> None:
    text = OVERRIDES.replace("action: Enforce\n    namespaces: [prod-*]", "action: Block")
    policy_set = PolicySet.from_texts([("p.yaml", text)])
    (problem,) = policy_set.problems
    assert "needs action Enforce or Audit" in problem.message
    assert problem.line == 8
