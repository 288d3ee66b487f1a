"""PolicyExceptions for ClusterPolicy/Policy rules (``kyverno.io/v2``, ``v2beta1``,
``v2alpha1`` ``PolicyException``).

An exception names the rules it covers (``spec.exceptions[].policyName``, the policy's
``namespace/name`` for a namespaced Policy, and ``ruleNames`` with ``*``/``?`` wildcards; the
autogen rules are only covered when listed, e.g. ``autogen-<rule>``), the resources it covers
(``spec.match`` any/all resource filters, as a rule's match but never on an empty filter) and,
optionally, ``spec.conditions`` checked against the request. A matching exception turns the
rule's result into ``skip`` before its context and preconditions are looked at; one with
``spec.podSecurity`` only exempts those controls in a podSecurity rule (kyverno
``pkg/engine/utils/exceptions.go``, ``api/kyverno/v2/policy_exception_types.go``,
``pkg/engine/handlers/validation/validate_pss.go``).

Exceptions are read from the same trusted files as the policies (``gitops-gate check``) or from
a kyverno test file's ``exceptions``, never from the change under review.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.analyzers.kyverno.cel_exceptions import EXCEPTION_KIND, ExceptionError
from bot.analyzers.kyverno.conditions import evaluate_conditions
from bot.analyzers.kyverno.context import Context
from bot.analyzers.kyverno.errors import KyvernoError
from bot.analyzers.kyverno.match import (
    Decision,
    MatchBlock,
    MatchError,
    Target,
    applies,
    compile_block,
)
from bot.analyzers.kyverno.values import wildcard_match
from bot.core.document import Document

EXCEPTION_API_VERSIONS = frozenset({"kyverno.io/v2", "kyverno.io/v2beta1", "kyverno.io/v2alpha1"})


@dataclass(frozen=True, slots=True)
class RuleRef:
    """One ``spec.exceptions`` entry: a policy and the rule names (wildcards) it exempts."""

    policy: str
    rules: tuple[str, ...]

    def covers(self, policy_key: str, rule_name: str) -> bool:
        return self.policy == policy_key and any(wildcard_match(r, rule_name) for r in self.rules)


@dataclass(frozen=True, slots=True)
class PolicyException:
    name: str
    namespace: str
    refs: tuple[RuleRef, ...]
    match: MatchBlock
    conditions: Any = None  # spec.conditions (any/all), None when absent
    pod_security: tuple[dict[str, Any], ...] = ()  # spec.podSecurity control exemptions
    path: str = ""
    line: int | None = None

    @property
    def key(self) -> str:
        """``namespace/name`` as Kyverno shows it."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def covers(self, policy_key: str, rule_name: str) -> bool:
        return any(ref.covers(policy_key, rule_name) for ref in self.refs)


@dataclass(frozen=True, slots=True)
class Exemption:
    """What the exceptions of one (rule, request) decide."""

    matched: tuple[PolicyException, ...] = ()
    # Why it cannot be known whether an exception applies (its match needs cluster data).
    unknown: str = ""

    def skips(self, *, pod_security_rule: bool) -> tuple[PolicyException, ...]:
        """The exceptions that skip the rule: any that matched, except that for a podSecurity
        rule one with podSecurity controls only exempts those controls."""
        if not pod_security_rule:
            return self.matched
        return tuple(e for e in self.matched if not e.pod_security)

    @property
    def pod_security(self) -> tuple[dict[str, Any], ...]:
        """The podSecurity controls the matching exceptions exempt."""
        return tuple(control for e in self.matched for control in e.pod_security)


def skip_message(exceptions: Sequence[PolicyException]) -> str:
    return "rule is skipped due to policy exception " + ", ".join(e.key for e in exceptions)


NO_EXEMPTION = Exemption()


def is_policy_exception_document(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and data.get("apiVersion") in EXCEPTION_API_VERSIONS
        and data.get("kind") == EXCEPTION_KIND
    )


def read_policy_exception(document: Document) -> PolicyException:
    """The exception in ``document``; raises ExceptionError for a malformed one."""
    data = document.data
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise ExceptionError("PolicyException without metadata.name", ("metadata",))
    spec = data.get("spec")
    if not isinstance(spec, dict):
        raise ExceptionError(f"PolicyException {name}: spec must be a mapping", ("spec",))
    namespace = metadata.get("namespace")
    return PolicyException(
        name=name,
        namespace=namespace if isinstance(namespace, str) else "",
        refs=_refs(name, spec.get("exceptions")),
        match=_match(name, spec.get("match")),
        conditions=_conditions(name, spec.get("conditions")),
        pod_security=_pod_security(name, spec.get("podSecurity")),
        path=document.path,
        line=document.start.line,
    )


def _refs(name: str, value: Any) -> tuple[RuleRef, ...]:
    if not isinstance(value, list) or not value:
        raise ExceptionError(
            f"PolicyException {name}: spec.exceptions must be a non-empty list",
            ("spec", "exceptions"),
        )
    out = []
    for i, item in enumerate(value):
        policy = item.get("policyName") if isinstance(item, dict) else None
        rules = item.get("ruleNames") if isinstance(item, dict) else None
        if not isinstance(policy, str) or not policy:
            raise ExceptionError(
                f"PolicyException {name}: an exception needs a policyName",
                ("spec", "exceptions", i),
            )
        if not isinstance(rules, list) or not rules or not all(isinstance(r, str) for r in rules):
            raise ExceptionError(
                f"PolicyException {name}: ruleNames must be a non-empty list of rule names",
                ("spec", "exceptions", i),
            )
        out.append(RuleRef(policy, tuple(rules)))
    return tuple(out)


def _match(name: str, value: Any) -> MatchBlock:
    # Kyverno requires any or all here; a filter without them would match nothing.
    if not isinstance(value, dict) or not (value.get("any") or value.get("all")):
        raise ExceptionError(
            f"PolicyException {name}: spec.match needs any or all resource filters",
            ("spec", "match"),
        )
    try:
        return compile_block(value)
    except MatchError as exc:
        raise ExceptionError(
            f"PolicyException {name}: spec.match: {exc}", ("spec", "match", *exc.where)
        ) from None


def _conditions(name: str, value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ExceptionError(
            f"PolicyException {name}: spec.conditions must have any and/or all",
            ("spec", "conditions"),
        )
    return value


def _pod_security(name: str, value: Any) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(v, dict) and isinstance(v.get("controlName"), str) for v in value
    ):
        raise ExceptionError(
            f"PolicyException {name}: spec.podSecurity must be a list of controls "
            "(each with a controlName)",
            ("spec", "podSecurity"),
        )
    return tuple(value)


def exemption(
    exceptions: Iterable[PolicyException],
    policy_key: str,
    rule_name: str,
    target: Target,
    ctx: Context,
) -> Exemption:
    """What the exceptions covering ``rule_name`` of ``policy_key`` decide for this request."""
    matched: list[PolicyException] = []
    unknown = ""
    for exception in exceptions:
        if not exception.covers(policy_key, rule_name):
            continue
        outcome = applies(exception.match, None, target)
        if outcome.decision is Decision.UNKNOWN:
            unknown = unknown or f"policy exception {exception.key}: {outcome.reason}"
            continue
        if outcome.decision is Decision.YES and _conditions_hold(exception, ctx):
            matched.append(exception)
    if not matched and not unknown:
        return NO_EXEMPTION
    return Exemption(tuple(matched), unknown)


def _conditions_hold(exception: PolicyException, ctx: Context) -> bool:
    if exception.conditions is None:
        return True
    try:
        return evaluate_conditions(exception.conditions, ctx.child())
    except KyvernoError:
        return False  # Kyverno: an exception whose conditions fail to evaluate does not apply


def exceptions_of(documents: Sequence[Document]) -> list[PolicyException]:
    """The exceptions among ``documents``; raises ExceptionError for the first malformed one."""
    return [read_policy_exception(d) for d in documents if is_policy_exception_document(d.data)]
