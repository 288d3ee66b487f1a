"""Kyverno's functions over plain text.

Comparison, case, trimming, splitting, replacing (with Go's ``strings.Replace`` rules for an
empty old string), wildcards, truncation, ``to_boolean``, base64, sha256 and path cleaning: each
takes text and gives text or a flag, with no other rules to share, so they sit together apart
from the regex, parsing and arithmetic families.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
import re
from typing import Any

from bot.analyzers.kyverno.jmespath_arguments import (
    FunctionTable,
    arg,
    fail,
    iface_to_string,
    string_args,
)
from bot.analyzers.kyverno.values import wildcard_match


def _fn_compare(name: str, args: list[Any]) -> Any:
    a, b = string_args(name, args)
    return (a > b) - (a < b)


def _fn_equal_fold(name: str, args: list[Any]) -> Any:
    a, b = string_args(name, args)
    return a.casefold() == b.casefold()


def _fn_replace(name: str, args: list[Any]) -> Any:
    text, old, new = string_args(name, args[:3])
    count = int(arg(name, args, 3, "number"))
    if count < 0:
        return _go_replace_all(text, old, new)
    if old == "":
        return _go_replace_all(text, old, new, count)
    return text.replace(old, new, count)


def _go_replace_all(text: str, old: str, new: str, count: int = -1) -> str:
    if old != "":
        return text.replace(old, new)
    # Go inserts `new` before every rune and at the end when `old` is empty
    pieces = [new + char for char in text] + [new]
    if count < 0:
        return "".join(pieces)
    return (
        "".join(pieces[:count]) + text[max(count, 0) :] if count <= len(text) else "".join(pieces)
    )


def _fn_replace_all(name: str, args: list[Any]) -> Any:
    text, old, new = string_args(name, args)
    return _go_replace_all(text, old, new)


def _fn_to_upper(name: str, args: list[Any]) -> Any:
    return string_args(name, args)[0].upper()


def _fn_to_lower(name: str, args: list[Any]) -> Any:
    return string_args(name, args)[0].lower()


def _fn_trim(name: str, args: list[Any]) -> Any:
    text, cutset = string_args(name, args)
    return text.strip(cutset) if cutset else text


def _fn_trim_prefix(name: str, args: list[Any]) -> Any:
    text, prefix = string_args(name, args)
    return text.removeprefix(prefix)


def _fn_split(name: str, args: list[Any]) -> Any:
    text, sep = string_args(name, args)
    if sep == "":
        return list(text)
    return text.split(sep)


def _fn_truncate(name: str, args: list[Any]) -> Any:
    text = arg(name, args, 0, "string")
    length = max(int(arg(name, args, 1, "number")), 0)
    return text[:length]


def _fn_pattern_match(name: str, args: list[Any]) -> Any:
    pattern = arg(name, args, 0, "string")
    return wildcard_match(pattern, iface_to_string(name, args[1], 1))


def _fn_to_boolean(name: str, args: list[Any]) -> Any:
    text = arg(name, args, 0, "string").lower()
    if text in ("true", "false"):
        return text == "true"
    raise fail(name, f"lowercase argument must be 'true' or 'false' (provided: '{args[0]}')")


def _fn_base64_decode(name: str, args: list[Any]) -> Any:
    text = arg(name, args, 0, "string")
    try:
        return base64.b64decode(text, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError) as error:
        raise fail(name, f"illegal base64 data: {error}") from None


def _fn_base64_encode(name: str, args: list[Any]) -> Any:
    return base64.b64encode(arg(name, args, 0, "string").encode()).decode()


def _fn_sha256(name: str, args: list[Any]) -> Any:
    return hashlib.sha256(arg(name, args, 0, "string").encode()).hexdigest()


def _fn_path_canonicalize(name: str, args: list[Any]) -> Any:
    text = arg(name, args, 0, "string")
    if text == "":
        return ""
    return posixpath.normpath(re.sub("/+", "/", text)) if text else ""


FUNCTIONS: FunctionTable = {
    "compare": (2, _fn_compare),
    "equal_fold": (2, _fn_equal_fold),
    "replace": (4, _fn_replace),
    "replace_all": (3, _fn_replace_all),
    "to_upper": (1, _fn_to_upper),
    "to_lower": (1, _fn_to_lower),
    "trim": (2, _fn_trim),
    "trim_prefix": (2, _fn_trim_prefix),
    "split": (2, _fn_split),
    "truncate": (2, _fn_truncate),
    "pattern_match": (2, _fn_pattern_match),
    "to_boolean": (1, _fn_to_boolean),
    "base64_decode": (1, _fn_base64_decode),
    "base64_encode": (1, _fn_base64_encode),
    "sha256": (1, _fn_sha256),
    "path_canonicalize": (1, _fn_path_canonicalize),
}
