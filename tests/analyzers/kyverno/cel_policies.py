"""Helpers for the CEL policy tests: load policies from YAML text, evaluate one resource."""

from __future__ import annotations

import textwrap
from typing import Any

from bot.analyzers.kyverno.cel_bindings import BindingMode, CelInputs
from bot.analyzers.kyverno.engine import Engine, Request, RuleResult
from bot.analyzers.kyverno.policy import PolicyFile, PolicySet, load_policies

CLI = CelInputs(mode=BindingMode.CLI)


def load(yaml_text: str) -> PolicyFile:
    return load_policies("policies/cel.yaml", textwrap.dedent(yaml_text))


def policy_set(yaml_text: str) -> PolicySet:
    loaded = load(yaml_text)
    assert loaded.problems == [], loaded.problems
    return PolicySet.build(loaded.policies, (), loaded.exceptions)


def evaluate(yaml_text: str, resource: dict[str, Any], **request: Any) -> list[RuleResult]:
    policies = policy_set(yaml_text)
    request.setdefault("cel", CelInputs(exceptions=policies.exceptions))
    return Engine(policies).evaluate(Request(resource=resource, **request))


def one(yaml_text: str, resource: dict[str, Any], **request: Any) -> RuleResult:
    results = evaluate(yaml_text, resource, **request)
    assert len(results) == 1, results
    return results[0]


def pod(name: str = "web", namespace: str = "shop", **spec: Any) -> dict[str, Any]:
    containers = spec.pop("containers", [{"name": "app", "image": "nginx:1.27"}])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"containers": containers, **spec},
    }


def config_map(name: str = "settings", namespace: str = "shop", **data: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
    }
    if data:
        out["data"] = dict(data)
    return out


def vpol(validations: str, *, resources: str = "[configmaps]", extra: str = "") -> str:
    """A ValidatingPolicy named ``vp`` for core resources with the given validations (YAML
    list items, indented by two spaces) and extra spec fields."""
    return f"""\
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata:
  name: vp
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: [v1]
      operations: [CREATE, UPDATE, DELETE]
      resources: {resources}
{extra}  validations:
{validations}"""


def cel_rule(expressions: str, *, kinds: str = "[ConfigMap]", extra: str = "") -> str:
    """A ClusterPolicy ``cp`` with one validate.cel rule ``check``."""
    return f"""\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: cp
spec:
  rules:
  - name: check
    match:
      any:
      - resources:
          kinds: {kinds}
{extra}    validate:
      cel:
        expressions:
{expressions}"""
