"""``match`` / ``exclude`` (reference/kyverno-semantics.md §10; kyverno
``pkg/engine/utils/match.go``), with a third answer for a pull-request gate.

Kyverno decides on facts a repository does not hold: the labels of the resource's namespace
(``namespaceSelector``) and who makes the request (``subjects``, ``roles``, ``clusterRoles``).
Each decision is therefore YES, NO or UNKNOWN (with the reason), combined with Kleene logic, so
a rule whose outcome hinges on such a fact is reported as ``skip`` with that reason, never as a
pass; a fact that would not change the outcome (the kind does not match anyway) is not asked.

User info follows the Kyverno CLI: without user info, ``match`` ignores the user-info fields
and ``exclude`` filters that name them never exclude.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from bot.analyzers.kyverno.kinds import KindSelector, parse_kind
from bot.analyzers.kyverno.values import wildcard_match

OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class MatchError(ValueError):
    """A match/exclude block that cannot be read; ``where`` is the field path inside it."""

    def __init__(self, message: str, where: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.where = where


class Decision(Enum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: Decision
    reason: str = ""  # why UNKNOWN

    def __and__(self, other: Outcome) -> Outcome:
        if self.decision is Decision.NO:
            return self
        if other.decision is Decision.NO:
            return other
        if self.decision is Decision.UNKNOWN:
            return self
        return other

    def __or__(self, other: Outcome) -> Outcome:
        if self.decision is Decision.YES:
            return self
        if other.decision is Decision.YES:
            return other
        if self.decision is Decision.UNKNOWN:
            return self
        return other

    def __invert__(self) -> Outcome:
        if self.decision is Decision.YES:
            return NO
        if self.decision is Decision.NO:
            return YES
        return self


YES = Outcome(Decision.YES)
NO = Outcome(Decision.NO)


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Who makes the request (a kyverno test ``userinfo`` file)."""

    username: str = ""
    uid: str = ""
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    cluster_roles: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return (
            not (self.username or self.uid or self.groups or self.roles or self.cluster_roles)
            and not self.extra
        )


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.match_labels:
            # Wildcards in matchLabels keys and values (kyverno wildcards.ReplaceInSelector).
            if not any(
                wildcard_match(key, k) and wildcard_match(value, v) for k, v in labels.items()
            ):
                return False
        for req in self.expressions:
            present = req.key in labels
            if req.operator == "In":
                if not present or labels[req.key] not in req.values:
                    return False
            elif req.operator == "NotIn":
                if present and labels[req.key] in req.values:
                    return False
            elif req.operator == "Exists":
                if not present:
                    return False
            elif present:  # DoesNotExist
                return False
        return True


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class ResourceFilter:
    kinds: tuple[KindSelector, ...] = ()
    has_kinds: bool = False
    name: str = ""
    names: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    annotations: tuple[tuple[str, str], ...] | None = None
    selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    operations: tuple[str, ...] = ()
    subjects: tuple[Subject, ...] = ()
    roles: tuple[str, ...] = ()
    cluster_roles: tuple[str, ...] = ()
    description_empty: bool = True

    @property
    def user_info_empty(self) -> bool:
        return not (self.subjects or self.roles or self.cluster_roles)

    def without_user_info(self) -> ResourceFilter:
        return replace(self, subjects=(), roles=(), cluster_roles=())


@dataclass(frozen=True, slots=True)
class MatchBlock:
    mode: str  # "any" | "all" | "legacy"
    filters: tuple[ResourceFilter, ...]

    def kind_names(self) -> frozenset[str] | None:
        """The exact kinds this block can match, or None when it is not limited to a set
        (wildcards, filters without kinds): the engine's index for skipping rules fast."""
        if self.mode == "all":
            for item in self.filters:
                names = _exact_kinds(item)
                if names is not None:
                    return names
            return None
        out: set[str] = set()
        for item in self.filters:
            names = _exact_kinds(item)
            if names is None:
                return None
            out |= names
        return frozenset(out)


def _exact_kinds(item: ResourceFilter) -> frozenset[str] | None:
    if not item.kinds:
        return None
    if any("*" in k.kind or "?" in k.kind for k in item.kinds):
        return None
    return frozenset(k.kind for k in item.kinds)


@dataclass(frozen=True, slots=True)
class Target:
    """The facts of one admission request that match/exclude look at."""

    group: str
    version: str
    kind: str
    name: str
    namespace: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    operation: str = "CREATE"
    user_info: RequestInfo | None = None
    # Labels of the resource's namespace; None when unknown (the gate without Namespace data).
    namespace_labels: Mapping[str, str] | None = None

    @classmethod
    def of(
        cls,
        resource: Mapping[str, Any],
        *,
        operation: str = "CREATE",
        user_info: RequestInfo | None = None,
        namespace_labels: Mapping[str, str] | None = None,
    ) -> Target:
        api_version = resource.get("apiVersion")
        group, _, version = (api_version if isinstance(api_version, str) else "").rpartition("/")
        metadata = resource.get("metadata")
        meta: Mapping[str, Any] = metadata if isinstance(metadata, dict) else {}
        name = meta.get("name") or meta.get("generateName") or ""
        kind = resource.get("kind")
        return cls(
            group=group,
            version=version,
            kind=kind if isinstance(kind, str) else "",
            name=name if isinstance(name, str) else "",
            namespace=_text(meta.get("namespace")),
            labels=_string_map(meta.get("labels")),
            annotations=_string_map(meta.get("annotations")),
            operation=operation,
            user_info=user_info,
            namespace_labels=namespace_labels,
        )


def applies(
    match: MatchBlock,
    exclude: MatchBlock | None,
    target: Target,
    policy_namespace: str | None = None,
) -> Outcome:
    """Does a rule with these blocks apply to the request? Exclude is only asked after a
    match (a resource that does not match is never reported as excluded)."""
    if policy_namespace and policy_namespace != target.namespace:
        return NO  # a namespaced Policy applies to its own namespace only
    matched = _match_block(match, target)
    if matched.decision is Decision.NO or exclude is None:
        return matched
    return matched & ~_exclude_block(exclude, target)


def _match_block(block: MatchBlock, target: Target) -> Outcome:
    results = (_match_filter(item, target) for item in block.filters)
    if block.mode == "any":
        return _any(results)
    return _all(results)


def _exclude_block(block: MatchBlock, target: Target) -> Outcome:
    """YES when the request is excluded."""
    results = (_exclude_filter(item, target) for item in block.filters)
    if block.mode == "all":
        return _all(results)
    return _any(results)  # "any" and the legacy single filter


def _any(results: Iterable[Outcome]) -> Outcome:
    out = NO
    for result in results:
        out = out | result
        if out.decision is Decision.YES:
            return out
    return out


def _all(results: Iterable[Outcome]) -> Outcome:
    out = YES
    for result in results:
        out = out & result
        if out.decision is Decision.NO:
            return out
    return out


def _match_filter(item: ResourceFilter, target: Target) -> Outcome:
    if not item.user_info_empty and (target.user_info is None or target.user_info.empty):
        item = item.without_user_info()
    if item.description_empty and item.user_info_empty:
        return NO  # "match cannot be empty"
    return _filter(item, target)


def _exclude_filter(item: ResourceFilter, target: Target) -> Outcome:
    if item.description_empty and item.user_info_empty:
        return NO
    return _filter(item, target)


def _filter(item: ResourceFilter, target: Target) -> Outcome:
    """Fields are ANDed; the entries of a list field are ORed."""
    if item.operations and target.operation not in item.operations:
        return NO
    if item.has_kinds and not any(_kind_matches(k, target) for k in item.kinds):
        return NO
    if item.name and not wildcard_match(item.name, target.name):
        return NO
    if item.names and not any(wildcard_match(n, target.name) for n in item.names):
        return NO
    if item.namespaces:
        namespace = target.name if target.kind == "Namespace" else target.namespace
        if not any(wildcard_match(ns, namespace) for ns in item.namespaces):
            return NO
    if item.annotations and not _annotations_match(item.annotations, target.annotations):
        return NO
    if item.selector is not None and not item.selector.matches(target.labels):
        return NO
    out = YES
    if item.namespace_selector is not None:
        out = _namespace_selector(item.namespace_selector, target)
        if out.decision is Decision.NO:
            return out
    if not item.user_info_empty:
        out = out & _user_info(item, target)
    return out


def _annotations_match(expected: tuple[tuple[str, str], ...], actual: Mapping[str, str]) -> bool:
    """Every expected key/value (wildcards allowed in both) is present."""
    return all(
        any(wildcard_match(k, ak) and wildcard_match(v, av) for ak, av in actual.items())
        for k, v in expected
    )


def _kind_matches(selector: KindSelector, target: Target) -> bool:
    if selector.plain:
        return selector.kind == target.kind
    return (
        wildcard_match(selector.group, target.group)
        and wildcard_match(selector.version, target.version)
        and wildcard_match(selector.kind, target.kind)
        and wildcard_match(selector.subresource, "")
    )


def _namespace_selector(selector: LabelSelector, target: Target) -> Outcome:
    if target.kind == "Namespace":
        return NO  # never applies to a Namespace object itself
    if target.namespace_labels is None:
        where = f'namespace "{target.namespace}"' if target.namespace else "its namespace"
        return Outcome(
            Decision.UNKNOWN,
            f"the rule's namespaceSelector depends on the labels of {where}, "
            "which are not known here",
        )
    return YES if selector.matches(target.namespace_labels) else NO


def _user_info(item: ResourceFilter, target: Target) -> Outcome:
    info = target.user_info or RequestInfo()
    if item.roles and not any(role in item.roles for role in info.roles):
        return NO
    if item.cluster_roles and not any(role in item.cluster_roles for role in info.cluster_roles):
        return NO
    if item.subjects and not any(_subject_matches(s, info) for s in item.subjects):
        return NO
    return YES


def _subject_matches(subject: Subject, info: RequestInfo) -> bool:
    if subject.kind == "ServiceAccount":
        username = f"system:serviceaccount:{subject.namespace}:{subject.name}"
        return wildcard_match(username, info.username)
    if subject.kind == "Group":
        return any(wildcard_match(subject.name, group) for group in info.groups)
    if subject.kind == "User":
        return wildcard_match(subject.name, info.username)
    return False


# --- reading the blocks ------------------------------------------------------------------


def compile_block(value: Any) -> MatchBlock:
    """A ``match`` or ``exclude`` mapping; raises MatchError for a malformed one."""
    if value is None:
        return MatchBlock("legacy", (ResourceFilter(),))
    if not isinstance(value, dict):
        raise MatchError("must be a mapping")
    for mode in ("any", "all"):
        items = value.get(mode)
        if items:
            if not isinstance(items, list):
                raise MatchError(f"{mode} must be a list of resource filters", (mode,))
            return MatchBlock(
                mode, tuple(_compile_filter(item, (mode, i)) for i, item in enumerate(items))
            )
    return MatchBlock("legacy", (_compile_filter(value, ()),))


def _compile_filter(value: Any, where: tuple[str | int, ...]) -> ResourceFilter:
    if not isinstance(value, dict):
        raise MatchError("a resource filter must be a mapping", where)
    resources = value.get("resources")
    if resources is None:
        resources = {}
    if not isinstance(resources, dict):
        raise MatchError("resources must be a mapping", (*where, "resources"))
    here = (*where, "resources")
    kinds = _strings(resources.get("kinds"), (*here, "kinds"))
    operations = _strings(resources.get("operations"), (*here, "operations"))
    for i, op in enumerate(operations):
        if op not in OPERATIONS:
            raise MatchError(
                f'unknown operation "{op}"; use {", ".join(OPERATIONS)}', (*here, "operations", i)
            )
    annotations = resources.get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        raise MatchError("annotations must be a mapping", (*here, "annotations"))
    name = resources.get("name")
    if name is not None and not isinstance(name, str):
        raise MatchError("name must be a string", (*here, "name"))
    description_keys = (
        "kinds",
        "name",
        "names",
        "namespaces",
        "annotations",
        "selector",
        "namespaceSelector",
        "operations",
    )
    return ResourceFilter(
        kinds=tuple(parse_kind(k) for k in kinds),
        has_kinds=bool(kinds),
        name=name or "",
        names=_strings(resources.get("names"), (*here, "names")),
        namespaces=_strings(resources.get("namespaces"), (*here, "namespaces")),
        annotations=None
        if annotations is None
        else tuple((str(k), _text(v)) for k, v in annotations.items()),
        selector=label_selector(resources.get("selector"), (*here, "selector")),
        namespace_selector=label_selector(
            resources.get("namespaceSelector"), (*here, "namespaceSelector")
        ),
        operations=operations,
        subjects=_subjects(value.get("subjects"), (*where, "subjects")),
        roles=_strings(value.get("roles"), (*where, "roles")),
        cluster_roles=_strings(value.get("clusterRoles"), (*where, "clusterRoles")),
        description_empty=not any(resources.get(key) not in (None, "") for key in description_keys),
    )


def label_selector(value: Any, where: tuple[str | int, ...]) -> LabelSelector | None:
    """A Kyverno label selector (wildcards allowed); raises MatchError for a malformed one."""
    parts = read_selector(value, where, _strings, MatchError)
    if parts is None:
        return None
    labels, expressions = parts
    return LabelSelector(
        match_labels=labels,
        expressions=tuple(Requirement(*expression) for expression in expressions),
    )


SelectorParts = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, tuple[str, ...]], ...]]
"""``matchLabels`` as (key, value) pairs and ``matchExpressions`` as (key, operator, values)."""


def read_selector(
    value: Any,
    where: tuple[str | int, ...],
    strings: Callable[[Any, tuple[str | int, ...]], tuple[str, ...]],
    error: type[MatchError],
) -> SelectorParts | None:
    """The checked parts of a label selector; None when there is none. Kyverno's match blocks
    and the admission matcher of CEL policies read selectors alike but match them differently
    (wildcards or exact values), and accept different ``values`` (``strings``)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise error("a label selector must be a mapping", where)
    labels = value.get("matchLabels") or {}
    if not isinstance(labels, dict):
        raise error("matchLabels must be a mapping", (*where, "matchLabels"))
    raw = value.get("matchExpressions") or []
    if not isinstance(raw, list):
        raise error("matchExpressions must be a list", (*where, "matchExpressions"))
    expressions = []
    for i, expr in enumerate(raw):
        here = (*where, "matchExpressions", i)
        if not isinstance(expr, dict) or not isinstance(expr.get("key"), str):
            raise error("a match expression needs a key", here)
        operator = expr.get("operator")
        if operator not in _SELECTOR_OPERATORS:
            raise error(
                f'unknown selector operator "{operator}"; use {", ".join(_SELECTOR_OPERATORS)}',
                (*here, "operator"),
            )
        values = strings(expr.get("values"), (*here, "values"))
        if operator in ("In", "NotIn") and not values:
            raise error(f"operator {operator} needs values", here)
        expressions.append((expr["key"], str(operator), values))
    return tuple((str(k), _text(v)) for k, v in labels.items()), tuple(expressions)


def _subjects(value: Any, where: tuple[str | int, ...]) -> tuple[Subject, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MatchError("subjects must be a list", where)
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise MatchError("a subject needs a kind and a name", (*where, i))
        out.append(
            Subject(
                kind=_text(item.get("kind")),
                name=item["name"],
                namespace=_text(item.get("namespace")),
            )
        )
    return tuple(out)


def _strings(value: Any, where: tuple[str | int, ...]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return tuple(str(v) for v in value)
    raise MatchError("must be a list of strings", where)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _text(v) for k, v in value.items()}


def request_info(data: Mapping[str, Any]) -> RequestInfo:
    """A kyverno test ``userinfo`` document (``roles``, ``clusterRoles``, ``userInfo``)."""
    user = data.get("userInfo")
    user_map: Mapping[str, Any] = user if isinstance(user, dict) else {}
    extra = user_map.get("extra")
    return RequestInfo(
        username=_text(user_map.get("username")),
        uid=_text(user_map.get("uid")),
        groups=tuple(_text(g) for g in _seq(user_map.get("groups"))),
        roles=tuple(_text(r) for r in _seq(data.get("roles"))),
        cluster_roles=tuple(_text(r) for r in _seq(data.get("clusterRoles"))),
        extra=extra if isinstance(extra, dict) else {},
    )


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else ()
