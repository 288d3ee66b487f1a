"""The CEL libraries implemented in Python, and how they become a cel-expr-python extension.

Each module lists ``FUNCTIONS`` (global functions and member functions on plain values)
and ``METHODS`` (member functions of one tagged value type). Methods of different types
with the same name and parameters (``compareTo`` of Quantity and Semver) share one
overload whose implementation dispatches on the receiver's tag.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import Any

from cel_expr_python import cel  # type: ignore[import-untyped]

from bot.analyzers.kyverno.cel.libs import (
    authz,
    format,
    image,
    ip,
    kyverno,
    lists,
    quantity,
    regex,
    semver,
    urls,
)
from bot.analyzers.kyverno.cel.libs.base import Function, LibraryError, Method, describe, tag_of

# The Kubernetes libraries, in both environments.
KUBERNETES = (lists, regex, quantity, urls, ip, semver, format, image, authz)
# Kyverno's libraries, in the ValidatingPolicy environment only.
KYVERNO = (kyverno,)

_SIMPLE_TYPES = {
    "string": "STRING",
    "int": "INT",
    "uint": "UINT",
    "double": "DOUBLE",
    "bool": "BOOL",
    "bytes": "BYTES",
    "dyn": "DYN",
    "null": "NULL",
    "duration": "DURATION",
    "timestamp": "TIMESTAMP",
}


def cel_type(name: str) -> Any:
    """The cel.Type of a type name such as ``int``, ``map``, ``list(string)``."""
    name = name.strip()
    if name in _SIMPLE_TYPES:
        return getattr(cel.Type, _SIMPLE_TYPES[name])
    if name == "map":
        return cel.Type.Map(cel.Type.STRING, cel.Type.DYN)
    if name == "list":
        return cel.Type.List(cel.Type.DYN)
    inner = re.fullmatch(r"(list|map)\((.*)\)", name)
    if inner is None:
        raise ValueError(f"unknown CEL type name {name!r}")
    if inner.group(1) == "list":
        return cel.Type.List(cel_type(inner.group(2)))
    key, value = _split_pair(inner.group(2))
    return cel.Type.Map(cel_type(key), cel_type(value))


def _split_pair(text: str) -> tuple[str, str]:
    depth = 0
    for i, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        if c == "," and depth == 0:
            return text[:i], text[i + 1 :]
    raise ValueError(f"a map type needs key and value types: {text!r}")


def extension(name: str, modules: Sequence[ModuleType]) -> Any:
    """A cel.CelExtension with every function and method of ``modules``."""
    functions: list[Function] = []
    methods: list[Method] = []
    for module in modules:
        functions.extend(getattr(module, "FUNCTIONS", ()))
        methods.extend(getattr(module, "METHODS", ()))
    functions.extend(_dispatchers(methods))
    by_name: dict[str, list[Any]] = defaultdict(list)
    for function in functions:
        by_name[function.name].append(
            cel.Overload(
                function.overload_id,
                cel_type(function.result),
                [cel_type(p) for p in function.params],
                is_member=function.member,
                impl=_guarded(function.name, function.impl),
            )
        )
    declarations = [cel.FunctionDecl(fn, overloads) for fn, overloads in by_name.items()]
    return cel.CelExtension(name, declarations)


def _dispatchers(methods: Iterable[Method]) -> list[Function]:
    groups: dict[tuple[str, tuple[str, ...]], list[Method]] = defaultdict(list)
    for method in methods:
        groups[(method.name, method.params)].append(method)
    dispatchers = []
    for (name, params), group in groups.items():
        results = {m.result for m in group}
        result = results.pop() if len(results) == 1 else "dyn"
        overload_id = re.sub(r"\W+", "_", f"tagged_{name}_{'_'.join(params) or 'none'}")
        dispatchers.append(
            Function(name, overload_id, ("map", *params), result, _dispatch(name, group), True)
        )
    return dispatchers


def _dispatch(name: str, group: Sequence[Method]) -> Callable[..., Any]:
    table = {method.tag: method.impl for method in group}

    def dispatch(receiver: Any, *args: Any) -> Any:
        impl = table.get(tag_of(receiver) or "")
        if impl is None:
            raise LibraryError(f"no such overload: {describe(receiver)}.{name}()")
        return impl(receiver, *args)

    return dispatch


def _guarded(name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
    """Library bugs or odd inputs become CEL errors that name the function."""

    def call(*args: Any) -> Any:
        try:
            return impl(*args)
        except LibraryError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as err:
            raise LibraryError(f"{name}: {err}") from None

    return call
