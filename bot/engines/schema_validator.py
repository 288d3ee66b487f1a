"""Compiled JSON-schema validators behind one small interface.

jsonschema-rs is the fast path (about 50x the pure-Python validator on Kubernetes schemas);
``jsonschema`` with ``referencing`` is the fallback when the Rust wheel is unavailable. Both
report errors as :class:`SchemaError` so the schema analyzer never sees which one ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

try:
    import jsonschema_rs as _rs
except ImportError:  # pragma: no cover - exercised only where the wheel is missing
    _rs = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class SchemaError:
    path: tuple[str | int, ...]  # instance path of the failing node
    kind: str  # "type", "additionalProperties", "required", "enum", ...
    message: str
    unexpected: tuple[str, ...] = ()  # for additionalProperties: the unknown keys
    expected_types: tuple[str, ...] = ()  # for type errors
    schema_path: tuple[str | int, ...] = ()


class Validator(Protocol):
    def errors(self, instance: Any) -> Iterator[SchemaError]: ...


Resources = Sequence[tuple[str, dict[str, Any]]]


def compile_schema(
    schema: dict[str, Any], resources: Resources = (), *, draft4: bool = False
) -> Validator:
    """A validator for ``schema`` whose ``$ref``s may point into ``resources`` (uri, schema)."""
    if backend_name() == "jsonschema-rs":
        return _RustValidator(schema, resources, draft4)
    return _PyValidator(schema, resources, draft4)


def backend_name() -> str:
    """jsonschema-rs unless it is missing or GITOPS_GATE_SCHEMA_BACKEND=jsonschema asks for
    the pure-Python fallback (which the tests use to keep the fallback honest)."""
    wanted = os.environ.get("GITOPS_GATE_SCHEMA_BACKEND", "jsonschema-rs")
    return "jsonschema-rs" if _rs is not None and wanted != "jsonschema" else "jsonschema"


class _RustValidator:
    def __init__(self, schema: dict[str, Any], resources: Resources, draft4: bool) -> None:
        assert _rs is not None
        registry = _rs.Registry(list(resources)) if resources else None
        kwargs: dict[str, Any] = {"validate_formats": draft4}
        if registry is not None:
            kwargs["registry"] = registry
        cls = _rs.Draft4Validator if draft4 else _rs.validator_cls_for(schema)
        self._validator = cls(schema, **kwargs)

    def errors(self, instance: Any) -> Iterator[SchemaError]:
        for error in self._validator.iter_errors(instance):
            kind = error.kind
            name = str(getattr(kind, "name", "") or type(kind).__name__)
            yield SchemaError(
                path=tuple(error.instance_path),
                kind=_normalise_kind(type(kind).__name__, name),
                message=str(error.message),
                unexpected=tuple(getattr(kind, "unexpected", ()) or ()),
                expected_types=tuple(getattr(kind, "types", ()) or ()),
                schema_path=tuple(error.schema_path),
            )


def _normalise_kind(class_name: str, name: str) -> str:
    mapping = {
        "AdditionalProperties": "additionalProperties",
        "Type": "type",
        "Required": "required",
        "Enum": "enum",
        "Constant": "const",
        "OneOfMultipleValid": "oneOfMultiple",
        "OneOfNotValid": "oneOf",
        "AnyOf": "anyOf",
        "Pattern": "pattern",
        "Format": "format",
    }
    return mapping.get(class_name, name or class_name)


class _PyValidator:
    def __init__(self, schema: dict[str, Any], resources: Resources, draft4: bool) -> None:
        import jsonschema
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4, DRAFT202012

        spec = DRAFT4 if draft4 else DRAFT202012
        registry: Registry[Any] = Registry().with_resources(
            (uri, Resource.from_contents(body, default_specification=spec))
            for uri, body in resources
        )
        cls = jsonschema.Draft4Validator if draft4 else jsonschema.validators.validator_for(schema)
        checker = cls.FORMAT_CHECKER if draft4 else None
        self._validator = cls(schema, registry=registry, format_checker=checker)

    def errors(self, instance: Any) -> Iterator[SchemaError]:
        for error in self._validator.iter_errors(instance):
            unexpected: tuple[str, ...] = ()
            schema = error.schema
            if (
                error.validator == "additionalProperties"
                and isinstance(error.instance, dict)
                and isinstance(schema, Mapping)
            ):
                allowed = set(schema.get("properties", {}))
                unexpected = tuple(k for k in error.instance if k not in allowed)
            expected = error.validator_value if error.validator == "type" else ()
            yield SchemaError(
                path=tuple(error.absolute_path),
                kind={"oneOf": "oneOf"}.get(str(error.validator), str(error.validator)),
                message=error.message,
                unexpected=unexpected,
                expected_types=tuple(expected)
                if isinstance(expected, list)
                else (str(expected),)
                if expected
                else (),
                schema_path=tuple(error.absolute_schema_path),
            )
