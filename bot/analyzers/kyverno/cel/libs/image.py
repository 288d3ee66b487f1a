"""Image references: Kyverno's ``image()``/``parseImageReference()`` (also Kubernetes'
``image()``), parsed as go-containerregistry's ``name.ParseReference`` does by default.

Docker Hub is ``index.docker.io`` and its one-segment repositories get ``library/``;
``localhost/app`` is a Docker Hub repository (the first segment names a registry only when
it has a ``.`` or ``:``); a reference with a digest is a digest reference, so ``tag()`` is
empty and ``identifier()`` is the digest, even when a tag is written too.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from bot.analyzers.kyverno.cel.libs.base import Function, LibraryError, Method, expect, tagged

TAG = "kyverno.Image"

DEFAULT_REGISTRY = "index.docker.io"
_TAG_CHARS = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_REPOSITORY_CHARS = re.compile(r"[a-z0-9_.\-/]{2,255}")
_REGISTRY = re.compile(r"[A-Za-z0-9.\-]+(:\d*)?|\[[0-9A-Fa-f:.]+\](:\d*)?")
_SHA256 = re.compile(r"sha256:[a-f0-9]{64}")


def _bad(message: str) -> LibraryError:
    return LibraryError(f"could not parse reference: {message}")


def _repository(name: str, original: str) -> tuple[str, str]:
    """(registry, repository path) as name.NewRepository splits and checks them."""
    if not name:
        raise _bad(f"{original} (a repository name must be specified)")
    registry, repository = "", name
    first, slash, remainder = name.partition("/")
    if slash and ("." in first or ":" in first):
        registry, repository = first, remainder
    if not _REPOSITORY_CHARS.fullmatch(repository) or "" in repository.split("/"):
        raise _bad(original)
    if registry and not _REGISTRY.fullmatch(registry):
        raise _bad(original)
    registry = registry or DEFAULT_REGISTRY
    if registry == "docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = "library/" + repository
    return registry, repository


def _as_tag(text: str) -> tuple[str, str, str] | None:
    """(registry, repository, tag) when name.NewTag accepts ``text``."""
    base, tag = text, ""
    head, colon, last = text.rpartition(":")
    if colon and "/" not in last:
        base, tag = head, last
        if not tag:
            return None
    if tag and not _TAG_CHARS.fullmatch(tag):
        return None
    try:
        registry, repository = _repository(base, text)
    except LibraryError:
        return None
    return registry, repository, tag or "latest"


def parse(text: str) -> dict[str, Any]:
    # A copy: cel-expr-python converts the result, but callers must not share our cache.
    return dict(_parse(text))


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> dict[str, Any]:
    as_tag = _as_tag(text)
    if as_tag is not None:
        registry, repository, tag = as_tag
        return _make(text, f"{registry}/{repository}:{tag}", registry, repository, tag, "")
    parts = text.split("@")
    if len(parts) != 2:
        raise _bad(text)
    base, digest = parts
    if not _SHA256.fullmatch(digest):
        raise _bad(f"{text} (unsupported or malformed digest {digest!r})")
    tagged_base = _as_tag(base)
    if tagged_base is not None:
        registry, repository, _tag = tagged_base
    else:
        registry, repository = _repository(base, text)
    return _make(text, text, registry, repository, "", digest)


def _make(
    original: str, name: str, registry: str, repository: str, tag: str, digest: str
) -> dict[str, Any]:
    return tagged(
        TAG,
        image=name,
        registry=registry,
        repository=repository,
        identifier=tag or digest,
        tag=tag,
        digest=digest,
    )


def is_image(text: str) -> bool:
    try:
        parse(text)
    except LibraryError:
        return False
    return True


def _field(name: str) -> Any:
    return lambda image: expect(image, TAG, "image")[name]


FUNCTIONS = (
    Function("image", "string_to_image", ("string",), "map", parse),
    Function("parseImageReference", "parse_image_reference", ("string",), "map", parse),
    Function("isImage", "is_image_string", ("string",), "bool", is_image),
)

METHODS = (
    Method("registry", TAG, (), "string", _field("registry")),
    Method("repository", TAG, (), "string", _field("repository")),
    Method("identifier", TAG, (), "string", _field("identifier")),
    Method("tag", TAG, (), "string", _field("tag")),
    Method("digest", TAG, (), "string", _field("digest")),
    Method("containsDigest", TAG, (), "bool", lambda image: bool(_field("digest")(image))),
)
