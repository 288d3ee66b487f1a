"""CEL policies in ``gitops-gate check``: the same findings as pattern policies (at the field
the failing expression names, blocking under Deny/Enforce), bad CEL as a config finding that
names the file, rule and expression, notices for what could not be evaluated, Namespace
manifests as namespaceObject, and PolicyExceptions from the trusted policy files only."""

from __future__ import annotations

import textwrap

from bot.analyzers.kyverno.analyzer import analyze, load, subjects
from bot.analyzers.kyverno.findings import POLICY_ERROR, UNSUPPORTED
from bot.analyzers.kyverno.settings import KyvernoConfig
from bot.core.changeset import FileStatus
from bot.core.document import load_text
from bot.core.filekind import FileKind
from bot.core.finding import Category, Finding, Severity
from bot.core.trusted import MemoryTree

POLICIES = textwrap.dedent(
    """\
    apiVersion: policies.kyverno.io/v1
    kind: ValidatingPolicy
    metadata:
      name: no-host-network
    spec:
      validationActions: [Deny]
      matchConstraints:
        resourceRules:
        - apiGroups: [""]
          apiVersions: [v1]
          operations: [CREATE, UPDATE]
          resources: [pods]
      validations:
      - expression: "!has(object.spec.hostNetwork) || object.spec.hostNetwork == false"
        message: "hostNetwork is not allowed"
    ---
    apiVersion: policies.kyverno.io/v1
    kind: ValidatingPolicy
    metadata:
      name: gold-namespaces
    spec:
      validationActions: [Audit]
      matchConstraints:
        resourceRules:
        - apiGroups: [""]
          apiVersions: [v1]
          operations: [CREATE, UPDATE]
          resources: [configmaps]
      validations:
      - expression: "namespaceObject.metadata.?labels[?'tier'].orValue('') == 'gold'"
        message: "ConfigMaps belong in gold namespaces"
    ---
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata:
      name: team-label
    spec:
      validationFailureAction: Enforce
      rules:
      - name: team
        match:
          any:
          - resources: {kinds: [ConfigMap]}
        validate:
          cel:
            expressions:
            - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
              message: "a team label is required"
    ---
    apiVersion: policies.kyverno.io/v1
    kind: PolicyException
    metadata:
      name: legacy
    spec:
      policyRefs: [{name: gold-namespaces, kind: ValidatingPolicy}]
      matchConditions:
      - name: legacy
        expression: "object.metadata.name == 'legacy'"
    """
)
BROKEN = textwrap.dedent(
    """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata:
      name: broken
    spec:
      rules:
      - name: typo
        match:
          any:
          - resources: {kinds: [Pod]}
        validate:
          cel:
            expressions:
            - expression: "object.spec.containers.all(c, c.image.startsWith('x')"
    """
)
USER = textwrap.dedent(
    """\
    apiVersion: policies.kyverno.io/v1
    kind: ValidatingPolicy
    metadata:
      name: no-admins
    spec:
      matchConstraints:
        resourceRules:
        - apiGroups: [""]
          apiVersions: [v1]
          operations: [CREATE]
          resources: [configmaps]
      validations:
      - expression: "request.userInfo.username != 'admin'"
    """
)
MANIFESTS = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Namespace
    metadata:
      name: gold
      labels: {tier: gold}
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: web
      namespace: gold
    spec:
      hostNetwork: true
      containers:
      - name: web
        image: nginx:1.27
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
      namespace: gold
      labels: {team: shop}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: stray
      namespace: silver
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: legacy
      namespace: silver
      labels: {team: shop}
    """
)


def _findings(manifests: str = MANIFESTS, **files: str) -> tuple[list[Finding], list[Finding]]:
    tree = MemoryTree({f"kyverno/{name}.yaml": text.encode() for name, text in files.items()})
    policy_set, load_findings = load(tree, KyvernoConfig(paths=("kyverno/",)))
    loaded = load_text("apps/all.yaml", manifests, FileKind.MANIFEST)
    return load_findings, analyze(subjects([loaded]), policy_set)


def test_deny_blocks_at_the_field_the_expression_names() -> None:
    _, findings = _findings(policies=POLICIES)
    host = next(f for f in findings if f.rule_id.startswith("kyverno/no-host-network"))
    assert host.rule_id == "kyverno/no-host-network/validation-0"
    assert host.severity is Severity.ERROR and host.category is Category.POLICY
    assert (host.path, host.line) == ("apps/all.yaml", 13)  # spec.hostNetwork
    assert host.message == "hostNetwork is not allowed"
    assert host.source is not None
    assert (host.source.policy, host.source.rule) == ("no-host-network", "validation-0")


def test_validate_cel_findings_are_like_pattern_findings() -> None:
    _, findings = _findings(policies=POLICIES)
    (team,) = [f for f in findings if f.rule_id == "kyverno/team-label/team"]
    assert team.severity is Severity.ERROR  # Enforce
    # No labels: the deepest field the expression names that exists (metadata) starts there.
    assert (team.line, team.resource.name if team.resource else None) == (28, "stray")
    assert team.message == "a team label is required"


def test_namespace_manifests_are_the_namespace_object() -> None:
    _, findings = _findings(policies=POLICIES)
    gold = [
        f for f in findings if "gold-namespaces" in f.rule_id or "gold-namespaces" in (f.message)
    ]
    # settings (in the gold Namespace document) passes; stray's namespace has no manifest;
    # legacy is excepted by the PolicyException in the trusted policy files.
    assert [(f.rule_id, f.severity) for f in gold] == [(UNSUPPORTED, Severity.NOTICE)]
    assert "namespaceObject" in gold[0].message and "not evaluated on 1 resource" in (
        gold[0].message
    )


def test_exceptions_in_the_change_do_not_apply() -> None:
    exception = POLICIES.split("---\n")[-1]
    silver = MANIFESTS + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: silver\n"
    without = POLICIES.rsplit("---\n", 1)[0]
    _, findings = _findings(silver + "---\n" + exception, policies=without)
    gold = [f for f in findings if f.rule_id.startswith("kyverno/gold-namespaces")]
    assert sorted(f.resource.name for f in gold if f.resource) == ["legacy", "stray"]
    assert all(f.severity is Severity.WARNING for f in gold)  # Audit


def test_bad_cel_is_a_config_finding_naming_file_rule_and_expression() -> None:
    load_findings, _ = _findings(broken=BROKEN)
    (problem,) = [f for f in load_findings if f.rule_id == POLICY_ERROR]
    assert (problem.path, problem.line) == ("kyverno/broken.yaml", 14)
    assert problem.category is Category.CONFIG and problem.severity is Severity.ERROR
    assert "rule typo" in problem.message and "Syntax error" in problem.message
    assert "c.image.startsWith('x')" in problem.message


def test_what_cannot_be_evaluated_is_a_notice_not_a_pass() -> None:
    _, findings = _findings(user=USER)
    (notice,) = findings
    assert notice.rule_id == UNSUPPORTED and notice.severity is Severity.NOTICE
    assert "ValidatingPolicy no-admins was not evaluated" in notice.message
    assert "request.userInfo" in notice.message and "3 resources" in notice.message


def test_update_uses_the_base_version_as_old_object() -> None:
    policy = textwrap.dedent(
        """\
        apiVersion: policies.kyverno.io/v1
        kind: ValidatingPolicy
        metadata:
          name: immutable-mode
        spec:
          matchConstraints:
            resourceRules:
            - apiGroups: [""]
              apiVersions: [v1]
              operations: [UPDATE]
              resources: [configmaps]
          validations:
          - expression: "oldObject.data.mode == object.data.mode"
            message: "mode is immutable"
        """
    )
    tree = MemoryTree({"kyverno/p.yaml": policy.encode()})
    policy_set, _ = load(tree, KyvernoConfig(paths=("kyverno/",)))
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {mode: %s}\n"
    head = load_text("c.yaml", text % "b", FileKind.MANIFEST)
    base = load_text("c.yaml", text % "a", FileKind.MANIFEST)
    modified = {"c.yaml": FileStatus.MODIFIED}
    items = subjects([head], status=modified, base={"c.yaml": base.documents})
    (finding,) = analyze(items, policy_set)
    assert finding.message == "mode is immutable"
    same = subjects([head], status=modified, base={"c.yaml": head.documents})
    assert analyze(same, policy_set) == []
    assert analyze(subjects([head]), policy_set) == []  # a CREATE: the policy does not match
