"""Image references as Kubernetes reads them: the distribution reference grammar with Docker's
normalisation (github.com/distribution/reference ``regexp.go``, ``normalize.go``; the kubelet
and containerd parse ``image:`` with ``ParseNormalizedNamed``).

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] path           (at most 255 characters with its domain)
    domain           := host [":" port]             host: DNS-like name, IPv4 or [IPv6]
    path             := component ["/" component]*
    component        := [a-z0-9]+ (separator [a-z0-9]+)*     separator: "." "_" "__" "-"+
    tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest           := algorithm ":" hex           sha256 (64), sha384 (96), sha512 (128)

Normalisation: the first path element is the registry when it is ``localhost`` or holds a
``.`` or ``:`` (or an uppercase letter); otherwise the registry is ``docker.io``, and a
single-element name on Docker Hub gets ``library/`` (``nginx`` -> ``docker.io/library/nginx``);
``index.docker.io`` is ``docker.io``. No tag and no digest means ``:latest`` to a container
runtime, but the reference keeps ``tag=None`` so the check can say which one was written.

The pieces are checked one at a time (not by one large regular expression) so that the error
names the piece that is wrong, and so that no input can make matching slow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "DOCKER_HUB",
    "DOCKER_HUB_API_HOST",
    "ImageReference",
    "ReferenceError",
    "parse_reference",
]

DOCKER_HUB = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"  # where docker.io's registry API is served
_LEGACY_DOCKER_HUB = "index.docker.io"
_OFFICIAL_PREFIX = "library/"
NAME_MAX = 255  # registry, "/" and path together (OCI distribution: "many clients" limit)
TAG_MAX = 128
# Far above anything valid (name 255 + tag 128 + a sha512 digest); a bound so that error
# messages and matching stay small whatever a manifest holds.
_TEXT_MAX = 1024

# Go's regexp classes are ASCII; Python's \w and \d are not, so every class is spelled out.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = re.compile(rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_IDENTIFIER = re.compile(r"[a-f0-9]{64}")
# The algorithms container runtimes register (go-digest with crypto/sha256 and sha512).
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX = re.compile(r"[a-f0-9]+")
_WHITESPACE = re.compile(r"\s")


class ReferenceError(Exception):
    """An image reference that Kubernetes cannot pull; ``reason`` says which part is wrong.

    (Shadows the builtin ``ReferenceError`` of weak references inside this package only: import
    it by name, never with ``*``.)"""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"invalid image reference {show(text)}: {reason}")
        self.text = text
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ImageReference:
    original: str  # as written
    registry: str  # "docker.io", "ghcr.io", "localhost:5000", "[::1]:5000"
    repository: str  # the path: "library/nginx", "acme/api"
    tag: str | None  # None when none was written (a runtime pulls ":latest")
    digest: str | None  # "sha256:<64 lowercase hex>"

    @property
    def name(self) -> str:
        """The normalised repository name: ``docker.io/library/nginx``."""
        return f"{self.registry}/{self.repository}"

    @property
    def canonical(self) -> str:
        """The normalised reference: ``docker.io/library/nginx:1.27@sha256:...``."""
        return self.name + self._suffix

    @property
    def familiar_name(self) -> str:
        """The short name Docker shows: ``nginx``, ``acme/api``, ``ghcr.io/acme/api``."""
        if self.registry != DOCKER_HUB:
            return self.name
        rest = self.repository.removeprefix(_OFFICIAL_PREFIX)
        return rest if "/" not in rest else self.repository

    @property
    def familiar(self) -> str:
        """The short reference: ``nginx:1.27``."""
        return self.familiar_name + self._suffix

    @property
    def match_name(self) -> str:
        """The name registry and signature globs are matched against: host names are
        case-insensitive, so ``GHCR.IO/acme/api`` must not slip past ``ghcr.io/**``."""
        return f"{self.registry.lower()}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host serving the registry API (Docker Hub's is not docker.io)."""
        return DOCKER_HUB_API_HOST if self.registry == DOCKER_HUB else self.registry

    @property
    def pinned(self) -> bool:
        return self.digest is not None

    @property
    def _suffix(self) -> str:
        return (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def parse_reference(text: str) -> ImageReference:
    """Parse and normalise ``text``; raises ``ReferenceError`` saying what is wrong."""
    result = _parse_cached(text)
    if isinstance(result, ReferenceError):
        raise ReferenceError(result.text, result.reason)
    return result


@lru_cache(maxsize=8192)
def _parse_cached(text: str) -> ImageReference | ReferenceError:
    # The same images recur across every overlay and environment of a repository.
    try:
        return _parse(text)
    except ReferenceError as exc:
        return exc


def _parse(text: str) -> ImageReference:
    _check_text(text)
    rest, at, digest = text.partition("@")
    if at:
        _check_digest(text, digest)
    slash, colon = rest.rfind("/"), rest.rfind(":")
    name, tag = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, None)
    if tag is not None:
        _check_tag(text, tag)
    registry, path = _split_registry(name)
    _check_name(text, registry, path)
    return ImageReference(text, registry, path, tag, digest if at else None)


def _check_text(text: str) -> None:
    if not text:
        raise ReferenceError(text, "it is empty")
    if len(text) > _TEXT_MAX:
        raise ReferenceError(
            text, f"it is {len(text):,} characters long; a valid one is far shorter"
        )
    if _WHITESPACE.search(text):
        raise ReferenceError(text, "it contains whitespace")
    if "://" in text:
        scheme = text[: text.index("://") + 3]
        raise ReferenceError(text, f'an image reference has no URL scheme; remove "{scheme}"')
    if _IDENTIFIER.fullmatch(text):
        raise ReferenceError(
            text,
            "a 64-character hexadecimal string is an image ID, not a repository name; "
            "write the repository and its digest (name@sha256:<hex>)",
        )
    if text.startswith(("@", ":")):
        raise ReferenceError(text, "the repository name is missing")
    if text.startswith("[") and "/" not in text:
        raise ReferenceError(text, "a registry address needs a repository path after it")


def _check_digest(text: str, digest: str) -> None:
    if not digest:
        raise ReferenceError(text, 'the digest after "@" is empty')
    if not _DIGEST.fullmatch(digest):
        raise ReferenceError(
            text,
            f"digest {show(digest)} is not valid: expected <algorithm>:<hex>, "
            'such as "sha256:" and 64 hexadecimal digits',
        )
    algorithm, _, hex_part = digest.partition(":")
    length = _DIGEST_HEX_LENGTH.get(algorithm)
    if length is None:
        raise ReferenceError(
            text,
            f'digest algorithm "{algorithm}" is not supported (sha256, sha384 or sha512)',
        )
    if len(hex_part) != length:
        raise ReferenceError(
            text,
            f"a {algorithm} digest has {length} hexadecimal digits, this one has {len(hex_part)}",
        )
    if not _LOWER_HEX.fullmatch(hex_part):
        raise ReferenceError(text, "the digest's hexadecimal digits must be lowercase")


def _check_tag(text: str, tag: str) -> None:
    if not tag:
        raise ReferenceError(text, 'the tag after ":" is empty')
    if len(tag) > TAG_MAX:
        raise ReferenceError(text, f"the tag is {len(tag)} characters long; the limit is {TAG_MAX}")
    if not _TAG.fullmatch(tag):
        raise ReferenceError(
            text,
            f"tag {show(tag)} is not valid: a tag is letters, digits, "
            '"_", "." and "-", and cannot start with "." or "-"',
        )


def _split_registry(name: str) -> tuple[str, str]:
    """``splitDockerDomain``: which part of the name is the registry."""
    first, slash, rest = name.partition("/")
    if not slash:
        return DOCKER_HUB, _OFFICIAL_PREFIX + name
    if first == _LEGACY_DOCKER_HUB:
        registry, path = DOCKER_HUB, rest
    elif first == "localhost" or any(ch in first for ch in ".:") or first.lower() != first:
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, name
    if registry == DOCKER_HUB and "/" not in path:
        path = _OFFICIAL_PREFIX + path
    return registry, path


def _check_name(text: str, registry: str, path: str) -> None:
    if path.lower() != path:
        raise ReferenceError(text, f'repository name must be lowercase ("{path}")')
    components = path.split("/")
    for component in components:
        if not component:
            raise ReferenceError(text, f'repository path "{path}" has an empty component')
        if not _PATH_COMPONENT.fullmatch(component):
            raise ReferenceError(
                text,
                f'path component "{component}" is not valid: it must be lowercase letters '
                'and digits, separated by ".", "_", "__" or "-" (not at either end)',
            )
    # upstream accepts a registry that is not a host name when the whole name reads as a
    # repository path (``foo_bar.com/x``); the runtime still pulls from that first element.
    if not _DOMAIN.fullmatch(registry) and not _PATH_COMPONENT.fullmatch(registry):
        raise ReferenceError(text, _registry_problem(registry))
    total = len(registry) + 1 + len(path)
    if total > NAME_MAX:
        raise ReferenceError(
            text,
            f"the repository name {show(registry + '/' + path)} is {total} characters long; "
            f"the limit is {NAME_MAX}",
        )


def _registry_problem(registry: str) -> str:
    if "%" in registry:
        return f'registry "{registry}": IPv6 zone identifiers are not allowed'
    if registry.count(":") > 1 and not registry.startswith("["):
        return (
            f'registry "{registry}": an IPv6 address must be in brackets, such as "[fc00::1]:5000"'
        )
    return (
        f'registry "{registry}" is not a valid host name, IPv4 address or [IPv6] address '
        "with an optional :port"
    )


def show(text: str, limit: int = 200) -> str:
    """``text`` quoted for a message, shortened when long."""
    return '"' + (text if len(text) <= limit else text[: limit - 3] + "...") + '"'
