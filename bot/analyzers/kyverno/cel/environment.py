"""The two CEL environments Kyverno evaluates in, built on cel-expr-python.

Both get the CEL extensions Kubernetes and Kyverno enable (optional types, ``cel.bind``,
base64, lists, math, protos, sets, strings, two-variable comprehensions), cross-type
numeric ordering, and the Kubernetes libraries (lists, regex, quantity, URLs, IP, CIDR,
semver, format, image). The ValidatingPolicy environment adds the regex extension and
Kyverno's own libraries. Every declared variable is ``dyn``, as Kyverno declares
``object`` and ``oldObject``.

Cross-type numeric *ordering* (``1 < 2.0``) is cel-go's ``CrossTypeNumericComparisons``.
cel-cpp's runtime has the overloads but its checker lacks the declarations, so the
standard ``<``/``<=``/``>``/``>=`` declarations are replaced by a full set (same-type and
int/uint/double mixes) through the environment config; only the checker sees them.
Equality of a literal int and double (``1 == 1.0``) stays a compile error, as in cel-go;
between values of dynamic type (``object.spec.replicas == 1.0``) it is true at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from itertools import product
from types import ModuleType
from typing import Any

from cel_expr_python import cel  # type: ignore[import-untyped]

from bot.analyzers.kyverno.cel import libs


class Environment(Enum):
    VALIDATE_CEL = "validate.cel"  # ClusterPolicy rules: the ValidatingAdmissionPolicy env
    VALIDATING_POLICY = "ValidatingPolicy"  # policies.kyverno.io ValidatingPolicy


# The variables Kyverno declares; all dyn.
DEFAULT_VARIABLES: tuple[str, ...] = (
    "object",
    "oldObject",
    "request",
    "params",
    "namespaceObject",
    "variables",
    "exceptions",
    "authorizer",
)

_EXTENSIONS: tuple[tuple[str, str | None], ...] = (
    ("optional", "latest"),
    ("bindings", None),
    ("encoders", None),
    ("lists", "latest"),
    ("math", "latest"),
    ("protos", None),
    ("sets", None),
    ("strings", "latest"),
    ("two-var-comprehensions", None),
)
_POLICY_EXTENSIONS: tuple[tuple[str, str | None], ...] = (("regex", None),)

_ORDERING = {"_<_": "less", "_<=_": "less_equals", "_>_": "greater", "_>=_": "greater_equals"}
_ORDERED_TYPES = {
    "bool": "bool",
    "int": "int64",
    "uint": "uint64",
    "double": "double",
    "string": "string",
    "bytes": "bytes",
    "google.protobuf.Timestamp": "timestamp",
    "google.protobuf.Duration": "duration",
}
_NUMERIC = ("int", "uint", "double")


def _ordering_yaml() -> str:
    pairs = [(t, t) for t in _ORDERED_TYPES]
    pairs += [(a, b) for a, b in product(_NUMERIC, _NUMERIC) if a != b]
    lines = ["stdlib:", "  exclude_functions:"]
    lines += [f'    - name: "{op}"' for op in _ORDERING]
    lines.append("functions:")
    for op, stem in _ORDERING.items():
        lines += [f'  - name: "{op}"', "    overloads:"]
        for left, right in pairs:
            suffix = (
                _ORDERED_TYPES[left]
                if left == right
                else (f"{_ORDERED_TYPES[left]}_{_ORDERED_TYPES[right]}")
            )
            lines += [
                f"      - id: {stem}_{suffix}",
                f"        args: [{{type_name: {left}}}, {{type_name: {right}}}]",
                "        return: {type_name: bool}",
            ]
    return "\n".join(lines)


def _config_yaml(environment: Environment) -> str:
    extensions = _EXTENSIONS
    if environment is Environment.VALIDATING_POLICY:
        extensions += _POLICY_EXTENSIONS
    lines = ["extensions:"]
    for name, version in extensions:
        version_part = f", version: {version}" if version else ""
        lines.append(f"  - {{name: {name}{version_part}}}")
    return "\n".join(lines) + "\n" + _ordering_yaml() + "\n"


_EXTENSION_CACHE: dict[Environment, Any] = {}


def _library_extension(environment: Environment) -> Any:
    # Built once per process: the declarations are immutable and cost ~1 ms to build.
    if environment not in _EXTENSION_CACHE:
        modules: tuple[ModuleType, ...] = libs.KUBERNETES
        if environment is Environment.VALIDATING_POLICY:
            modules += libs.KYVERNO
        _EXTENSION_CACHE[environment] = libs.extension(f"kyverno-{environment.name}", modules)
    return _EXTENSION_CACHE[environment]


def new_env(environment: Environment, variables: Mapping[str, str]) -> Any:
    """A cel.Env for ``environment`` declaring ``variables`` (name -> type name)."""
    config = cel.NewEnvConfigFromYaml(_config_yaml(environment))
    return cel.NewEnv(
        config=config,
        extensions=[_library_extension(environment)],
        variables={name: libs.cel_type(type_name) for name, type_name in variables.items()},
    )
