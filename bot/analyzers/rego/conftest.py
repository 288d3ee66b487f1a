"""conftest's rules for turning rule values into results (``policy/engine.go`` ``check``/``query``).

- Rules named ``^(deny|violation)(_[a-zA-Z0-9]+)*$`` are failures, ``^warn(_[a-zA-Z0-9]+)*$``
  warnings; names come from the engine's rule heads (the AST), never from a regex over source.
- For each namespace and distinct rule name: ``data.<ns>.exception[_][_] == "<suffix>"``
  (suffix = the name without ``deny_``/``violation_``/``warn_``; ``""`` for a bare name); every
  solution is one exception, and any exception drops all of that rule's results.
- A set or array value: empty is one success; a string is a message (``""`` a success); an
  object needs a string ``msg`` (anything else stops the run) and its other keys are metadata,
  ``_loc: {file, line}`` becoming ``loc``; other items are ignored. Any other value (a boolean
  from ``deny if {...}``, an object, a string) is one success; undefined is nothing.
- Successes are topped up to the number of rule *definitions* with matching names.

Namespaces are literal names (default ``main``), or Go ``path.Match`` globs matched against the
loaded packages once any pattern has a wildcard, or every package (``--all-namespaces``).
Everything is sorted, so the output does not depend on map order as conftest's does.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.analyzers.rego.results import CheckResult, Result
from bot.engines.policy_engine import Evaluation, PolicyError, PolicyModule, RuleHead

FAILURE_RULE = re.compile(r"^(deny|violation)(_[a-zA-Z0-9]+)*$")
WARNING_RULE = re.compile(r"^warn(_[a-zA-Z0-9]+)*$")
EXCEPTION_RULE = "exception"
DEFAULT_NAMESPACE = "main"
COMBINED = "Combined"
_WILDCARDS = frozenset("*?[")


class MessageError(Exception):
    """A rule returned an object without a string ``msg``: conftest stops the whole run."""

    def __init__(self, message: str, namespace: str, rule: str) -> None:
        super().__init__(message)
        self.namespace = namespace
        self.rule = rule


def is_failure(name: str) -> bool:
    return FAILURE_RULE.match(name) is not None


def is_warning(name: str) -> bool:
    return WARNING_RULE.match(name) is not None


def exception_suffix(rule: str) -> str:
    """The name an ``exception`` lists to exempt ``rule`` (conftest's removeRulePrefix)."""
    if rule in ("deny", "violation", "warn"):
        return ""
    for prefix in ("violation_", "deny_", "warn_"):
        rule = rule.removeprefix(prefix)
    return rule


def exception_query(namespace: str, rule: str) -> str:
    return f'data.{namespace}.exception[_][_] == "{exception_suffix(rule)}"'


@dataclass(frozen=True, slots=True)
class RuleIndex:
    """The rules conftest looks at, per package, from the engine's rule heads."""

    packages: tuple[str, ...]  # every package, sorted
    rules: Mapping[str, tuple[str, ...]]  # package -> distinct deny/violation/warn names, sorted
    definitions: Mapping[str, int]  # package -> how many definitions those names have
    has_exception: frozenset[str]  # packages defining an ``exception`` rule
    heads: Mapping[tuple[str, str], RuleHead]  # (package, name) -> its first definition

    @classmethod
    def from_heads(cls, heads: Iterable[RuleHead]) -> RuleIndex:
        ordered = sorted(heads, key=lambda h: (h.package, h.name, h.path, h.line))
        packages: set[str] = set()
        names: dict[str, list[str]] = {}
        folded: dict[str, set[str]] = {}
        definitions: dict[str, int] = {}
        exceptions: set[str] = set()
        first: dict[tuple[str, str], RuleHead] = {}
        for head in ordered:
            packages.add(head.package)
            first.setdefault((head.package, head.name), head)
            if head.name == EXCEPTION_RULE:
                exceptions.add(head.package)
            if not (is_failure(head.name) or is_warning(head.name)):
                continue
            definitions[head.package] = definitions.get(head.package, 0) + 1
            # conftest keeps one name per case-insensitive spelling (strings.EqualFold).
            seen = folded.setdefault(head.package, set())
            if head.name.lower() not in seen:
                seen.add(head.name.lower())
                names.setdefault(head.package, []).append(head.name)
        return cls(
            packages=tuple(sorted(packages)),
            rules={package: tuple(found) for package, found in names.items()},
            definitions=definitions,
            has_exception=frozenset(exceptions),
            heads=first,
        )

    def refs(self, namespaces: Iterable[str]) -> list[str]:
        """The full paths to query for ``namespaces``: every matching rule and ``exception``."""
        out: list[str] = []
        for namespace in dict.fromkeys(namespaces):
            if namespace in self.has_exception:
                out.append(f"data.{namespace}.{EXCEPTION_RULE}")
            out.extend(f"data.{namespace}.{rule}" for rule in self.rules.get(namespace, ()))
        return out


def resolve_namespaces(
    patterns: Sequence[str], packages: Sequence[str], *, all_namespaces: bool = False
) -> list[str]:
    """The namespaces to check. Raises ValueError for a malformed glob."""
    if all_namespaces:
        return sorted(packages)
    if not any(_WILDCARDS & set(p) for p in patterns):
        return list(patterns)
    matchers = [go_path_match(p) for p in patterns]
    return [name for name in sorted(packages) if any(m.fullmatch(name) for m in matchers)]


def go_path_match(pattern: str) -> re.Pattern[str]:
    """Go's ``path.Match`` as a regex: ``*`` and ``?`` stop at ``/``, ``[...]`` classes (with
    ``^`` negation and ranges), ``\\`` escapes. Raises ValueError as Go returns ErrBadPattern."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if i + 1 >= len(pattern):
                raise ValueError(f'bad pattern "{pattern}": trailing backslash')
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            i, cls = _char_class(pattern, i + 1)
            out.append(cls)
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def _char_class(pattern: str, i: int) -> tuple[int, str]:
    negate = i < len(pattern) and pattern[i] == "^"
    if negate:
        i += 1
    ranges: list[str] = []
    while True:
        if i >= len(pattern):
            raise ValueError(f'bad pattern "{pattern}": unterminated character class')
        if pattern[i] == "]" and ranges:
            i += 1
            break
        low, i = _class_char(pattern, i)
        high = low
        if i < len(pattern) and pattern[i] == "-":
            high, i = _class_char(pattern, i + 1)
            if high < low:
                raise ValueError(f'bad pattern "{pattern}": range {low}-{high} is reversed')
        ranges.append(re.escape(low) if low == high else f"{re.escape(low)}-{re.escape(high)}")
    body = "".join(ranges)
    return i, f"[^{body}]" if negate else f"[{body}]"


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern) or pattern[i] in "-]":
        raise ValueError(f'bad pattern "{pattern}": malformed character class')
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise ValueError(f'bad pattern "{pattern}": trailing backslash')
    return pattern[i], i + 1


def check(
    index: RuleIndex, namespace: str, values: Mapping[str, Any], filename: str
) -> CheckResult:
    """One namespace on one document (or on the combined input). Raises MessageError."""
    result = CheckResult(filename, namespace)
    successes = 0
    exception_value = values.get(f"data.{namespace}.{EXCEPTION_RULE}", _UNDEFINED)
    for rule in index.rules.get(namespace, ()):
        exceptions = [
            Result(exception_query(namespace, rule), rule=rule, namespace=namespace)
            for _ in range(count_exceptions(exception_value, exception_suffix(rule)))
        ]
        ref = f"data.{namespace}.{rule}"
        items = rule_results(values[ref], namespace, rule) if ref in values else []
        if not exceptions:
            for item in items:
                if item.msg == "":
                    successes += 1
                elif is_failure(rule):
                    result.failures.append(item)
                else:
                    result.warnings.append(item)
        result.exceptions.extend(exceptions)
    counted = len(result.failures) + len(result.warnings) + len(result.exceptions) + successes
    result.successes = successes + max(0, index.definitions.get(namespace, 0) - counted)
    return result


def check_file(
    index: RuleIndex, namespace: str, evaluations: Sequence[Evaluation], filename: str
) -> CheckResult:
    """One namespace on every document of a file, summed into one entry (conftest's Check)."""
    total = CheckResult(filename, namespace)
    for evaluation in evaluations:
        total.add(check(index, namespace, evaluation.values, filename))
    return total


def problematic_if(modules: Sequence[PolicyModule], heads: Iterable[RuleHead]) -> list[PolicyError]:
    """conftest's load-time check (OPA issue 6509): ``deny[msg] if {...}`` is a partial
    *object* (``{msg: true}``), not a set, so conftest would count it as one success and the
    policy would pass everything. conftest refuses the policy set; so do we."""
    lines = {module.path: module.text.split("\n") for module in modules}
    errors: list[PolicyError] = []
    for head in heads:
        if not (is_failure(head.name) or is_warning(head.name)):
            continue
        text = lines.get(head.path, [])
        if not 0 < head.line <= len(text):
            continue
        source = "\n".join(text[head.line - 1 : head.line + 20]).lstrip()
        if not source.startswith(head.name):
            continue
        rest = source[len(head.name) :].lstrip()
        if not rest.startswith("["):
            continue
        end = _closing_bracket(rest)
        if end is not None and re.match(r"if\b", rest[end + 1 :].lstrip()):
            errors.append(
                PolicyError(
                    f"rule is using 'if' keyword without 'contains' keyword: {head.name}[...] if "
                    f"is a partial object, not a set; write {head.name} contains ... if",
                    head.path,
                    head.line,
                )
            )
    return errors


def _closing_bracket(text: str) -> int | None:
    """Where the bracket opening ``text`` closes, skipping strings; None when it does not."""
    depth = 0
    quote: str | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if quote is not None:
            if char == "\\" and quote == '"':
                i += 1
            elif char == quote:
                quote = None
        elif char in '"`':
            quote = char
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
            if depth == 0:
                return i if char == "]" else None
        i += 1
    return None


class _Undefined:
    pass


_UNDEFINED = _Undefined()


def count_exceptions(value: Any, suffix: str) -> int:
    """Solutions of ``exception[_][_] == suffix``: strings are not collections in Rego."""
    count = 0
    for entry in _members(value):
        count += sum(1 for item in _members(entry) if item == suffix)
    return count


def _members(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return []


def rule_results(value: Any, namespace: str, rule: str) -> list[Result]:
    query = f"data.{namespace}.{rule}"
    if not isinstance(value, list) or not value:
        return [Result("", rule=rule, namespace=namespace)]
    out: list[Result] = []
    for item in value:
        if isinstance(item, str):
            out.append(Result(item, {"query": query}, rule=rule, namespace=namespace))
        elif isinstance(item, dict):
            out.append(_from_object(item, query, namespace, rule))
    return out


def _from_object(item: Mapping[str, Any], query: str, namespace: str, rule: str) -> Result:
    message = item.get("msg")
    if not isinstance(message, str):
        problem = "is missing" if "msg" not in item else "is not a string"
        raise MessageError(
            f'{query}: a result object\'s "msg" field {problem} '
            f'(conftest requires "msg" to be present and a string): {_preview(item)}',
            namespace,
            rule,
        )
    metadata: dict[str, Any] = {}
    loc: dict[str, Any] | None = None
    for key, value in item.items():
        if key == "msg":
            continue
        if key == "_loc" and _is_location(value):
            loc = {"file": value["file"], "line": value["line"]}
            continue
        metadata[key] = value
    metadata["query"] = query
    return Result(message, metadata, loc, rule=rule, namespace=namespace)


def _is_location(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("file"), str)
        and isinstance(value.get("line"), int)
        and not isinstance(value.get("line"), bool)
    )


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def file_info(path: str, *, absolute: bool = True) -> dict[str, str]:
    """``data.conftest.file``: the base name and the directory (absolute on the command line,
    as conftest sets it; repository-relative in ``check``, where no absolute path exists)."""
    if absolute:
        full = os.path.abspath(path)
        return {"name": os.path.basename(full), "dir": os.path.dirname(full)}
    return {"name": posixpath.basename(path), "dir": posixpath.dirname(path)}


def combined_input(documents: Iterable[tuple[str, Any]]) -> list[dict[str, Any]]:
    """``--combine``: ``[{"path", "contents"}]`` with one element per document, by path."""
    ordered = sorted(enumerate(documents), key=lambda item: (item[1][0], item[0]))
    return [{"path": path, "contents": contents} for _, (path, contents) in ordered]
