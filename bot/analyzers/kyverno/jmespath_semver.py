"""Semantic versions as blang/semver parses, compares and ranges them.

Kyverno's ``semver_compare`` function and the version comparisons of conditions
(``conditions.py``) share these rules; they are separate from the other string functions because
strict parsing, pre-release ordering and range syntax are one body of rules of their own.
"""

from __future__ import annotations

import re
from typing import Any

from bot.analyzers.kyverno.errors import JMESPathError
from bot.analyzers.kyverno.jmespath_arguments import FunctionTable, string_args

_SemverKey = tuple[int, int, int, tuple[tuple[int, int | str], ...]]


def _semver_key(text: str) -> _SemverKey | None:
    """blang/semver ``Parse`` (strict: three numbers, no ``v`` prefix)."""
    match = re.fullmatch(
        r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
        r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?",
        text,
    )
    if match is None:
        return None
    pre: tuple[tuple[int, int | str], ...] = ()
    if match[4]:
        pre = tuple((0, int(p)) if p.isdigit() else (1, p) for p in match[4].split("."))
    return int(match[1]), int(match[2]), int(match[3]), pre


def semver_compare_versions(left: str, right: str) -> int | None:
    """-1/0/1 comparing two semantic versions, or None when either does not parse."""
    a, b = _semver_key(left), _semver_key(right)
    if a is None or b is None:
        return None
    if a[:3] != b[:3]:
        return -1 if a[:3] < b[:3] else 1
    # a version without pre-release ranks above one with it
    if a[3] == b[3]:
        return 0
    if not a[3] or not b[3]:
        return 1 if not a[3] else -1
    return -1 if a[3] < b[3] else 1


def semver_matches(version: str, expected_range: str) -> bool:
    """blang/semver ``ParseRange(range)(Parse(version))``: ``||`` of space-separated
    comparisons (``>=1.0.0 <2.0.0``); an unparsable version counts as 0.0.0."""
    if _semver_key(version) is None:
        version = "0.0.0"
    alternatives = []
    for alternative in expected_range.split("||"):
        parts = alternative.split()
        if not parts:
            raise JMESPathError(f"Could not parse Range {expected_range!r}")
        comparisons = []
        for part in parts:
            match = re.fullmatch(r"(>=|<=|!=|==|=|>|<)?(.+)", part)
            assert match is not None
            op, target = match[1] or "=", _expand_wildcard(match[2])
            if _semver_key(target) is None:
                raise JMESPathError(f"Could not parse Range {expected_range!r}: {part}")
            comparisons.append((op, target))
        alternatives.append(comparisons)

    def holds(op: str, target: str) -> bool:
        result = semver_compare_versions(version, target)
        assert result is not None
        return {
            "=": result == 0,
            "==": result == 0,
            "!=": result != 0,
            ">": result > 0,
            ">=": result >= 0,
            "<": result < 0,
            "<=": result <= 0,
        }[op]

    return any(all(holds(op, target) for op, target in alt) for alt in alternatives)


def _expand_wildcard(version: str) -> str:
    # blang/semver accepts 1.x / 1.2.x in ranges: treated as 1.0.0 / 1.2.0 for >=
    parts = version.split(".")
    if len(parts) < 3 or any(p in ("x", "X", "*") for p in parts):
        parts = [("0" if p in ("x", "X", "*") else p) for p in parts] + ["0"] * (3 - len(parts))
        return ".".join(parts[:3])
    return version


def _fn_semver_compare(name: str, args: list[Any]) -> Any:
    version, expected = string_args(name, args)
    return semver_matches(version, expected)


FUNCTIONS: FunctionTable = {"semver_compare": (2, _fn_semver_compare)}
