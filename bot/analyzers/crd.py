"""Schemas for custom resources, from CustomResourceDefinition manifests in the checked tree.

The conversion follows kubeconform's ``openapi2jsonschema.py``: ``int-or-string`` becomes
``oneOf [string, integer]``, ``nullable`` admits null, and in strict mode every object that
declares ``properties`` (and does not preserve unknown fields) rejects other keys, which is
what the API server's pruning would silently drop.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.core.document import Document
from bot.engines.schema_store import GroupVersionKind, SchemaEntry
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
    legacy = spec.get("validation", {}).get("openAPIV3Schema") if isinstance(
        spec.get("validation"), dict
    ) else None
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
    _convert(schema, strict=strict, root=True)
    return schema


def _convert(node: Any, *, strict: bool, root: bool = False) -> None:
    if isinstance(node, list):
        for item in node:
            _convert(item, strict=strict)
        return
    if not isinstance(node, dict):
        return
    if node.get("x-kubernetes-int-or-string") or node.get("format") == "int-or-string":
        node.pop("type", None)
        node.pop("format", None)
        node["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        node["type"] = [node["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if (
        strict
        and not root
        and isinstance(node.get("properties"), dict)
        and not preserve
        and "additionalProperties" not in node
    ):
        node["additionalProperties"] = False
    if root and isinstance(node.get("properties"), dict):
        # CRDs rarely spell these out, yet every object has them.
        props = node["properties"]
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
        if strict and not preserve and "additionalProperties" not in node:
            node["additionalProperties"] = False
    for key, value in node.items():
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            for sub in value.values():
                _convert(sub, strict=strict)
        elif key in ("items", "additionalProperties", "not"):
            _convert(value, strict=strict)
        elif key in ("allOf", "anyOf", "oneOf"):
            _convert(value, strict=strict)


class TreeCrdSchemas:
    """Custom resource schemas from the CRDs among the given documents."""

    def __init__(self, documents: Iterable[Document], *, strict: bool) -> None:
        self.strict = strict
        self._versions: dict[tuple[str, str], CrdVersion] = {}
        self._cache: dict[tuple[str, str], SchemaEntry | None] = {}
        for doc in documents:
            for version in crd_versions(doc):
                api_version = f"{version.gvk.group}/{version.gvk.version}"
                self._versions.setdefault((api_version, version.gvk.kind), version)

    def __len__(self) -> int:
        return len(self._versions)

    def lookup(self, api_version: str, kind: str) -> SchemaEntry | None:
        key = (api_version, kind)
        if key in self._cache:
            return self._cache[key]
        version = self._versions.get(key)
        entry = None
        if version is not None:
            schema = version.schema or {"type": "object"}
            converted = to_json_schema(schema, strict=self.strict)
            entry = SchemaEntry(compile_schema(converted, draft4=True), f"CRD {version.origin}")
        self._cache[key] = entry
        return entry
