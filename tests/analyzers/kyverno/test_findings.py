"""Kyverno in ``check``: policies from the trusted tree, documents as admission requests,
results as findings at the offending line, policy errors and unsupported rules as config
findings; and the ``policies.kyverno`` config section."""

from __future__ import annotations

import textwrap

from bot.analyzers.kyverno.analyzer import Subject, analyze, load, namespace_labels, subjects
from bot.analyzers.kyverno.findings import POLICY_ERROR, UNSUPPORTED
from bot.analyzers.kyverno.settings import KyvernoConfig, parse_kyverno_config
from bot.configreader import Reader
from bot.core.changeset import FileStatus
from bot.core.document import load_text
from bot.core.filekind import FileKind
from bot.core.finding import Category, Severity
from bot.core.trusted import MemoryTree

POLICIES = textwrap.dedent(
    """\
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata:
      name: disallow-latest-tag
    spec:
      validationFailureAction: Enforce
      rules:
      - name: validate-image-tag
        match:
          any:
          - resources:
              kinds: [Pod]
        validate:
          message: "Using a mutable image tag e.g. 'latest' is not allowed."
          pattern:
            spec:
              containers:
              - image: "!*:latest"
    ---
    apiVersion: kyverno.io/v1
    kind: ClusterPolicy
    metadata:
      name: require-team
    spec:
      rules:
      - name: team-label
        match:
          any:
          - resources:
              kinds: [Deployment]
              namespaceSelector:
                matchLabels: {env: prod}
        validate:
          pattern:
            metadata:
              labels:
                team: "?*"
      - name: add-default
        match:
          any:
          - resources:
              kinds: [Deployment]
        mutate:
          patchStrategicMerge:
            metadata:
              labels:
                +(team): none
    """
)
BROKEN = (
    "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: broken}\nspec: {rules: []}\n"
)
MANIFESTS = textwrap.dedent(
    """\
    apiVersion: v1
    kind: Namespace
    metadata:
      name: shop
      labels: {env: prod}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: shop
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: web
            image: nginx:latest
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: api
      namespace: other
    spec:
      selector: {matchLabels: {app: api}}
      template:
        metadata:
          labels: {app: api}
        spec:
          containers:
          - name: api
            image: api:1.0
    """
)


def _tree() -> MemoryTree:
    return MemoryTree(
        {
            "policies/kyverno/policies.yaml": POLICIES.encode(),
            "policies/kyverno/broken.yaml": BROKEN.encode(),
            "policies/kyverno/README.md": b"not a policy",
        }
    )


def test_load_reports_broken_policies_and_unsupported_rules() -> None:
    config = KyvernoConfig(paths=("policies/kyverno/", "policies/missing/"))
    policy_set, findings = load(_tree(), config)
    assert [p.name for p in policy_set.policies] == ["disallow-latest-tag", "require-team"]
    by_rule = {(f.rule_id, f.path): f for f in findings}
    broken = by_rule[(POLICY_ERROR, "policies/kyverno/broken.yaml")]
    assert broken.severity is Severity.ERROR and broken.category is Category.CONFIG
    assert broken.line == 4 and "spec.rules must be a non-empty list" in broken.message
    missing = by_rule[(POLICY_ERROR, "policies/missing/")]
    assert "no policy files" in missing.message
    notice = by_rule[(UNSUPPORTED, "policies/kyverno/policies.yaml")]
    assert notice.severity is Severity.NOTICE
    assert "rule add-default of ClusterPolicy require-team" in notice.message
    assert notice.line == 38  # the rule's line


def test_findings_land_on_the_failing_field_with_the_failure_action() -> None:
    policy_set, _ = load(_tree(), KyvernoConfig(paths=("policies/kyverno/policies.yaml",)))
    loaded = load_text("apps/web.yaml", MANIFESTS, FileKind.MANIFEST)
    items = subjects([loaded])
    findings = analyze(items, policy_set)
    image = next(
        f for f in findings if f.rule_id == "kyverno/disallow-latest-tag/validate-image-tag"
    )
    assert image.severity is Severity.ERROR  # Enforce
    assert (image.path, image.line) == ("apps/web.yaml", 20)
    assert image.category is Category.POLICY
    assert image.source.engine == "kyverno"
    assert (image.source.policy, image.source.rule) == ("disallow-latest-tag", "validate-image-tag")
    assert image.resource is not None and image.resource.name == "web"
    assert "autogen-validate-image-tag failed at path /spec/template/spec/containers/0/image/" in (
        image.message
    )
    team = next(f for f in findings if f.rule_id == "kyverno/require-team/team-label")
    assert team.severity is Severity.WARNING  # Audit, the default
    assert team.line == 10  # no labels map: the deepest existing field (metadata) starts there
    # "api" is in a namespace without a Namespace document: the selector cannot be decided.
    notice = next(f for f in findings if f.rule_id == UNSUPPORTED)
    assert "namespaceSelector" in notice.message and "not evaluated on 1 resource" in notice.message


def test_update_with_the_same_violation_is_not_blamed() -> None:
    policy_set, _ = load(_tree(), KyvernoConfig(paths=("policies/kyverno/policies.yaml",)))
    head = load_text("apps/web.yaml", MANIFESTS, FileKind.MANIFEST)
    base = load_text("apps/web.yaml", MANIFESTS.replace("api:1.0", "api:0.9"), FileKind.MANIFEST)
    items = subjects(
        [head],
        status={"apps/web.yaml": FileStatus.MODIFIED},
        base={"apps/web.yaml": base.documents},
    )
    assert [i.operation for i in items] == ["UPDATE"] * 3
    findings = analyze(items, policy_set)
    assert not any(f.rule_id.startswith("kyverno/disallow-latest-tag") for f in findings)
    fixed_base = load_text(
        "apps/web.yaml", MANIFESTS.replace("nginx:latest", "nginx:1.27"), FileKind.MANIFEST
    )
    items = subjects(
        [head],
        status={"apps/web.yaml": FileStatus.MODIFIED},
        base={"apps/web.yaml": fixed_base.documents},
    )
    findings = analyze(items, policy_set)
    assert any(f.rule_id.startswith("kyverno/disallow-latest-tag") for f in findings)


def test_removed_files_are_delete_requests() -> None:
    base = load_text("apps/web.yaml", MANIFESTS, FileKind.MANIFEST)
    items = subjects(
        [], status={"apps/web.yaml": FileStatus.REMOVED}, base={"apps/web.yaml": base.documents}
    )
    assert [(i.operation, i.document.name) for i in items] == [
        ("DELETE", "shop"),
        ("DELETE", "web"),
        ("DELETE", "api"),
    ]
    policy_set, _ = load(_tree(), KyvernoConfig(paths=("policies/kyverno/policies.yaml",)))
    # Pattern rules do not check a deleted resource.
    findings = analyze(items, policy_set)
    assert [f.rule_id for f in findings] == [UNSUPPORTED]  # api's namespace labels are unknown


def test_new_resource_in_modified_file_is_a_create() -> None:
    head = load_text("apps/web.yaml", MANIFESTS, FileKind.MANIFEST)
    base = load_text("apps/web.yaml", MANIFESTS.split("---")[0], FileKind.MANIFEST)
    items = subjects(
        [head],
        status={"apps/web.yaml": FileStatus.MODIFIED},
        base={"apps/web.yaml": base.documents},
    )
    assert [(i.operation, i.old is not None) for i in items] == [
        ("UPDATE", True),
        ("CREATE", False),
        ("CREATE", False),
    ]


def test_namespace_labels_from_documents() -> None:
    loaded = load_text("apps/web.yaml", MANIFESTS, FileKind.MANIFEST)
    assert namespace_labels(loaded.documents) == {"shop": {"env": "prod"}}


def test_no_policies_no_findings() -> None:
    loaded = load_text("apps/web.yaml", MANIFESTS, FileKind.MANIFEST)
    policy_set, findings = load(MemoryTree({}), KyvernoConfig())
    assert findings == []
    assert analyze([Subject(d) for d in loaded.documents], policy_set) == []


# -- config ----------------------------------------------------------------------------------


def _parse(text: str) -> tuple[KyvernoConfig, list[str]]:
    loaded = load_text(".github/gitops-gate.yml", text, FileKind.GATE_CONFIG)
    doc = loaded.documents[0]
    reader = Reader(doc, ".github/gitops-gate.yml")
    config = parse_kyverno_config(reader, doc.data["policies"]["kyverno"])
    return config, [f"{f.line}:{f.rule_id}:{f.message}" for f in reader.findings]


def test_config_section() -> None:
    config, problems = _parse(
        "policies:\n  kyverno:\n    paths: [policies/kyverno/, extra.yaml]\n    on_error: warning\n"
    )
    assert problems == []
    assert config == KyvernoConfig(
        paths=("policies/kyverno/", "extra.yaml"), on_error=Severity.WARNING
    )
    assert config.enabled


def test_config_problems_at_their_lines() -> None:
    config, problems = _parse(
        "policies:\n  kyverno:\n    paths:\n    - ok/\n    - ../outside\n    on_error: maybe\n"
        "    engine: fast\n"
    )
    assert config.paths == ("ok/",)
    assert config.on_error is Severity.ERROR
    assert problems[0].startswith("7:config/unknown-key:")
    assert (
        problems[1].startswith("5:config/invalid-value:") and "inside the repository" in problems[1]
    )
    assert problems[2].startswith("6:config/invalid-value:")
