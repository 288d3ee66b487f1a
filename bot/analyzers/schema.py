"""Schema analyzer: every Kubernetes resource against the schema of its apiVersion and kind.

Each error becomes a finding at the line of the failing field (for an unknown field, the line of
that key), with the field path in the message. Documents that are not resources (no apiVersion
and no kind, or files that are not manifests) are not schema errors.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.config import MissingSchema, SchemaConfig
from bot.core.document import Document, FieldPath, LoadedFile, format_path
from bot.core.filekind import FileKind
from bot.core.finding import Category, Finding, Severity, Source
from bot.engines.schema_store import QUANTITY_PATTERN, SchemaEntry, SchemaFetchError
from bot.engines.schema_validator import SchemaError

__all__ = ["SchemaContext", "SchemaEntry", "SchemaSource", "analyze", "check_document"]

_SOURCE = Source(engine="schema")
_MISSING_SEVERITY = {MissingSchema.WARN: Severity.WARNING, MissingSchema.ERROR: Severity.ERROR}


class SchemaSource(Protocol):
    def lookup(self, api_version: str, kind: str) -> SchemaEntry | None: ...


@dataclass(frozen=True, slots=True)
class SchemaContext:
    sources: Sequence[SchemaSource]  # tried in order
    config: SchemaConfig
    kubernetes_version: str


def analyze(files: Iterable[LoadedFile], ctx: SchemaContext) -> list[Finding]:
    findings: list[Finding] = []
    for loaded in files:
        if loaded.kind is not FileKind.MANIFEST:
            continue
        for doc in loaded.documents:
            findings.extend(check_document(doc, ctx))
    return findings


def check_document(doc: Document, ctx: SchemaContext) -> list[Finding]:
    if doc.base_path and not isinstance(doc.data, dict):
        # Every item of a List must be a resource (kubeconform: "error unmarshalling resource").
        return [
            finding_at(
                doc,
                "schema/invalid",
                Severity.ERROR,
                f"{format_path(doc.base_path)}: a List item must be a resource (a mapping), "
                f"got {_type_name(doc.data)}.",
                (),
            )
        ]
    if not doc.looks_like_resource and not doc.base_path:
        return []  # arbitrary YAML (values, tool configs...) is not a resource
    missing = _missing_identity(doc)
    if missing:
        return [missing]
    api_version, kind = doc.api_version, doc.kind
    assert api_version is not None and kind is not None
    if _skipped(api_version, kind, ctx.config.skip_kinds):
        return []
    try:
        entry = _lookup(api_version, kind, ctx.sources)
    except SchemaFetchError as exc:
        return [
            finding_at(
                doc,
                "schema/location-error",
                Severity.ERROR,
                f"Could not load the schema for {api_version} {kind}: {exc}; it was not validated.",
                (),
            )
        ]
    if entry is None:
        severity = _MISSING_SEVERITY.get(ctx.config.missing)
        if severity is None:
            return []
        return [
            finding_at(
                doc,
                "schema/missing-schema",
                severity,
                f"No schema for {api_version} {kind} (Kubernetes {ctx.kubernetes_version}, "
                "CRDs in the tree and configured schema locations); it was not validated.",
                (),
            )
        ]
    try:
        errors = list(_relevant(entry.validator.errors(_as_applied(doc.data))))
    except Exception as exc:  # one odd document must not take the others down with it
        return [
            finding_at(
                doc,
                "schema/validator-error",
                Severity.ERROR,
                f"The schema validator failed on this resource ({entry.origin}): "
                f"{type(exc).__name__}: {exc}",
                (),
            )
        ]
    return [_error_finding(doc, error, entry) for error in errors]


def _as_applied(data: dict[str, Any]) -> dict[str, Any]:
    """The object as the cluster will see it: a SOPS-encrypted manifest carries a top-level
    ``sops`` block that Flux (or the sops CLI) removes when it decrypts, so it is not an
    unknown field."""
    sops = data.get("sops")
    if isinstance(sops, dict) and "mac" in sops:
        return {key: value for key, value in data.items() if key != "sops"}
    return data


def _lookup(api_version: str, kind: str, sources: Sequence[SchemaSource]) -> SchemaEntry | None:
    for source in sources:
        entry = source.lookup(api_version, kind)
        if entry is not None:
            return entry
    return None


def _skipped(api_version: str, kind: str, patterns: Sequence[str]) -> bool:
    qualified = f"{api_version}/{kind}"
    return any(fnmatch.fnmatchcase(kind, p) or fnmatch.fnmatchcase(qualified, p) for p in patterns)


def _missing_identity(doc: Document) -> Finding | None:
    data = doc.data
    for key, rule in (
        ("apiVersion", "schema/missing-api-version"),
        ("kind", "schema/missing-kind"),
    ):
        value = data.get(key)
        if value is None or value == "":
            return finding_at(
                doc,
                rule,
                Severity.ERROR,
                f'Resource has no "{key}"; Kubernetes cannot identify it.',
                (),
            )
        if not isinstance(value, str):
            return finding_at(
                doc,
                rule,
                Severity.ERROR,
                f'"{key}" must be a string, got {type(value).__name__}.',
                (key,),
            )
    return None


def _relevant(errors: Iterable[SchemaError]) -> Iterable[SchemaError]:
    for error in errors:
        # int-or-string fields whose two alternatives both admit null: null is "absent" to
        # Kubernetes, not an error.
        if error.kind == "oneOfMultiple":
            continue
        yield error


def _error_finding(doc: Document, error: SchemaError, entry: SchemaEntry) -> Finding:
    path: FieldPath = error.path
    where = format_path(path)
    if error.kind == "additionalProperties" and error.unexpected:
        key = error.unexpected[0]
        more = f" (and {', '.join(error.unexpected[1:])})" if len(error.unexpected) > 1 else ""
        return finding_at(
            doc,
            "schema/unknown-field",
            Severity.ERROR,
            f'{format_path((*path, key))}: unknown field "{key}"{more} '
            f"(strict schema validation, {entry.origin}).",
            (*path, key),
            key=True,
        )
    if error.kind == "type":
        wanted = " or ".join(t for t in error.expected_types if t != "null") or "another type"
        return finding_at(
            doc,
            "schema/wrong-type",
            Severity.ERROR,
            f"{where}: expected {wanted}, got {_describe(_value_at(doc.data, path))}.",
            path,
        )
    if error.kind == "required":
        return finding_at(
            doc, "schema/missing-field", Severity.ERROR, f"{where}: {error.message}.", path
        )
    if error.kind == "pattern" and QUANTITY_PATTERN in error.message:
        value = _value_at(doc.data, path)
        return finding_at(
            doc,
            "schema/invalid-value",
            Severity.ERROR,
            f"{where}: {_preview(value)} is not a Kubernetes quantity (e.g. 500m, 1.5, 128Mi, 2G).",
            path,
        )
    rule = (
        "schema/invalid-value"
        if error.kind in ("enum", "const", "pattern", "format")
        else "schema/invalid"
    )
    return finding_at(doc, rule, Severity.ERROR, f"{where}: {error.message}.", path)


def _value_at(data: Any, path: FieldPath) -> Any:
    for elem in path:
        try:
            data = data[elem]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _describe(value: Any) -> str:
    """``string 'three'``, ``number 1.5``, ``object``."""
    preview = _preview(value)
    return f"{_type_name(value)} {preview}" if preview else _type_name(value)


def _preview(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, bool):
        text = str(value).lower()
    else:
        text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def finding_at(
    doc: Document,
    rule: str,
    severity: Severity,
    message: str,
    path: FieldPath,
    *,
    key: bool = False,
    source: Source = _SOURCE,
) -> Finding:
    """A schema finding at the node ``path`` of ``doc`` (its key with ``key=True``); shared
    with the kubeconform engine so both report the same shape."""
    pos = doc.locate(path, key=key)
    return Finding(
        rule_id=rule,
        category=Category.SCHEMA,
        severity=severity,
        message=message,
        path=doc.path,
        line=pos.line,
        column=pos.column,
        end_line=pos.end_line,
        resource=doc.resource_ref(),
        source=source,
        locator=format_path((*doc.base_path, *path)),
    )
