"""Autogen for CEL: the pod-controller variants Kyverno derives from a policy written for Pods.

Kyverno rewrites the policy's JSON text (every string in it: expressions, messages, variables):

- ``validate.cel`` rules of a ClusterPolicy (kyverno ``pkg/autogen/v1/rule.go``): the
  ``autogen-`` rules get ``object.spec`` -> ``object.spec.template.spec`` and ``object.metadata``
  -> ``object.spec.template.metadata`` (and ``oldObject``), the ``autogen-cronjob-`` rules
  ``object.spec.jobTemplate.spec.template...``; which rules are generated is decided by
  ``autogen.py`` as for pattern rules.
- ValidatingPolicy (kyverno ``pkg/cel/autogen``, ``pkg/cel/policies/vpol/autogen``): when the
  policy matches exactly one resource rule for ``pods`` (``apiGroups [""]``, ``apiVersions
  [v1]``, optionally ``pods/ephemeralcontainers``) with no objectSelector, exclude rules or
  resource names, one variant for ``daemonsets deployments jobs replicasets statefulsets`` and
  one for ``cronjobs`` (or those of ``spec.autogen.podControllers.controllers``); the same
  rewrite, except that ``object.metadata.name`` and ``object.metadata.namespace`` keep pointing
  at the controller (protected suffixes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.analyzers.kyverno.cel_match import MatchConstraints, ResourceRule

_PROTECTED = re.compile(r"\.(?:namespace|name)(?![A-Za-z0-9_])")


@dataclass(frozen=True, slots=True)
class Controller:
    group: str
    version: str
    resource: str
    kind: str
    cronjob: bool = False


CONTROLLERS = {
    "daemonsets": Controller("apps", "v1", "daemonsets", "DaemonSet"),
    "deployments": Controller("apps", "v1", "deployments", "Deployment"),
    "replicasets": Controller("apps", "v1", "replicasets", "ReplicaSet"),
    "statefulsets": Controller("apps", "v1", "statefulsets", "StatefulSet"),
    "jobs": Controller("batch", "v1", "jobs", "Job"),
    "cronjobs": Controller("batch", "v1", "cronjobs", "CronJob", cronjob=True),
}
_TEMPLATE = {False: "spec.template", True: "spec.jobTemplate.spec.template"}


def rewrite(value: Any, cronjob: bool, *, protect: bool) -> Any:
    """``value`` (any JSON-like data) with Kyverno's textual replacements applied."""
    text = json.dumps(value)
    template = _TEMPLATE[cronjob]
    for field in ("spec", "metadata"):  # Kyverno's order: spec first, for both roots
        for root in ("object.", "oldObject."):
            text = _replace(text, root + field, f"{root}{template}.{field}", protect)
    return json.loads(text)


def _replace(text: str, old: str, new: str, protect: bool) -> str:
    if not protect:
        return text.replace(old, new)
    out: list[str] = []
    position = 0
    while True:
        found = text.find(old, position)
        if found < 0:
            out.append(text[position:])
            return "".join(out)
        out.append(text[position:found])
        rest = found + len(old)
        out.append(old if _PROTECTED.match(text, rest) else new)
        position = rest


def can_autogen(constraints: MatchConstraints) -> bool:
    if not constraints.object_selector.empty or constraints.exclude:
        return False
    if len(constraints.rules) != 1:
        return False
    rule = constraints.rules[0]
    if rule.names or rule.groups != ("",) or rule.versions != ("v1",) or not rule.resources:
        return False
    if any(r not in ("pods", "pods/ephemeralcontainers") for r in rule.resources):
        return False
    return "pods" in rule.resources


@dataclass(frozen=True, slots=True)
class Variant:
    """One autogen variant: the constraints for its controllers and whether it is CronJob's."""

    constraints: MatchConstraints
    cronjob: bool


def variants(constraints: MatchConstraints, controllers: Sequence[str] | None) -> list[Variant]:
    """The autogen variants of a ValidatingPolicy (empty when it cannot autogen)."""
    if not can_autogen(constraints):
        return []
    chosen = [CONTROLLERS[c] for c in (controllers or CONTROLLERS) if c in CONTROLLERS]
    operations = constraints.rules[0].operations
    out = []
    for cronjob in (False, True):
        targets = [c for c in chosen if c.cronjob is cronjob]
        if not targets:
            continue
        groups: dict[tuple[str, str], list[str]] = {}
        for target in targets:
            groups.setdefault((target.group, target.version), []).append(target.resource)
        rules = tuple(
            ResourceRule(operations, (group,), (version,), tuple(sorted(resources)))
            for (group, version), resources in sorted(groups.items())
        )
        # The namespaceSelector is kept: the controllers live in the same namespaces.
        out.append(
            Variant(
                MatchConstraints(rules=rules, namespace_selector=constraints.namespace_selector),
                cronjob,
            )
        )
    return out
