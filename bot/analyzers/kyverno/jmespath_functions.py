"""The function table of Kyverno's JMESPath: standard JMESPath functions plus Kyverno's.

Each family of Kyverno functions (``jmespath_strings``, ``jmespath_regex``,
``jmespath_objects``, ``jmespath_references``, ``jmespath_semver``, ``jmespath_arithmetic``,
``jmespath_time``, ``jmespath_x509``) registers its own table; this module joins them and puts
them in front of the standard functions, with Kyverno's arity message and Kyverno's
``to_string`` (Go's JSON text). Separate from the interpreter, which only plugs
``KyvernoFunctions`` in.
"""

from __future__ import annotations

from typing import Any

from jmespath import functions as jp_functions  # type: ignore[import-untyped,unused-ignore]

from bot.analyzers.kyverno import (
    jmespath_arithmetic,
    jmespath_objects,
    jmespath_references,
    jmespath_regex,
    jmespath_semver,
    jmespath_strings,
    jmespath_time,
    jmespath_x509,
)
from bot.analyzers.kyverno.errors import JMESPathError
from bot.analyzers.kyverno.jmespath_arguments import FunctionTable
from bot.analyzers.kyverno.jmespath_json import to_json


def _join(*tables: FunctionTable) -> FunctionTable:
    joined: FunctionTable = {}
    for table in tables:
        # a name in two families would silently lose one implementation
        twice = joined.keys() & table.keys()
        if twice:
            raise RuntimeError(f"JMESPath functions registered twice: {sorted(twice)}")
        joined.update(table)
    return joined


_CUSTOM = _join(
    jmespath_strings.FUNCTIONS,
    jmespath_regex.FUNCTIONS,
    jmespath_objects.FUNCTIONS,
    jmespath_references.FUNCTIONS,
    jmespath_semver.FUNCTIONS,
    jmespath_arithmetic.FUNCTIONS,
    jmespath_time.FUNCTIONS,
    jmespath_x509.FUNCTIONS,
)

CUSTOM_FUNCTIONS: frozenset[str] = frozenset(_CUSTOM)
"""Names of the Kyverno functions registered on top of standard JMESPath."""


class KyvernoFunctions(jp_functions.Functions):  # type: ignore[misc,unused-ignore]
    """Standard JMESPath functions plus Kyverno's (argument checks in Kyverno's words)."""

    def call_function(self, function_name: str, resolved_args: list[Any]) -> Any:
        spec = _CUSTOM.get(function_name)
        if spec is None:
            if function_name == "to_string":
                return _to_string(resolved_args)
            return super().call_function(function_name, resolved_args)
        arity, handler = spec
        if arity is not None and len(resolved_args) != arity:
            raise JMESPathError(
                f"invalid arity for {function_name}(): expected {arity} argument"
                f"{'' if arity == 1 else 's'}, got {len(resolved_args)}"
            )
        return handler(function_name, resolved_args)


def _to_string(args: list[Any]) -> str:
    if len(args) != 1:
        raise JMESPathError(f"invalid arity for to_string(): expected 1 argument, got {len(args)}")
    value = args[0]
    return value if isinstance(value, str) else to_json(value)
