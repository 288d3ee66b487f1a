"""``{{ ... }}`` variable substitution as Kyverno does it (``pkg/engine/variables/vars.go``).

- A string that is exactly one variable becomes the variable's raw value (number, list, map...);
  otherwise the value is spliced into the string (non-strings as JSON).
- Substitution repeats while the result still contains variables; ``\\{{...}}`` escapes one.
- ``{{- expr}}`` substitutes once: its result is not scanned for variables again.
- ``{{@}}`` is the resource value at the current pattern path (or ``current`` when given).
- On a ``DELETE`` request ``request.object`` is read from ``request.oldObject``.
- Map keys are substituted too.
- ``$(./../path)`` references (resolved first) read another value of the same document, with an
  optional operator prefix: ``$(<=./../../limits/memory)`` becomes ``<=2Gi``.

A document without variables or references is returned as is (the same object), so callers can
cache what they derive from it.
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache
from typing import Any

from bot.analyzers.kyverno.context import Context
from bot.analyzers.kyverno.errors import JMESPathError, SubstitutionError
from bot.analyzers.kyverno.jmespath_dialect import to_json

VARIABLE = re.compile(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})")
"""Kyverno's ``RegexVariables``: group 2 is the variable with its braces."""

_ESCAPED = re.compile(r"\\\{\{(?:\{[^{}]*\}|[^{}])*\}\}")
_REFERENCE = re.compile(r"^\$\(.[^ ]*\)|[^\\]\$\(.[^ ]*\)")
_ESCAPED_REFERENCE = re.compile(r"\\\$\(.[^ ]*\)")
_REFERENCE_OPERATORS = (">=", "<=", ">", "<", "!")
_ANCHOR = re.compile(r"^([+<=X^])?\((.+)\)$")
# Stands in for the text of a ``{{- ...}}`` result until scanning is over.
_SHIELD = "\x00kyverno-shield-{}\x00"

Path = tuple[str | int, ...]


def has_variables(value: Any) -> bool:
    """True when ``value`` (any JSON document) contains a ``{{ ... }}`` variable or a
    ``$(...)`` reference."""
    if isinstance(value, str):
        return ("{{" in value and VARIABLE.search(value) is not None) or (
            "$(" in value and _REFERENCE.search(value) is not None
        )
    if isinstance(value, dict):
        return any(has_variables(k) or has_variables(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_variables(item) for item in value)
    return False


def variable_expression(text: str) -> str:
    """The JMESPath text of one ``{{ ... }}`` (braces removed, spaces trimmed)."""
    return text.replace("{{", "").replace("}}", "").strip()


def substitute(value: Any, ctx: Context, *, current: Any = None) -> Any:
    """Substitute every variable in ``value`` (a JSON document: string, list or map) and return
    the new document; ``value`` is not changed. Raises ``SubstitutionError`` naming the
    variable that could not be resolved."""
    if isinstance(value, str):
        if "{{" not in value and "$(" not in value:
            return value
    elif not isinstance(value, dict | list) or not _has_marker(value):
        return value
    if _has_marker(value, "$("):
        value = _References(value).walk(value, ())
    return _Substitution(ctx, current).walk(value, ())


def _has_marker(value: Any, marker: str | None = None) -> bool:
    """Does any string (or key) of the document contain ``{{`` or ``$(``  (or ``marker``)?"""
    if isinstance(value, str):
        if marker is not None:
            return marker in value
        return "{{" in value or "$(" in value
    if isinstance(value, dict):
        return any(_has_marker(k, marker) or _has_marker(v, marker) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_marker(item, marker) for item in value)
    return False


class _Walker:
    """Rebuilds a JSON document where ``string`` changes a string, sharing what is unchanged."""

    marker = "{{"

    def walk(self, value: Any, path: Path) -> Any:
        if isinstance(value, str):
            if self.marker not in value:
                return value
            result = self.string(value, path)
            return value if result == value and isinstance(result, str) else result
        if isinstance(value, dict):
            changed = False
            mapping = {}
            for key, item in value.items():
                new_key = key
                if isinstance(key, str) and self.marker in key:
                    new_key = self.key(key, path)
                new_item = self.walk(item, (*path, key))
                changed = changed or new_key != key or new_item is not item
                mapping[new_key] = new_item
            return mapping if changed else value
        if isinstance(value, list):
            items = [self.walk(item, (*path, index)) for index, item in enumerate(value)]
            changed = any(new is not old for new, old in zip(items, value, strict=True))
            return items if changed else value
        return value

    def key(self, key: str, path: Path) -> str:
        substituted = self.string(key, path)
        return substituted if isinstance(substituted, str) else to_json(substituted)

    def string(self, text: str, path: Path) -> Any:
        raise NotImplementedError


class _References(_Walker):
    """``$(path)`` references into the same document (``substituteReferences``)."""

    marker = "$("

    def __init__(self, document: Any) -> None:
        self._document = document

    def string(self, text: str, path: Path) -> Any:
        value = text
        where = "/" + "/".join(str(part) for part in path)
        for match in _REFERENCE.finditer(text):
            old = match[0]
            prefix = "" if old.startswith("$(") else old[0]
            reference = old[len(prefix) :]
            resolved = self.resolve(reference, where)
            value = value.replace(old, prefix + resolved, 1)
        return _ESCAPED_REFERENCE.sub(lambda found: found[0][1:], value)

    def resolve(self, reference: str, where: str) -> str:
        target = reference.strip("$()")
        operator = next((op for op in _REFERENCE_OPERATORS if target.startswith(op)), "")
        target = target[len(operator) :]
        if not target:
            raise SubstitutionError(
                f"failed to resolve {reference} at path {where}: expected path, found empty "
                "reference",
                variable=reference,
            )
        base = "/".join(_strip_anchor(part) for part in where.split("/"))
        absolute = posixpath.normpath(posixpath.join(base, target))
        found, value = _leaf_at(self._document, absolute)
        if not found or value is None:
            raise SubstitutionError(
                f"got nil resolved variable {reference} at path {where}", variable=reference
            )
        if operator == "":
            if not isinstance(value, str):
                raise SubstitutionError(
                    f"NotResolvedReferenceErr,reference {reference} not resolved at path {where}",
                    variable=reference,
                )
            return value
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SubstitutionError(
                f"incorrect expression: operator {operator} does not match with value {value}",
                variable=reference,
            )
        text = (
            value
            if isinstance(value, str)
            else f"{value:f}"
            if isinstance(value, float)
            else str(value)
        )
        return operator + text


def _leaf_at(document: Any, path: str) -> tuple[bool, Any]:
    """The leaf of ``document`` at an absolute ``/a/b/0`` path, anchors in keys ignored."""
    node = document
    for part in [p for p in path.split("/") if p]:
        if isinstance(node, dict):
            key = next((k for k in node if _strip_anchor(k) == part), None)
            if key is None:
                return False, None
            node = node[key]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    if isinstance(node, dict | list):
        return False, None
    return True, node


def _strip_anchor(key: str) -> str:
    anchor = _ANCHOR.match(key)
    return anchor[2] if anchor else key


class _Substitution(_Walker):
    __slots__ = ("_ctx", "_current", "_delete")

    def __init__(self, ctx: Context, current: Any) -> None:
        self._ctx = ctx
        self._current = current
        self._delete = ctx.operation() == "DELETE"

    def string(self, text: str, path: Path) -> Any:
        shielded: list[str] = []
        value = text
        found = _variables(value)
        while found:
            original = value
            for prefix, variable, expr, once in found:
                resolved = self.resolve(expr, path)
                if original == variable:
                    return resolved
                replacement = resolved if isinstance(resolved, str) else to_json(resolved)
                if once:
                    shielded.append(replacement)
                    replacement = _SHIELD.format(len(shielded) - 1)
                # Kyverno replaces in the text as it was before this pass and scans again, so a
                # value that itself contains variables is substituted on the next pass.
                value = original.replace(prefix + variable, prefix + replacement, 1)
            found = _variables(value)
        value = _ESCAPED.sub(lambda match: match[0][1:], value)
        for index, replacement in enumerate(shielded):
            value = value.replace(_SHIELD.format(index), replacement)
        return value

    def resolve(self, expr: str, path: Path) -> Any:
        if expr == "@":
            if self._current is not None:
                return self._current
            expr = _current_expression(self._ctx, path)
        if self._delete:
            expr = expr.replace("request.object", "request.oldObject")
        try:
            return self._ctx.query(expr)
        except JMESPathError as error:
            where = "/" + "/".join(str(part) for part in path)
            raise SubstitutionError(
                f"failed to resolve {expr} at path {where}: {error}", variable=expr
            ) from None


@lru_cache(maxsize=4096)
def _variables(text: str) -> tuple[tuple[str, str, str, bool], ...]:
    """(prefix character, variable, expression, substitute-once) in order, as Kyverno's
    ``RegexVariables.FindAllString``; ``{{- expr}}`` is substituted once."""
    found = []
    for match in VARIABLE.finditer(text):
        expr = variable_expression(match[2])
        once = expr.startswith("-")
        found.append((match[1], match[2], expr[1:].strip() if once else expr, once))
    return tuple(found)


def _current_expression(ctx: Context, path: Path) -> str:
    """``{{@}}``: the JMESPath of the resource value at ``path`` (anchors removed) under
    ``target`` when the context has one, else ``request.object``."""
    prefix = "target" if "target" in ctx.data else "request.object"
    parts = [prefix]
    for part in path:
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
            continue
        anchor = _ANCHOR.match(part)
        key = anchor[2] if anchor else part
        parts.append(key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else to_json(key))
    return ".".join(parts)
