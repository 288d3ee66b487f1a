"""Allowing a secret finding on purpose, and saying so.

Two ways, both recorded as an ``Allowance`` that the report lists (an allowance is never a
silent drop):

- an inline comment on the secret's line or the line above it:
  ``# gitops-gate: allow-secret reason="test fixture, not a live key"`` (the reason is
  required: an allowance without one is not honoured);
- the base branch's config: ``secrets.allow.paths`` (path globs), ``secrets.allow.rules``
  (rule id globs) and ``secrets.allow.fingerprints`` (finding fingerprints).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from wcmatch import glob as wcglob

from bot.core.allowance import Allowance
from bot.core.finding import Finding

_COMMENT = re.compile(r"""gitops-gate:\s*allow-secret\b(?:\s+reason=(?:"([^"]*)"|'([^']*)'))?""")
_GLOB_FLAGS = wcglob.GLOBSTAR | wcglob.DOTGLOB | wcglob.BRACE


@dataclass(frozen=True, slots=True)
class AllowList:
    paths: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    fingerprints: tuple[str, ...] = ()


def inline_reason(lines: Sequence[str], line: int) -> str | None:
    """The reason of an allow-secret comment on ``line`` (1-based) or the line above it; None
    when there is none, or it gives no reason."""
    for number in (line, line - 1):
        if 1 <= number <= len(lines):
            match = _COMMENT.search(lines[number - 1])
            if match:
                reason = match.group(1) or match.group(2) or ""
                return reason.strip() or None
    return None


def decide(finding: Finding, lines: Sequence[str], allow: AllowList) -> Allowance | None:
    """The allowance that covers ``finding``, if any (inline comment first)."""
    if finding.line is not None:
        reason = inline_reason(lines, finding.line)
        if reason is not None:
            return _allowance(finding, "inline comment", reason)
    if allow.paths and wcglob.globmatch(finding.path, list(allow.paths), flags=_GLOB_FLAGS):
        return _allowance(finding, "config: path", "secrets.allow.paths")
    if any(fnmatch.fnmatchcase(finding.rule_id, rule) for rule in allow.rules):
        return _allowance(finding, "config: rule", "secrets.allow.rules")
    if finding.fingerprint in allow.fingerprints:
        return _allowance(finding, "config: fingerprint", "secrets.allow.fingerprints")
    return None


def _allowance(finding: Finding, how: str, reason: str) -> Allowance:
    return Allowance(finding.rule_id, finding.path, finding.line, finding.fingerprint, how, reason)


NO_ALLOWLIST = AllowList()
