"""Kyverno policies read from YAML and compiled once per run: ``ClusterPolicy`` and ``Policy``
(``kyverno.io/v1``, ``kyverno.io/v2beta1``) with their validate rules, plus the autogen rules
for pod controllers (``autogen.py``).

Compiling checks what Kyverno's admission webhook would refuse (a rule without a name or a
match block, an unknown condition operator, a JMESPath expression that does not parse, a
validate rule without a body) and reports it as a ``PolicyProblem`` at the policy file and
line; the policy is then left out and the others still run. Forms the engine does not evaluate
(mutate, generate, verifyImages, the CEL policy kinds other than ValidatingPolicy) are kept
with an ``unsupported`` reason so that results say ``skip`` with that reason instead of
silently passing.

CEL: ``validate.cel`` rules and ValidatingPolicy documents are compiled by ``cel_policy`` into
the rule's ``cel`` part (a CEL expression that does not compile is a ``PolicyProblem`` at its
line); PolicyException documents (``policies.kyverno.io``) in the same files are collected for
them (``cel_exceptions``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.analyzers.kyverno.autogen import ComputedRule, compute_rules
from bot.analyzers.kyverno.cel_exceptions import (
    CelException,
    ExceptionError,
    is_exception_document,
    read_exception,
)
from bot.analyzers.kyverno.cel_policy import (
    OTHER_KINDS,
    VALIDATING_KINDS,
    CelPolicyError,
    CelRule,
    check_exception,
    compile_validate_cel,
    compile_validating_policy,
)
from bot.analyzers.kyverno.errors import KyvernoError
from bot.analyzers.kyverno.exceptions import (
    PolicyException,
    is_policy_exception_document,
    read_policy_exception,
)
from bot.analyzers.kyverno.jmespath_dialect import compile_expression
from bot.analyzers.kyverno.match import (
    LabelSelector,
    MatchBlock,
    MatchError,
    compile_block,
    label_selector,
)
from bot.analyzers.kyverno.pattern import CompiledPattern, compile_pattern
from bot.analyzers.kyverno.podsecurity import validate_pod_security
from bot.analyzers.kyverno.values import wildcard_match
from bot.analyzers.kyverno.variables import has_variables
from bot.core.document import Document, FieldPath, load_text
from bot.core.filekind import FileKind

KYVERNO_API_VERSIONS = ("kyverno.io/v1", "kyverno.io/v2beta1")
POLICY_KINDS = ("ClusterPolicy", "Policy")
CEL_GROUP = "policies.kyverno.io"
# Kubernetes' own CEL admission policies, which kyverno test also runs.
ADMISSION_GROUP = "admissionregistration.k8s.io"
ADMISSION_POLICY_KINDS = ("ValidatingAdmissionPolicy", "MutatingAdmissionPolicy")
SCORED_ANNOTATION = "policies.kyverno.io/scored"
# Condition operators (reference §5), compared case-insensitively as Kyverno does.
OPERATORS = frozenset(
    op.lower()
    for op in (
        "Equals",
        "Equal",
        "NotEquals",
        "NotEqual",
        "In",
        "NotIn",
        "AnyIn",
        "AllIn",
        "AnyNotIn",
        "AllNotIn",
        "GreaterThan",
        "GreaterThanOrEquals",
        "LessThan",
        "LessThanOrEquals",
        "DurationGreaterThan",
        "DurationGreaterThanOrEquals",
        "DurationLessThan",
        "DurationLessThanOrEquals",
    )
)
CLUSTER_SOURCES = ("configMap", "apiCall", "imageRegistry", "globalReference")
_VARIABLE = re.compile(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})")


class FailureAction(StrEnum):
    AUDIT = "Audit"
    ENFORCE = "Enforce"


class BodyKind(StrEnum):
    DENY = "deny"
    PATTERN = "pattern"
    ANY_PATTERN = "anyPattern"
    FOREACH = "foreach"
    POD_SECURITY = "podSecurity"


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """A policy that cannot be used as written: at its file and line."""

    path: str
    line: int | None
    message: str
    policy: str | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class ContextEntry:
    name: str
    source: str  # "variable" or one of CLUSTER_SOURCES
    value: Any = None
    has_value: bool = False
    jmes_path: str | None = None
    default: Any = None


@dataclass(frozen=True, slots=True)
class PodSecuritySpec:
    level: str
    version: str
    exclude: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Body:
    """What a validate rule (or one foreach level) checks; exactly one kind is set."""

    kind: BodyKind
    deny: Any = None  # the conditions block of validate.deny
    pattern: Any = None
    any_pattern: tuple[Any, ...] = ()
    # pattern / anyPattern prepared once when they hold no variables (None: substitute first).
    compiled: tuple[CompiledPattern | None, ...] = ()
    foreach: tuple[Foreach, ...] = ()
    pod_security: PodSecuritySpec | None = None


@dataclass(frozen=True, slots=True)
class Foreach:
    list_expr: str
    body: Body
    element_scope: bool | None = None
    context: tuple[ContextEntry, ...] = ()
    preconditions: Any = None


@dataclass(frozen=True, slots=True)
class ActionOverride:
    """A ``failureActionOverrides`` (rule) or ``validationFailureActionOverrides`` (policy)
    entry: the action for resources in these namespaces (wildcards) and/or namespaces with
    these labels."""

    action: FailureAction
    namespaces: tuple[str, ...] | None
    selector: LabelSelector | None

    def applies(self, namespace: str, labels: Mapping[str, str]) -> bool:
        # kyverno EngineResponse.GetValidationFailureAction: without namespaces the selector
        # decides; with them a namespace must match and then the selector, if any.
        if self.namespaces is None:
            return self.selector is not None and self.selector.matches(labels)
        if not any(wildcard_match(ns, namespace) for ns in self.namespaces):
            return False
        return self.selector is None or self.selector.matches(labels)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    base_name: str  # the name kyverno test results use (autogen rules: their base rule)
    index: int  # position of the base rule in spec.rules (for its line)
    match: MatchBlock
    exclude: MatchBlock | None
    autogen: bool = False
    context: tuple[ContextEntry, ...] = ()
    preconditions: Any = None
    message: str | None = None
    body: Body | None = None
    failure_action: FailureAction = FailureAction.AUDIT
    # Per-namespace actions, first match wins: the rule's failureActionOverrides, then (unless
    # the rule sets its own failureAction) the policy's validationFailureActionOverrides.
    action_overrides: tuple[ActionOverride, ...] = ()
    # validate.allowExistingViolations: an UPDATE is not blamed for a violation the old object
    # already had (pattern rules; on unless set to false).
    allow_existing_violations: bool = True
    unsupported: str | None = None  # why this rule is not evaluated (results say skip)
    line: int | None = None
    cel: CelRule | None = None  # validate.cel, or a whole ValidatingPolicy

    def action_for(self, namespace: str, labels: Mapping[str, str] | None) -> FailureAction:
        """The failure action for a resource in ``namespace`` (labels unknown: none match)."""
        for override in self.action_overrides:
            if override.applies(namespace, labels or {}):
                return override.action
        return self.failure_action


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    kind: str
    api_version: str
    path: str
    line: int | None
    namespace: str | None = None  # a namespaced Policy
    rules: tuple[Rule, ...] = ()
    annotations: dict[str, Any] = field(default_factory=dict)
    apply_one: bool = False  # spec.applyRules: One
    scored: bool = True  # policies.kyverno.io/scored: "false" turns fail into warn
    unsupported: str | None = None  # a policy kind this engine does not evaluate
    title: str | None = None

    @property
    def key(self) -> str:
        """The name kyverno test results use: ``ns/name`` for a namespaced Policy."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def unsupported_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.unsupported and not r.autogen)


@dataclass(slots=True)
class PolicyFile:
    path: str
    policies: list[Policy] = field(default_factory=list)
    problems: list[PolicyProblem] = field(default_factory=list)
    exceptions: list[CelException] = field(default_factory=list)
    # kyverno.io PolicyExceptions, for ClusterPolicy/Policy rules
    policy_exceptions: list[PolicyException] = field(default_factory=list)


class _Invalid(Exception):
    def __init__(self, message: str, where: FieldPath) -> None:
        super().__init__(message)
        self.where = where


def load_policies(path: str, text: str) -> PolicyFile:
    """Every policy of a YAML file; documents of other kinds are ignored."""
    out = PolicyFile(path)
    loaded = load_text(path, text, FileKind.MANIFEST)
    for finding in loaded.findings:
        out.problems.append(
            PolicyProblem(
                path, finding.line, f"policy file: {finding.message}", None, finding.column
            )
        )
    for doc in loaded.documents:
        if is_exception_document(doc.data):
            _exception(doc, out)
            continue
        if is_policy_exception_document(doc.data):
            _policy_exception(doc, out)
            continue
        policy = _policy(doc, out)
        if policy is not None:
            out.policies.append(policy)
    return out


def _exception(doc: Document, out: PolicyFile) -> None:
    try:
        exception = read_exception(doc)
    except ExceptionError as exc:
        pos = doc.locate(exc.where)
        out.problems.append(PolicyProblem(doc.path, pos.line, str(exc), None, pos.column))
        return
    problem = check_exception(exception)
    if problem is not None:
        out.problems.append(PolicyProblem(doc.path, doc.start.line, problem))
        return
    out.exceptions.append(exception)


def _policy_exception(doc: Document, out: PolicyFile) -> None:
    try:
        exception = read_policy_exception(doc)
        _check_conditions(exception.conditions, ("spec", "conditions"))
    except ExceptionError as exc:
        message, where = str(exc), exc.where
    except _Invalid as exc:
        message, where = f"PolicyException {exception.name}: {exc}", exc.where
    else:
        out.policy_exceptions.append(exception)
        return
    pos = doc.locate(where)
    out.problems.append(PolicyProblem(doc.path, pos.line, message, None, pos.column))


def is_policy_document(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    api_version = data.get("apiVersion")
    kind = data.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return False
    return (api_version in KYVERNO_API_VERSIONS and kind in POLICY_KINDS) or _cel_policy(
        api_version, kind
    )


def _cel_policy(api_version: str, kind: str) -> bool:
    group = api_version.partition("/")[0]
    if group == CEL_GROUP:
        return kind != "PolicyException"
    return group == ADMISSION_GROUP and kind in ADMISSION_POLICY_KINDS


def _policy(doc: Document, out: PolicyFile) -> Policy | None:
    data = doc.data
    if not is_policy_document(data):
        return None
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    name = metadata.get("name")
    kind = data["kind"]
    api_version = data["apiVersion"]
    line = doc.start.line
    if not isinstance(name, str) or not name:
        out.problems.append(PolicyProblem(doc.path, line, f"{kind} without metadata.name"))
        return None
    annotations = metadata.get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    namespace = metadata.get("namespace") if kind != "ClusterPolicy" else None
    title = annotations.get("policies.kyverno.io/title")
    common = {
        "name": name,
        "kind": kind,
        "api_version": api_version,
        "path": doc.path,
        "line": line,
        "annotations": annotations,
        "scored": str(annotations.get(SCORED_ANNOTATION, "")).lower() != "false",
        "title": title if isinstance(title, str) else None,
    }
    if _cel_policy(api_version, kind):
        if api_version.partition("/")[0] == CEL_GROUP and kind in VALIDATING_KINDS:
            return _validating_policy(doc, common, out)
        return Policy(**common, unsupported=_cel_unsupported(api_version, kind))
    if kind == "Policy" and not isinstance(namespace, str):
        namespace = "default"  # a namespaced Policy without a namespace lands in "default"
    try:
        rules = _rules(doc, data.get("spec"))
    except _Invalid as exc:
        pos = doc.locate(exc.where)
        out.problems.append(
            PolicyProblem(doc.path, pos.line, f"{kind} {name}: {exc}", name, pos.column)
        )
        return None
    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    return Policy(
        **common,
        namespace=namespace if isinstance(namespace, str) else None,
        rules=rules,
        apply_one=str(spec.get("applyRules", "")).lower() == "one",
    )


def _cel_unsupported(api_version: str, kind: str) -> str:
    if kind in OTHER_KINDS:
        return OTHER_KINDS[kind]
    if kind in ADMISSION_POLICY_KINDS:
        return f"{kind} ({api_version}) policies need their bindings; they are not evaluated yet"
    return f"{kind} ({api_version}) is not a policy kind this engine evaluates"


def _validating_policy(doc: Document, common: dict[str, Any], out: PolicyFile) -> Policy | None:
    """A ValidatingPolicy: one rule without a name (kyverno test rows name none), matched by
    its own matchConstraints; Deny blocks, Audit and Warn warn."""
    name, kind = common["name"], common["kind"]
    try:
        cel = compile_validating_policy(doc.data, name, kind)
    except CelPolicyError as exc:
        pos = doc.locate(exc.where)
        out.problems.append(PolicyProblem(doc.path, pos.line, str(exc), name, pos.column))
        return None
    rule = Rule(
        name="validation",
        base_name="",
        index=0,
        match=MatchBlock("any", ()),
        exclude=None,
        failure_action=FailureAction.ENFORCE if cel.blocking else FailureAction.AUDIT,
        line=doc.locate(("spec", "validations")).line,
        cel=cel,
    )
    return Policy(**common, rules=(rule,))


def _rules(doc: Document, spec: Any) -> tuple[Rule, ...]:
    if not isinstance(spec, dict):
        raise _Invalid("spec must be a mapping", ("spec",))
    raw_rules = spec.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise _Invalid("spec.rules must be a non-empty list", ("spec", "rules"))
    for i, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            raise _Invalid("a rule must be a mapping", ("spec", "rules", i))
        if not isinstance(raw.get("name"), str) or not raw["name"]:
            raise _Invalid("a rule needs a name", ("spec", "rules", i))
    metadata = doc.data.get("metadata") or {}
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    spec_action = _failure_action(spec.get("validationFailureAction"), FailureAction.AUDIT)
    spec_overrides = _overrides(
        spec.get("validationFailureActionOverrides"), ("spec", "validationFailureActionOverrides")
    )
    computed = compute_rules(raw_rules, annotations if isinstance(annotations, dict) else {})
    rule_lines = {i: doc.locate(("spec", "rules", i)).line for i in range(len(raw_rules))}
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return tuple(
        _rule(
            item,
            ("spec", "rules", item.index),
            (spec_action, spec_overrides),
            rule_lines,
            raw_rules[item.index],
            str(name or ""),
        )
        for item in computed
    )


def _rule(
    item: ComputedRule,
    where: FieldPath,
    spec: tuple[FailureAction, tuple[ActionOverride, ...]],
    lines: dict[int, int],
    base: dict[str, Any],
    policy_name: str,
) -> Rule:
    raw = item.raw
    name = raw["name"]
    # Autogen rules come after their base rule, so a mistake is reported at the base rule.
    here: FieldPath = where
    if "match" not in raw:
        raise _Invalid(f"rule {name} has no match block", here)
    try:
        match = compile_block(raw.get("match"))
    except MatchError as exc:
        raise _Invalid(f"rule {name}: match: {exc}", (*here, "match", *exc.where)) from None
    try:
        exclude = compile_block(raw["exclude"]) if raw.get("exclude") is not None else None
    except MatchError as exc:
        raise _Invalid(f"rule {name}: exclude: {exc}", (*here, "exclude", *exc.where)) from None
    validate = raw.get("validate")
    action, overrides = spec
    if isinstance(validate, dict):
        action = _failure_action(validate.get("failureAction"), action)
        own = _overrides(
            validate.get("failureActionOverrides"), (*here, "validate", "failureActionOverrides")
        )
        overrides = (*own, *(() if validate.get("failureAction") else overrides))
    common: dict[str, Any] = {
        "name": name,
        "base_name": item.base_name,
        "index": item.index,
        "match": match,
        "exclude": exclude,
        "autogen": item.autogen,
        "failure_action": action,
        "action_overrides": overrides,
        "line": lines.get(item.index),
    }
    if isinstance(validate, dict) and validate.get("cel") is not None:
        return _cel_rule(item, base, here, common, policy_name)
    unsupported = _unsupported(raw)
    if unsupported:
        return Rule(**common, unsupported=unsupported)
    assert isinstance(validate, dict)  # _unsupported said so
    _check_strings(raw, here)
    context = _context(raw.get("context"), (*here, "context"))
    preconditions = raw.get("preconditions")
    _check_conditions(preconditions, (*here, "preconditions"))
    message = validate.get("message")
    return Rule(
        **common,
        allow_existing_violations=validate.get("allowExistingViolations") is not False,
        context=context,
        preconditions=preconditions,
        message=message if isinstance(message, str) else None,
        body=_body(validate, (*here, "validate")),
    )


def _cel_rule(
    item: ComputedRule,
    base: dict[str, Any],
    where: FieldPath,
    common: dict[str, Any],
    policy_name: str,
) -> Rule:
    """A validate.cel rule; an autogen rule's CEL is the base rule's, rewritten for the
    controllers as Kyverno rewrites it."""
    try:
        cel = compile_validate_cel(
            base if item.autogen else item.raw,
            where,
            policy_name=policy_name,
            rule_name=item.base_name,
            autogen_name=item.raw["name"] if item.autogen else None,
        )
    except CelPolicyError as exc:
        raise _Invalid(str(exc), exc.where) from None
    validate = item.raw.get("validate")
    allow = not isinstance(validate, dict) or validate.get("allowExistingViolations") is not False
    return Rule(**common, allow_existing_violations=allow, cel=cel)


def _unsupported(raw: dict[str, Any]) -> str | None:
    validate = raw.get("validate")
    if isinstance(validate, dict) and validate:
        if validate.get("assert") is not None:
            return "validate.assert rules are not supported yet"
        if validate.get("manifests") is not None:
            return "validate.manifests (signed manifests) need signature verification"
        return None
    if raw.get("mutate") is not None:
        return "mutate rules change resources at admission; they are not evaluated here"
    if raw.get("generate") is not None:
        return "generate rules create resources in the cluster; they are not evaluated here"
    if raw.get("verifyImages") is not None:
        return "verifyImages rules need registry access; use the image checks instead"
    return "the rule has no validate, mutate, generate or verifyImages section"


def _failure_action(value: Any, default: FailureAction) -> FailureAction:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "enforce":
            return FailureAction.ENFORCE
        if lowered == "audit":
            return FailureAction.AUDIT
    return default


def _overrides(value: Any, where: FieldPath) -> tuple[ActionOverride, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Invalid("failure action overrides must be a list", where)
    out = []
    for i, item in enumerate(value):
        here = (*where, i)
        action = item.get("action") if isinstance(item, dict) else None
        if not isinstance(action, str) or action.strip().lower() not in ("enforce", "audit"):
            raise _Invalid("a failure action override needs action Enforce or Audit", here)
        namespaces = item.get("namespaces")
        if namespaces is not None and (
            not isinstance(namespaces, list) or not all(isinstance(n, str) for n in namespaces)
        ):
            raise _Invalid("namespaces must be a list of names", (*here, "namespaces"))
        try:
            selector = label_selector(item.get("namespaceSelector"), (*here, "namespaceSelector"))
        except MatchError as exc:
            raise _Invalid(str(exc), exc.where) from None
        out.append(
            ActionOverride(
                _failure_action(action, FailureAction.AUDIT),
                tuple(namespaces) if namespaces is not None else None,
                selector,
            )
        )
    return tuple(out)


def _body(validate: dict[str, Any], where: FieldPath) -> Body:
    """The first present of deny, pattern/anyPattern, podSecurity, foreach (Kyverno's order)."""
    if validate.get("deny") is not None:
        return _deny_body(validate["deny"], (*where, "deny"), "validate.deny")
    if validate.get("pattern") is not None:
        return _pattern_body(validate["pattern"])
    if validate.get("anyPattern") is not None:
        patterns = validate["anyPattern"]
        return _any_pattern_body(patterns, (*where, "anyPattern"), "validate.anyPattern")
    if validate.get("podSecurity") is not None:
        return Body(
            BodyKind.POD_SECURITY,
            pod_security=_pod_security(validate["podSecurity"], (*where, "podSecurity")),
        )
    if validate.get("foreach") is not None:
        return Body(
            BodyKind.FOREACH, foreach=_foreach_list(validate["foreach"], (*where, "foreach"))
        )
    raise _Invalid(
        "validate needs one of pattern, anyPattern, deny, foreach, podSecurity or cel", where
    )


def _foreach_list(value: Any, where: FieldPath) -> tuple[Foreach, ...]:
    if not isinstance(value, list) or not value:
        raise _Invalid("foreach must be a non-empty list", where)
    return tuple(_foreach(item, (*where, i)) for i, item in enumerate(value))


def _foreach(value: Any, where: FieldPath) -> Foreach:
    if not isinstance(value, dict):
        raise _Invalid("a foreach entry must be a mapping", where)
    expr = value.get("list")
    if not isinstance(expr, str) or not expr.strip():
        raise _Invalid("a foreach entry needs a list expression", (*where, "list"))
    _compile(_strip_braces(expr), (*where, "list"))
    scope = value.get("elementScope")
    preconditions = value.get("preconditions")
    _check_conditions(preconditions, (*where, "preconditions"))
    return Foreach(
        list_expr=_strip_braces(expr),
        body=_foreach_body(value, where),
        element_scope=scope if isinstance(scope, bool) else None,
        context=_context(value.get("context"), (*where, "context")),
        preconditions=preconditions,
    )


def _foreach_body(value: dict[str, Any], where: FieldPath) -> Body:
    if value.get("deny") is not None:
        return _deny_body(value["deny"], (*where, "deny"), "deny")
    if value.get("pattern") is not None:
        return _pattern_body(value["pattern"])
    if value.get("anyPattern") is not None:
        return _any_pattern_body(value["anyPattern"], (*where, "anyPattern"), "anyPattern")
    if value.get("foreach") is not None:
        return Body(BodyKind.FOREACH, foreach=_foreach_list(value["foreach"], (*where, "foreach")))
    raise _Invalid("a foreach entry needs deny, pattern, anyPattern or a nested foreach", where)


def _pattern_body(pattern: Any) -> Body:
    return Body(BodyKind.PATTERN, pattern=pattern, compiled=(_precompiled(pattern),))


def _deny_body(deny: Any, where: FieldPath, name: str) -> Body:
    """A ``deny`` block (``name`` in messages: where it stands) with its conditions checked."""
    if not isinstance(deny, dict):
        raise _Invalid(f"{name} must be a mapping", where)
    _check_conditions(deny.get("conditions"), (*where, "conditions"))
    return Body(BodyKind.DENY, deny=deny.get("conditions"))


def _any_pattern_body(patterns: Any, where: FieldPath, name: str) -> Body:
    if not isinstance(patterns, list):
        raise _Invalid(f"{name} must be a list", where)
    return Body(
        BodyKind.ANY_PATTERN,
        any_pattern=tuple(patterns),
        compiled=tuple(_precompiled(p) for p in patterns),
    )


def _precompiled(pattern: Any) -> CompiledPattern | None:
    return None if has_variables(pattern) else compile_pattern(pattern)


def _strip_braces(expr: str) -> str:
    """``list: "{{ request.object.spec.containers }}"`` is read as the bare expression."""
    text = expr.strip()
    if text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1:
        return text[2:-2].strip()
    return text


def _pod_security(value: Any, where: FieldPath) -> PodSecuritySpec:
    if not isinstance(value, dict):
        raise _Invalid("podSecurity must be a mapping", where)
    problems = validate_pod_security(value)
    if problems:
        first = problems[0]
        raise _Invalid(f"podSecurity: {first.message}", (*where, *first.path))
    level = str(value.get("level"))
    version = value.get("version", "latest")
    exclude = value.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(e, dict) for e in exclude):
        raise _Invalid("podSecurity.exclude must be a list of mappings", (*where, "exclude"))
    return PodSecuritySpec(level, str(version), tuple(exclude))


def _context(value: Any, where: FieldPath) -> tuple[ContextEntry, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Invalid("context must be a list", where)
    out = []
    for i, entry in enumerate(value):
        here = (*where, i)
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise _Invalid("a context entry needs a name", here)
        name = entry["name"]
        variable = entry.get("variable")
        if isinstance(variable, dict):
            path = variable.get("jmesPath")
            if path is not None and not isinstance(path, str):
                raise _Invalid("variable.jmesPath must be a string", (*here, "variable"))
            if isinstance(path, str) and "{{" not in path:
                _compile(path, (*here, "variable", "jmesPath"))
            out.append(
                ContextEntry(
                    name,
                    "variable",
                    value=variable.get("value"),
                    has_value="value" in variable,
                    jmes_path=path,
                    default=variable.get("default"),
                )
            )
            continue
        source = next((s for s in CLUSTER_SOURCES if entry.get(s) is not None), None)
        if source is None:
            raise _Invalid(
                f"context entry {name} needs one of variable, {', '.join(CLUSTER_SOURCES)}", here
            )
        out.append(ContextEntry(name, source))
    return tuple(out)


def _check_conditions(block: Any, where: FieldPath) -> None:
    """Operators must be known (Kyverno refuses the policy otherwise)."""
    for condition, here in _conditions(block, where):
        operator = condition.get("operator")
        if not isinstance(operator, str) or operator.lower() not in OPERATORS:
            raise _Invalid(f'unknown condition operator "{operator}"', (*here, "operator"))


def _conditions(block: Any, where: FieldPath) -> Iterator[tuple[dict[str, Any], FieldPath]]:
    if block is None:
        return
    if isinstance(block, list):  # legacy form: a bare list is "all"
        items: list[tuple[Any, FieldPath]] = [(c, (*where, i)) for i, c in enumerate(block)]
    elif isinstance(block, dict):
        items = []
        for key in ("any", "all"):
            value = block.get(key)
            if value is None:
                continue
            if not isinstance(value, list):
                raise _Invalid(f"conditions {key} must be a list", (*where, key))
            items.extend((c, (*where, key, i)) for i, c in enumerate(value))
    else:
        raise _Invalid("conditions must be a mapping with any/all, or a list", where)
    for condition, here in items:
        if not isinstance(condition, dict):
            raise _Invalid("a condition must be a mapping", here)
        yield condition, here


def _check_strings(value: Any, where: FieldPath) -> None:
    """Every ``{{ expression }}`` in the rule must parse (a typo is a policy error at its line,
    not an ``error`` result on every resource)."""
    for text, here in _strings(value, where):
        if "{{" not in text:
            continue
        for expr in variables_in(text):
            if expr and expr != "@" and "{{" not in expr:
                _compile(expr, here)


def variables_in(text: str) -> list[str]:
    """The expressions of the ``{{ ... }}`` variables in ``text`` (``{{- x}}`` -> ``x``)."""
    out = []
    for match in _VARIABLE.finditer(text):
        inner = match.group(2)[2:-2].strip()
        if inner.startswith("-"):
            inner = inner[1:].strip()
        out.append(inner)
    return out


def _strings(value: Any, where: FieldPath) -> Iterator[tuple[str, FieldPath]]:
    if isinstance(value, str):
        yield value, where
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "{{" in key:
                yield key, where
            yield from _strings(item, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*where, i))


def _compile(expr: str, where: FieldPath) -> None:
    try:
        compile_expression(expr)
    except KyvernoError as exc:
        raise _Invalid(f'JMESPath expression "{expr}" does not parse: {exc}', where) from None


def compile_policies(files: Sequence[tuple[str, str]]) -> tuple[list[Policy], list[PolicyProblem]]:
    """Policies and problems of several (path, text) files, in order."""
    policies, problems, _ = compile_policy_files(files)
    return policies, problems


def compile_policy_files(
    files: Sequence[tuple[str, str]],
) -> tuple[list[Policy], list[PolicyProblem], list[CelException]]:
    """Policies, problems and CEL PolicyExceptions of several (path, text) files, in order."""
    policies: list[Policy] = []
    problems: list[PolicyProblem] = []
    exceptions: list[CelException] = []
    for path, text in files:
        loaded = load_policies(path, text)
        policies.extend(loaded.policies)
        problems.extend(loaded.problems)
        exceptions.extend(loaded.exceptions)
    return policies, problems, exceptions


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Policies compiled once per run, with an index from kind to the policies that can
    match it (most policy/resource pairs are ruled out by kind without evaluating a rule)."""

    policies: tuple[Policy, ...] = ()
    problems: tuple[PolicyProblem, ...] = ()
    _by_kind: dict[str, tuple[int, ...]] = field(default_factory=dict)
    _any_kind: tuple[int, ...] = ()
    exceptions: tuple[CelException, ...] = ()  # PolicyExceptions for the CEL policies
    # kyverno.io PolicyExceptions for ClusterPolicy/Policy rules
    policy_exceptions: tuple[PolicyException, ...] = ()

    @classmethod
    def build(
        cls,
        policies: Sequence[Policy],
        problems: Sequence[PolicyProblem] = (),
        exceptions: Sequence[CelException] = (),
        policy_exceptions: Sequence[PolicyException] = (),
    ) -> PolicySet:
        by_kind: dict[str, list[int]] = {}
        any_kind: list[int] = []
        for i, policy in enumerate(policies):
            kinds = _policy_kinds(policy)
            if kinds is None:
                any_kind.append(i)
                continue
            for kind in kinds:
                by_kind.setdefault(kind, []).append(i)
        return cls(
            tuple(policies),
            tuple(problems),
            {k: tuple(v) for k, v in by_kind.items()},
            tuple(any_kind),
            tuple(exceptions),
            tuple(policy_exceptions),
        )

    @classmethod
    def from_texts(cls, files: Sequence[tuple[str, str]]) -> PolicySet:
        """Policies, problems and both kinds of PolicyExceptions of (path, text) files."""
        loaded = [load_policies(path, text) for path, text in files]
        return cls.build(
            [p for f in loaded for p in f.policies],
            [p for f in loaded for p in f.problems],
            [e for f in loaded for e in f.exceptions],
            [e for f in loaded for e in f.policy_exceptions],
        )

    @property
    def empty(self) -> bool:
        return not self.policies

    def candidates(self, kind: str) -> list[Policy]:
        """The policies that may have a rule for ``kind``, in their original order."""
        indexes = self._by_kind.get(kind, ())
        if self._any_kind:
            indexes = tuple(sorted({*indexes, *self._any_kind}))
        return [self.policies[i] for i in indexes]


def _policy_kinds(policy: Policy) -> frozenset[str] | None:
    if policy.unsupported:
        return None
    out: set[str] = set()
    for rule in policy.rules:
        if rule.cel is not None and rule.cel.own_match:
            kinds = rule.cel.kind_names()
        else:
            kinds = rule.match.kind_names()
        if kinds is None:
            return None
        out |= kinds
    return frozenset(out)
