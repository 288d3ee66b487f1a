"""conftest results as gitops-gate findings, at the line of the offending field when it is known.

- ``deny*``/``violation*`` results are errors and ``warn*`` results warnings, unless the result
  object's metadata says otherwise (``severity``: error|warning|notice); metadata may also set
  ``id`` (the rule id; default ``rego/<package>/<rule>``), ``title`` and ``help_url``.
- The line: the result's ``_loc`` when it names this file; else a field path the message names
  (``spec.template.spec.containers[0].securityContext.privileged``, ``input.`` prefix allowed)
  that exists in the document; else a container the message names (``container "app"``) when
  exactly one container has that name; else a quoted key (``"hostNetwork"``) that occurs exactly
  once in the document; else the document's first line. Ambiguity always falls back: a wrong
  line is worse than the resource's first line.
- Exceptions are allowances: listed in the report, never hidden and never counted as passes.
- Engine errors are ``config/policy-error`` findings at the policy file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from bot.analyzers.rego.conftest import is_failure
from bot.analyzers.rego.results import CheckResult, Result
from bot.core.allowance import Allowance
from bot.core.document import Document, FieldPath, PathElem, format_path
from bot.core.finding import Category, Finding, Severity
from bot.core.finding import Source as FindingSource
from bot.engines.policy_engine import PolicyError

POLICY_ERROR = "config/policy-error"
ENGINE = "rego"
_SEVERITY_WORDS = {
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "notice": Severity.NOTICE,
    "info": Severity.NOTICE,
}
_PATH = re.compile(r"(?<![\w./-])((?:input\.)?[A-Za-z_][\w-]*(?:\[\d+\]|\.[A-Za-z_][\w-]*)+)")
_PATH_PART = re.compile(r"\[(\d+)\]|\.?([A-Za-z_][\w-]*)")
_CONTAINER = re.compile(
    r"\b(?:init|ephemeral)?containers?\s+(?:\"([^\"]+)\"|'([^']+)'|`([^`]+)`|([A-Za-z0-9][\w.-]*))",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[\"'`]([A-Za-z_][\w./-]*)[\"'`]")
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def policy_findings(
    result: CheckResult,
    document: Document | None,
    documents: Mapping[str, Sequence[Document]] | None = None,
) -> tuple[list[Finding], list[Allowance]]:
    """The findings and allowances of one conftest result. ``document`` is the evaluated
    document (None for ``combine``); ``documents`` (by path) lets a ``_loc`` or a combined
    result land on the file it names."""
    findings = [
        _finding(item, document, documents or {}, default=Severity.ERROR)
        for item in result.failures
    ]
    findings += [
        _finding(item, document, documents or {}, default=Severity.WARNING)
        for item in result.warnings
    ]
    allowances = [_allowance(item, document) for item in result.exceptions]
    return findings, allowances


def policy_error_finding(
    error: PolicyError, severity: Severity = Severity.ERROR, *, context: str = ""
) -> Finding:
    """A policy that did not load or evaluate: at the policy file and line, never a pass."""
    where = f" ({context})" if context else ""
    return Finding(
        rule_id=POLICY_ERROR,
        category=Category.CONFIG,
        severity=severity,
        message=f"Rego policy error: {error.message}{where}",
        path=error.path or "",
        line=error.line,
        column=error.column,
        end_line=error.line,
        source=FindingSource(engine=ENGINE),
        locator=error.message[:200],
    )


def rule_id(item: Result) -> str:
    custom = (item.metadata or {}).get("id")
    if isinstance(custom, str) and custom.strip():
        return custom.strip()
    return f"rego/{item.namespace}/{item.rule}"


def _finding(
    item: Result,
    document: Document | None,
    documents: Mapping[str, Sequence[Document]],
    *,
    default: Severity,
) -> Finding:
    metadata = item.metadata or {}
    severity = _severity(metadata.get("severity"), default)
    message = item.msg
    title = metadata.get("title")
    if isinstance(title, str) and title.strip() and not message.startswith(title.strip()):
        message = f"{title.strip()}: {message}"
    help_url = metadata.get("help_url")
    path, line, column, end_line, located, target = _place(item, document, documents)
    if located is None and item.loc and target is document and document is not None:
        message += f" (reported at {item.loc.get('file')}:{item.loc.get('line')})"
    return Finding(
        rule_id=rule_id(item),
        category=Category.POLICY,
        severity=severity,
        message=message,
        path=path,
        line=line,
        column=column,
        end_line=end_line,
        resource=target.resource_ref()
        if target is not None and target.looks_like_resource
        else None,
        source=FindingSource(engine=ENGINE, policy=item.namespace, rule=item.rule),
        help_url=help_url if isinstance(help_url, str) and help_url else None,
        locator=f"{located}|{item.msg}" if located else item.msg,
    )


def _severity(value: Any, default: Severity) -> Severity:
    if isinstance(value, str):
        return _SEVERITY_WORDS.get(value.strip().lower(), default)
    return default


def _place(
    item: Result, document: Document | None, documents: Mapping[str, Sequence[Document]]
) -> tuple[str, int | None, int | None, int | None, str | None, Document | None]:
    """(path, line, column, end_line, located field path or None, document it is in)."""
    loc = item.loc
    if loc:
        file, line = str(loc.get("file")), loc.get("line")
        if isinstance(line, int) and line > 0:
            if document is not None and _same_file(file, document.path):
                return document.path, line, None, line, f"line {line}", document
            named = _documents_of(file, documents)
            if named:
                target = _document_at(named, line)
                return target.path, line, None, line, f"line {line}", target
    if document is None:
        return "", None, None, None, None, None
    path, key = locate_in_message(item.msg, document)
    if path is None:
        pos = document.start
        return document.path, pos.line, pos.column, pos.line, None, document
    pos = document.locate(path, key=key)
    return document.path, pos.line, pos.column, pos.end_line, format_path(path), document


def _same_file(named: str, path: str) -> bool:
    named = named.replace("\\", "/").removeprefix("./")
    return named == path or path.endswith("/" + named) or named.endswith("/" + path)


def _documents_of(file: str, documents: Mapping[str, Sequence[Document]]) -> Sequence[Document]:
    for path, docs in documents.items():
        if docs and _same_file(file, path):
            return docs
    return ()


def _document_at(documents: Sequence[Document], line: int) -> Document:
    """The document of a file that holds ``line`` (the last one starting at or before it)."""
    chosen = documents[0]
    for doc in documents:
        if doc.start.line <= line:
            chosen = doc
    return chosen


def locate_in_message(message: str, document: Document) -> tuple[FieldPath | None, bool]:
    """The field a message names, when it names exactly one field of ``document``; and whether
    to point at its key (a named field) rather than its value (a list item)."""
    data = document.data
    if not isinstance(data, dict):
        return None, False
    for finder in (_named_path, _named_container, _named_key):
        found = finder(message, data)
        if found is not None:
            return found, isinstance(found[-1], str) if found else False
    return None, False


def _named_path(message: str, data: dict[str, Any]) -> FieldPath | None:
    found: set[FieldPath] = set()
    for match in _PATH.finditer(message):
        text = match.group(1).removeprefix("input.")
        path: list[PathElem] = []
        for part in _PATH_PART.finditer(text):
            path.append(int(part.group(1)) if part.group(1) is not None else part.group(2))
        if len(path) >= 2 and _exists(data, path):
            found.add(tuple(path))
    return found.pop() if len(found) == 1 else None


def _named_container(message: str, data: dict[str, Any]) -> FieldPath | None:
    names = {next(g for g in match.groups() if g) for match in _CONTAINER.finditer(message)}
    if not names:
        return None
    containers = list(_containers(data, ()))
    found = [path for path, name in containers if name in names]
    if len(found) != 1:
        return None
    # A message that also names another container of the resource is about several of them.
    mentioned = {
        name
        for _, name in containers
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", message)
    }
    return found[0] if len(mentioned) <= 1 else None


def _named_key(message: str, data: dict[str, Any]) -> FieldPath | None:
    found: set[FieldPath] = set()
    for match in _QUOTED.finditer(message):
        paths = list(_keys_named(data, match.group(1), ()))
        if len(paths) == 1:
            found.add(paths[0])
    return found.pop() if len(found) == 1 else None


def _exists(data: Any, path: Sequence[PathElem]) -> bool:
    for elem in path:
        if isinstance(elem, int):
            if not isinstance(data, list) or not 0 <= elem < len(data):
                return False
        elif not isinstance(data, dict) or elem not in data:
            return False
        data = data[elem]
    return True


def _containers(data: Any, at: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in _CONTAINER_LISTS and isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict) and isinstance(item.get("name"), str):
                        yield (*at, key, index), item["name"]
            else:
                yield from _containers(value, (*at, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _containers(item, (*at, index))


def _keys_named(data: Any, name: str, at: FieldPath) -> Iterator[FieldPath]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key == name:
                yield (*at, key)
            yield from _keys_named(value, name, (*at, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _keys_named(item, name, (*at, index))


def _allowance(item: Result, document: Document | None) -> Allowance:
    path = document.path if document is not None else ""
    line = document.start.line if document is not None else None
    rule = f"rego/{item.namespace}/{item.rule}"
    marker = Finding(
        rule_id=rule,
        category=Category.POLICY,
        severity=Severity.ERROR if is_failure(item.rule) else Severity.WARNING,
        message=item.msg,
        path=path,
        resource=document.resource_ref() if document is not None else None,
        locator=f"exception|{item.msg}",
    )
    return Allowance(
        rule_id=rule,
        path=path,
        line=line,
        fingerprint=marker.fingerprint,
        how="rego exception",
        reason=f"{item.msg} (data.{item.namespace}.exception exempts {item.rule})",
    )
