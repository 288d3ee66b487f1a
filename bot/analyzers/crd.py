"""Schemas for custom resources, from CustomResourceDefinition manifests in the checked tree.

The conversion follows kubeconform's ``openapi2jsonschema.py``: ``int-or-string`` admits a
string or an integer, ``nullable`` admits null, and in strict mode every object that declares
``properties`` (and does not preserve unknown fields) rejects other keys, which is what the API
server's pruning would silently drop. Pruning only follows the main schema, never ``allOf`` /
``anyOf`` / ``oneOf`` / ``not`` branches, and never ``metadata`` (the API server owns it), so
those are not made strict.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.core.document import Document
from bot.engines.schema_store import GroupVersionKind, SchemaEntry, SchemaFetchError
from bot.engines.schema_validator import compile_schema


@dataclass(frozen=True, slots=True)
class CrdVersion:
    gvk: GroupVersionKind
    schema: dict[str, Any] | None
    origin: str  # "path:line"


def crd_versions(doc: Document) -> list[CrdVersion]:
    """Every served version a CRD document defines (apiextensions v1 and v1beta1)."""
    if doc.kind != "CustomResourceDefinition" or not (doc.api_version or "").startswith(
        "apiextensions.k8s.io/"
    ):
        return []
    spec = doc.data.get("spec")
    if not isinstance(spec, dict):
        return []
    group = spec.get("group")
    names = spec.get("names")
    kind = names.get("kind") if isinstance(names, dict) else None
    if not isinstance(group, str) or not isinstance(kind, str):
        return []
    origin = f"{doc.path}:{doc.start.line}"
    out: list[CrdVersion] = []
    validation = spec.get("validation")
    legacy = validation.get("openAPIV3Schema") if isinstance(validation, dict) else None
    versions = spec.get("versions")
    if isinstance(versions, list):
        for version in versions:
            if not isinstance(version, dict) or not isinstance(version.get("name"), str):
                continue
            schema_block = version.get("schema")
            schema = (
                schema_block.get("openAPIV3Schema") if isinstance(schema_block, dict) else legacy
            )
            out.append(
                CrdVersion(
                    GroupVersionKind(group, version["name"], kind),
                    schema if isinstance(schema, dict) else None,
                    origin,
                )
            )
    elif isinstance(spec.get("version"), str):
        out.append(
            CrdVersion(
                GroupVersionKind(group, spec["version"], kind),
                legacy if isinstance(legacy, dict) else None,
                origin,
            )
        )
    return out


def to_json_schema(openapi: dict[str, Any], *, strict: bool) -> dict[str, Any]:
    """An OpenAPI v3 structural schema as a Draft 4 JSON schema."""
    schema = copy.deepcopy(openapi)
    _convert(schema, strict=strict)
    _add_object_fields(schema, strict=strict)
    return schema


_OBJECT_FIELDS: dict[str, dict[str, Any]] = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"type": "object"},
}
_BRANCHES = ("allOf", "anyOf", "oneOf", "not")


def _add_object_fields(node: dict[str, Any], *, strict: bool) -> None:
    """Every resource (the root, and ``x-kubernetes-embedded-resource`` objects) has
    apiVersion, kind and metadata even when the CRD does not spell them out."""
    props = node.get("properties")
    if not isinstance(props, dict):
        return
    for name, default in _OBJECT_FIELDS.items():
        props.setdefault(name, dict(default))
    metadata = props.get("metadata")
    if isinstance(metadata, dict):
        _relax(metadata)  # the API server owns metadata; CRDs may only constrain the name
    if strict and node.get("x-kubernetes-preserve-unknown-fields") is not True:
        node.setdefault("additionalProperties", False)


def _relax(node: Any) -> None:
    """Undo strictness below ``node`` (added by :func:`_convert`)."""
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            del node["additionalProperties"]
        for value in node.values():
            _relax(value)
    elif isinstance(node, list):
        for item in node:
            _relax(item)


def _convert(node: Any, *, strict: bool) -> None:
    if isinstance(node, list):
        for item in node:
            _convert(item, strict=strict)
        return
    if not isinstance(node, dict):
        return
    if node.get("x-kubernetes-int-or-string") is True or node.get("format") == "int-or-string":
        node.pop("format", None)
        node["type"] = ["integer", "string"]
        # Generated CRDs also spell it as anyOf/oneOf of the two types: one check is enough.
        for branch in ("anyOf", "oneOf"):
            if _only_types(node.get(branch)):
                del node[branch]
    if node.get("nullable") is True:
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            node["type"] = [*kind, "null"]
    if (
        strict
        and isinstance(node.get("properties"), dict)
        and node.get("x-kubernetes-preserve-unknown-fields") is not True
        and "additionalProperties" not in node
    ):
        node["additionalProperties"] = False
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            for sub in value.values():
                _convert(sub, strict=strict)
        elif key in ("items", "additionalProperties"):
            _convert(value, strict=strict)
        elif key in _BRANCHES:
            _convert(value, strict=False)  # branches constrain values; pruning ignores them
    if node.get("x-kubernetes-embedded-resource") is True:
        _add_object_fields(node, strict=strict)


def _only_types(branches: Any) -> bool:
    return isinstance(branches, list) and all(
        isinstance(b, dict) and set(b) <= {"type"} for b in branches
    )


class TreeCrdSchemas:
    """Custom resource schemas from the CRDs among the given documents."""

    def __init__(self, documents: Iterable[Document], *, strict: bool) -> None:
        self.strict = strict
        self._versions: dict[tuple[str, str], CrdVersion] = {}
        self._cache: dict[tuple[str, str], SchemaEntry | SchemaFetchError | None] = {}
        for doc in documents:
            for version in crd_versions(doc):
                api_version = f"{version.gvk.group}/{version.gvk.version}"
                self._versions.setdefault((api_version, version.gvk.kind), version)

    def __len__(self) -> int:
        return len(self._versions)

    def lookup(self, api_version: str, kind: str) -> SchemaEntry | None:
        key = (api_version, kind)
        if key in self._cache:
            cached = self._cache[key]
            if isinstance(cached, SchemaFetchError):
                raise cached
            return cached
        version = self._versions.get(key)
        entry = None
        if version is not None:
            schema = version.schema or {"type": "object"}
            try:
                converted = to_json_schema(schema, strict=self.strict)
                validator = compile_schema(converted, draft4=True)
            except Exception as exc:  # a broken CRD is a finding on its resources, not a crash
                error = SchemaFetchError(
                    f"the schema of CRD {version.origin} is not valid: {type(exc).__name__}: {exc}"
                )
                self._cache[key] = error
                raise error from exc
            entry = SchemaEntry(validator, f"CRD {version.origin}")
        self._cache[key] = entry
        return entry
