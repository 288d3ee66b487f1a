"""What a CEL library written in Python declares, and the value helpers they share.

cel-expr-python calls a Python function with plain Python values (dict, list, str, int,
float, bool, None, bytearray, timedelta, datetime) and converts its return value back. It
cannot pass or return opaque objects, so the Kubernetes value types (Quantity, URL, IP,
CIDR, Semver, Format, Image) are *tagged maps*: ``{"@celType": "kubernetes.Quantity",
...}`` with a canonical content, so CEL's structural map equality is the value equality
Kubernetes defines (``quantity('1') == quantity('1000m')``). Their methods are member
overloads on ``map(string, dyn)`` receivers that dispatch on the tag.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TAG = "@celType"

# Marks a function that needs a cluster or the network; the runtime turns an error with
# this marker into CelUnavailableError so the policy layer can skip with a reason.
UNAVAILABLE_MARKER = "[unavailable offline]"


class LibraryError(Exception):
    """Raised by a library function; the message becomes the CEL evaluation error."""


@dataclass(frozen=True, slots=True)
class Function:
    """One overload of a global function, or a member function on a non-tagged receiver.

    ``params`` and ``result`` are type names: ``string int uint double bool bytes dyn
    null duration timestamp``, ``map`` (map(string, dyn), the tagged values),
    ``list`` (list(dyn)) or ``list(T)``. For a member overload the first param is the
    receiver.
    """

    name: str
    overload_id: str
    params: tuple[str, ...]
    result: str
    impl: Callable[..., Any]
    member: bool = False


@dataclass(frozen=True, slots=True)
class Method:
    """A member function of one tagged value type: ``receiver.name(params...)``."""

    name: str
    tag: str
    params: tuple[str, ...]
    result: str
    impl: Callable[..., Any]


def tagged(type_name: str, /, **fields: Any) -> dict[str, Any]:
    return {TAG: type_name, **fields}


def tag_of(value: Any) -> str | None:
    if isinstance(value, Mapping):
        tag = value.get(TAG)
        return tag if isinstance(tag, str) else None
    return None


def expect(value: Any, tag: str, what: str) -> Mapping[str, Any]:
    """The tagged map ``value`` when it carries ``tag``; otherwise a 'no such overload'."""
    if tag_of(value) != tag:
        raise LibraryError(f"no such overload: expected {what}, got {describe(value)}")
    assert isinstance(value, Mapping)
    return value


def describe(value: Any) -> str:
    """The CEL type name of a Python value, for error messages."""
    tag = tag_of(value)
    if tag is not None:
        return tag
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray):
        return "bytes"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, datetime.timedelta):
        return "google.protobuf.Duration"
    if isinstance(value, datetime.datetime):
        return "google.protobuf.Timestamp"
    return type(value).__name__


# Ordering of tagged values (Quantity, Semver) registered by their libraries, so the list
# library can sort and compare them the way Kubernetes' traits.Comparer does.
_COMPARATORS: dict[str, Callable[[Any, Any], int]] = {}


def register_comparator(tag: str, compare: Callable[[Any, Any], int]) -> None:
    _COMPARATORS[tag] = compare


def cel_equal(left: Any, right: Any) -> bool:
    """CEL equality of plain values: numbers compare across types, bool is not a number."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if isinstance(left, bytes | bytearray) and isinstance(right, bytes | bytearray):
        return bytes(left) == bytes(right)
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(cel_equal(left[k], right[k]) for k in left)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(
            cel_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return type(left) is type(right) and bool(left == right)


def cel_compare(left: Any, right: Any) -> int:
    """-1, 0 or 1 for two comparable CEL values; LibraryError when they do not compare."""
    if _is_number(left) and _is_number(right):
        return int((left > right) - (left < right))
    for kind in (bool, str, datetime.timedelta, datetime.datetime):
        if isinstance(left, kind) and isinstance(right, kind):
            return (left > right) - (left < right)  # type: ignore[operator]
    if isinstance(left, bytes | bytearray) and isinstance(right, bytes | bytearray):
        return (bytes(left) > bytes(right)) - (bytes(left) < bytes(right))
    tag = tag_of(left)
    if tag is not None and tag == tag_of(right) and tag in _COMPARATORS:
        return int(_COMPARATORS[tag](left, right))
    raise LibraryError(f"no such overload: cannot compare {describe(left)} and {describe(right)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
