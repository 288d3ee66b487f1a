"""The validate ``pattern`` tree walk with Kyverno's anchors.

Sources (kyverno/kyverno): ``pkg/engine/validate/validate.go`` (``MatchPattern``),
``pkg/engine/anchor/handlers.go``, ``anchor/anchormap.go``, ``anchor/error.go``,
``pkg/engine/validate/utils.go`` (key order), ``pkg/engine/wildcards/wildcards.go``.

The outcome of a walk:

- a conditional ``(key)`` or global ``<(key)`` anchor mismatch -> ``skip``;
- a negation ``X(key)`` anchor that matched -> ``fail`` at that path;
- any other mismatch -> ``fail`` with the failing path (``/spec/containers/0/image/``), unless a
  ``(key)``/``^(key)`` anchor key was never found in the resource, or the mismatch has no path
  (list length mismatch): then ``error``, as Kyverno reports it.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.analyzers.kyverno.context import Context
from bot.analyzers.kyverno.errors import KyvernoError
from bot.analyzers.kyverno.values import go_sprint, has_wildcard, match_scalar, wildcard_match
from bot.analyzers.kyverno.variables import has_variables, substitute

Status = Literal["pass", "fail", "skip", "error"]
ErrorKind = Literal["conditional", "global", "negation", "plain"]

ANCHOR = re.compile(r"^([+<=X^])?\((.+)\)$")
"""``anchor.Parse``: group 1 is the modifier (none = conditional), group 2 the key."""

_CONDITIONAL_PREFIX = "conditional anchor mismatch: "
_GLOBAL_PREFIX = "global anchor mismatch: "
_NEGATION_PREFIX = "negation anchor matched in resource: "


@dataclass(frozen=True, slots=True)
class PatternResult:
    """The outcome of matching a resource against a pattern; ``path`` is Kyverno's failing path
    (``/spec/containers/0/image/``) for ``fail``, ``message`` Kyverno's error text."""

    status: Status
    path: str = ""
    message: str = ""


# ---------------------------------------------------------------------------------------------
# Compiled patterns


@dataclass(frozen=True, slots=True)
class _Anchor:
    modifier: str  # "" conditional, "=" equality, "^" existence, "X" negation, "<" global, "+"
    key: str


def parse_anchor(key: str) -> _Anchor | None:
    """The anchor of a pattern key, or None for a plain key."""
    match = ANCHOR.match(key)
    if match is None:
        return None
    return _Anchor(match[1] or "", match[2])


@dataclass(slots=True)
class _Entry:
    key: str
    anchor: _Anchor | None
    node: _Node


@dataclass(slots=True)
class _MapNode:
    raw: dict[str, Any]
    anchors: list[_Entry]  # (), =(), ^(), X() in sorted key order
    others: list[_Entry]  # the rest, in Kyverno's processing order
    tracked: list[_Entry]  # (), ^(), X() keys: recorded in the anchor map
    has_anchors: bool  # this map or a descendant has an anchor key
    metadata_key: str | None  # "metadata" (possibly anchored) when present


@dataclass(slots=True)
class _ListNode:
    raw: list[Any]
    items: list[_Node]
    has_anchors: bool


@dataclass(slots=True)
class _ScalarNode:
    value: Any


_Node = _MapNode | _ListNode | _ScalarNode


class CompiledPattern:
    """A pattern prepared once (anchors parsed, key order computed) for many resources."""

    __slots__ = ("_root", "raw")

    def __init__(self, pattern: Any) -> None:
        self.raw = pattern
        self._root = _compile(pattern)

    def validate(self, resource: Any) -> PatternResult:
        """Match ``resource`` against this pattern."""
        return _Walk().run(resource, self._root)


def compile_pattern(pattern: Any) -> CompiledPattern:
    """Prepare ``pattern`` (after variable substitution) for repeated ``validate`` calls."""
    return CompiledPattern(pattern)


def _compile(pattern: Any) -> _Node:
    if isinstance(pattern, dict):
        return _compile_map(pattern)
    if isinstance(pattern, list):
        items = [_compile(item) for item in pattern]
        has = any(not isinstance(item, _ScalarNode) and item.has_anchors for item in items)
        return _ListNode(pattern, items, has)
    return _ScalarNode(pattern)


_PHASE_ONE = frozenset({"", "=", "^", "X"})
_TRACKED = frozenset({"", "^", "X"})
_NESTING = frozenset({"", "=", "^", "X", "<"})


def _compile_map(pattern: dict[str, Any]) -> _MapNode:
    anchors: list[_Entry] = []
    front: list[_Entry] = []
    back: list[_Entry] = []
    tracked: list[_Entry] = []
    has_anchors = False
    metadata_key = None
    for key in sorted(pattern):
        anchor = parse_anchor(key)
        node = _compile(pattern[key])
        entry = _Entry(key, anchor, node)
        if anchor is not None and anchor.modifier in _NESTING:
            has_anchors = True
        if anchor is not None and anchor.modifier in _TRACKED:
            tracked.append(entry)
        if (anchor.key if anchor else key) == "metadata":
            metadata_key = key
        child_has = not isinstance(node, _ScalarNode) and node.has_anchors
        has_anchors = has_anchors or child_has
        if anchor is not None and anchor.modifier in _PHASE_ONE:
            anchors.append(entry)
        elif (anchor is not None and anchor.modifier == "<") or child_has:
            # getSortedNestedAnchorResource pushes these to the front, one by one
            front.insert(0, entry)
        else:
            back.append(entry)
    return _MapNode(pattern, anchors, front + back, tracked, has_anchors, metadata_key)


# ---------------------------------------------------------------------------------------------
# The walk


@dataclass(slots=True)
class _Error:
    kind: ErrorKind
    message: str


_Outcome = tuple[str, _Error | None]
_OK: _Outcome = ("", None)


@dataclass(slots=True)
class _Walk:
    # anchor key -> found in some resource map (Kyverno's AnchorMap)
    anchor_map: dict[str, bool] = field(default_factory=dict)

    def run(self, resource: Any, root: _Node) -> PatternResult:
        path, error = self.element(resource, root, "/")
        if error is None:
            return PatternResult("pass")
        if error.kind in ("conditional", "global"):
            return PatternResult("skip", "", error.message)
        if error.kind == "negation":
            return PatternResult("fail", path, error.message)
        if self.keys_are_missing() or not path:
            return PatternResult("error", "", error.message)
        return PatternResult("fail", path, error.message)

    def keys_are_missing(self) -> bool:
        return any(
            not found
            for key, found in self.anchor_map.items()
            if not key.startswith("X(")  # negated keys are meant to be missing
        )

    def element(self, resource: Any, node: _Node, path: str) -> _Outcome:
        if isinstance(node, _MapNode):
            if not isinstance(resource, dict):
                return path, _plain(
                    f"pattern and resource have different structures. Path: {path}. "
                    f"Expected {_go_type(node.raw)}, found {_go_type(resource)}"
                )
            for entry in node.tracked:
                assert entry.anchor is not None
                if not self.anchor_map.get(entry.key):
                    self.anchor_map[entry.key] = entry.anchor.key in resource
            return self.map(resource, node, path)
        if isinstance(node, _ListNode):
            if not isinstance(resource, list):
                return path, _plain(
                    f"validation rule failed at path {path}, resource does not satisfy the "
                    "expected overlay pattern"
                )
            return self.list(resource, node, path)
        pattern = node.value
        if not _is_scalar_pattern(pattern):
            return path, _plain(f"failed at '{path}', pattern contains unknown type")
        values = resource if isinstance(resource, list) else [resource]
        for value in values:
            if not match_scalar(pattern, value):
                return path, _plain(
                    f"resource value '{go_sprint(resource)}' does not match "
                    f"'{go_sprint(pattern)}' at path {path}"
                )
        return _OK

    def map(self, resource: dict[str, Any], node: _MapNode, path: str) -> _Outcome:
        if node.metadata_key is not None:
            node = _expand_metadata_wildcards(node, resource)
        # Phase 1, anchors in sorted key order. A failed condition of this map skips it at once;
        # a skip from deeper down (e.g. every element of an `=(list)` skipped) only skips the map
        # when no other anchor applied (kyverno validate_test.go test-43 vs test-46).
        skipped: _Outcome | None = None
        applied = 0
        for entry in node.anchors:
            outcome = self.entry(resource, entry, path)
            error = outcome[1]
            if error is None:
                applied += 1
            elif error.kind in ("conditional", "global"):
                assert entry.anchor is not None
                if entry.anchor.modifier == "":
                    return outcome
                skipped = skipped or outcome
            else:
                return outcome
        if skipped is not None and applied == 0:
            return skipped
        for entry in node.others:
            outcome = self.entry(resource, entry, path)
            if outcome[1] is not None:
                return outcome
        return _OK

    def entry(self, resource: dict[str, Any], entry: _Entry, path: str) -> _Outcome:
        anchor = entry.anchor
        if anchor is None or anchor.modifier == "+":
            return self.plain_key(resource, entry, path)
        key = anchor.key
        current = f"{path}{key}/"
        present = key in resource
        modifier = anchor.modifier
        if modifier == "":
            if not present:
                return current, _Error(
                    "conditional",
                    _CONDITIONAL_PREFIX + "conditional anchor key doesn't exist in the resource",
                )
            where, error = self.element(resource[key], entry.node, current)
            if error is not None:
                return where, _Error("conditional", _CONDITIONAL_PREFIX + error.message)
            return _OK
        if not present:
            return _OK
        if modifier == "=":
            return self.element(resource[key], entry.node, current)
        if modifier == "X":
            return current, _Error("negation", f"{_NEGATION_PREFIX}{current} is not allowed")
        if modifier == "<":
            where, error = self.element(resource[key], entry.node, current)
            if error is not None:
                return where, _Error("global", _GLOBAL_PREFIX + error.message)
            return _OK
        return self.existence(resource[key], entry.node, current)

    def plain_key(self, resource: dict[str, Any], entry: _Entry, path: str) -> _Outcome:
        node = entry.node
        value = resource.get(entry.key)
        if isinstance(node, _ScalarNode) and node.value == "*":
            if value is not None:
                return _OK
            return path, _plain(f"{path}/{entry.key} not found")
        return self.element(value, node, f"{path}{entry.key}/")

    def existence(self, value: Any, node: _Node, path: str) -> _Outcome:
        if not isinstance(value, list):
            return path, _plain(
                f"invalid resource type {_go_type(value)}: Existence ^ () anchor can be used "
                "only on list/array type resource"
            )
        if not isinstance(node, _ListNode):
            return path, _plain(
                f"invalid pattern type {_go_type(_raw(node))}: Pattern has to be of list to "
                "compare against resource"
            )
        for item in node.items:
            if not isinstance(item, _MapNode):
                return path, _plain(
                    f"invalid pattern type {_go_type(node.raw)}: Pattern has to be of type map "
                    "to compare against items in resource"
                )
            if not any(
                self.element(element, item, f"{path}{index}/")[1] is None
                for index, element in enumerate(value)
            ):
                return path, _plain(f"existence anchor validation failed at path {path}")
        return _OK

    def list(self, resource: list[Any], node: _ListNode, path: str) -> _Outcome:
        if not node.items:
            return path, _plain("pattern Array empty")
        first = node.items[0]
        if isinstance(first, _MapNode):
            return self.each(
                ((f"{path}{i}/", element, first) for i, element in enumerate(resource)), path
            )
        if isinstance(first, _ScalarNode) and _is_scalar_pattern(first.value):
            return self.element(resource, first, path)
        if len(resource) < len(node.items):
            return "", _plain(
                "validate Array failed, array length mismatch, resource Array len is "
                f"{len(resource)} and pattern Array len is {len(node.items)}"
            )
        return self.each(
            ((f"{path}{i}/", resource[i], item) for i, item in enumerate(node.items)), path
        )

    def each(self, pairs: Any, path: str) -> _Outcome:
        applied = 0
        skipped: list[_Error] = []
        for where, element, item in pairs:
            outcome = self.element(element, item, where)
            error = outcome[1]
            if error is not None:
                if error.kind in ("conditional", "global"):
                    skipped.append(error)
                    continue
                return outcome
            applied += 1
        if applied == 0 and skipped:
            # Kyverno wraps these in a PatternError with Skip set; the top level recognises
            # the anchor error inside it and skips the rule
            return path, _Error(skipped[0].kind, "; ".join(e.message for e in skipped))
        return _OK


def _plain(message: str) -> _Error:
    return _Error("plain", message)


def _raw(node: _Node) -> Any:
    return node.value if isinstance(node, _ScalarNode) else node.raw


def _is_scalar_pattern(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _go_type(value: Any) -> str:
    """Go's ``%T`` of a decoded JSON value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def _expand_metadata_wildcards(node: _MapNode, resource: dict[str, Any]) -> _MapNode:
    """``wildcards.ExpandInMetadata``: a wildcard key under ``metadata.labels`` or
    ``metadata.annotations`` becomes the first resource key it matches (anchors kept)."""
    assert node.metadata_key is not None
    pattern_metadata = node.raw.get(node.metadata_key)
    resource_metadata = resource.get("metadata")
    if not isinstance(pattern_metadata, dict) or not isinstance(resource_metadata, dict):
        return node
    expanded_metadata = dict(pattern_metadata)
    changed = False
    for tag in ("labels", "annotations"):
        tag_key = _find_key(pattern_metadata, tag)
        if tag_key is None:
            continue
        pattern_map = pattern_metadata[tag_key]
        resource_map = resource_metadata.get(tag)
        if not isinstance(pattern_map, dict) or not isinstance(resource_map, dict):
            continue
        if not any(has_wildcard(key) for key in pattern_map):
            continue
        expanded_metadata[tag_key] = _expand_keys(pattern_map, resource_map)
        changed = True
    if not changed:
        return node
    return _compile_map({**node.raw, node.metadata_key: expanded_metadata})


def _find_key(mapping: dict[str, Any], tag: str) -> str | None:
    for key in mapping:
        if key == tag:
            return key
        anchor = parse_anchor(key)
        if anchor is not None and anchor.key == tag:
            return key
    return None


def _expand_keys(pattern_map: dict[str, Any], resource_map: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pattern_map.items():
        if not has_wildcard(key):
            result[key] = value
            continue
        anchor = parse_anchor(key)
        bare = anchor.key if anchor else key
        match = next((k for k in resource_map if wildcard_match(bare, k)), bare)
        if anchor is None:
            result[match] = value
        else:
            result[f"{anchor.modifier}({match})"] = value
    return result


# ---------------------------------------------------------------------------------------------
# Entry point


_CACHE_SIZE = 1024
# id(pattern) -> (pattern, compiled, has variables); the pattern is kept so its id stays unique
_compiled: OrderedDict[int, tuple[Any, CompiledPattern, bool]] = OrderedDict()


def _cached(pattern: Any) -> tuple[CompiledPattern, bool]:
    key = id(pattern)
    entry = _compiled.get(key)
    if entry is not None and entry[0] is pattern:
        _compiled.move_to_end(key)
        return entry[1], entry[2]
    compiled = CompiledPattern(pattern)
    _compiled[key] = (pattern, compiled, has_variables(pattern))
    if len(_compiled) > _CACHE_SIZE:
        _compiled.popitem(last=False)
    return compiled, _compiled[key][2]


def validate_pattern(resource: Any, pattern: Any, ctx: Context | None = None) -> PatternResult:
    """Match ``resource`` against ``pattern`` (a raw pattern or a ``CompiledPattern``).

    Variables should be substituted by the caller; when ``ctx`` is given and the raw pattern
    still holds variables (``{{@}}``...), they are substituted here and a substitution failure
    is an ``error`` result. Raw patterns are compiled once per pattern object (do not mutate a
    pattern after its first use)."""
    if isinstance(pattern, CompiledPattern):
        return pattern.validate(resource)
    compiled, has_vars = _cached(pattern)
    if ctx is not None and has_vars:
        try:
            substituted = substitute(pattern, ctx)
        except KyvernoError as error:
            return PatternResult("error", "", str(error))
        return CompiledPattern(substituted).validate(resource)
    return compiled.validate(resource)
