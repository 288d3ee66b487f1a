"""Rego policies in ``check``: real documents, policies from a trusted tree, the real engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.analyzers.rego import PolicyPath, RegoConfig, analyze, load
from bot.core.document import LoadedFile, load_text
from bot.core.filekind import FileKind
from bot.core.finding import Category, Severity
from bot.core.trusted import MemoryTree
from bot.engines.policy_engine import RegoVersion
from bot.engines.rego_engine import RegorusEngine

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:latest
          securityContext:
            privileged: true
        - name: sidecar
          image: envoy:1.30
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: can-run-as-root
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.27
"""

SECURITY = """\
package k8s.security

deny_privileged contains msg if {
	some c in input.spec.template.spec.containers
	c.securityContext.privileged
	msg := sprintf("container %q must not be privileged", [c.name])
}

warn_latest contains result if {
	some c in input.spec.template.spec.containers
	endswith(c.image, ":latest")
	msg := sprintf("spec.template.spec.containers[0].image uses latest (%s)", [c.image])
	result := {"msg": msg, "severity": "notice", "id": "ACME-LATEST", "help_url": "https://x/latest"}
}

deny_root contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Deployment %s must not run as root", [input.metadata.name])
}

exception contains rules if {
	input.metadata.name == "can-run-as-root"
	rules := ["root"]
}
"""


@pytest.fixture
def engine() -> Iterator[RegorusEngine]:
    with RegorusEngine() as running:
        yield running


def manifests(text: str = MANIFESTS, path: str = "apps/web.yaml") -> list[LoadedFile]:
    return [load_text(path, text, FileKind.MANIFEST)]


def config(**kwargs: object) -> RegoConfig:
    defaults: dict[str, object] = {"paths": (PolicyPath("policy"),), "namespaces": ("k8s.*",)}
    return RegoConfig(**{**defaults, **kwargs})  # type: ignore[arg-type]


def test_findings_allowances_and_lines(engine: RegorusEngine) -> None:
    tree = MemoryTree({"policy/security.rego": SECURITY.encode()})
    rego = config()
    policy_set, problems = load(tree, rego)
    assert problems == []
    findings, allowances = analyze(manifests(), policy_set, engine, rego)
    by_rule = {f.rule_id: f for f in findings}
    assert sorted(by_rule) == [
        "ACME-LATEST",
        "rego/k8s.security/deny_privileged",
        "rego/k8s.security/deny_root",
    ]
    privileged = by_rule["rego/k8s.security/deny_privileged"]
    assert privileged.message == 'container "app" must not be privileged'
    assert (privileged.severity, privileged.category) == (Severity.ERROR, Category.POLICY)
    assert privileged.line == 9  # the container named in the message
    latest = by_rule["ACME-LATEST"]
    assert (latest.severity, latest.line, latest.help_url) == (
        Severity.NOTICE,
        10,
        "https://x/latest",
    )
    root = by_rule["rego/k8s.security/deny_root"]
    assert (root.line, root.resource.name if root.resource else None) == (1, "web")
    (allowance,) = allowances  # the second Deployment's exception, listed
    assert (allowance.rule_id, allowance.line) == ("rego/k8s.security/deny_root", 16)


def test_combined_evaluation(engine: RegorusEngine) -> None:
    policy = """\
package main

deny contains {"msg": msg, "_loc": {"file": doc.path, "line": 1}} if {
	some doc in input
	doc.contents.kind == "Deployment"
	count([d | some d in input; d.contents.kind == "Service"]) == 0
	msg := sprintf("Deployment %s has no Service", [doc.contents.metadata.name])
}
"""
    rego = config(namespaces=("main",), combine=True)
    policy_set, _ = load(MemoryTree({"policy/p.rego": policy.encode()}), rego)
    findings, _ = analyze(manifests(), policy_set, engine, rego)
    assert sorted(f.message for f in findings) == [
        "Deployment can-run-as-root has no Service",
        "Deployment web has no Service",
    ]
    assert {(f.path, f.line) for f in findings} == {("apps/web.yaml", 1)}


def test_policy_errors_fail_closed_with_place(engine: RegorusEngine) -> None:
    broken = "package main\n\ndeny contains msg if {\n  msg := \n}\n"
    rego = config(namespaces=("main",))
    policy_set, _ = load(MemoryTree({"policy/broken.rego": broken.encode()}), rego)
    findings, allowances = analyze(manifests(), policy_set, engine, rego)
    assert allowances == []
    (finding,) = findings
    assert finding.rule_id == "config/policy-error" and finding.severity is Severity.ERROR
    assert (finding.path, finding.line) == ("policy/broken.rego", 4)
    lenient = config(namespaces=("main",), on_error=Severity.WARNING)
    (warned,), _ = analyze(manifests(), policy_set, engine, lenient)
    assert warned.severity is Severity.WARNING


def test_evaluation_errors_and_bad_messages_are_policy_errors(engine: RegorusEngine) -> None:
    builtin_error = """\
package main

deny contains msg if {
	n := to_number(input.metadata.name)
	msg := sprintf("%v", [n])
}
"""
    no_msg = """\
package main

violation contains {"details": input.kind} if {
	input.kind == "Deployment"
}
"""
    rego = config(namespaces=("main",))
    for policy, expected in (
        (builtin_error, "could not parse string as number"),
        (no_msg, '"msg" field is missing'),
    ):
        policy_set, _ = load(MemoryTree({"policy/p.rego": policy.encode()}), rego)
        (finding,), _ = analyze(manifests(), policy_set, engine, rego)
        assert (finding.rule_id, finding.path) == ("config/policy-error", "policy/p.rego")
        assert expected in finding.message
        # One finding for the documents that hit the same error, naming the first.
        assert finding.message.endswith("(evaluating 2 documents, first apps/web.yaml, document 1)")
    assert finding.line == 3  # the rule whose result has no msg


def test_v0_paths_and_missing_policies(engine: RegorusEngine) -> None:
    v0 = 'package main\n\ndeny[msg] {\n  input.kind == "Deployment"\n  msg := "v0 deny"\n}\n'
    tree = MemoryTree({"legacy/old.rego": v0.encode()})
    rego = config(
        paths=(PolicyPath("legacy", RegoVersion.V0), PolicyPath("absent")), namespaces=("main",)
    )
    policy_set, problems = load(tree, rego)
    assert [p.message for p in problems] == [
        'Rego policy error: policy path "absent" does not exist'
    ]
    findings, _ = analyze(manifests(), policy_set, engine, rego)
    assert [f.message for f in findings] == ["v0 deny", "v0 deny"]


def test_problematic_if_and_empty_namespaces(engine: RegorusEngine) -> None:
    policy = 'package main\n\ndeny[msg] if {\n  msg := "x"\n}\n'
    rego = config(namespaces=("main",))
    policy_set, _ = load(MemoryTree({"policy/p.rego": policy.encode()}), rego)
    (finding,), _ = analyze(manifests(), policy_set, engine, rego)
    assert (finding.rule_id, finding.line) == ("config/policy-error", 3)
    assert "without 'contains'" in finding.message
    other = config(namespaces=("nothing.*",))
    good = MemoryTree({"policy/p.rego": b"package main\n\ndeny contains 1 if false\n"})
    policy_set, _ = load(good, other)
    (notice,), _ = analyze(manifests(), policy_set, engine, other)
    assert notice.severity is Severity.WARNING and "nothing was evaluated" in notice.message


def test_command_line_policy_paths_join_the_configured_ones(
    engine: RegorusEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(Path(__file__).parents[2] / "data/conftest/examples/kubernetes")
    tree = MemoryTree({"policy/security.rego": SECURITY.encode()})
    rego = config(namespaces=("main", "k8s.security"))
    policy_set, problems = load(tree, rego, extra_paths=["policy", "missing"])
    assert [p.message for p in problems] == [
        'Rego policy error: policy path "missing" does not exist'
    ]
    assert [m.path for m in policy_set.modules][:2] == [
        "policy/security.rego",
        "policy/base_test.rego",
    ]
    findings, _ = analyze(manifests(), policy_set, engine, rego)
    rules = {f.rule_id for f in findings}
    assert {"rego/main/deny", "rego/main/violation", "rego/k8s.security/deny_root"} <= rules
