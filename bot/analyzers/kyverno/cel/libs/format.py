"""Kubernetes' format library (k8s.io/apiserver/pkg/cel/library/format.go).

``format.dns1123Label()`` and friends return a tagged map naming the format.
``format.named(name)`` and ``<Format>.validate(s)`` return optionals in Kubernetes, which
a Python function cannot return: ``rewrite.rewrite_library_calls`` turns them into the
internal functions below wrapped in ``optional.ofNonZeroValue``, which maps ``null`` and
``[]`` to ``optional.none()`` as Kubernetes does. Messages are apimachinery's.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Callable
from typing import Any

from bot.analyzers.kyverno.cel.libs.base import Function, Method, expect, tagged
from bot.analyzers.kyverno.cel.libs.urls import parse as parse_url
from bot.analyzers.kyverno.cel.rewrite import FORMAT_NAMED_FUNCTION, FORMAT_VALIDATE_FUNCTION

TAG = "kubernetes.NamedFormat"

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_RE = re.compile(_LABEL)
_SUBDOMAIN = _LABEL + "(\\." + _LABEL + ")*"
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN)
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_RE = re.compile(_DNS1035)
_QNAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_RE = re.compile(_QNAME)
_LABEL_VALUE = "(" + _QNAME + ")?"
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE)
_UUID_RE = re.compile(
    r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}"
)
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?"
)


def _max_length(limit: int) -> str:
    return f"must be no more than {limit} characters"


def _regex_error(message: str, pattern: str, *examples: str) -> str:
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    quoted = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {quoted}regex used for validation is '{pattern}')"


def dns1123_label(value: str) -> list[str]:
    errors = [_max_length(63)] if len(value) > 63 else []
    if not _LABEL_RE.fullmatch(value):
        if _SUBDOMAIN_RE.fullmatch(value):
            errors.append("must not contain dots")
        else:
            errors.append(
                _regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an alphanumeric character",
                    _LABEL,
                    "my-name",
                    "123-abc",
                )
            )
    return errors


def dns1123_subdomain(value: str) -> list[str]:
    errors = [_max_length(253)] if len(value) > 253 else []
    if not _SUBDOMAIN_RE.fullmatch(value):
        errors.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
                _SUBDOMAIN,
                "example.com",
            )
        )
    return errors


def dns1035_label(value: str) -> list[str]:
    errors = [_max_length(63)] if len(value) > 63 else []
    if not _DNS1035_RE.fullmatch(value):
        errors.append(
            _regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character",
                _DNS1035,
                "my-name",
                "abc-123",
            )
        )
    return errors


_QNAME_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character"
)


def qualified_name(value: str) -> list[str]:
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors += ["prefix part " + m for m in dns1123_subdomain(prefix)]
    else:
        return [
            "a qualified name "
            + _regex_error(_QNAME_MESSAGE, _QNAME, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + _max_length(63))
    if not _QNAME_RE.fullmatch(name):
        errors.append(
            "name part " + _regex_error(_QNAME_MESSAGE, _QNAME, "MyName", "my.name", "123-abc")
        )
    return errors


def label_value(value: str) -> list[str]:
    errors = [_max_length(63)] if len(value) > 63 else []
    if not _LABEL_VALUE_RE.fullmatch(value):
        errors.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, "
                "'-', '_' or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errors


def _mask_trailing_dash(value: str) -> str:
    # apimachinery's maskTrailingDash, quirk included: it drops two characters.
    if len(value) > 1 and value.endswith("-"):
        return value[:-2] + "a"
    return value


def _prefix(check: Callable[[str], list[str]]) -> Callable[[str], list[str]]:
    return lambda value: check(_mask_trailing_dash(value))


def uri(value: str) -> list[str]:
    if not value.startswith("/") and not re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", value):
        return [f'parse "{value}": invalid URI for request']
    try:
        parse_url(value)
    except Exception as err:  # the URL library's message names the problem
        return [str(err).removeprefix("URL parse error during conversion from string: ")]
    return []


def uuid(value: str) -> list[str]:
    return [] if _UUID_RE.fullmatch(value) else ["does not match the UUID format"]


def byte(value: str) -> list[str]:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return ["invalid base64"]
    return []


def date(value: str) -> list[str]:
    try:
        datetime.datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return ["invalid date"]
    return []


def date_time(value: str) -> list[str]:
    return [] if _DATETIME_RE.fullmatch(value) else ["invalid datetime"]


VALIDATORS: dict[str, Callable[[str], list[str]]] = {
    "dns1123Label": dns1123_label,
    "dns1123Subdomain": dns1123_subdomain,
    "dns1035Label": dns1035_label,
    "qualifiedName": qualified_name,
    "dns1123LabelPrefix": _prefix(dns1123_label),
    "dns1123SubdomainPrefix": _prefix(dns1123_subdomain),
    "dns1035LabelPrefix": _prefix(dns1035_label),
    "labelValue": label_value,
    "uri": uri,
    "uuid": uuid,
    "byte": byte,
    "date": date,
    "datetime": date_time,
}


def named(name: str) -> dict[str, Any] | None:
    return tagged(TAG, name=name) if name in VALIDATORS else None


def validate(fmt: Any, value: str) -> list[str]:
    return VALIDATORS[expect(fmt, TAG, "format")["name"]](value)


def _constant(name: str) -> Callable[[], dict[str, Any]]:
    return lambda: tagged(TAG, name=name)


FUNCTIONS = (
    Function(FORMAT_NAMED_FUNCTION, "format_named_internal", ("string",), "dyn", named),
    *(
        Function(f"format.{name}", f"format_{name}", (), "map", _constant(name))
        for name in VALIDATORS
    ),
)

METHODS = (Method(FORMAT_VALIDATE_FUNCTION, TAG, ("string",), "list(string)", validate),)
