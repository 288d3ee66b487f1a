"""Kyverno's regex functions with Go ``regexp`` (RE2) semantics.

Policies are written for RE2: ASCII-only classes, ``(?<name>...)`` groups, ``$1`` / ``${name}``
replacement templates. Translating those to Python's ``re`` is one concern, shared by
``regex_match``, ``regex_replace_all`` and ``regex_replace_all_literal``; ``random``, which
generates a string from a pattern, lives here too.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from bot.analyzers.kyverno.errors import JMESPathError
from bot.analyzers.kyverno.jmespath_arguments import FunctionTable, arg, fail, iface_to_string


@lru_cache(maxsize=1024)
def _go_regex(pattern: str) -> re.Pattern[str]:
    """A Go RE2 pattern as a Python regex: RE2 classes (``\\d``, ``\\w``, ``\\s``, ``\\b``) are
    ASCII-only, ``(?<name>...)`` is Python's ``(?P<name>...)`` and ``\\z`` is ``\\Z``."""
    translated = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern).replace(r"\z", r"\Z")
    try:
        return re.compile(translated, re.ASCII)
    except re.error as error:
        raise JMESPathError(f"error parsing regexp: {error}: `{pattern}`") from None


_TEMPLATE_TOKEN = re.compile(r"\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def _go_replacement(template: str) -> Callable[[re.Match[str]], str]:
    """Go ``Regexp.Expand`` template: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; an
    unknown group expands to nothing."""

    def expand(match: re.Match[str]) -> str:
        def group(found: re.Match[str]) -> str:
            if found[1] == "$":
                return "$"
            key = found[2] or found[3]
            try:
                part = match.group(int(key)) if key.isdigit() else match.group(key)
            except (IndexError, re.error):
                return ""
            return part or ""

        return _TEMPLATE_TOKEN.sub(group, template)

    return expand


def _fn_regex_replace_all(name: str, args: list[Any]) -> Any:
    pattern = arg(name, args, 0, "string")
    source = iface_to_string(name, args[1], 1)
    replacement = iface_to_string(name, args[2], 2)
    return _go_regex(pattern).sub(_go_replacement(replacement), source)


def _fn_regex_replace_all_literal(name: str, args: list[Any]) -> Any:
    pattern = arg(name, args, 0, "string")
    source = iface_to_string(name, args[1], 1)
    replacement = iface_to_string(name, args[2], 2)
    return _go_regex(pattern).sub(lambda _match: replacement, source)


def _fn_regex_match(name: str, args: list[Any]) -> Any:
    pattern = arg(name, args, 0, "string")
    source = iface_to_string(name, args[1], 1)
    return _go_regex(pattern).search(source) is not None


def _fn_random(name: str, args: list[Any]) -> Any:
    pattern = arg(name, args, 0, "string")
    if pattern == "":
        raise fail(name, "no pattern provided")
    return _random_from_regex(pattern)


def _random_from_regex(pattern: str) -> str:
    """A string matching simple patterns (``[a-z0-9]{6}``-style); others return the pattern's
    literal characters. Results are run-dependent in Kyverno too."""
    out = []
    for chars, low, high in re.findall(r"\[([^\]]+)\]\{(\d+)(?:,(\d+))?\}", pattern):
        alphabet = ""
        for start, _, end in re.findall(r"(.)(-(.))?", chars):
            alphabet += "".join(chr(c) for c in range(ord(start), ord(end) + 1)) if end else start
        count = int(high or low)
        out.append("".join(secrets.choice(alphabet) for _ in range(count)))
    return "".join(out) if out else re.sub(r"[\\^$.*+?()\[\]{}|]", "", pattern)


FUNCTIONS: FunctionTable = {
    "regex_replace_all": (3, _fn_regex_replace_all),
    "regex_replace_all_literal": (3, _fn_regex_replace_all_literal),
    "regex_match": (2, _fn_regex_match),
    "random": (1, _fn_random),
}
