"""Rows of ``gitops-gate kyverno test``: the engine's result rows (``--output json``) and the
expected-vs-actual table in the layout of ``kyverno test``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from bot.analyzers.kyverno.engine import RuleResult


@dataclass(frozen=True, slots=True)
class EngineRow:
    """One (policy, rule, resource) the engine evaluated (DESIGN.md's JSON contract)."""

    policy: str
    rule: str
    resource: str
    kind: str
    namespace: str
    result: str
    message: str

    @classmethod
    def of(cls, result: RuleResult, resource: dict[str, Any]) -> EngineRow:
        metadata = resource.get("metadata")
        meta = metadata if isinstance(metadata, dict) else {}
        kind = resource.get("kind")
        return cls(
            policy=result.policy.key,
            rule=result.rule.base_name,
            resource=str(meta.get("name") or meta.get("generateName") or ""),
            kind=kind if isinstance(kind, str) else "",
            namespace=str(meta.get("namespace") or ""),
            result=result.result.value,
            message=result.message,
        )

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class Outcome(StrEnum):
    PASS = "Pass"  # the engine gave the expected result (or the resource was excluded)
    FAIL = "Fail"  # a mismatch
    SKIP = "Skip"  # not checked: the engine does not support what the row needs


@dataclass(frozen=True, slots=True)
class CheckedRow:
    """One expectation of a kyverno-test.yaml checked against the engine."""

    policy: str
    rule: str
    resource: str  # Kind/namespace/name as kyverno test shows it
    expected: str
    actual: str  # the engine's result, "excluded", "not found" or "unsupported"
    outcome: Outcome
    reason: str
    message: str = ""
    test: str = ""  # the kyverno-test.yaml it comes from


def render_json(rows: Sequence[EngineRow]) -> str:
    return json.dumps([row.to_dict() for row in rows], indent=2) + "\n"


def render_table(rows: Sequence[CheckedRow], *, fail_only: bool = False) -> str:
    """kyverno test's table: ID, POLICY, RULE, RESOURCE, RESULT, REASON."""
    shown = [row for row in rows if row.outcome is Outcome.FAIL] if fail_only else list(rows)
    header = ("ID", "POLICY", "RULE", "RESOURCE", "RESULT", "REASON")
    body = [
        (str(i), row.policy, row.rule, row.resource, row.outcome.value, row.reason)
        for i, row in enumerate(shown, start=1)
    ]
    if not body:
        return ""
    widths = [max(len(line[col]) for line in (header, *body)) for col in range(len(header))]
    rule = "│" + "│".join("─" * (w + 2) for w in widths) + "│"

    def line(cells: Sequence[str]) -> str:
        return "│" + "│".join(f" {c.ljust(w)} " for c, w in zip(cells, widths, strict=True)) + "│"

    return "\n".join([rule, line(header), rule, *(line(cells) for cells in body), rule]) + "\n"


def summary(rows: Sequence[CheckedRow], *, fail_only: bool = False) -> str:
    passed = sum(1 for r in rows if r.outcome is Outcome.PASS)
    failed = sum(1 for r in rows if r.outcome is Outcome.FAIL)
    skipped = sum(1 for r in rows if r.outcome is Outcome.SKIP)
    if fail_only:
        text = f"Test Summary: {failed} out of {passed + failed} tests failed"
    else:
        text = f"Test Summary: {passed} tests passed and {failed} tests failed"
    if skipped:
        text += f" ({skipped} not checked: not supported by this engine)"
    return text + "\n"
