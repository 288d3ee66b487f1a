"""Kubernetes' semver library (k8s.io/apiserver/pkg/cel/library/semverlib.go, version 1).

Parsing follows blang/semver's strict ``Parse`` (no ``v`` prefix, no leading zeros,
three numbers) and Kubernetes' ``normalize`` option. A version is a tagged map without
its build metadata, which Kubernetes' comparison ignores, so equal versions are equal
maps.
"""

from __future__ import annotations

import re
from typing import Any

from bot.analyzers.kyverno.cel.libs.base import (
    Function,
    LibraryError,
    Method,
    expect,
    register_comparator,
    tagged,
)

TAG = "kubernetes.Semver"

_IDENTIFIER = re.compile(r"[0-9A-Za-z-]+")


def parse(text: str) -> dict[str, Any]:
    core, plus, build = text.partition("+")
    if plus and not all(_IDENTIFIER.fullmatch(part) for part in build.split(".")):
        raise LibraryError(f"invalid build metadata in version {text!r}")
    core, dash, pre = core.partition("-")
    numbers = core.split(".")
    if len(numbers) != 3:
        raise LibraryError(f"No Major.Minor.Patch elements found in {text!r}")
    values = [_number(part, name, text) for part, name in zip(numbers, _NAMES, strict=True)]
    prerelease: list[str] = []
    if dash:
        for part in pre.split("."):
            if not _IDENTIFIER.fullmatch(part):
                raise LibraryError(f"invalid prerelease identifier {part!r} in {text!r}")
            if part.isdigit() and len(part) > 1 and part[0] == "0":
                raise LibraryError(f"prerelease number {part!r} must not have leading zeroes")
            prerelease.append(part)
    return tagged(TAG, major=values[0], minor=values[1], patch=values[2], pre=prerelease)


_NAMES = ("Major", "Minor", "Patch")


def _number(part: str, name: str, text: str) -> int:
    if not part.isdigit() or not part.isascii():
        raise LibraryError(f"invalid character(s) in {name.lower()} number of {text!r}")
    if len(part) > 1 and part[0] == "0":
        raise LibraryError(f"{name} number must not contain leading zeroes {part!r}")
    return int(part)


def normalize(text: str) -> str:
    """Kubernetes' normalizeAndParse: drop a ``v``, leading zeros, fill missing numbers."""
    if text.startswith("v"):
        text = text[1:]
    parts = text.split(".", 2)
    for i, part in enumerate(parts):
        if len(part) > 1:
            stripped = part.lstrip("0")
            if not stripped or not stripped[0].isdigit():
                stripped = "0" + stripped
            parts[i] = stripped
    if len(parts) < 3:
        if any(c in parts[-1] for c in "+-"):
            raise LibraryError("short version cannot contain PreRelease/Build meta data")
        parts += ["0"] * (3 - len(parts))
    return ".".join(parts)


def semver(text: str) -> dict[str, Any]:
    return parse(text)


def semver_normalized(text: str, normalize_it: bool) -> dict[str, Any]:
    return parse(normalize(text) if normalize_it else text)


def is_semver(text: str) -> bool:
    return is_semver_normalized(text, False)


def is_semver_normalized(text: str, normalize_it: bool) -> bool:
    try:
        semver_normalized(text, normalize_it)
    except LibraryError:
        return False
    return True


def compare(left: Any, right: Any) -> int:
    a, b = expect(left, TAG, "semver"), expect(right, TAG, "semver")
    for field in ("major", "minor", "patch"):
        if a[field] != b[field]:
            return 1 if a[field] > b[field] else -1
    return _compare_prerelease(a["pre"], b["pre"])


def _compare_prerelease(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return (not a) - (not b)  # a release is greater than any of its prereleases
    for x, y in zip(a, b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return 1 if int(x) > int(y) else -1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1  # numeric identifiers sort first
        return 1 if x > y else -1
    return (len(a) > len(b)) - (len(a) < len(b))


register_comparator(TAG, compare)

FUNCTIONS = (
    Function("semver", "string_to_semver", ("string",), "map", semver),
    Function("semver", "string_bool_to_semver", ("string", "bool"), "map", semver_normalized),
    Function("isSemver", "is_semver_string", ("string",), "bool", is_semver),
    Function("isSemver", "is_semver_string_bool", ("string", "bool"), "bool", is_semver_normalized),
)

METHODS = (
    Method("major", TAG, (), "int", lambda v: expect(v, TAG, "semver")["major"]),
    Method("minor", TAG, (), "int", lambda v: expect(v, TAG, "semver")["minor"]),
    Method("patch", TAG, (), "int", lambda v: expect(v, TAG, "semver")["patch"]),
    Method("isGreaterThan", TAG, ("map",), "bool", lambda a, b: compare(a, b) == 1),
    Method("isLessThan", TAG, ("map",), "bool", lambda a, b: compare(a, b) == -1),
    Method("compareTo", TAG, ("map",), "int", compare),
)
