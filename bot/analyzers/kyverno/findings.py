"""Kyverno results as gitops-gate findings (reference/kyverno-semantics.md §12).

- ``fail`` and ``error``: an error when the rule's failure action is ``Enforce``
  (``validate.failureAction``, else ``spec.validationFailureAction``), a warning under ``Audit``
  (the default); ``warn`` (an unscored policy) is always a warning.
- The line is the field the pattern failed at (``/spec/containers/0/image/`` -> that node),
  the foreach element that failed, or a Pod Security field; else the resource's first line.
- Rule id ``kyverno/<policy>/<rule>`` (the base rule for autogen rules); the message is
  Kyverno's (the policy's message, substituted). A ValidatingPolicy has no rules: Kyverno
  names its result ``validation`` with the index of the failing validation, so the id is
  ``kyverno/<policy>/validation-<index>`` (``.../validation`` when no validation decided).
  ``validationActions: [Deny]`` blocks like Enforce; ``Audit`` and ``Warn`` warn.
- CEL findings land on the field the failing expression names (``object.spec.hostNetwork``)
  when the resource has it, else on the resource's first line.
- A policy that does not load is a ``config/policy-error`` finding at its file and line.
- Rules this engine does not evaluate (mutate, generate, cluster context, CEL that needs the
  cluster or the admission user...) are never silent: one ``config/kyverno-unsupported``
  notice per policy and rule, with the reason and how many resources it was not evaluated on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.analyzers.kyverno.engine import RuleResult, Status
from bot.analyzers.kyverno.policy import FailureAction, Policy, PolicyProblem, Rule
from bot.core.document import Document, format_path
from bot.core.finding import Category, Finding, Severity, Source

ENGINE = "kyverno"
POLICY_ERROR = "config/policy-error"
UNSUPPORTED = "config/kyverno-unsupported"
_REPORTED = (Status.FAIL, Status.ERROR, Status.WARN)


def rule_id(policy: Policy, rule: Rule, index: int | None = None) -> str:
    return f"kyverno/{policy.name}/{rule_label(rule, index)}"


def rule_label(rule: Rule, index: int | None = None) -> str:
    """The rule's name in ids; ``validation-<index>`` for a ValidatingPolicy."""
    if rule.cel is not None and rule.cel.own_match:
        return f"validation-{index}" if index is not None else "validation"
    return rule.base_name


def severity(result: RuleResult) -> Severity:
    if result.result is Status.WARN:
        return Severity.WARNING
    if result.failure_action is FailureAction.ENFORCE:
        return Severity.ERROR
    return Severity.WARNING


def result_finding(result: RuleResult, document: Document) -> Finding | None:
    """The finding of one rule result on ``document``; None for pass and skip."""
    if result.result not in _REPORTED:
        return None
    position = document.locate(result.path) if result.path else document.start
    located = format_path(result.path) if result.path else ""
    return Finding(
        rule_id=rule_id(result.policy, result.rule, result.index),
        category=Category.POLICY,
        severity=severity(result),
        message=result.message,
        path=document.path,
        line=position.line,
        column=position.column if result.path else None,
        end_line=position.line,
        resource=document.resource_ref(),
        source=Source(
            engine=ENGINE,
            policy=result.policy.name,
            rule=rule_label(result.rule, result.index),
        ),
        locator=f"{located}|{result.result.value}",
    )


def problem_finding(problem: PolicyProblem, level: Severity = Severity.ERROR) -> Finding:
    """A policy that cannot be used: at the policy file and line; never a pass."""
    return Finding(
        rule_id=POLICY_ERROR,
        category=Category.CONFIG,
        severity=level,
        message=f"Kyverno policy error: {problem.message}",
        path=problem.path,
        line=problem.line,
        column=problem.column,
        end_line=problem.line,
        source=Source(engine=ENGINE, policy=problem.policy),
        locator=problem.message[:200],
    )


@dataclass(frozen=True, slots=True)
class _Unsupported:
    policy: Policy
    rule: Rule | None
    reason: str


def unsupported_findings(
    policies: Iterable[Policy], skipped: Sequence[RuleResult] = ()
) -> list[Finding]:
    """One notice per policy kind or rule that is not evaluated, and per (rule, reason) of the
    results skipped for what the gate cannot know (cluster context, namespace labels)."""
    out: list[Finding] = []
    for policy in policies:
        if policy.unsupported:
            out.append(_notice(_Unsupported(policy, None, policy.unsupported)))
            continue
        for rule in policy.unsupported_rules:
            out.append(_notice(_Unsupported(policy, rule, rule.unsupported or "")))
    counts: dict[tuple[str, str, str, str], tuple[RuleResult, int]] = {}
    for result in skipped:
        if result.rule.unsupported:
            continue  # already reported once for the policy
        key = (result.policy.path, result.policy.name, result.rule.base_name, result.message)
        first, count = counts.get(key, (result, 0))
        counts[key] = (first, count + 1)
    for first, count in counts.values():
        noun = "resource" if count == 1 else "resources"
        reason = f"{first.message} (not evaluated on {count} {noun})"
        out.append(_notice(_Unsupported(first.policy, first.rule, reason)))
    return out


def _notice(item: _Unsupported) -> Finding:
    policy = item.policy
    what = (
        f"rule {item.rule.base_name} of " if item.rule is not None and item.rule.base_name else ""
    )
    return Finding(
        rule_id=UNSUPPORTED,
        category=Category.CONFIG,
        severity=Severity.NOTICE,
        message=f"Kyverno {what}{policy.kind} {policy.name} was not evaluated: {item.reason}",
        path=policy.path,
        line=item.rule.line if item.rule is not None and item.rule.line else policy.line,
        source=Source(
            engine=ENGINE,
            policy=policy.name,
            rule=item.rule.base_name if item.rule is not None else None,
        ),
        locator=f"{policy.name}|{item.rule.base_name if item.rule else ''}|{item.reason[:120]}",
    )
