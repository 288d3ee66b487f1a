"""Kubernetes' regex library: ``s.find(re)``, ``s.findAll(re)``, ``s.findAll(re, n)``.

Kubernetes compiles RE2 patterns; Python's ``re`` accepts the RE2 syntax policies use
(classes, anchors, groups, ``(?i)``, ``(?P<name>)``). RE2-only forms such as ``\\z`` or
``\\pN`` raise a clear error here instead of matching differently.
"""

from __future__ import annotations

import functools
import re

from bot.analyzers.kyverno.cel.libs.base import Function, LibraryError


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as err:
        raise LibraryError(f"invalid regular expression {pattern!r}: {err}") from None


def find(text: str, pattern: str) -> str:
    match = compile_pattern(pattern).search(text)
    return match.group(0) if match else ""


def find_all(text: str, pattern: str) -> list[str]:
    return [m.group(0) for m in compile_pattern(pattern).finditer(text)]


def find_all_limit(text: str, pattern: str, limit: int) -> list[str]:
    if limit == 0:
        return []
    found = find_all(text, pattern)
    return found if limit < 0 else found[:limit]


FUNCTIONS = (
    Function("find", "k8s_string_find", ("string", "string"), "string", find, member=True),
    Function(
        "findAll",
        "k8s_string_find_all",
        ("string", "string"),
        "list(string)",
        find_all,
        member=True,
    ),
    Function(
        "findAll",
        "k8s_string_find_all_n",
        ("string", "string", "int"),
        "list(string)",
        find_all_limit,
        member=True,
    ),
)
