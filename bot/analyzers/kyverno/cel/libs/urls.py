"""Kubernetes' URL library (k8s.io/apiserver/pkg/cel/library/urls.go).

``url(s)`` accepts what Go's ``url.ParseRequestURI`` accepts: an absolute URI with a
scheme, or an absolute path. The parts are read as Go's ``url.Parse`` splits them and kept
in a tagged map.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from bot.analyzers.kyverno.cel.libs.base import Function, LibraryError, Method, expect, tagged

TAG = "kubernetes.URL"

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.*)", re.DOTALL)
_VALID_ENCODED_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/\[\]]|%[0-9A-Fa-f]{2})*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PORT = re.compile(r"\d*")


def parse(text: str) -> dict[str, Any]:
    if not text:
        raise LibraryError("URL parse error during conversion from string: empty url")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise LibraryError(
            f"URL parse error during conversion from string: parse {text!r}: "
            "net/url: invalid control character in URL"
        )
    rest = text.split("#", 1)[0]  # url.Parse drops the fragment
    scheme = ""
    scheme_match = _SCHEME.fullmatch(rest)
    if scheme_match:
        scheme, rest = scheme_match.group(1).lower(), scheme_match.group(2)
    elif not text.startswith("/"):
        raise LibraryError(
            f"URL parse error during conversion from string: parse {text!r}: "
            "invalid URI for request"
        )
    rest, _, query = rest.partition("?")
    host = ""
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        host = authority.rpartition("@")[2]
        _check_host(host, text)
    elif scheme and not rest.startswith("/"):
        rest = ""  # an opaque URI such as mailto:x; Go keeps it out of the path
    if _BAD_ESCAPE.search(rest) or _BAD_ESCAPE.search(query):
        raise LibraryError(
            f"URL parse error during conversion from string: parse {text!r}: invalid URL escape"
        )
    hostname, port = _split_host(host)
    return tagged(
        TAG,
        url=text,
        scheme=scheme,
        host=host,
        hostname=hostname,
        port=port,
        escapedPath=_escaped_path(rest),
        rawQuery=query,
    )


def _check_host(host: str, text: str) -> None:
    _hostname, port = _split_host(host)
    if host.startswith("[") and "]" not in host:
        raise LibraryError(
            f"URL parse error during conversion from string: parse {text!r}: missing ']' in host"
        )
    if not _PORT.fullmatch(port):
        raise LibraryError(
            f"URL parse error during conversion from string: parse {text!r}: "
            f"invalid port {':' + port!r} after host"
        )
    if " " in host:
        raise LibraryError(
            f"URL parse error during conversion from string: parse {text!r}: "
            'invalid character " " in host name'
        )


def _split_host(host: str) -> tuple[str, str]:
    if host.startswith("["):
        close = host.find("]")
        if close < 0:
            return host[1:], ""
        hostname, after = host[1:close], host[close + 1 :]
        return hostname, after[1:] if after.startswith(":") else ""
    hostname, colon, port = host.rpartition(":")
    return (hostname, port) if colon else (host, "")


def _escaped_path(raw: str) -> str:
    """Go's EscapedPath: the path as written when it is validly encoded, else re-encoded."""
    if _VALID_ENCODED_PATH.fullmatch(raw):
        return raw
    return quote(unquote(raw), safe="/$&+,:;=@")


def url(text: str) -> dict[str, Any]:
    return parse(text)


def is_url(text: str) -> bool:
    try:
        parse(text)
    except LibraryError:
        return False
    return True


def _field(name: str) -> Any:
    return lambda u: expect(u, TAG, "URL")[name]


def get_query(u: Any) -> dict[str, list[str]]:
    raw = expect(u, TAG, "URL")["rawQuery"]
    return {key: values for key, values in parse_qs(raw, keep_blank_values=True).items()}


FUNCTIONS = (
    Function("url", "string_to_url", ("string",), "map", url),
    Function("isURL", "is_url_string", ("string",), "bool", is_url),
)

METHODS = (
    Method("getScheme", TAG, (), "string", _field("scheme")),
    Method("getHost", TAG, (), "string", _field("host")),
    Method("getHostname", TAG, (), "string", _field("hostname")),
    Method("getPort", TAG, (), "string", _field("port")),
    Method("getEscapedPath", TAG, (), "string", _field("escapedPath")),
    Method("getQuery", TAG, (), "map(string, list(string))", get_query),
)
