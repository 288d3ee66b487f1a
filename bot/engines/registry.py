"""An asynchronous OCI distribution (registry v2) client: just what image checks need.

It resolves tags to manifest digests, fetches manifests and blobs, and lists OCI 1.1
referrers (with the ``sha256-<hex>`` fallback tag for registries without the API).

**Auth flow.** Every request goes out anonymously first (or with what an earlier challenge
from the same registry taught us). A 401 carries a ``WWW-Authenticate`` challenge:

* ``Basic``: retry with the credentials configured for that registry; from then on they are
  sent up front to save the round trip.
* ``Bearer``: ``GET <realm>?service=…&scope=repository:<repo>:pull`` (anonymous, or with the
  configured credentials as Basic), retry with ``Authorization: Bearer <token>``. Tokens are
  cached per (registry, scope) until shortly before they expire, and concurrent requests for
  the same scope share one token request.

A 401/403 after that flow is a :class:`RegistryAuthError` whose message says why (no
credentials, credentials refused, token server refused, insufficient scope). Credentials are
never part of a message or a repr, and are never sent over plain HTTP to a host that is not
listed in ``insecure_hosts``.

**Digests are computed by us.** ``Docker-Content-Digest`` is the registry's claim; a
manifest fetched by digest must hash to that digest and a blob to its digest, otherwise the
registry (or anything in between) could substitute content under a name the caller trusts.
The only place the header is taken on trust is :meth:`RegistryClient.resolve` for a tag,
where it cannot do harm: everything later is checked against the digest it returned, and
signatures bind the digest, not the tag.

**Redirects** (registries send blob GETs to object storage) are followed by hand so that
``Authorization`` is only ever sent back to the origin it was meant for.

Every failure is a :class:`RegistryError` naming the registry and repository.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from bot.engines.credentials import BasicCredentials as BasicCredentials  # part of this API

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"

# Always sent in full: without the OCI types distribution 2.8 answers 404 "OCI manifest found,
# but accept header does not support OCI manifests"; without Docker v2 it tries a schema-1
# conversion (an error, or a different digest).
MANIFEST_ACCEPT: Final[tuple[str, ...]] = (
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
)
INDEX_MEDIA_TYPES: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})

DOCKER_HUB: Final = "docker.io"
DOCKER_HUB_API: Final = "registry-1.docker.io"

MAX_REDIRECTS: Final = 5
MAX_REFERRER_PAGES: Final = 20
MAX_ERROR_BODY: Final = 64 * 1024  # enough for a registry's JSON error, never a whole blob
MAX_TOKEN_BODY: Final = 256 * 1024
# A token is dropped this long before the server says it expires, so that a request never
# starts with a token that dies in flight.
TOKEN_EXPIRY_MARGIN: Final = 10.0
DEFAULT_TOKEN_LIFETIME: Final = 60.0  # the token spec's default when expires_in is absent

_DIGEST = re.compile(r"(sha256):([0-9a-f]{64})|(sha512):([0-9a-f]{128})")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_REPOSITORY = re.compile(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class RegistryError(Exception):
    """Anything that kept a registry operation from giving a trustworthy answer."""


class RegistryUnreachable(RegistryError):
    """Connection refused or reset, or the name does not resolve."""


class RegistryTimeout(RegistryError):
    """A request took longer than the client's ``timeout``."""


class RegistryAuthError(RegistryError):
    """401/403 after the challenge flow: no credentials, credentials or token refused, or
    insufficient scope."""


class RegistryProtocolError(RegistryError):
    """Unexpected status, bad JSON, digest mismatch, oversized body, unknown manifest."""


class RegistryReferenceError(RegistryError, ValueError):
    """A repository, tag or digest that is not syntactically valid (never sent anywhere)."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, value: object, where: str) -> Descriptor:
        """Parse an OCI descriptor; ``where`` names it in the error (e.g. ``layers[2]``)."""
        if not isinstance(value, Mapping):
            raise RegistryProtocolError(f"{where}: descriptor is not a JSON object")
        media_type = value.get("mediaType")
        digest = value.get("digest")
        size = value.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise RegistryProtocolError(f"{where}: descriptor has no mediaType")
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise RegistryProtocolError(f"{where}: descriptor digest {digest!r} is not valid")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RegistryProtocolError(f"{where}: descriptor size {size!r} is not valid")
        artifact_type = value.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise RegistryProtocolError(f"{where}: artifactType is not a string")
        annotations = value.get("annotations") or {}
        if not isinstance(annotations, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
        ):
            raise RegistryProtocolError(f"{where}: annotations are not a string map")
        platform = value.get("platform")
        if platform is not None and not isinstance(platform, Mapping):
            raise RegistryProtocolError(f"{where}: platform is not a JSON object")
        return cls(media_type, digest, size, artifact_type, dict(annotations), platform)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest or index exactly as served; ``digest`` is the sha256 of ``raw``."""

    digest: str
    media_type: str
    raw: bytes = field(repr=False)
    data: Mapping[str, Any] = field(repr=False)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES or (
            "manifests" in self.data and "layers" not in self.data
        )

    @property
    def config(self) -> Descriptor | None:
        value = self.data.get("config")
        return None if value is None else Descriptor.from_json(value, self._at("config"))

    @property
    def layers(self) -> list[Descriptor]:
        return self._descriptors("layers")

    @property
    def manifests(self) -> list[Descriptor]:
        """The children of an index (empty for an image manifest)."""
        return self._descriptors("manifests")

    @property
    def subject(self) -> Descriptor | None:
        value = self.data.get("subject")
        return None if value is None else Descriptor.from_json(value, self._at("subject"))

    @property
    def artifact_type(self) -> str | None:
        value = self.data.get("artifactType")
        return value if isinstance(value, str) else None

    @property
    def annotations(self) -> Mapping[str, str]:
        value = self.data.get("annotations")
        if not isinstance(value, Mapping):
            return {}
        return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}

    def _descriptors(self, key: str) -> list[Descriptor]:
        values = self.data.get(key)
        if values is None:
            return []
        if not isinstance(values, list):
            raise RegistryProtocolError(f"{self._at(key)}: not a list")
        return [Descriptor.from_json(v, self._at(f"{key}[{i}]")) for i, v in enumerate(values)]

    def _at(self, key: str) -> str:
        return f"manifest {self.digest} {key}"


def is_digest(reference: str) -> bool:
    return _DIGEST.fullmatch(reference) is not None


def api_host(registry: str) -> str:
    """The host that serves the API for a registry as written in image references."""
    return DOCKER_HUB_API if registry == DOCKER_HUB else registry


@dataclass(frozen=True, slots=True)
class _Challenge:
    scheme: str  # lower case: "basic" or "bearer"
    params: Mapping[str, str]


def parse_challenges(header: str) -> list[_Challenge]:
    """Parse a ``WWW-Authenticate`` value (RFC 7235: schemes with auth-params, quoted strings
    may hold commas and escaped quotes)."""
    challenges: list[_Challenge] = []
    position = 0
    token = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)")
    param = re.compile(
        r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?'
    )
    while position < len(header):
        scheme = token.match(header, position)
        if scheme is None:
            break
        position = scheme.end()
        params: dict[str, str] = {}
        while True:
            match = param.match(header, position)
            if match is None:
                break
            quoted, bare = match.group(2), match.group(3)
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            params[match.group(1).lower()] = value
            position = match.end()
        challenges.append(_Challenge(scheme.group(1).lower(), params))
        comma = re.compile(r"\s*,?").match(header, position)
        position = comma.end() if comma else position
    return challenges


@dataclass(slots=True)
class _Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: URL


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    expires: float


class RegistryClient:
    """Registry v2 client over a caller-owned ``aiohttp.ClientSession``.

    All state (tokens, which registries want Basic, per-host semaphores) lives on the
    instance; create one per run (or per worker) and share it between concurrent tasks.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        credentials: Mapping[str, BasicCredentials] | None = None,
        timeout: float = 10.0,
        max_concurrency: int = 8,
        insecure_hosts: Collection[str] = ("localhost", "127.0.0.1", "[::1]"),
        max_manifest_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        if timeout <= 0 or max_concurrency < 1 or max_manifest_bytes < 1:
            raise ValueError("timeout, max_concurrency and max_manifest_bytes must be positive")
        self._session = session
        self._credentials = dict(credentials or {})
        self._timeout_seconds = timeout
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_concurrency = max_concurrency
        self._insecure_hosts = frozenset(insecure_hosts)
        self._max_manifest_bytes = max_manifest_bytes
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._token_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._basic_registries: set[str] = set()

    def __repr__(self) -> str:
        hosts = sorted(self._credentials)
        return f"RegistryClient(credentials for {hosts}, timeout={self._timeout_seconds})"

    # -- public API ------------------------------------------------------------------------

    async def resolve(self, registry: str, repository: str, tag_or_digest: str) -> str:
        """The manifest digest for a tag (HEAD with the full Accept list, GET fallback when
        HEAD gives no usable ``Docker-Content-Digest``); for a digest, confirm it exists."""
        by_digest = is_digest(tag_or_digest)
        ref, reply = await self._manifest_call("HEAD", registry, repository, tag_or_digest)
        if reply.status == 404:
            raise RegistryProtocolError(f"manifest unknown: {ref}")
        if reply.status == 200:
            if by_digest:
                return tag_or_digest
            hint = reply.headers.get("Docker-Content-Digest", "")
            if hint.startswith("sha256:") and is_digest(hint):
                return hint
        elif reply.status != 405:  # 405: HEAD not allowed here; GET below
            raise _unexpected(reply, f"HEAD manifest {ref}")
        manifest = await self.manifest(registry, repository, tag_or_digest)
        if manifest is None:
            raise RegistryProtocolError(f"manifest unknown: {ref}")
        return tag_or_digest if by_digest else manifest.digest

    async def manifest(self, registry: str, repository: str, reference: str) -> Manifest | None:
        """GET a manifest by tag or digest; None on 404. By digest, the body must hash to it."""
        ref, reply = await self._manifest_call(
            "GET", registry, repository, reference, max_body=self._max_manifest_bytes
        )
        if reply.status == 404:
            return None
        if reply.status != 200:
            raise _unexpected(reply, f"GET manifest {ref}")
        if is_digest(reference):
            _verify_digest(reply.body, reference, f"manifest {ref}")
        return _parse_manifest(reply, ref)

    async def blob(self, registry: str, repository: str, digest: str, max_size: int) -> bytes:
        """GET a blob (redirects followed, Authorization never sent cross-origin), at most
        ``max_size`` bytes, and check that it hashes to ``digest``."""
        _check_repository(registry, repository)
        if not is_digest(digest):
            raise RegistryReferenceError(
                f"{registry}/{repository}: {digest!r} is not a valid blob digest"
            )
        what = f"blob {registry}/{repository}@{digest}"
        reply = await self._call(
            "GET",
            registry,
            repository,
            f"/v2/{repository}/blobs/{digest}",
            max_body=max_size,
            what=what,
        )
        if reply.status == 404:
            raise RegistryProtocolError(f"blob unknown: {registry}/{repository}@{digest}")
        if reply.status != 200:
            raise _unexpected(reply, f"GET {what}")
        _verify_digest(reply.body, digest, what)
        return reply.body

    async def referrers(
        self,
        registry: str,
        repository: str,
        digest: str,
        artifact_type: str | None = None,
    ) -> list[Descriptor]:
        """Manifests whose ``subject`` is ``digest``: the OCI 1.1 referrers API, or, when the
        registry lacks it (404/400/406), the ``sha256-<hex>`` tag holding an index."""
        _check_repository(registry, repository)
        if not is_digest(digest):
            raise RegistryReferenceError(
                f"{registry}/{repository}: {digest!r} is not a valid subject digest"
            )
        found = await self._referrers_api(registry, repository, digest, artifact_type)
        if found is None:
            found = await self._referrers_tag(registry, repository, digest)
        if artifact_type is None:
            return found
        # Registries may ignore the filter (OCI-Filters-Applied is optional): apply it here.
        return [d for d in found if d.artifact_type == artifact_type]

    # -- referrers ---------------------------------------------------------------------------

    async def _referrers_api(
        self, registry: str, repository: str, digest: str, artifact_type: str | None
    ) -> list[Descriptor] | None:
        what = f"referrers of {registry}/{repository}@{digest}"
        path: str | URL = f"/v2/{repository}/referrers/{digest}"
        if artifact_type is not None:
            path = URL(str(path)).with_query(artifactType=artifact_type)
        found: list[Descriptor] = []
        for _page in range(MAX_REFERRER_PAGES):
            reply = await self._call(
                "GET",
                registry,
                repository,
                path,
                accept=(OCI_INDEX,),
                max_body=self._max_manifest_bytes,
                what=what,
            )
            if reply.status in (400, 404, 406) and not found:
                return None  # no referrers API here: the caller tries the fallback tag
            if reply.status != 200:
                raise _unexpected(reply, f"GET {what}")
            index = _parse_manifest(reply, what)
            try:
                found.extend(index.manifests)
            except RegistryProtocolError as exc:
                raise RegistryProtocolError(f"{what}: {exc}") from None
            next_link = _next_link(reply)
            if next_link is None:
                return found
            path = next_link
        raise RegistryProtocolError(f"{what}: more than {MAX_REFERRER_PAGES} pages")

    async def _referrers_tag(self, registry: str, repository: str, digest: str) -> list[Descriptor]:
        tag = digest.replace(":", "-", 1)
        index = await self.manifest(registry, repository, tag)
        if index is None:
            return []
        where = f"referrers tag {registry}/{repository}:{tag}"
        if not index.is_index:
            raise RegistryProtocolError(f"{where} holds {index.media_type}, not an index")
        try:
            return index.manifests
        except RegistryProtocolError as exc:
            raise RegistryProtocolError(f"{where}: {exc}") from None

    # -- transport ---------------------------------------------------------------------------

    async def _manifest_call(
        self, method: str, registry: str, repository: str, reference: str, *, max_body: int = 0
    ) -> tuple[str, _Reply]:
        """Check the names, then ``method`` the manifest ``reference`` (tag or digest) with the
        full Accept list; the reference as messages show it, and the reply."""
        _check_repository(registry, repository)
        if not is_digest(reference):
            _check_tag(registry, repository, reference)
        ref = _reference_text(registry, repository, reference)
        reply = await self._call(
            method,
            registry,
            repository,
            _manifest_path(repository, reference),
            accept=MANIFEST_ACCEPT,
            max_body=max_body,
            what=f"manifest {ref}",
        )
        return ref, reply

    async def _call(
        self,
        method: str,
        registry: str,
        repository: str,
        path: str | URL,
        *,
        what: str,
        accept: Sequence[str] = (),
        max_body: int = 0,
    ) -> _Reply:
        """One API call with the challenge flow; returns the final reply (any status except
        401/403, which become RegistryAuthError)."""
        url = self._base_url(registry).join(URL(path) if isinstance(path, str) else path)
        scope = f"repository:{repository}:pull"
        headers = {"Accept": ", ".join(accept)} if accept else {}
        authorization = self._known_authorization(registry, scope)
        tried_token = False
        while True:
            reply = await self._send(method, registry, url, headers, authorization, max_body, what)
            if reply.status == 403:
                raise RegistryAuthError(
                    f"{what}: access denied by {registry} (HTTP 403){_error_detail(reply)}"
                )
            if reply.status != 401:
                return reply
            challenge = _pick_challenge(reply, registry, what)
            if challenge.scheme == "basic":
                # Basic already sent (up front or as the retry) and still refused.
                if (authorization or "").startswith("Basic "):
                    raise RegistryAuthError(self._refused(registry, what))
                authorization = self._basic_header(registry, what)
                self._basic_registries.add(registry)
                continue
            if tried_token:
                raise RegistryAuthError(self._token_rejected(registry, what, challenge))
            if authorization is not None and authorization.startswith("Bearer "):
                self._tokens.pop((registry, scope), None)  # expired or revoked early
            authorization = "Bearer " + await self._token(registry, scope, challenge, what)
            tried_token = True

    async def _send(
        self,
        method: str,
        registry: str,
        url: URL,
        headers: Mapping[str, str],
        authorization: str | None,
        max_body: int,
        what: str,
    ) -> _Reply:
        async with self._semaphore(api_host(registry)):
            try:
                return await self._follow(method, url, headers, authorization, max_body, what)
            except TimeoutError:
                raise RegistryTimeout(
                    f"{what}: {registry} did not answer within {self._timeout_seconds:g} s"
                ) from None
            except aiohttp.ClientConnectionError as exc:
                raise RegistryUnreachable(
                    f"{what}: cannot reach {registry}: {_describe(exc)}"
                ) from None
            except aiohttp.ClientError as exc:
                raise RegistryProtocolError(f"{what}: {registry}: {_describe(exc)}") from None

    async def _follow(
        self,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        authorization: str | None,
        max_body: int,
        what: str,
    ) -> _Reply:
        origin = url.origin()
        for _hop in range(MAX_REDIRECTS + 1):
            sent = dict(headers)
            # Credentials are only for the registry's own origin: object storage behind a
            # redirect gets a pre-signed URL, and must never see the registry token.
            if authorization is not None and url.origin() == origin:
                sent["Authorization"] = authorization
            async with self._session.request(
                method,
                url,
                headers=sent,
                allow_redirects=False,
                timeout=self._timeout,
                raise_for_status=False,  # whatever the caller's session says: we read statuses
            ) as response:
                location = response.headers.get("Location")
                if response.status in _REDIRECTS and location:
                    url = url.join(URL(location))
                    if url.scheme not in ("http", "https"):
                        raise RegistryProtocolError(f"{what}: redirect to {url.scheme} URL")
                    if response.status == 303:
                        method = "GET" if method != "HEAD" else method
                    continue
                if method == "HEAD":
                    body = b""
                elif response.status < 300:
                    body = await _read_capped(response, max_body, what)
                else:  # only for the error message: a prefix will do
                    body = await response.content.read(MAX_ERROR_BODY)
                return _Reply(response.status, response.headers, body, url)
        raise RegistryProtocolError(f"{what}: more than {MAX_REDIRECTS} redirects")

    def _semaphore(self, key: str) -> asyncio.Semaphore:
        semaphore = self._semaphores.get(key)
        if semaphore is None:
            semaphore = self._semaphores[key] = asyncio.Semaphore(self._max_concurrency)
        return semaphore

    def _base_url(self, registry: str) -> URL:
        host = api_host(registry)
        scheme = "http" if _host_only(host) in self._insecure_hosts else "https"
        return URL(f"{scheme}://{host}")

    def _allows_plain_http(self, url: URL) -> bool:
        host = url.host or ""
        return (f"[{host}]" if ":" in host else host) in self._insecure_hosts

    # -- auth --------------------------------------------------------------------------------

    def _known_authorization(self, registry: str, scope: str) -> str | None:
        token = self._tokens.get((registry, scope))
        if token is not None and token.expires > time.monotonic():
            return "Bearer " + token.value
        if registry in self._basic_registries and registry in self._credentials:
            return self._credentials[registry].header()
        return None

    def _basic_header(self, registry: str, what: str) -> str:
        credentials = self._credentials.get(registry)
        if credentials is None:
            raise RegistryAuthError(
                f"{what}: {registry} requires a login and no credentials are configured for it"
            )
        return credentials.header()

    def _refused(self, registry: str, what: str) -> str:
        user = self._credentials[registry].username if registry in self._credentials else "?"
        return f"{what}: {registry} refused the credentials of user {user!r} (HTTP 401)"

    def _token_rejected(self, registry: str, what: str, challenge: _Challenge) -> str:
        if challenge.params.get("error") == "insufficient_scope":
            wanted = challenge.params.get("scope", "?")
            who = (
                f"user {self._credentials[registry].username!r}"
                if registry in self._credentials
                else "anonymous access (no credentials configured)"
            )
            return f"{what}: insufficient scope on {registry}: {who} was not granted {wanted}"
        return f"{what}: {registry} rejected the token its token server issued (HTTP 401)"

    async def _token(self, registry: str, scope: str, challenge: _Challenge, what: str) -> str:
        key = (registry, scope)
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            # Another task may have fetched it while this one waited for the lock.
            cached = self._tokens.get(key)
            if cached is not None and cached.expires > time.monotonic():
                return cached.value
            token = await self._fetch_token(registry, scope, challenge, what)
            self._tokens[key] = token
            return token.value

    async def _fetch_token(
        self, registry: str, scope: str, challenge: _Challenge, what: str
    ) -> _Token:
        realm = challenge.params.get("realm")
        if not realm:
            raise RegistryProtocolError(f"{what}: {registry} sent a Bearer challenge without realm")
        try:
            realm_url = URL(realm)
        except ValueError:
            raise RegistryProtocolError(f"{what}: token realm {realm!r} is not a URL") from None
        if realm_url.scheme != "https" and not (
            realm_url.scheme == "http" and self._allows_plain_http(realm_url)
        ):
            raise RegistryAuthError(
                f"{what}: token realm {realm_url.scheme}://{realm_url.host} of {registry} is "
                "not HTTPS; refusing to ask it for a token"
            )
        scopes = [scope]
        asked = challenge.params.get("scope")
        if asked and asked not in scopes:
            scopes.append(asked)
        query: list[tuple[str, str]] = [("scope", s) for s in scopes]
        if "service" in challenge.params:
            query.insert(0, ("service", challenge.params["service"]))
        credentials = self._credentials.get(registry)
        headers = {}
        if credentials is not None:
            query.append(("account", credentials.username))
            headers["Authorization"] = credentials.header()
        url = realm_url.extend_query(query)
        realm_host = f"{realm_url.host}:{realm_url.port}"
        async with self._semaphore(realm_host):
            try:
                async with self._session.get(
                    url,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                    raise_for_status=False,
                ) as response:
                    status = response.status
                    body = await _read_capped(response, MAX_TOKEN_BODY, what)
            except TimeoutError:
                raise RegistryTimeout(
                    f"{what}: token server {realm_url.host} of {registry} did not answer "
                    f"within {self._timeout_seconds:g} s"
                ) from None
            except aiohttp.ClientConnectionError as exc:
                raise RegistryUnreachable(
                    f"{what}: cannot reach token server {realm_url.host} of {registry}: "
                    f"{_describe(exc)}"
                ) from None
            except aiohttp.ClientError as exc:
                raise RegistryProtocolError(
                    f"{what}: token server {realm_url.host}: {_describe(exc)}"
                ) from None
        if status in (401, 403):
            if credentials is None:
                raise RegistryAuthError(
                    f"{what}: token server {realm_url.host} of {registry} refused anonymous "
                    f"access (HTTP {status}); no credentials are configured for {registry}"
                )
            raise RegistryAuthError(
                f"{what}: token server {realm_url.host} of {registry} refused the "
                f"credentials of user {credentials.username!r} (HTTP {status})"
            )
        if status != 200:
            raise RegistryProtocolError(
                f"{what}: token server {realm_url.host} of {registry} answered HTTP {status}"
            )
        return _parse_token(body, f"{what}: token server {realm_url.host} of {registry}")


# -- helpers ----------------------------------------------------------------------------------


def _host_only(host: str) -> str:
    if host.startswith("["):
        return host[: host.index("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host


def _manifest_path(repository: str, reference: str) -> str:
    return f"/v2/{repository}/manifests/{reference}"


def _reference_text(registry: str, repository: str, reference: str) -> str:
    separator = "@" if is_digest(reference) else ":"
    return f"{registry}/{repository}{separator}{reference}"


def _check_repository(registry: str, repository: str) -> None:
    if not _REPOSITORY.fullmatch(repository) or len(repository) > 255:
        raise RegistryReferenceError(f"{registry}: {repository!r} is not a valid repository name")


def _check_tag(registry: str, repository: str, tag: str) -> None:
    if not _TAG.fullmatch(tag):
        raise RegistryReferenceError(
            f"{registry}/{repository}: {tag!r} is neither a valid tag nor a digest"
        )


def _verify_digest(body: bytes, digest: str, what: str) -> None:
    algorithm, expected = digest.split(":", 1)
    actual = hashlib.new(algorithm, body).hexdigest()
    if actual != expected:
        raise RegistryProtocolError(
            f"{what}: content does not match its digest (got {algorithm}:{actual})"
        )


def _parse_manifest(reply: _Reply, ref: str) -> Manifest:
    try:
        data = json.loads(reply.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryProtocolError(f"manifest {ref}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RegistryProtocolError(f"manifest {ref}: not a JSON object")
    media_type = data.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        media_type = reply.headers.get("Content-Type", "").split(";", 1)[0].strip()
    digest = "sha256:" + hashlib.sha256(reply.body).hexdigest()
    manifest = Manifest(digest, media_type, reply.body, data)
    try:  # validate every descriptor now, so the properties never fail later
        manifest.config  # noqa: B018
        manifest.layers  # noqa: B018
        manifest.manifests  # noqa: B018
        manifest.subject  # noqa: B018
    except RegistryProtocolError as exc:
        raise RegistryProtocolError(f"manifest {ref}: {exc}") from None
    return manifest


def _parse_token(body: bytes, where: str) -> _Token:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RegistryProtocolError(f"{where}: token response is not JSON") from None
    if not isinstance(data, dict):
        raise RegistryProtocolError(f"{where}: token response is not a JSON object")
    value = data.get("token") or data.get("access_token")
    if not isinstance(value, str) or not value:
        raise RegistryProtocolError(f"{where}: token response has no token")
    lifetime = data.get("expires_in")
    if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
        lifetime = DEFAULT_TOKEN_LIFETIME
    margin = min(TOKEN_EXPIRY_MARGIN, lifetime / 2)
    return _Token(value, time.monotonic() + float(lifetime) - margin)


def _pick_challenge(reply: _Reply, registry: str, what: str) -> _Challenge:
    header = ", ".join(reply.headers.getall("WWW-Authenticate", []))
    for challenge in parse_challenges(header):
        if challenge.scheme in ("bearer", "basic"):
            return challenge
    raise RegistryAuthError(
        f"{what}: {registry} answered 401 without a Basic or Bearer challenge"
        + (f" ({header[:200]!r})" if header else "")
    )


def _next_link(reply: _Reply) -> URL | None:
    for link in reply.headers.getall("Link", []):
        match = re.match(r'\s*<([^>]*)>\s*;.*\brel="?next"?', link)
        if match:
            return reply.url.join(URL(match.group(1)))
    return None


async def _read_capped(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    length = response.content_length
    if length is not None and length > limit:
        raise RegistryProtocolError(f"{what}: {length:,} bytes is over the {limit:,}-byte limit")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise RegistryProtocolError(f"{what}: body is over the {limit:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _unexpected(reply: _Reply, what: str) -> RegistryProtocolError:
    return RegistryProtocolError(f"{what}: unexpected HTTP {reply.status}{_error_detail(reply)}")


def _error_detail(reply: _Reply) -> str:
    """The registry's own error code and message (distribution's JSON errors), if any."""
    try:
        data = json.loads(reply.body)
        first = data["errors"][0]
        code, message = str(first.get("code", "")), str(first.get("message", ""))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""
    text = ": ".join(part for part in (code, message) if part)
    return f" ({text[:200]})" if text else ""


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]
