"""The rule flow of Kyverno's validate rules (reference/kyverno-semantics.md §1, §7, §8, §12;
kyverno ``pkg/engine/engine.go``, ``pkg/engine/handlers/validation/validate_resource.go``).

For one admission request (a resource, an operation, the old object on UPDATE) and each policy
that can apply to its kind: match/exclude -> rule context -> preconditions -> the body (deny,
pattern/anyPattern, podSecurity, foreach) -> a result ``pass``, ``fail``, ``skip``, ``error``
(``warn`` for unscored policies), with Kyverno's messages. A rule that does not match gives no
result at all, as in Kyverno.

What the gate cannot know turns into ``skip`` with the reason, never ``pass``: context entries
that need a cluster (apiCall, configMap, imageRegistry, globalReference) unless a values file
supplies them, a namespaceSelector without the namespace's labels, rule forms this engine does
not evaluate (mutate, generate, verifyImages).

CEL rules (``validate.cel``, ValidatingPolicy) are evaluated by ``cel_policy`` on bindings built
once per request (``cel_bindings``); their verdicts become the same RuleResults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from bot.analyzers.kyverno.cel_bindings import Bindings, CelInputs, RequestFacts
from bot.analyzers.kyverno.cel_policy import evaluate_rule
from bot.analyzers.kyverno.cel_resources import api_resource
from bot.analyzers.kyverno.cel_source import existing_path
from bot.analyzers.kyverno.conditions import evaluate_conditions
from bot.analyzers.kyverno.context import Context
from bot.analyzers.kyverno.errors import KyvernoError
from bot.analyzers.kyverno.exceptions import NO_EXEMPTION, exemption, skip_message
from bot.analyzers.kyverno.image_context import image_infos
from bot.analyzers.kyverno.jmespath_dialect import compile_expression, to_json
from bot.analyzers.kyverno.match import Decision, RequestInfo, Target, applies
from bot.analyzers.kyverno.pattern import CompiledPattern, validate_pattern
from bot.analyzers.kyverno.podsecurity import evaluate_pod_security
from bot.analyzers.kyverno.policy import (
    Body,
    BodyKind,
    ContextEntry,
    FailureAction,
    Foreach,
    PodSecuritySpec,
    Policy,
    PolicySet,
    Rule,
)
from bot.analyzers.kyverno.variables import VARIABLE, substitute
from bot.core.document import FieldPath, PathElem

_SIMPLE_PATH = re.compile(r"^(request\.object|element)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\[\])?$")


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"
    WARN = "warn"


_STATUS = {"pass": Status.PASS, "fail": Status.FAIL, "error": Status.ERROR}
_BLAMING = (Status.FAIL, Status.ERROR)


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule's verdict on one resource."""

    policy: Policy
    rule: Rule
    status: Status
    message: str
    # The resource field the verdict is about (a failing pattern path, a foreach element).
    path: FieldPath | None = None
    # A skip because of what this engine cannot do (a rule form, cluster data), not a verdict.
    unsupported: bool = False
    # CEL: the validation (by index) that decided the result, when one did.
    index: int | None = None
    # The rule's action for this resource's namespace, when an override decided it.
    action_override: FailureAction | None = None

    @property
    def failure_action(self) -> FailureAction:
        """Enforce or Audit for this result (failureActionOverrides applied)."""
        return self.action_override or self.rule.failure_action

    @property
    def result(self) -> Status:
        """The status as a policy report (and ``kyverno test``) shows it: an unscored policy's
        ``fail`` is a ``warn``."""
        if self.status is Status.FAIL and not self.policy.scored:
            return Status.WARN
        return self.status


class Values(Protocol):
    """Variables a kyverno test values file supplies (dotted paths such as
    ``request.operation``)."""

    def for_resource(self, policy: str, resource: str) -> Mapping[str, Any]: ...

    def for_rule(self, policy: str, rule: str) -> Mapping[str, Any]: ...

    def foreach_for_rule(self, policy: str, rule: str) -> Mapping[str, Sequence[Any]]:
        """``foreachValues``: for each variable, its value at each foreach element index."""
        ...


@dataclass(frozen=True, slots=True)
class Request:
    """One admission request as the gate (or a kyverno test file) describes it."""

    resource: dict[str, Any]  # the object; on DELETE the object being deleted
    operation: str = "CREATE"
    old_resource: dict[str, Any] | None = None  # UPDATE: the base-branch version
    user_info: RequestInfo | None = None
    # Labels of the resource's namespace; None when not known (namespaceSelector -> skip).
    namespace_labels: Mapping[str, str] | None = None
    values: Values | None = None
    # What CEL policies see beyond the request (Namespace objects, params, exceptions).
    cel: CelInputs | None = None
    # The gate stands for the admission webhook, whose context has the whole AdmissionRequest
    # (request.name, request.kind, request.resource, ...); the kyverno CLI's (kyverno test)
    # has only object, oldObject, operation, namespace and user info.
    admission: bool = False


@dataclass(frozen=True, slots=True)
class _Verdict:
    status: Status
    message: str
    path: FieldPath | None = None
    unsupported: bool = False


@dataclass(slots=True)
class _Run:
    """One (policy, request): the resource as evaluated and its variables."""

    policy: Policy
    resource: dict[str, Any]
    old_resource: dict[str, Any] | None
    operation: str
    ctx: Context
    target: Target
    values: Values | None
    request: Request
    cache: dict[str, Any]


@dataclass(slots=True)
class _Scope:
    """One foreach level: the element patterns apply to, and where it sits in the resource."""

    element: dict[str, Any] | None = None
    path: FieldPath | None = None
    nesting: int = 0
    paths: dict[str, FieldPath | None] = field(default_factory=dict)


class Engine:
    """Evaluates a compiled policy set; stateless between requests."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies

    def evaluate(self, request: Request) -> list[RuleResult]:
        kind = request.resource.get("kind")
        out: list[RuleResult] = []
        base: dict[str, Any] = {}
        for policy in self.policies.candidates(kind if isinstance(kind, str) else ""):
            if policy.unsupported:
                continue
            out.extend(self.evaluate_policy(policy, request, base))
        return out

    def evaluate_policy(
        self, policy: Policy, request: Request, cache: dict[str, Any] | None = None
    ) -> list[RuleResult]:
        run = self._run(policy, request, {} if cache is None else cache)
        out: list[RuleResult] = []
        for rule in policy.rules:
            result = self._rule(run, rule)
            if result is None:
                continue
            out.append(result)
            if policy.apply_one and result.status in (Status.PASS, Status.FAIL):
                break  # spec.applyRules: One stops after the first rule that applied
        return out

    # -- the request -------------------------------------------------------------------------

    def _run(self, policy: Policy, request: Request, cache: dict[str, Any]) -> _Run:
        resource = request.resource
        values: Mapping[str, Any] = {}
        if request.values is not None:
            values = request.values.for_resource(policy.name, _name(resource))
        operation = str(values.get("request.operation") or request.operation).upper()
        old = request.old_resource
        extra = {k: v for k, v in values.items() if k != "request.operation"}
        if extra:
            # Values may replace parts of the request, the object included (kyverno CLI).
            ctx = _request_context(resource, operation, old, request)
            for key, value in extra.items():
                ctx.set_path(key, value)
            resource, old = _objects_from(ctx, operation, resource, old)
            target = _target(resource, operation, request)
        else:
            # The same request for every policy: built once per operation.
            if operation not in cache:
                cache[operation] = (
                    _request_context(resource, operation, old, request),
                    _target(resource, operation, request),
                )
            ctx, target = cache[operation]
        return _Run(policy, resource, old, operation, ctx, target, request.values, request, cache)

    # -- one rule ----------------------------------------------------------------------------

    def _rule(self, run: _Run, rule: Rule) -> RuleResult | None:
        result = self._rule_result(run, rule)
        if result is None or not rule.action_overrides:
            return result
        target = run.target
        action = rule.action_for(target.namespace, target.namespace_labels)
        return replace(result, action_override=action) if action != rule.failure_action else result

    def _rule_result(self, run: _Run, rule: Rule) -> RuleResult | None:
        if rule.cel is not None and rule.cel.own_match:
            return self._cel(run, rule)  # a ValidatingPolicy: matchConstraints decide
        outcome = applies(rule.match, rule.exclude, run.target, run.policy.namespace)
        if outcome.decision is Decision.NO:
            return None
        if outcome.decision is Decision.UNKNOWN:
            return RuleResult(run.policy, rule, Status.SKIP, outcome.reason, unsupported=True)
        if rule.unsupported:
            return RuleResult(run.policy, rule, Status.SKIP, rule.unsupported, unsupported=True)
        exempt = NO_EXEMPTION
        if self.policies.policy_exceptions:
            exempt = exemption(
                self.policies.policy_exceptions, run.policy.key, rule.name, run.target, run.ctx
            )
        if exempt.matched:
            skipping = exempt.skips(pod_security_rule=_is_pod_security(rule))
            if skipping:
                return RuleResult(run.policy, rule, Status.SKIP, skip_message(skipping))
            rule = _with_exempt_controls(rule, exempt.pod_security)
        result = self._evaluate(run, rule)
        if exempt.unknown and result is not None and result.status in _BLAMING:
            # An exception may cover this request; what decides it is not known here.
            message = f"{exempt.unknown}; without it the rule gives {result.status.value}"
            return RuleResult(run.policy, rule, Status.SKIP, message, unsupported=True)
        return result

    def _evaluate(self, run: _Run, rule: Rule) -> RuleResult | None:
        if rule.cel is not None:
            return self._cel(run, rule)
        verdict = self._validate(run, rule)
        if verdict is None:
            return None
        return RuleResult(
            run.policy,
            rule,
            verdict.status,
            verdict.message,
            verdict.path,
            unsupported=verdict.unsupported,
        )

    # -- CEL ---------------------------------------------------------------------------------

    def _cel(self, run: _Run, rule: Rule) -> RuleResult | None:
        assert rule.cel is not None
        bindings = _bindings(run, run.resource, run.operation, run.old_resource)
        verdict = evaluate_rule(rule.cel, bindings)
        if verdict is None:
            return None
        if verdict.status == "fail" and self._existing_violation(run, rule):
            return RuleResult(
                run.policy,
                rule,
                Status.SKIP,
                "skipping the rule evaluation as pre-existing violations are allowed",
            )
        path = existing_path(verdict.paths, run.resource) if verdict.paths else None
        return RuleResult(
            run.policy,
            rule,
            Status(verdict.status),
            verdict.message,
            path,
            unsupported=verdict.unsupported,
            index=verdict.index,
        )

    def _existing_violation(self, run: _Run, rule: Rule) -> bool:
        """validate.cel under Enforce: an UPDATE is not blamed when the old object, checked as
        a CREATE, already failed (kyverno validate_cel.go, allowExistingViolations)."""
        if rule.cel is None or rule.cel.own_match or run.operation != "UPDATE":
            return False
        action = rule.action_for(run.target.namespace, run.target.namespace_labels)
        if action is not FailureAction.ENFORCE or not rule.allow_existing_violations:
            return False
        old = run.old_resource if run.old_resource is not None else run.resource
        target = _target(old, "CREATE", run.request)
        if applies(rule.match, rule.exclude, target, run.policy.namespace).decision is not (
            Decision.YES
        ):
            return False
        before = evaluate_rule(rule.cel, _bindings(run, old, "CREATE", None))
        return before is not None and before.status == "fail"

    def _validate(self, run: _Run, rule: Rule) -> _Verdict | None:
        ctx = run.ctx.child()
        if run.values is not None:
            for key, value in run.values.for_rule(run.policy.name, rule.name).items():
                ctx.set_path(key, value)
            # The kyverno CLI's element index starts at 0 before any foreach runs.
            _foreach_values(run, rule, ctx, 0)
        stopped = _context_and_preconditions(rule.context, rule.preconditions, ctx)
        if stopped is not None:
            return stopped
        body = rule.body
        assert body is not None  # supported rules have one
        return self._body(run, rule, body, ctx, _Scope(), top=True)

    def _body(
        self, run: _Run, rule: Rule, body: Body, ctx: Context, scope: _Scope, *, top: bool
    ) -> _Verdict | None:
        if body.kind is BodyKind.DENY:
            return _deny(rule, body.deny, ctx, scope.paths.get("element"))
        if body.kind in (BodyKind.PATTERN, BodyKind.ANY_PATTERN):
            return self._patterns(run, rule, body, ctx, scope, top=top)
        if body.kind is BodyKind.POD_SECURITY:
            if run.operation == "DELETE" or body.pod_security is None:
                return None
            return self._pod_security(run, rule, body.pod_security)
        return self._foreach(run, rule, body.foreach, ctx, scope)

    # -- pattern / anyPattern ------------------------------------------------------------------

    def _patterns(
        self, run: _Run, rule: Rule, body: Body, ctx: Context, scope: _Scope, *, top: bool
    ) -> _Verdict | None:
        raw = (body.pattern,) if body.kind is BodyKind.PATTERN else body.any_pattern
        try:
            patterns = tuple(
                compiled if compiled is not None else substitute(pattern, ctx)
                for pattern, compiled in zip(raw, body.compiled, strict=True)
            )
        except KyvernoError as exc:
            return _Verdict(Status.ERROR, f"variable substitution failed: {exc}")
        if scope.element is not None:
            subject, base = scope.element, scope.path
        elif run.operation == "DELETE":
            return None  # kyverno skips pattern validation of a deleted resource
        else:
            subject, base = run.resource, ()
        verdict = _check_patterns(rule, body.kind, patterns, subject, ctx, base)
        if (
            run.operation == "UPDATE"
            and rule.allow_existing_violations
            and _compare_with_old(run, top)
        ):
            # An UPDATE that leaves the verdict unchanged is not blamed for an old violation
            # (kyverno validate_resource.go; allowExistingViolations, on by default).
            old_subject = run.old_resource if top else subject
            if old_subject is not None and verdict.status is not Status.PASS:
                before = _check_patterns(rule, body.kind, patterns, old_subject, ctx, base)
                if (before.status, before.message) == (verdict.status, verdict.message):
                    return _Verdict(
                        Status.SKIP,
                        "skipping modified resource as validation results have not changed",
                    )
        return verdict

    # -- podSecurity -----------------------------------------------------------------------

    def _pod_security(self, run: _Run, rule: Rule, spec: PodSecuritySpec) -> _Verdict:
        result = evaluate_pod_security(
            run.resource, spec.level, spec.version, list(spec.exclude), rule_name=rule.name
        )
        paths = result.field_paths
        return _Verdict(_STATUS[result.status], result.message, paths[0] if paths else None)

    # -- foreach ---------------------------------------------------------------------------

    def _foreach(
        self, run: _Run, rule: Rule, entries: Sequence[Foreach], ctx: Context, scope: _Scope
    ) -> _Verdict | None:
        applied = 0
        for entry in entries:
            try:
                elements = ctx.query(entry.list_expr)
            except KyvernoError:
                continue  # a list that is not there: nothing to check (kyverno EvaluateList)
            if not isinstance(elements, list):
                elements = [elements]
            verdict, count = self._elements(run, rule, entry, elements, ctx, scope)
            if verdict.status is not Status.PASS:
                return verdict
            applied += count
        if applied == 0:
            return _Verdict(Status.SKIP, "rule skipped")
        return _Verdict(Status.PASS, "rule passed")

    def _elements(
        self,
        run: _Run,
        rule: Rule,
        entry: Foreach,
        elements: list[Any],
        ctx: Context,
        scope: _Scope,
    ) -> tuple[_Verdict, int]:
        applied = 0
        list_path = _list_path(entry.list_expr, scope)
        last = len(elements) - 1
        for index, element in enumerate(elements):
            if element is None:
                continue
            nesting = scope.nesting
            element_ctx = ctx.child(
                element=element,
                elementIndex=index,
                **{f"element{nesting}": element, f"elementIndex{nesting}": index},
            )
            _foreach_values(run, rule, element_ctx, index)
            scoped = (
                isinstance(element, dict) if entry.element_scope is None else entry.element_scope
            )
            if scoped and not isinstance(element, dict):
                message = (
                    "failed to process foreach: cannot use elementScope=true foreach rules for "
                    f"elements that are not maps, expected type=map got type={_go_type(element)}"
                )
                return _Verdict(Status.ERROR, message), applied
            element_path = (*list_path, index) if list_path is not None else None
            inner = _Scope(
                element=element if scoped else scope.element,
                path=element_path if scoped else scope.path,
                nesting=nesting + 1,
                paths={**scope.paths, "element": element_path},
            )
            verdict = self._element(run, rule, entry, element_ctx, inner)
            if verdict is not None and verdict.unsupported:
                return verdict, applied  # an element this engine cannot check: no verdict
            if verdict is None or verdict.status is Status.SKIP:
                continue
            if verdict.status is not Status.PASS:
                if verdict.status is Status.ERROR and index < last:
                    continue  # kyverno reports an element's error only for the last element
                path = verdict.path if verdict.path is not None else element_path
                return _Verdict(
                    verdict.status, f"validation failure: {verdict.message}", path
                ), applied
            applied += 1
        return _Verdict(Status.PASS, ""), applied

    def _element(
        self, run: _Run, rule: Rule, entry: Foreach, ctx: Context, scope: _Scope
    ) -> _Verdict | None:
        stopped = _context_and_preconditions(entry.context, entry.preconditions, ctx)
        if stopped is not None:
            return stopped
        return self._body(run, rule, entry.body, ctx, scope, top=False)


# -- helpers -----------------------------------------------------------------------------------


def _foreach_values(run: _Run, rule: Rule, ctx: Context, index: int) -> None:
    """A values file's ``foreachValues``: each variable takes its value for this element index
    (kyverno CLI ``store.GetForeachElement``), before the element's context is loaded, so a
    context entry of that name that needs a cluster is supplied by the file."""
    if run.values is None:
        return
    for key, per_element in run.values.foreach_for_rule(run.policy.name, rule.name).items():
        if index < len(per_element):
            ctx.set_path(key, per_element[index])


def _is_pod_security(rule: Rule) -> bool:
    return rule.body is not None and rule.body.kind is BodyKind.POD_SECURITY


def _with_exempt_controls(rule: Rule, controls: Sequence[dict[str, Any]]) -> Rule:
    """The podSecurity rule with the controls a PolicyException exempts added to its own
    exclusions (kyverno validate_pss.go)."""
    body = rule.body
    if not controls or body is None or body.pod_security is None:
        return rule
    spec = body.pod_security
    relaxed = replace(spec, exclude=(*spec.exclude, *controls))
    return replace(rule, body=replace(body, pod_security=relaxed))


def _request_context(
    resource: dict[str, Any], operation: str, old: dict[str, Any] | None, facts: Request
) -> Context:
    user_info = facts.user_info
    request: dict[str, Any] = {"operation": operation, "namespace": _namespace(resource)}
    if facts.admission:
        request.update(_admission_fields(resource))
    if operation == "DELETE":
        request["oldObject"] = resource
    else:
        request["object"] = resource
        if operation == "UPDATE":
            request["oldObject"] = old if old is not None else resource
    data: dict[str, Any] = {"request": request}
    if user_info is not None and not user_info.empty:
        request["roles"] = list(user_info.roles)
        request["clusterRoles"] = list(user_info.cluster_roles)
        user: dict[str, Any] = {"username": user_info.username, "groups": list(user_info.groups)}
        if user_info.uid:
            user["uid"] = user_info.uid
        if user_info.extra:
            user["extra"] = dict(user_info.extra)
        request["userInfo"] = user
        prefix = "system:serviceaccount:"
        if user_info.username.startswith(prefix):
            namespace, _, name = user_info.username[len(prefix) :].partition(":")
            data["serviceAccountName"] = name
            data["serviceAccountNamespace"] = namespace
    images = image_infos(resource)
    if images:
        data["images"] = images
    return Context(data)


def _admission_fields(resource: Mapping[str, Any]) -> dict[str, Any]:
    """What an AdmissionRequest adds for the resource: its name, kind and resource (kyverno's
    webhook context, ``AddRequest``)."""
    api_version = resource.get("apiVersion")
    kind_name = resource.get("kind")
    api = api_resource(
        api_version if isinstance(api_version, str) else "",
        kind_name if isinstance(kind_name, str) else "",
    )
    kind = {"group": api.group, "version": api.version, "kind": api.kind}
    gvr = {"group": api.group, "version": api.version, "resource": api.resource}
    return {
        "uid": "",
        "name": _name(resource),
        "kind": kind,
        "resource": gvr,
        "requestKind": dict(kind),
        "requestResource": dict(gvr),
        "subResource": "",
        "dryRun": False,
    }


def _bindings(
    run: _Run, resource: dict[str, Any], operation: str, old: dict[str, Any] | None
) -> Bindings:
    """The CEL bindings of a request, shared by every policy evaluated on it."""
    key = f"cel|{id(resource)}|{operation}|{id(old)}"
    found = run.cache.get(key)
    if found is None:
        request = run.request
        facts = RequestFacts(
            resource=resource,
            operation=operation,
            old=old,
            user=request.user_info,
            namespace_labels=request.namespace_labels,
            inputs=request.cel or CelInputs(),
        )
        found = run.cache[key] = Bindings(facts)
    assert isinstance(found, Bindings)
    return found


def _target(resource: dict[str, Any], operation: str, request: Request) -> Target:
    return Target.of(
        resource,
        operation=operation,
        user_info=request.user_info,
        namespace_labels=request.namespace_labels,
    )


def _objects_from(
    ctx: Context, operation: str, resource: dict[str, Any], old: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    request = ctx.data.get("request")
    if not isinstance(request, dict):
        return resource, old
    key = "oldObject" if operation == "DELETE" else "object"
    new = request.get(key)
    if isinstance(new, dict) and new is not resource:
        resource = new
        images = image_infos(resource)
        if images:
            ctx.data["images"] = images
    old_value = request.get("oldObject")
    return resource, old_value if isinstance(old_value, dict) else old


def _context_and_preconditions(
    entries: Sequence[ContextEntry], preconditions: Any, ctx: Context
) -> _Verdict | None:
    """Load the context, then check the preconditions, as Kyverno does for a rule and for each
    foreach element; the verdict that stops there (an error, a skip), or None to go on."""
    loaded = _load_context(entries, ctx)
    if loaded is not None or preconditions is None:
        return loaded
    return _preconditions(preconditions, ctx)


def _load_context(entries: Sequence[ContextEntry], ctx: Context) -> _Verdict | None:
    for entry in entries:
        if entry.source != "variable":
            if _defined(ctx, entry.name):
                continue  # supplied by a values file (as the kyverno CLI does)
            return _Verdict(
                Status.SKIP,
                f'needs cluster context: context entry "{entry.name}" uses {entry.source}, '
                "which an offline check cannot load",
                unsupported=True,
            )
        try:
            ctx.add_variable(entry.name, _variable(entry, ctx))
        except KyvernoError as exc:
            return _Verdict(Status.ERROR, f"failed to load context: {exc}")
    return None


def _defined(ctx: Context, name: str) -> bool:
    node: Any = ctx.data
    for key in name.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _variable(entry: ContextEntry, ctx: Context) -> Any:
    """A ``variable`` context entry (kyverno ``loaders/variable.go``)."""
    path = ""
    if entry.jmes_path:
        substituted = substitute(entry.jmes_path, ctx)
        if not isinstance(substituted, str):
            raise KyvernoError(f"jmespath value must be a string {entry.name} {entry.jmes_path}")
        path = substituted
    default = substitute(entry.default, ctx) if entry.default is not None else None
    output = default
    if entry.has_value and entry.value is not None:
        value = substitute(entry.value, ctx)
        if path:
            try:
                output = compile_expression(path).search(value)
            except KyvernoError as exc:
                if default is None:
                    raise KyvernoError(
                        f"failed to apply jmespath {path} to variable {value}: {exc}"
                    ) from None
        else:
            output = value
    elif path:
        try:
            found = ctx.query(path)
            if found is not None:
                output = found
        except KyvernoError as exc:
            if default is None:
                raise KyvernoError(f"failed to apply jmespath {path} to variable: {exc}") from None
    if output is None:
        raise KyvernoError(
            f"failed to add context entry for variable {entry.name} since it evaluated to nil"
        )
    return output


def _preconditions(block: Any, ctx: Context) -> _Verdict | None:
    """None when the preconditions hold. In preconditions (unlike deny conditions) a variable
    that cannot be resolved is an empty string (kyverno's preconditions variable resolver)."""
    try:
        if evaluate_conditions(_lenient(block, ctx), ctx):
            return None
    except KyvernoError as exc:
        return _Verdict(Status.ERROR, f"failed to evaluate preconditions: {exc}")
    return _Verdict(Status.SKIP, "preconditions not met")


def _lenient(value: Any, ctx: Context) -> Any:
    """``value`` with every variable substituted, unresolvable ones as ""."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        try:
            return substitute(value, ctx)
        except KyvernoError:
            return _lenient_text(value, ctx)
    if isinstance(value, dict):
        return {k: _lenient(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_lenient(v, ctx) for v in value]
    return value


def _lenient_text(text: str, ctx: Context) -> Any:
    variables = list(VARIABLE.finditer(text))
    if len(variables) == 1 and variables[0].group(2) == text:
        return ""
    out, last = [], 0
    for match in variables:
        start, end = match.start(2), match.end(2)
        out.append(text[last:start])
        try:
            value = substitute(match.group(2), ctx)
        except KyvernoError:
            value = ""
        out.append(value if isinstance(value, str) else to_json(value))
        last = end
    out.append(text[last:])
    return "".join(out)


def _deny(rule: Rule, conditions: Any, ctx: Context, path: FieldPath | None) -> _Verdict:
    try:
        denied = evaluate_conditions(conditions if conditions is not None else {}, ctx)
    except KyvernoError as exc:
        return _Verdict(Status.ERROR, f"failed to check deny conditions: {exc}")
    if not denied:
        return _Verdict(Status.PASS, f"validation rule '{rule.name}' passed.")
    if not rule.message:
        return _Verdict(Status.FAIL, f"validation error: rule {rule.name} failed", path)
    try:
        message = substitute(rule.message, ctx)
    except KyvernoError:
        return _Verdict(Status.FAIL, rule.message, path)
    if not isinstance(message, str):
        message = "the produced message didn't resolve to a string, check your policy definition."
    return _Verdict(Status.FAIL, message, path)


def _check_patterns(
    rule: Rule,
    kind: BodyKind,
    patterns: tuple[Any | CompiledPattern, ...],
    subject: dict[str, Any],
    ctx: Context,
    base: FieldPath | None,
) -> _Verdict:
    if kind is BodyKind.PATTERN:
        result = validate_pattern(subject, patterns[0], ctx)
        if result.status == "pass":
            return _Verdict(Status.PASS, f"validation rule '{rule.name}' passed.")
        if result.status == "skip":
            return _Verdict(Status.SKIP, result.message)
        if result.status == "fail" and result.path:
            where = _join(base, _field_path(result.path, subject))
            return _Verdict(Status.FAIL, _failure_message(rule, ctx, result.path, ""), where)
        return _Verdict(Status.ERROR, _failure_message(rule, ctx, "", result.message))
    failed: list[str] = []
    skipped: list[str] = []
    first_path: FieldPath | None = None
    for index, pattern in enumerate(patterns):
        result = validate_pattern(subject, pattern, ctx)
        if result.status == "pass":
            return _Verdict(
                Status.PASS, f"validation rule '{rule.name}' anyPattern[{index}] passed."
            )
        if result.status == "skip":
            skipped.append(f"rule {rule.name}[{index}] skipped: {result.message}")
        elif result.path:
            failed.append(f"rule {rule.name}[{index}] failed at path {result.path}")
            if first_path is None:
                first_path = _join(base, _field_path(result.path, subject))
        else:
            failed.append(f"rule {rule.name}[{index}] failed: {result.message}")
    if skipped and not failed:
        return _Verdict(Status.SKIP, " ".join(skipped))
    if failed:
        return _Verdict(Status.FAIL, _any_pattern_message(rule, failed), first_path)
    return _Verdict(Status.PASS, rule.message or "")


def _failure_message(rule: Rule, ctx: Context, path: str, error: str) -> str:
    """kyverno ``buildErrorMessage``."""
    if not rule.message:
        if path:
            return f"validation error: rule {rule.name} failed at path {path}"
        return f"validation error: rule {rule.name} execution error: {error}"
    try:
        message = substitute(rule.message, ctx)
    except KyvernoError:
        return (
            f"validation error: variables substitution error in rule {rule.name} "
            f"execution error: {error}"
        )
    text = message if isinstance(message, str) else str(message)
    if not text.endswith("."):
        text += "."
    if path:
        return f"validation error: {text} rule {rule.name} failed at path {path}"
    return f"validation error: {text} rule {rule.name} execution error: {error}"


def _any_pattern_message(rule: Rule, errors: list[str]) -> str:
    joined = " ".join(errors)
    if not rule.message:
        return f"validation error: {joined}"
    if rule.message.endswith("."):
        return f"validation error: {rule.message} {joined}"
    return f"validation error: {rule.message}. {joined}"


def _compare_with_old(run: _Run, top: bool) -> bool:
    if top:
        return True
    # Inside foreach the old object's element is not known: compare only when the old object
    # is the object itself (kyverno test's UPDATE), where the verdicts are bound to agree.
    return run.old_resource is None or run.old_resource is run.resource


def _field_path(text: str, resource: Any) -> FieldPath:
    """``/spec/containers/0/image/`` -> ("spec", "containers", 0, "image")."""
    out: list[PathElem] = []
    node = resource
    for part in text.strip("/").split("/"):
        if part == "":
            continue
        if isinstance(node, list) and part.isdigit():
            index = int(part)
            out.append(index)
            node = node[index] if index < len(node) else None
        else:
            out.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return tuple(out)


def _join(base: FieldPath | None, path: FieldPath) -> FieldPath | None:
    if base is None:
        return None
    return (*base, *path)


def _list_path(expr: str, scope: _Scope) -> FieldPath | None:
    """Where a foreach list sits in the resource, for simple lists such as
    ``request.object.spec.containers`` or ``element.volumeMounts``; None otherwise."""
    match = _SIMPLE_PATH.match(expr.replace(" ", ""))
    if match is None:
        return None
    root = () if match.group(1) == "request.object" else scope.paths.get("element")
    if root is None:
        return None
    keys = tuple(k for k in match.group(2).split(".") if k)
    return (*root, *keys)


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _name(resource: Mapping[str, Any]) -> str:
    metadata = resource.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def _namespace(resource: Mapping[str, Any]) -> str:
    metadata = resource.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return namespace if isinstance(namespace, str) else ""


__all__ = [
    "Engine",
    "Request",
    "RuleResult",
    "Status",
    "Values",
]
