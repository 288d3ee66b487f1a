"""RegistryClient against a real docker-registry (distribution 2.8.2) on loopback, in every
auth mode; faults (down, paused, lying, redirecting) come from real processes and proxies."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import pytest
from aiohttp import web

from bot.engines.registry import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MANIFEST_ACCEPT,
    OCI_INDEX,
    OCI_MANIFEST,
    BasicCredentials,
    RegistryAuthError,
    RegistryClient,
    RegistryError,
    RegistryProtocolError,
    RegistryReferenceError,
    RegistryTimeout,
    RegistryUnreachable,
    parse_challenges,
)
from tests.registry.push import Layer, build_image, referrers_tag
from tests.registry.server import BackgroundServer, RegistryProxy

if TYPE_CHECKING:
    from tests.registry.plugin import RegistryHandle

# Fixtures (registry, basic_registry, token_registry, registry_repo, registry_factory, ...) come
# from tests/registry/plugin.py, registered in tests/conftest.py.

T = TypeVar("T")
ProxyFactory = Callable[..., RegistryProxy]

BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SBOM = "application/spdx+json"


def run(use: Callable[[aiohttp.ClientSession], Awaitable[T]]) -> T:
    async def main() -> T:
        async with aiohttp.ClientSession() as session:
            return await use(session)

    return asyncio.run(main())


# -- resolving and fetching -----------------------------------------------------------------


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker-v2"])
def test_resolve_tag_and_fetch_image_manifest(
    registry: RegistryHandle, registry_repo: str, docker: bool
) -> None:
    pushed = registry.push_image(registry_repo, "v1", docker=docker)

    async def use(session: aiohttp.ClientSession) -> Any:
        client = registry.client(session)
        digest = await client.resolve(registry.host, registry_repo, "v1")
        return digest, await client.manifest(registry.host, registry_repo, digest)

    digest, manifest = run(use)
    assert digest == pushed.digest
    assert manifest.digest == pushed.digest
    assert manifest.raw == pushed.raw
    assert manifest.media_type == (DOCKER_MANIFEST if docker else OCI_MANIFEST)
    assert not manifest.is_index
    parts = build_image("hello", docker=docker)
    assert [layer.size for layer in manifest.layers] == [len(parts.layer)]
    assert manifest.config is not None and manifest.config.size == len(parts.config)
    assert manifest.subject is None


@pytest.mark.parametrize("docker", [False, True], ids=["oci-index", "docker-list"])
def test_resolve_tag_of_multi_arch_index(
    registry: RegistryHandle, registry_repo: str, docker: bool
) -> None:
    amd64 = registry.push_image(registry_repo, seed="a", architecture="amd64")
    arm64 = registry.push_image(registry_repo, seed="b", architecture="arm64", docker=docker)
    index = registry.push_index(registry_repo, "multi", [amd64, arm64], docker=docker)

    async def use(session: aiohttp.ClientSession) -> Any:
        client = registry.client(session)
        digest = await client.resolve(registry.host, registry_repo, "multi")
        return digest, await client.manifest(registry.host, registry_repo, "multi")

    digest, manifest = run(use)
    assert digest == index.digest == manifest.digest
    assert manifest.is_index
    assert manifest.media_type == (DOCKER_MANIFEST_LIST if docker else OCI_INDEX)
    children = manifest.manifests
    assert [c.digest for c in children] == [amd64.digest, arm64.digest]
    assert [c.platform["architecture"] for c in children if c.platform] == ["amd64", "arm64"]
    assert manifest.layers == []


def test_resolve_digest_is_confirmed(registry: RegistryHandle, registry_repo: str) -> None:
    pushed = registry.push_image(registry_repo, seed="by-digest")
    absent = "sha256:" + "0" * 64

    async def use(session: aiohttp.ClientSession) -> Any:
        client = registry.client(session)
        found = await client.resolve(registry.host, registry_repo, pushed.digest)
        with pytest.raises(RegistryProtocolError) as missing:
            await client.resolve(registry.host, registry_repo, absent)
        return found, str(missing.value)

    found, message = run(use)
    assert found == pushed.digest
    assert message == f"manifest unknown: {registry.host}/{registry_repo}@{absent}"


def test_missing_tag_is_a_precise_error(registry: RegistryHandle, registry_repo: str) -> None:
    registry.push_image(registry_repo, "v1")

    async def use(session: aiohttp.ClientSession) -> Any:
        client = registry.client(session)
        with pytest.raises(RegistryProtocolError) as missing:
            await client.resolve(registry.host, registry_repo, "v2")
        return str(missing.value), await client.manifest(registry.host, registry_repo, "v2")

    message, manifest = run(use)
    assert message == f"manifest unknown: {registry.host}/{registry_repo}:v2"
    assert manifest is None


def test_retagged_image_resolves_to_the_new_digest(
    registry: RegistryHandle, registry_repo: str
) -> None:
    first = registry.push_image(registry_repo, "live", seed="one")
    second = registry.push_image(registry_repo, seed="two")

    async def resolve(session: aiohttp.ClientSession) -> str:
        return await registry.client(session).resolve(registry.host, registry_repo, "live")

    assert run(resolve) == first.digest
    registry.retag(registry_repo, "live", second.digest)
    assert run(resolve) == second.digest


def test_full_accept_list_is_always_sent(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    """Regression: distribution 2.8 hides OCI manifests from clients that do not accept them."""
    pushed = registry.push_image(registry_repo, "v1")
    proxy = registry_proxy_factory(registry.url)

    async def use(session: aiohttp.ClientSession) -> Any:
        # The registry really does refuse an OCI manifest without the OCI Accept types ...
        url = f"{registry.url}/v2/{registry_repo}/manifests/v1"
        async with session.get(url, headers={"Accept": DOCKER_MANIFEST}) as bare:
            refused = bare.status
        # ... and the client resolves it, by HEAD and by GET.
        client = RegistryClient(session)
        digest = await client.resolve(proxy.host, registry_repo, "v1")
        manifest = await client.manifest(proxy.host, registry_repo, "v1")
        return refused, digest, manifest

    refused, digest, manifest = run(use)
    assert refused == 404
    assert digest == pushed.digest
    assert manifest is not None and manifest.digest == pushed.digest
    manifest_requests = [r for r in proxy.requests if "/manifests/" in r.path_qs]
    assert [r.method for r in manifest_requests] == ["HEAD", "GET"]
    for request in manifest_requests:
        accepted = {t.strip() for t in request.headers["Accept"].split(",")}
        assert accepted == set(MANIFEST_ACCEPT)


# -- integrity ------------------------------------------------------------------------------


def test_manifest_by_digest_must_match_its_digest(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    pushed = registry.push_image(registry_repo, "v1")

    def swap_layer_size(method: str, path: str, body: bytes) -> bytes:
        if "/manifests/" in path and method == "GET":
            return body.replace(b'"size":', b'"size":1', 1)  # still valid JSON, other bytes
        return body

    lying = registry_proxy_factory(registry.url, tamper=swap_layer_size)

    async def use(session: aiohttp.ClientSession) -> Any:
        client = RegistryClient(session)
        honest = await client.manifest(registry.host, registry_repo, pushed.digest)
        with pytest.raises(RegistryProtocolError) as mismatch:
            await client.manifest(lying.host, registry_repo, pushed.digest)
        by_tag = await client.manifest(lying.host, registry_repo, "v1")
        return honest, str(mismatch.value), by_tag

    honest, message, by_tag = run(use)
    assert honest is not None and honest.raw == pushed.raw
    assert message.startswith(f"manifest {lying.host}/{registry_repo}@{pushed.digest}: ")
    assert "does not match its digest" in message
    # By tag there is nothing to check against; the digest reported is that of what was served.
    assert by_tag is not None and by_tag.digest != pushed.digest


def test_garbage_manifest_is_a_protocol_error(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    registry.push_image(registry_repo, "v1")
    garbled = registry_proxy_factory(
        registry.url, tamper=lambda method, path, body: body[:-3] if "/manifests/" in path else body
    )

    async def use(session: aiohttp.ClientSession) -> str:
        with pytest.raises(RegistryProtocolError) as error:
            await RegistryClient(session).manifest(garbled.host, registry_repo, "v1")
        return str(error.value)

    message = run(use)
    assert message.startswith(f"manifest {garbled.host}/{registry_repo}:v1: not valid JSON")


def test_blob_is_hash_checked_and_size_capped(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    registry.push_image(registry_repo, "v1", seed="blob", size=200_000)
    layer = build_image("blob", size=200_000).layer
    digest = Layer("x", layer).digest

    def flip_last_byte(method: str, path: str, body: bytes) -> bytes:
        return body[:-1] + bytes([body[-1] ^ 1]) if "/blobs/" in path else body

    lying = registry_proxy_factory(registry.url, tamper=flip_last_byte)

    async def use(session: aiohttp.ClientSession) -> Any:
        client = RegistryClient(session)
        blob = await client.blob(registry.host, registry_repo, digest, len(layer))
        with pytest.raises(RegistryProtocolError) as too_big:
            await client.blob(registry.host, registry_repo, digest, len(layer) - 1)
        with pytest.raises(RegistryProtocolError) as tampered:
            await client.blob(lying.host, registry_repo, digest, len(layer))
        with pytest.raises(RegistryProtocolError) as unknown:
            await client.blob(registry.host, registry_repo, "sha256:" + "1" * 64, 100)
        return blob, str(too_big.value), str(tampered.value), str(unknown.value)

    blob, too_big, tampered, unknown = run(use)
    assert blob == layer
    assert f"blob {registry.host}/{registry_repo}@{digest}" in too_big
    assert f"over the {len(layer) - 1:,}-byte limit" in too_big
    assert "does not match its digest" in tampered
    assert unknown == f"blob unknown: {registry.host}/{registry_repo}@sha256:{'1' * 64}"


def test_oversized_manifest_is_refused(registry: RegistryHandle, registry_repo: str) -> None:
    pushed = registry.push_image(registry_repo, "v1")

    async def use(session: aiohttp.ClientSession) -> str:
        client = RegistryClient(session, max_manifest_bytes=pushed.size - 1)
        with pytest.raises(RegistryProtocolError) as error:
            await client.manifest(registry.host, registry_repo, "v1")
        return str(error.value)

    assert f"over the {pushed.size - 1:,}-byte limit" in run(use)


def test_invalid_names_never_reach_the_registry(registry: RegistryHandle) -> None:
    async def use(session: aiohttp.ClientSession) -> list[str]:
        client = RegistryClient(session)
        messages = []
        for repository, reference in [("Upper/Case", "v1"), ("app", "../../v2"), ("app", "")]:
            with pytest.raises(RegistryReferenceError) as error:
                await client.resolve(registry.host, repository, reference)
            messages.append(str(error.value))
        return messages

    assert run(use) == [
        f"{registry.host}: 'Upper/Case' is not a valid repository name",
        f"{registry.host}/app: '../../v2' is neither a valid tag nor a digest",
        f"{registry.host}/app: '' is neither a valid tag nor a digest",
    ]


# -- referrers ------------------------------------------------------------------------------


def test_referrers_fall_back_to_the_tag_schema(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    image = registry.push_image(registry_repo, "v1")
    unsigned = registry.push_image(registry_repo, "v2", seed="unsigned")
    bundle = registry.push_artifact(
        registry_repo,
        layers=[Layer(BUNDLE, b'{"bundle": 1}')],
        artifact_type=BUNDLE,
        subject=image,
    )
    sbom = registry.push_artifact(
        registry_repo, layers=[Layer(SBOM, b"{}")], artifact_type=SBOM, subject=image
    )
    proxy = registry_proxy_factory(registry.url)

    async def use(session: aiohttp.ClientSession) -> Any:
        client = RegistryClient(session)
        everything = await client.referrers(proxy.host, registry_repo, image.digest)
        bundles = await client.referrers(proxy.host, registry_repo, image.digest, BUNDLE)
        none = await client.referrers(proxy.host, registry_repo, unsigned.digest)
        referrer = await client.manifest(proxy.host, registry_repo, bundles[0].digest)
        return everything, bundles, none, referrer

    everything, bundles, none, referrer = run(use)
    assert [(d.digest, d.artifact_type) for d in everything] == [
        (bundle.digest, BUNDLE),
        (sbom.digest, SBOM),
    ]
    assert [d.digest for d in bundles] == [bundle.digest]
    assert none == []
    assert referrer is not None and referrer.subject is not None
    assert referrer.subject.digest == image.digest
    assert referrer.artifact_type == BUNDLE
    # The OCI 1.1 API was asked first (distribution 2.8: 404), then the sha256-<hex> tag.
    paths = [r.path_qs for r in proxy.requests][:2]
    assert paths == [
        f"/v2/{registry_repo}/referrers/{image.digest}",
        f"/v2/{registry_repo}/manifests/{referrers_tag(image.digest)}",
    ]


def test_referrers_tag_holding_an_image_is_a_protocol_error(
    registry: RegistryHandle, registry_repo: str
) -> None:
    image = registry.push_image(registry_repo, "v1")
    registry.push_image(registry_repo, referrers_tag(image.digest), seed="squatter")

    async def use(session: aiohttp.ClientSession) -> str:
        with pytest.raises(RegistryProtocolError) as error:
            await RegistryClient(session).referrers(registry.host, registry_repo, image.digest)
        return str(error.value)

    assert run(use) == (
        f"referrers tag {registry.host}/{registry_repo}:{referrers_tag(image.digest)} "
        f"holds {OCI_MANIFEST}, not an index"
    )


# -- Basic auth -----------------------------------------------------------------------------


def test_basic_auth(basic_registry: RegistryHandle, registry_repo: str) -> None:
    pushed = basic_registry.push_image(registry_repo, "v1")
    host = basic_registry.host

    async def use(session: aiohttp.ClientSession) -> Any:
        digest = await basic_registry.client(session).resolve(host, registry_repo, "v1")
        anonymous = RegistryClient(session)
        with pytest.raises(RegistryAuthError) as refused:
            await anonymous.resolve(host, registry_repo, "v1")
        return digest, str(refused.value)

    digest, message = run(use)
    assert digest == pushed.digest
    assert message == (
        f"manifest {host}/{registry_repo}:v1: {host} requires a login and no credentials "
        "are configured for it"
    )


def test_basic_auth_wrong_password_never_shows_the_password(
    basic_registry: RegistryHandle, registry_repo: str
) -> None:
    basic_registry.push_image(registry_repo, "v1")
    host = basic_registry.host
    wrong = BasicCredentials("tester", "hunter2-wrong-password")

    async def use(session: aiohttp.ClientSession) -> Any:
        client = RegistryClient(session, credentials={host: wrong})
        with pytest.raises(RegistryAuthError) as refused:
            await client.manifest(host, registry_repo, "v1")
        return str(refused.value), repr(client)

    message, client_repr = run(use)
    assert message == (
        f"manifest {host}/{registry_repo}:v1: {host} refused the credentials of user "
        "'tester' (HTTP 401)"
    )
    for text in (message, client_repr, repr(wrong)):
        assert "hunter2" not in text


def test_basic_credentials_are_sent_up_front_after_the_first_challenge(
    basic_registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    pushed = basic_registry.push_image(registry_repo, "v1")
    proxy = registry_proxy_factory(basic_registry.url)

    async def use(session: aiohttp.ClientSession) -> None:
        client = RegistryClient(
            session, credentials={proxy.host: basic_registry.credentials[basic_registry.host]}
        )
        await client.resolve(proxy.host, registry_repo, "v1")
        await client.blob(proxy.host, registry_repo, pushed.data["config"]["digest"], 10_000)

    run(use)
    sent_auth = [("Authorization" in r.headers) for r in proxy.requests]
    assert sent_auth == [False, True, True]  # challenge, retry, then straight in


# -- Bearer tokens --------------------------------------------------------------------------


def test_bearer_anonymous_pull(token_registry: RegistryHandle, registry_repo: str) -> None:
    pushed = token_registry.push_image(registry_repo, "v1")
    tokens = token_registry.token_server
    assert tokens is not None
    tokens.reset()
    host = token_registry.host

    async def use(session: aiohttp.ClientSession) -> Any:
        client = RegistryClient(session)  # no credentials at all
        digest = await client.resolve(host, registry_repo, "v1")
        manifest = await client.manifest(host, registry_repo, digest)
        assert manifest is not None
        config = manifest.config
        assert config is not None
        return digest, await client.blob(host, registry_repo, config.digest, 10_000)

    digest, config = run(use)
    assert digest == pushed.digest
    assert config == build_image("hello").config
    assert [(r.account, r.scopes, r.granted) for r in tokens.requests] == [
        (None, (f"repository:{registry_repo}:pull",), ((registry_repo, ("pull",)),))
    ]


def test_bearer_token_is_cached_per_scope(
    token_registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    first, second = registry_repo, registry_repo + "-other"
    image = token_registry.push_image(first, "v1")
    token_registry.push_image(second, "v1")
    tokens = token_registry.token_server
    assert tokens is not None
    tokens.reset()
    # Held 50 ms, the ten concurrent 401s below arrive together, before any token exists.
    slow = registry_proxy_factory(token_registry.url, delay=0.05)
    credentials = {slow.host: BasicCredentials("tester", token_registry.password or "")}

    async def use(session: aiohttp.ClientSession) -> None:
        client = RegistryClient(session, credentials=credentials)
        await asyncio.gather(*(client.resolve(slow.host, first, "v1") for _ in range(10)))
        await client.manifest(slow.host, first, image.digest)
        await client.referrers(slow.host, first, image.digest)
        await client.resolve(slow.host, second, "v1")
        await client.resolve(slow.host, second, "v1")

    run(use)
    assert [(r.account, r.scopes) for r in tokens.requests] == [
        ("tester", (f"repository:{first}:pull",)),
        ("tester", (f"repository:{second}:pull",)),
    ]
    # Only the first round of each repository was challenged; the rest carried the token.
    challenged = [r for r in slow.requests if "Authorization" not in r.headers]
    assert len(challenged) == 11


def test_bearer_wrong_credentials(token_registry: RegistryHandle, registry_repo: str) -> None:
    token_registry.push_image(registry_repo, "v1")
    host = token_registry.host
    tokens = token_registry.token_server
    assert tokens is not None

    async def use(session: aiohttp.ClientSession) -> str:
        client = RegistryClient(session, credentials={host: BasicCredentials("tester", "s3cr3t!")})
        with pytest.raises(RegistryAuthError) as refused:
            await client.resolve(host, registry_repo, "v1")
        return str(refused.value)

    message = run(use)
    assert message == (
        f"manifest {host}/{registry_repo}:v1: token server 127.0.0.1 of {host} refused the "
        "credentials of user 'tester' (HTTP 401)"
    )
    assert "s3cr3t" not in message


def test_bearer_insufficient_scope(token_registry: RegistryHandle, registry_repo: str) -> None:
    token_registry.push_image(registry_repo, "v1")
    host = token_registry.host
    tokens = token_registry.token_server
    assert tokens is not None
    tokens.private_repositories.add(registry_repo)

    async def use(session: aiohttp.ClientSession) -> tuple[str, str]:
        with pytest.raises(RegistryAuthError) as anonymous:
            await RegistryClient(session).resolve(host, registry_repo, "v1")
        digest = await token_registry.client(session).resolve(host, registry_repo, "v1")
        return str(anonymous.value), digest

    try:
        message, digest = run(use)
    finally:
        tokens.private_repositories.discard(registry_repo)
    assert message == (
        f"manifest {host}/{registry_repo}:v1: insufficient scope on {host}: anonymous access "
        f"(no credentials configured) was not granted repository:{registry_repo}:pull"
    )
    assert digest.startswith("sha256:")


def test_challenge_parsing() -> None:
    header = (
        'Bearer realm="https://auth.example/token",service="reg \\"x\\"",'
        'scope="repository:a/b:pull,push",error="insufficient_scope", Basic realm="r"'
    )
    bearer, basic = parse_challenges(header)
    assert bearer.scheme == "bearer"
    assert dict(bearer.params) == {
        "realm": "https://auth.example/token",
        "service": 'reg "x"',
        "scope": "repository:a/b:pull,push",
        "error": "insufficient_scope",
    }
    assert (basic.scheme, dict(basic.params)) == ("basic", {"realm": "r"})


# -- failures of the registry itself ----------------------------------------------------------


def test_registry_down_is_unreachable(registry_factory: Callable[..., RegistryHandle]) -> None:
    private = registry_factory()
    private.push_image("app", "v1")

    async def use(session: aiohttp.ClientSession) -> tuple[str, str]:
        client = RegistryClient(session)
        await client.resolve(private.host, "app", "v1")  # leaves a pooled connection behind
        private.process.kill()
        errors = []
        for _ in range(2):  # the dead pooled connection, then a refused new one
            with pytest.raises(RegistryUnreachable) as down:
                await client.resolve(private.host, "app", "v1")
            errors.append(str(down.value))
        return errors[0], errors[1]

    first, second = run(use)
    for message in (first, second):
        assert message.startswith(f"manifest {private.host}/app:v1: cannot reach {private.host}")


def test_registry_paused_times_out(registry_factory: Callable[..., RegistryHandle]) -> None:
    private = registry_factory()
    private.push_image("app", "v1")

    async def use(session: aiohttp.ClientSession) -> tuple[str, float, str]:
        client = RegistryClient(session, timeout=0.3)
        private.process.pause()
        started = time.monotonic()
        try:
            with pytest.raises(RegistryTimeout) as slow:
                await client.resolve(private.host, "app", "v1")
            elapsed = time.monotonic() - started
        finally:
            private.process.resume()
        return str(slow.value), elapsed, await client.resolve(private.host, "app", "v1")

    message, elapsed, digest = run(use)
    assert message == f"manifest {private.host}/app:v1: {private.host} did not answer within 0.3 s"
    assert 0.3 <= elapsed < 5.0  # the timeout fired (generous bound: CI machines stall)
    assert digest.startswith("sha256:")


def test_concurrency_is_limited_per_host(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    registry.push_image(registry_repo, "v1")
    # Two hosts in front of the same registry; each holds a request 50 ms so they overlap.
    first = registry_proxy_factory(registry.url, delay=0.05)
    second = registry_proxy_factory(registry.url, delay=0.05)

    async def burst(session: aiohttp.ClientSession, limit: int) -> None:
        client = RegistryClient(session, max_concurrency=limit)
        await asyncio.gather(
            *(
                client.manifest(p.host, registry_repo, "v1")
                for p in (first, second)
                for _ in range(9)
            )
        )

    run(lambda session: burst(session, 3))
    assert (first.max_in_flight, second.max_in_flight) == (3, 3)
    assert len(first.requests) == len(second.requests) == 9
    # The measurement is real: without the limit the same burst overlaps further.
    first.reset()
    second.reset()
    run(lambda session: burst(session, 100))
    assert first.max_in_flight > 3 and second.max_in_flight > 3


def test_authorization_is_not_forwarded_across_origins(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    """Like a registry that sends blob downloads to object storage: the registry (origin A)
    demands Basic auth and 307s blob GETs to origin B (another port, another origin)."""
    pushed = registry.push_image(registry_repo, "v1")
    config_digest = pushed.data["config"]["digest"]
    storage = registry_proxy_factory(registry.url)
    front = registry_proxy_factory(
        registry.url, require_basic=("alice", "pa55"), redirect_blobs_to=storage.url
    )

    async def use(session: aiohttp.ClientSession) -> bytes:
        client = RegistryClient(
            session, credentials={front.host: BasicCredentials("alice", "pa55")}
        )
        await client.resolve(front.host, registry_repo, "v1")
        return await client.blob(front.host, registry_repo, config_digest, 10_000)

    assert run(use) == build_image("hello").config
    blob_path = f"/v2/{registry_repo}/blobs/{config_digest}"
    assert [("Authorization" in r.headers) for r in front.requests if r.path_qs == blob_path] == [
        True
    ]
    assert [(r.method, r.path_qs) for r in storage.requests] == [("GET", blob_path)]
    assert "Authorization" not in storage.requests[0].headers


def test_every_failure_is_a_registry_error() -> None:
    for kind in (RegistryUnreachable, RegistryTimeout, RegistryAuthError, RegistryProtocolError):
        assert issubclass(kind, RegistryError)


# -- protocol paths distribution 2.8 cannot exercise ---------------------------------------


def _descriptor(n: int, artifact_type: str) -> dict[str, Any]:
    digest = "sha256:" + f"{n:x}" * 64
    return {
        "mediaType": OCI_MANIFEST,
        "digest": digest[:71],
        "size": 100 + n,
        "artifactType": artifact_type,
    }


def test_referrers_api_is_used_and_paginated() -> None:
    """A registry with the OCI 1.1 referrers API (a small fake: distribution 2.8 has none)
    answering in two pages and ignoring the artifactType filter, which it may."""
    subject = "sha256:" + "a" * 64
    pages = {
        "1": ([_descriptor(1, BUNDLE), _descriptor(2, SBOM)], "2"),
        "2": ([_descriptor(3, BUNDLE)], None),
    }
    seen: list[str] = []

    async def referrers(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        manifests, next_page = pages[request.query.get("page", "1")]
        headers = {}
        if next_page:
            headers["Link"] = f'<{request.path}?page={next_page}>; rel="next"'
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        return web.json_response(body, headers=headers, content_type=OCI_INDEX)

    def make_app() -> web.Application:
        app = web.Application()
        app.router.add_get("/v2/app/referrers/{digest}", referrers)
        return app

    with BackgroundServer(make_app) as server:

        async def use(session: aiohttp.ClientSession) -> Any:
            client = RegistryClient(session)
            everything = await client.referrers(server.host, "app", subject)
            bundles = await client.referrers(server.host, "app", subject, BUNDLE)
            return everything, bundles

        everything, bundles = run(use)
    assert [d.size for d in everything] == [101, 102, 103]
    assert [d.size for d in bundles] == [101, 103]
    assert seen == [
        f"/v2/app/referrers/{subject}",
        f"/v2/app/referrers/{subject}?page=2",
        f"/v2/app/referrers/{subject}?artifactType={BUNDLE.replace('+', '%2B')}",
        f"/v2/app/referrers/{subject}?page=2",
    ]


def test_token_realm_over_plain_http_to_a_public_host_is_refused() -> None:
    async def challenge(request: web.Request) -> web.Response:
        realm = 'Bearer realm="http://auth.example.invalid/token",service="x"'
        return web.Response(status=401, headers={"WWW-Authenticate": realm})

    def make_app() -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", challenge)
        return app

    with BackgroundServer(make_app) as server:

        async def use(session: aiohttp.ClientSession) -> str:
            client = RegistryClient(
                session, credentials={server.host: BasicCredentials("u", "secret-pw")}
            )
            with pytest.raises(RegistryAuthError) as refused:
                await client.resolve(server.host, "app", "v1")
            return str(refused.value)

        message = run(use)
    assert message == (
        f"manifest {server.host}/app:v1: token realm http://auth.example.invalid of "
        f"{server.host} is not HTTPS; refusing to ask it for a token"
    )


def test_expired_token_is_fetched_again(registry_factory: Callable[..., RegistryHandle]) -> None:
    private = registry_factory("token")
    private.push_image("app", "v1")
    tokens = private.token_server
    assert tokens is not None
    tokens.lifetime = 1  # the client drops it after half its life
    tokens.reset()

    async def use(session: aiohttp.ClientSession) -> None:
        client = private.client(session)
        await client.resolve(private.host, "app", "v1")
        await client.resolve(private.host, "app", "v1")
        await asyncio.sleep(0.6)
        await client.resolve(private.host, "app", "v1")

    run(use)
    assert len(tokens.requests) == 2


def test_token_server_down_is_unreachable(
    registry_factory: Callable[..., RegistryHandle],
) -> None:
    private = registry_factory("token")
    private.push_image("app", "v1")
    assert private.token_server is not None
    private.token_server.stop()

    async def use(session: aiohttp.ClientSession) -> str:
        with pytest.raises(RegistryUnreachable) as down:
            await private.client(session).resolve(private.host, "app", "v1")
        return str(down.value)

    assert run(use).startswith(
        f"manifest {private.host}/app:v1: cannot reach token server 127.0.0.1 of {private.host}"
    )


def test_callers_raise_for_status_session_does_not_change_answers(
    registry: RegistryHandle, registry_repo: str
) -> None:
    async def use(session: aiohttp.ClientSession) -> Any:
        return await RegistryClient(session).manifest(registry.host, registry_repo, "absent")

    async def main() -> Any:
        async with aiohttp.ClientSession(raise_for_status=True) as session:
            return await use(session)

    assert asyncio.run(main()) is None


def test_resolve_falls_back_to_get_when_head_has_no_digest() -> None:
    """Some registries (and proxies) drop Docker-Content-Digest on HEAD or refuse HEAD."""
    raw = build_image("no-header").manifest
    seen: list[str] = []

    async def manifest(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.match_info['reference']}")
        if request.method == "HEAD":
            status = 405 if request.match_info["reference"] == "refuses-head" else 200
            return web.Response(status=status)
        return web.Response(body=raw, content_type=OCI_MANIFEST)

    def make_app() -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/v2/app/manifests/{reference}", manifest)
        return app

    with BackgroundServer(make_app) as server:

        async def use(session: aiohttp.ClientSession) -> list[str]:
            client = RegistryClient(session)
            return [await client.resolve(server.host, "app", t) for t in ("v1", "refuses-head")]

        digests = run(use)
    expected = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert digests == [expected, expected]
    assert seen == ["HEAD v1", "GET v1", "HEAD refuses-head", "GET refuses-head"]
