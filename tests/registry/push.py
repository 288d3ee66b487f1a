"""Push test content to a registry over the distribution API, with aiohttp.

:class:`AsyncPusher` does the work inside a running loop; :class:`Pusher` wraps every method
for synchronous tests (each call opens its own session; from inside a running event loop it
runs in a worker thread, so it works there too, blocking that loop for the call).

Auth: anonymous first; on a 401 the pusher answers a Basic challenge with its credentials,
or fetches a ``pull,push`` token from the Bearer realm with them. This is deliberately a
separate, minimal implementation: the client under test must not push its own fixtures.

Everything is deterministic: the same ``seed`` always gives the same digests.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from bot.engines.registry import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MANIFEST_ACCEPT,
    OCI_INDEX,
    OCI_MANIFEST,
    parse_challenges,
)

T = TypeVar("T")

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
EMPTY_JSON = b"{}"


class PushError(RuntimeError):
    """The registry refused a push (status and body in the message)."""


@dataclass(frozen=True)
class Pushed:
    """A manifest or index now in the registry. ``raw`` is exactly what was PUT."""

    digest: str
    media_type: str
    raw: bytes = field(repr=False)
    children: tuple[Pushed, ...] = ()  # index: the child manifests, in order
    platform: Mapping[str, str] | None = None  # an image built for a platform

    @property
    def size(self) -> int:
        return len(self.raw)

    @property
    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.raw)
        return value

    def descriptor(
        self,
        *,
        artifact_type: str | None = None,
        annotations: Mapping[str, str] | None = None,
        platform: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The OCI descriptor pointing at this manifest (JSON-ready)."""
        value: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if artifact_type is not None:
            value["artifactType"] = artifact_type
        if annotations:
            value["annotations"] = dict(annotations)
        if platform is not None:
            value["platform"] = dict(platform)
        return value


@dataclass(frozen=True)
class Layer:
    """A blob to push as a manifest layer."""

    media_type: str
    data: bytes = field(repr=False)
    annotations: Mapping[str, str] | None = None

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    def descriptor(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.data),
        }
        if self.annotations:
            value["annotations"] = dict(self.annotations)
        return value


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def referrers_tag(digest: str) -> str:
    """The OCI referrers fallback tag for a subject digest: ``sha256-<hex>``."""
    return digest.replace(":", "-", 1)


def layer_tar(files: Mapping[str, bytes]) -> bytes:
    """An uncompressed tar with fixed owners and mtime 0 (same input, same bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@dataclass(frozen=True)
class ImageParts:
    """The blobs and manifest of a deterministic one-layer image, before pushing."""

    layer: bytes
    config: bytes
    manifest: bytes
    media_type: str


def build_image(
    seed: str = "hello",
    *,
    docker: bool = False,
    os_name: str = "linux",
    architecture: str = "amd64",
    size: int = 0,
) -> ImageParts:
    """A one-layer image whose file ``seed.txt`` holds ``seed`` (padded to ``size`` bytes
    of incompressible-but-deterministic data when ``size`` is given)."""
    content = seed.encode()
    if size > len(content):
        filler = b"".join(
            hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(size // 32 + 1)
        )
        content = (content + filler)[:size]
    tar = layer_tar({"seed.txt": content})
    layer = gzip.compress(tar, compresslevel=6, mtime=0)
    config = canonical_json(
        {
            "architecture": architecture,
            "os": os_name,
            "created": "1970-01-01T00:00:00Z",
            "config": {"Labels": {"org.example.seed": seed}},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
        }
    )
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": DOCKER_LAYER if docker else OCI_LAYER,
                    "digest": sha256_digest(layer),
                    "size": len(layer),
                }
            ],
        }
    )
    return ImageParts(layer, config, manifest, media_type)


class AsyncPusher:
    """Push into ``base_url`` (``http://127.0.0.1:<port>``) with an open aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._session = session
        self._base = URL(base_url)
        self._username = username
        self._password = password
        self._auth: dict[str, str] = {}  # repository -> Authorization value that worked

    # -- content -----------------------------------------------------------------------------

    async def push_blob(self, repository: str, data: bytes) -> str:
        """Upload a blob (skipped when present); returns its digest."""
        digest = sha256_digest(data)
        head = await self._request("HEAD", repository, f"/v2/{repository}/blobs/{digest}")
        if head[0] == 200:
            return digest
        status, headers, body = await self._request(
            "POST", repository, f"/v2/{repository}/blobs/uploads/"
        )
        _expect(status, 202, f"start upload to {repository}", body)
        location = headers["Location"]
        separator = "&" if "?" in location else "?"
        target = self._base.join(URL(f"{location}{separator}digest={digest}", encoded=True))
        status, _headers, body = await self._request(
            "PUT",
            repository,
            target,
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        _expect(status, 201, f"upload blob {digest} to {repository}", body)
        return digest

    async def push_manifest(
        self, repository: str, reference: str | None, raw: bytes, media_type: str
    ) -> Pushed:
        """PUT ``raw`` exactly as given, by tag, or by its digest when ``reference`` is None
        (a digest reference must be the digest of ``raw``; the registry checks)."""
        digest = sha256_digest(raw)
        status, _headers, body = await self._request(
            "PUT",
            repository,
            f"/v2/{repository}/manifests/{reference or digest}",
            data=raw,
            headers={"Content-Type": media_type},
        )
        _expect(status, 201, f"put manifest {repository}:{reference or digest}", body)
        return Pushed(digest, media_type, raw)

    async def push_image(
        self,
        repository: str,
        tag: str | None = None,
        *,
        seed: str = "hello",
        docker: bool = False,
        os_name: str = "linux",
        architecture: str = "amd64",
        size: int = 0,
    ) -> Pushed:
        """A deterministic one-layer image (OCI, or Docker v2 with ``docker=True``)."""
        parts = build_image(
            seed, docker=docker, os_name=os_name, architecture=architecture, size=size
        )
        await self.push_blob(repository, parts.layer)
        await self.push_blob(repository, parts.config)
        pushed = await self.push_manifest(repository, tag, parts.manifest, parts.media_type)
        return Pushed(
            pushed.digest,
            pushed.media_type,
            pushed.raw,
            platform={"os": os_name, "architecture": architecture},
        )

    async def push_index(
        self,
        repository: str,
        tag: str | None,
        images: Sequence[Pushed],
        *,
        docker: bool = False,
        annotations: Mapping[str, str] | None = None,
    ) -> Pushed:
        """An index (OCI, or a Docker manifest list) over already pushed ``images``."""
        media_type = DOCKER_MANIFEST_LIST if docker else OCI_INDEX
        index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": [image.descriptor(platform=image.platform) for image in images],
        }
        if annotations:
            index["annotations"] = dict(annotations)
        pushed = await self.push_manifest(repository, tag, canonical_json(index), media_type)
        return Pushed(pushed.digest, media_type, pushed.raw, children=tuple(images))

    async def push_multiarch(
        self, repository: str, tag: str | None = None, *, seed: str = "multi"
    ) -> Pushed:
        """Two images (linux/amd64, linux/arm64) and an OCI index over them."""
        amd64 = await self.push_image(repository, seed=f"{seed}-amd64", architecture="amd64")
        arm64 = await self.push_image(repository, seed=f"{seed}-arm64", architecture="arm64")
        return await self.push_index(repository, tag, [amd64, arm64])

    async def retag(self, repository: str, tag: str, digest: str) -> Pushed:
        """Point ``tag`` at the manifest ``digest`` (re-PUT its exact bytes under the tag)."""
        status, headers, body = await self._request(
            "GET",
            repository,
            f"/v2/{repository}/manifests/{digest}",
            headers={"Accept": ", ".join(MANIFEST_ACCEPT)},
        )
        _expect(status, 200, f"get manifest {repository}@{digest}", body)
        media_type = headers.get("Content-Type", OCI_MANIFEST).split(";")[0].strip()
        return await self.push_manifest(repository, tag, body, media_type)

    async def delete_manifest(self, repository: str, digest: str) -> None:
        status, _headers, body = await self._request(
            "DELETE", repository, f"/v2/{repository}/manifests/{digest}"
        )
        _expect(status, 202, f"delete manifest {repository}@{digest}", body)

    async def push_artifact(
        self,
        repository: str,
        *,
        layers: Sequence[Layer],
        artifact_type: str | None = None,
        subject: Pushed | Mapping[str, Any] | None = None,
        annotations: Mapping[str, str] | None = None,
        config: Layer | None = None,
        tag: str | None = None,
        docker: bool = False,
        fallback_index: bool = True,
    ) -> Pushed:
        """An image manifest carrying arbitrary ``layers`` (e.g. a cosign ``.sig`` manifest
        with ``tag="sha256-<hex>.sig"``, or a Sigstore bundle referrer with ``subject``).

        ``config`` defaults to the OCI empty config ``{}``. With a ``subject`` the manifest
        is pushed by digest (unless ``tag``) and, when ``fallback_index``, added to the
        ``sha256-<hex>`` referrers tag index as a registry without the referrers API needs.
        """
        config = config or Layer(OCI_EMPTY, EMPTY_JSON)
        for layer in (config, *layers):
            await self.push_blob(repository, layer.data)
        media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
        manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
        if artifact_type is not None:
            manifest["artifactType"] = artifact_type
        manifest["config"] = config.descriptor()
        manifest["layers"] = [layer.descriptor() for layer in layers]
        subject_descriptor = _as_descriptor(subject) if subject is not None else None
        if subject_descriptor is not None:
            manifest["subject"] = subject_descriptor
        if annotations:
            manifest["annotations"] = dict(annotations)
        pushed = await self.push_manifest(repository, tag, canonical_json(manifest), media_type)
        if subject_descriptor is not None and fallback_index:
            entry = pushed.descriptor(
                artifact_type=artifact_type or config.media_type, annotations=annotations
            )
            await self.add_to_referrers_index(repository, subject_descriptor["digest"], entry)
        return pushed

    async def add_to_referrers_index(
        self, repository: str, subject_digest: str, descriptor: Mapping[str, Any]
    ) -> Pushed:
        """Read-append-write the ``sha256-<hex>`` fallback index (as cosign/ggcr do)."""
        tag = referrers_tag(subject_digest)
        status, _headers, body = await self._request(
            "GET",
            repository,
            f"/v2/{repository}/manifests/{tag}",
            headers={"Accept": OCI_INDEX},
        )
        if status == 200:
            manifests = list(json.loads(body).get("manifests", []))
        elif status == 404:
            manifests = []
        else:
            raise PushError(f"get referrers index {repository}:{tag}: HTTP {status}: {body!r}")
        manifests = [m for m in manifests if m.get("digest") != descriptor["digest"]]
        manifests.append(dict(descriptor))
        return await self.push_referrers_index(repository, subject_digest, manifests)

    async def push_referrers_index(
        self, repository: str, subject_digest: str, manifests: Sequence[Mapping[str, Any]]
    ) -> Pushed:
        """Replace the ``sha256-<hex>`` fallback index with exactly ``manifests``."""
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(manifests)}
        return await self.push_manifest(
            repository, referrers_tag(subject_digest), canonical_json(index), OCI_INDEX
        )

    # -- transport ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        repository: str,
        target: str | URL,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        url = self._base.join(URL(target) if isinstance(target, str) else target)
        for _attempt in range(2):
            sent = dict(headers or {})
            if repository in self._auth:
                sent["Authorization"] = self._auth[repository]
            async with self._session.request(
                method, url, data=data, headers=sent, allow_redirects=False
            ) as response:
                body = await response.read()
                if response.status != 401 or repository in self._auth:
                    return response.status, response.headers, body
                challenge = response.headers.get("WWW-Authenticate", "")
            self._auth[repository] = await self._authorize(repository, challenge)
        raise PushError(f"{method} {url}: still unauthorized")

    async def _authorize(self, repository: str, challenge_header: str) -> str:
        if self._username is None or self._password is None:
            raise PushError(f"{self._base} wants a login to push to {repository}; none given")
        basic = "Basic " + base64.b64encode(f"{self._username}:{self._password}".encode()).decode()
        for challenge in parse_challenges(challenge_header):
            if challenge.scheme == "basic":
                return basic
            if challenge.scheme == "bearer":
                query = {
                    "service": challenge.params.get("service", ""),
                    "scope": f"repository:{repository}:pull,push",
                }
                realm = URL(challenge.params["realm"]).with_query(query)
                async with self._session.get(realm, headers={"Authorization": basic}) as reply:
                    body = await reply.read()
                    _expect(reply.status, 200, f"token for pushing to {repository}", body)
                    token = json.loads(body)["token"]
                return f"Bearer {token}"
        raise PushError(f"no usable challenge in {challenge_header!r}")


def _as_descriptor(subject: Pushed | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(subject, Pushed):
        return subject.descriptor()
    return {k: subject[k] for k in ("mediaType", "digest", "size")}


def _expect(status: int, wanted: int, what: str, body: bytes) -> None:
    if status != wanted:
        raise PushError(f"{what}: HTTP {status} (wanted {wanted}): {body[:500]!r}")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, even when the calling thread is
    already inside a running event loop (then in a worker thread)."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


class Pusher:
    """Synchronous push helpers; :class:`tests.registry.plugin.RegistryHandle` is one."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None):
        self.url = url
        self.push_username = username
        self._push_password = password

    def _run(self, call: Callable[[AsyncPusher], Awaitable[T]]) -> T:
        async def go() -> T:
            async with aiohttp.ClientSession() as session:
                return await call(self.async_pusher(session))

        return run_sync(go)

    def async_pusher(self, session: aiohttp.ClientSession) -> AsyncPusher:
        """An :class:`AsyncPusher` for this registry on the caller's session."""
        return AsyncPusher(session, self.url, self.push_username, self._push_password)

    def push_blob(self, repository: str, data: bytes) -> str:
        return self._run(lambda p: p.push_blob(repository, data))

    def push_manifest(
        self, repository: str, reference: str | None, raw: bytes, media_type: str
    ) -> Pushed:
        return self._run(lambda p: p.push_manifest(repository, reference, raw, media_type))

    def push_image(
        self,
        repository: str,
        tag: str | None = None,
        *,
        seed: str = "hello",
        docker: bool = False,
        os_name: str = "linux",
        architecture: str = "amd64",
        size: int = 0,
    ) -> Pushed:
        return self._run(
            lambda p: p.push_image(
                repository,
                tag,
                seed=seed,
                docker=docker,
                os_name=os_name,
                architecture=architecture,
                size=size,
            )
        )

    def push_index(
        self,
        repository: str,
        tag: str | None,
        images: Sequence[Pushed],
        *,
        docker: bool = False,
        annotations: Mapping[str, str] | None = None,
    ) -> Pushed:
        return self._run(
            lambda p: p.push_index(repository, tag, images, docker=docker, annotations=annotations)
        )

    def push_multiarch(
        self, repository: str, tag: str | None = None, *, seed: str = "multi"
    ) -> Pushed:
        return self._run(lambda p: p.push_multiarch(repository, tag, seed=seed))

    def retag(self, repository: str, tag: str, digest: str) -> Pushed:
        return self._run(lambda p: p.retag(repository, tag, digest))

    def delete_manifest(self, repository: str, digest: str) -> None:
        self._run(lambda p: p.delete_manifest(repository, digest))

    def push_artifact(
        self,
        repository: str,
        *,
        layers: Sequence[Layer],
        artifact_type: str | None = None,
        subject: Pushed | Mapping[str, Any] | None = None,
        annotations: Mapping[str, str] | None = None,
        config: Layer | None = None,
        tag: str | None = None,
        docker: bool = False,
        fallback_index: bool = True,
    ) -> Pushed:
        return self._run(
            lambda p: p.push_artifact(
                repository,
                layers=layers,
                artifact_type=artifact_type,
                subject=subject,
                annotations=annotations,
                config=config,
                tag=tag,
                docker=docker,
                fallback_index=fallback_index,
            )
        )

    def add_to_referrers_index(
        self, repository: str, subject_digest: str, descriptor: Mapping[str, Any]
    ) -> Pushed:
        return self._run(lambda p: p.add_to_referrers_index(repository, subject_digest, descriptor))

    def push_referrers_index(
        self, repository: str, subject_digest: str, manifests: Sequence[Mapping[str, Any]]
    ) -> Pushed:
        return self._run(lambda p: p.push_referrers_index(repository, subject_digest, manifests))
