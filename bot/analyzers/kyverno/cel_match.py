"""``spec.matchConstraints`` of a ValidatingPolicy, decided as Kubernetes' admission policy
matcher does (k8s.io/apiserver ``policy/matching``, ``webhook/predicates/rules``; kyverno
``pkg/cel/matching``):

- ``resourceRules`` (any rule; an empty list matches everything) and ``excludeResourceRules``
  (any rule excludes): ``operations``, ``apiGroups``, ``apiVersions``, ``resources`` (``*``,
  ``pods/*``), ``scope`` (``Cluster``, ``Namespaced``, ``*``) and ``resourceNames``
  (``generateName`` prefixes count when the name is empty);
- ``namespaceSelector`` on the labels of the resource's namespace (a Namespace is matched on
  its own labels; other cluster-scoped resources always match);
- ``objectSelector`` on the labels of the object or of the old object.

Selectors are Kubernetes label selectors: exact values, no wildcards (unlike Kyverno's own
``match`` blocks). When the namespace's labels are not known the answer is UNKNOWN with the
reason, so the result is a skip, never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.analyzers.kyverno.cel_resources import ApiResource, kinds_of, matches_resource
from bot.analyzers.kyverno.match import NO, YES, Decision, MatchError, Outcome, read_selector

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT", "*")
# Kubernetes sets this label on every namespace, so a selector on it alone is decidable.
NAME_LABEL = "kubernetes.io/metadata.name"


class ConstraintError(MatchError):
    """A matchConstraints block that cannot be read; ``where`` is the path inside it."""


@dataclass(frozen=True, slots=True)
class Selector:
    """A Kubernetes label selector (``matchLabels`` and ``matchExpressions``)."""

    labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[tuple[str, str, frozenset[str]], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.labels and not self.expressions

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(k for k, _ in self.labels) | frozenset(k for k, _, _ in self.expressions)

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.labels):
            return False
        for key, operator, values in self.expressions:
            present = key in labels
            if operator == "In" and not (present and labels[key] in values):
                return False
            if operator == "NotIn" and present and labels[key] in values:
                return False
            if operator == "Exists" and not present:
                return False
            if operator == "DoesNotExist" and present:
                return False
        return True


@dataclass(frozen=True, slots=True)
class ResourceRule:
    operations: tuple[str, ...]
    groups: tuple[str, ...]
    versions: tuple[str, ...]
    resources: tuple[str, ...]
    scope: str = "*"
    names: tuple[str, ...] = ()

    def matches(self, operation: str, target: ApiResource, name: str, generate_name: str) -> bool:
        if "*" not in self.operations and operation not in self.operations:
            return False
        if "*" not in self.groups and target.group not in self.groups:
            return False
        if "*" not in self.versions and target.version not in self.versions:
            return False
        if not any(matches_resource(r, target) for r in self.resources):
            return False
        if self.scope == "Cluster" and target.namespaced:
            return False
        if self.scope == "Namespaced" and not target.namespaced:
            return False
        if not self.names:
            return True
        if name:
            return name in self.names
        return bool(generate_name) and any(generate_name.startswith(n) for n in self.names)


@dataclass(frozen=True, slots=True)
class MatchRequest:
    """The facts of one request that matchConstraints look at."""

    operation: str
    resource: ApiResource
    name: str
    generate_name: str
    namespace: str
    labels: Mapping[str, str]
    old_labels: Mapping[str, str] | None
    # Labels of the resource's namespace; None when not known.
    namespace_labels: Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class MatchConstraints:
    rules: tuple[ResourceRule, ...] = ()
    exclude: tuple[ResourceRule, ...] = ()
    namespace_selector: Selector = Selector()
    object_selector: Selector = Selector()

    def decide(self, request: MatchRequest) -> Outcome:
        if not self._namespace(request):
            return NO
        if not self._object(request):
            return NO
        args = (request.operation, request.resource, request.name, request.generate_name)
        if any(rule.matches(*args) for rule in self.exclude):
            return NO
        if self.rules and not any(rule.matches(*args) for rule in self.rules):
            return NO
        if self.namespace_selector.empty or not _needs_namespace(request):
            return YES
        if request.namespace_labels is None and not self._name_only:
            return Outcome(
                Decision.UNKNOWN,
                f"the policy's namespaceSelector depends on the labels of namespace "
                f'"{request.namespace}", which are not known here',
            )
        return YES

    def _namespace(self, request: MatchRequest) -> bool:
        if self.namespace_selector.empty or not _needs_namespace(request):
            return True
        if request.resource.resource == "namespaces" and request.operation != "DELETE":
            return self.namespace_selector.matches(request.labels)
        labels = request.namespace_labels
        if labels is None:
            if not self._name_only:
                return True  # decided after the resource rules (UNKNOWN), if they match at all
            labels = {NAME_LABEL: request.namespace}
        return self.namespace_selector.matches(labels)

    @property
    def _name_only(self) -> bool:
        return self.namespace_selector.keys <= {NAME_LABEL}

    def _object(self, request: MatchRequest) -> bool:
        if self.object_selector.empty:
            return True
        if self.object_selector.matches(request.labels):
            return True
        return request.old_labels is not None and self.object_selector.matches(request.old_labels)

    def kind_names(self) -> frozenset[str] | None:
        """The kinds these constraints can match, or None when not limited to known kinds."""
        if not self.rules:
            return None
        out: set[str] = set()
        for rule in self.rules:
            for resource in rule.resources:
                kinds = kinds_of(resource.partition("/")[0])
                if kinds is None:
                    return None
                out |= kinds
        return frozenset(out)


def _needs_namespace(request: MatchRequest) -> bool:
    # A cluster-scoped resource other than a Namespace is never exempted by a namespaceSelector.
    return bool(request.namespace) or request.resource.resource == "namespaces"


def compile_constraints(value: Any) -> MatchConstraints:
    if value is None:
        return MatchConstraints()
    if not isinstance(value, dict):
        raise ConstraintError("matchConstraints must be a mapping")
    return MatchConstraints(
        rules=_rules(value.get("resourceRules"), ("resourceRules",)),
        exclude=_rules(value.get("excludeResourceRules"), ("excludeResourceRules",)),
        namespace_selector=compile_selector(value.get("namespaceSelector"), ("namespaceSelector",)),
        object_selector=compile_selector(value.get("objectSelector"), ("objectSelector",)),
    )


def _rules(value: Any, where: tuple[str | int, ...]) -> tuple[ResourceRule, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConstraintError("must be a list of resource rules", where)
    out = []
    for i, item in enumerate(value):
        here = (*where, i)
        if not isinstance(item, dict):
            raise ConstraintError("a resource rule must be a mapping", here)
        operations = _strings(item.get("operations"), (*here, "operations"))
        for j, operation in enumerate(operations):
            if operation not in OPERATIONS:
                raise ConstraintError(
                    f'unknown operation "{operation}"; use {", ".join(OPERATIONS)}',
                    (*here, "operations", j),
                )
        scope = item.get("scope", "*")
        if scope not in ("*", "Cluster", "Namespaced"):
            raise ConstraintError('scope must be "*", "Cluster" or "Namespaced"', (*here, "scope"))
        out.append(
            ResourceRule(
                operations=operations,
                groups=_strings(item.get("apiGroups"), (*here, "apiGroups")),
                versions=_strings(item.get("apiVersions"), (*here, "apiVersions")),
                resources=_strings(item.get("resources"), (*here, "resources")),
                scope=str(scope),
                names=_strings(item.get("resourceNames"), (*here, "resourceNames")),
            )
        )
    return tuple(out)


def compile_selector(value: Any, where: tuple[str | int, ...]) -> Selector:
    parts = read_selector(value, where, _strings, ConstraintError)
    if parts is None:
        return Selector()
    labels, expressions = parts
    return Selector(
        labels=labels,
        expressions=tuple((key, op, frozenset(values)) for key, op, values in expressions),
    )


def match_request(
    resource: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    operation: str,
    api: ApiResource,
    namespace_labels: Mapping[str, str] | None,
) -> MatchRequest:
    subject = resource if resource is not None else (old or {})
    metadata = subject.get("metadata") if isinstance(subject.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    namespace = _text(metadata.get("namespace")) if api.namespaced else ""
    return MatchRequest(
        operation=operation,
        resource=api,
        name=_text(metadata.get("name")),
        generate_name=_text(metadata.get("generateName")),
        namespace=namespace,
        labels=_labels(resource) if resource is not None else {},
        old_labels=_labels(old) if old is not None else None,
        namespace_labels=namespace_labels,
    )


def _labels(resource: Mapping[str, Any]) -> dict[str, str]:
    metadata = resource.get("metadata")
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {str(k): _text(v) for k, v in labels.items()}


def _strings(value: Any, where: tuple[str | int, ...]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConstraintError("must be a list of strings", where)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
