"""Kyverno's functions over references to things outside the resource: container images and URLs.

``image_normalize`` completes an image reference as go-containerregistry does
(``nginx`` -> ``docker.io/library/nginx:latest``); ``is_external_url`` tells whether a URL points
off the cluster. Separate because both read a reference's structure rather than plain text.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlparse

from bot.analyzers.kyverno.jmespath_arguments import FunctionTable, arg


def _fn_image_normalize(name: str, args: list[Any]) -> Any:
    reference = arg(name, args, 0, "string")
    return normalize_image(reference)


def normalize_image(reference: str) -> str:
    """``docker.io/library/nginx:latest`` for ``nginx`` (Kyverno's image_normalize)."""
    name, _, digest = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        registry, path = "docker.io", name
    else:
        registry, path = first, rest
    if registry == "docker.io" and "/" not in path:
        path = "library/" + path
    text = f"{registry}/{path}"
    if tag or not digest:
        text += ":" + (tag or "latest")
    if digest:
        text += "@" + digest
    return text


def _fn_is_external_url(name: str, args: list[Any]) -> Any:
    text = arg(name, args, 0, "string")
    parsed = urlparse(text)
    host = parsed.hostname
    if not parsed.scheme or not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." in host and not host.endswith(".local") and not host.endswith(".svc")
    return not (
        address.is_private or address.is_loopback or address.is_link_local or address.is_unspecified
    )


FUNCTIONS: FunctionTable = {
    "image_normalize": (1, _fn_image_normalize),
    "is_external_url": (1, _fn_is_external_url),
}
