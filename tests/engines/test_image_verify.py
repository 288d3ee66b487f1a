"""ImageVerifier end to end against a real docker-registry (distribution 2.8.2) on loopback:
signatures written as cosign writes them (tests/images/signing.py), faults from real
processes and proxies (tests/registry)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bot.analyzers.images.trust import SignatureRule, SignatureVerdict, VerdictStatus
from bot.engines.cosign import BUNDLE_MEDIA_TYPE, load_public_key, short_digest
from bot.engines.image_verify import (
    ImageToVerify,
    ImageVerifier,
    VerdictCache,
    VerifyLimits,
    verify_sync,
)
from bot.engines.registry import BasicCredentials, is_digest
from tests.images.signing import (
    Signer,
    bundle,
    ecdsa_signer,
    ed25519_signer,
    legacy_signature,
    push_bundle_signature,
    push_legacy_signatures,
    rsa_signer,
    sig_tag,
    sign_bundle,
    sign_legacy,
    sign_statement,
    simple_signing_payload,
)
from tests.registry.plugin import RegistryHandle
from tests.registry.push import Layer
from tests.registry.server import RegistryProxy

SIGNER = ecdsa_signer(11)
INTRUDER = ecdsa_signer(12)
KEY = load_public_key(SIGNER.public_pem)
RULE = SignatureRule(match=("**",), keys=(SIGNER.public_pem,), name="images.signatures[0]")
ProxyFactory = Callable[..., RegistryProxy]
Factory = Callable[..., RegistryHandle]


def to_verify(
    host: str, repository: str, reference: str, rule: SignatureRule = RULE
) -> ImageToVerify:
    pinned = is_digest(reference)
    image = f"{host}/{repository}{'@' if pinned else ':'}{reference}"
    return ImageToVerify(
        image,
        host,
        repository,
        None if pinned else reference,
        reference if pinned else None,
        rule,
    )


def verify(
    handle: RegistryHandle,
    *items: ImageToVerify,
    cache: VerdictCache | None = None,
    credentials: dict[str, BasicCredentials] | None = None,
    **options: object,
) -> list[SignatureVerdict]:
    creds = handle.credentials if credentials is None else credentials
    return verify_sync(items, cache=cache, credentials=creds, **options)  # type: ignore[arg-type]


def verify_one(
    handle: RegistryHandle, repository: str, reference: str, **options: object
) -> SignatureVerdict:
    rule = options.pop("rule", RULE)
    assert isinstance(rule, SignatureRule)
    return verify(handle, to_verify(handle.host, repository, reference, rule), **options)[0]


def unsigned_detail(host: str, repository: str, digest: str) -> str:
    """The detail of an UNSIGNED verdict for the image ``digest``."""
    return (
        f"no cosign signature for {short_digest(digest)} in {host}/{repository} (no signature "
        f"bundle referrer, no {short_digest(digest).replace(':', '-')}.sig tag)"
    )


# --------------------------------------------------------------------------- verified


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker-v2"])
def test_legacy_signature_by_key_is_verified(
    registry: RegistryHandle, registry_repo: str, docker: bool
) -> None:
    image = registry.push_image(registry_repo, "v1", docker=docker)
    layer = legacy_signature(SIGNER, f"{registry.host}/{registry_repo}", image.digest)
    push_legacy_signatures(registry, registry_repo, image.digest, [layer], docker=docker)

    verdict = verify_one(registry, registry_repo, "v1")
    assert verdict.status is VerdictStatus.VERIFIED
    assert verdict.signature_format == "legacy"
    assert verdict.digest == image.digest
    assert verdict.image == f"{registry.host}/{registry_repo}:v1"
    assert verdict.rule == RULE and not verdict.cached
    assert verdict.detail == (
        f"legacy signature {short_digest(image.digest).replace(':', '-')}.sig verified with "
        f"key {KEY.label}"
    )


def test_v3_bundle_referrer_is_verified(registry: RegistryHandle, registry_repo: str) -> None:
    image = registry.push_image(registry_repo, "v1")
    referrer = sign_bundle(registry, registry_repo, image, SIGNER)

    verdict = verify_one(registry, registry_repo, "v1")
    assert verdict.status is VerdictStatus.VERIFIED
    assert verdict.signature_format == "bundle"
    assert verdict.detail == (
        f"bundle referrer {short_digest(referrer.digest)} verified with key {KEY.label}"
    )


@pytest.mark.parametrize(
    "signer",
    [ecdsa_signer(2, ec.SECP384R1()), rsa_signer(), ed25519_signer(2)],
    ids=["p384", "rsa", "ed25519"],
)
def test_other_key_algorithms_verify_in_both_formats(
    registry: RegistryHandle, registry_repo: str, signer: Signer
) -> None:
    rule = SignatureRule(match=("**",), keys=(signer.public_pem,))
    legacy = registry.push_image(registry_repo, "legacy", seed="legacy")
    sign_legacy(registry, registry_repo, legacy.digest, signer)
    v3 = registry.push_image(registry_repo, "v3", seed="v3")
    sign_bundle(registry, registry_repo, v3, signer)

    verdicts = verify(
        registry,
        to_verify(registry.host, registry_repo, "legacy", rule),
        to_verify(registry.host, registry_repo, "v3", rule),
    )
    assert [(v.status, v.signature_format) for v in verdicts] == [
        (VerdictStatus.VERIFIED, "legacy"),
        (VerdictStatus.VERIFIED, "bundle"),
    ]


def test_multi_arch_index_digest_is_what_gets_verified(
    registry: RegistryHandle, registry_repo: str
) -> None:
    index = registry.push_multiarch(registry_repo, "v1")
    sign_legacy(registry, registry_repo, index.digest, SIGNER)
    # Another index whose platform images are signed but not the index itself.
    other = registry.push_multiarch(registry_repo, "children-only", seed="other")
    for child in other.children:
        sign_legacy(registry, registry_repo, child.digest, SIGNER)

    signed, children_only = verify(
        registry,
        to_verify(registry.host, registry_repo, "v1"),
        to_verify(registry.host, registry_repo, "children-only"),
    )
    assert signed.status is VerdictStatus.VERIFIED
    assert signed.digest == index.digest
    assert children_only.status is VerdictStatus.UNSIGNED
    assert children_only.digest == other.digest


def test_a_multi_arch_index_signed_with_a_v3_bundle_is_verified(
    registry: RegistryHandle, registry_repo: str
) -> None:
    index = registry.push_multiarch(registry_repo, "v1")
    referrer = sign_bundle(registry, registry_repo, index, SIGNER)

    verdict = verify_one(registry, registry_repo, "v1")
    assert verdict.status is VerdictStatus.VERIFIED
    assert verdict.digest == index.digest  # the index, not one of its platform images
    assert verdict.signature_format == "bundle"
    assert verdict.detail == (
        f"bundle referrer {short_digest(referrer.digest)} verified with key {KEY.label}"
    )


def test_one_trusted_signer_among_several_is_enough(
    registry: RegistryHandle, registry_repo: str
) -> None:
    image = registry.push_image(registry_repo, "v1")
    reference = f"{registry.host}/{registry_repo}"
    layers = [
        legacy_signature(INTRUDER, reference, image.digest),
        legacy_signature(SIGNER, reference, image.digest),
    ]
    push_legacy_signatures(registry, registry_repo, image.digest, layers)

    verdict = verify_one(registry, registry_repo, "v1")
    assert verdict.status is VerdictStatus.VERIFIED
    assert "layer 2 of 2 verified" in verdict.detail


def test_signatures_in_a_separate_repository(registry: RegistryHandle, registry_repo: str) -> None:
    image = registry.push_image(registry_repo, "v1")
    signatures = f"{registry_repo}-signatures"
    sign_legacy(registry, signatures, image.digest, SIGNER)
    elsewhere = SignatureRule(
        match=("**",), keys=(SIGNER.public_pem,), signature_repository=signatures
    )
    full_name = SignatureRule(
        match=("**",),
        keys=(SIGNER.public_pem,),
        signature_repository=f"{registry.host}/{signatures}",
    )

    beside, separate, named = verify(
        registry,
        to_verify(registry.host, registry_repo, "v1"),
        to_verify(registry.host, registry_repo, "v1", elsewhere),
        to_verify(registry.host, registry_repo, "v1", full_name),
    )
    assert beside.status is VerdictStatus.UNSIGNED
    assert separate.status is VerdictStatus.VERIFIED
    assert named.status is VerdictStatus.VERIFIED


def test_token_registry_with_anonymous_pull(
    token_registry: RegistryHandle, registry_repo: str
) -> None:
    image = token_registry.push_image(registry_repo, "v1")
    sign_bundle(token_registry, registry_repo, image, SIGNER)
    verdict = verify_one(token_registry, registry_repo, "v1", credentials={})
    assert verdict.status is VerdictStatus.VERIFIED


def test_token_registry_with_credentials_goes_through_the_token_flow(
    token_registry: RegistryHandle, registry_repo: str
) -> None:
    image = token_registry.push_image(registry_repo, "v1")
    sign_legacy(token_registry, registry_repo, image.digest, SIGNER)
    tokens = token_registry.token_server
    assert tokens is not None and token_registry.password is not None
    credentials = {token_registry.host: BasicCredentials("tester", token_registry.password)}

    verdict = verify_one(token_registry, registry_repo, "v1", credentials=credentials)
    assert verdict.status is VerdictStatus.VERIFIED
    assert verdict.digest == image.digest
    scope = f"repository:{registry_repo}:pull"
    assert {r.account for r in tokens.requests_for(scope)} == {"tester"}  # not anonymous


def test_basic_registry_with_credentials(
    basic_registry: RegistryHandle, registry_repo: str
) -> None:
    image = basic_registry.push_image(registry_repo, "v1")
    sign_legacy(basic_registry, registry_repo, image.digest, SIGNER)
    assert verify_one(basic_registry, registry_repo, "v1").status is VerdictStatus.VERIFIED


# --------------------------------------------------------------------------- rejected


def test_wrong_key_is_invalid(registry: RegistryHandle, registry_repo: str) -> None:
    legacy = registry.push_image(registry_repo, "legacy", seed="legacy")
    sign_legacy(registry, registry_repo, legacy.digest, INTRUDER)
    v3 = registry.push_image(registry_repo, "v3", seed="v3")
    referrer = sign_bundle(registry, registry_repo, v3, INTRUDER)

    first, second = verify(
        registry,
        to_verify(registry.host, registry_repo, "legacy"),
        to_verify(registry.host, registry_repo, "v3"),
    )
    assert first.status is VerdictStatus.INVALID
    assert first.detail == (
        f"legacy signature {short_digest(legacy.digest).replace(':', '-')}.sig: signature does "
        f"not verify with the trusted key {KEY.label}: payload altered or signed with another key"
    )
    assert second.status is VerdictStatus.INVALID
    assert second.detail == (
        f"bundle referrer {short_digest(referrer.digest)}: signature does not verify with the "
        f"trusted key {KEY.label}: payload altered or signed with another key"
    )


def test_swapped_payload_under_a_valid_signature_is_invalid(
    registry: RegistryHandle, registry_repo: str
) -> None:
    image = registry.push_image(registry_repo, "v1")
    reference = f"{registry.host}/{registry_repo}"
    genuine = legacy_signature(SIGNER, reference, image.digest)
    # Same digest claim, another docker-reference: the signature no longer covers the bytes.
    forged = simple_signing_payload("evil.example/app", image.digest)
    swapped = Layer(genuine.media_type, forged, genuine.annotations)
    push_legacy_signatures(registry, registry_repo, image.digest, [swapped])

    verdict = verify_one(registry, registry_repo, "v1")
    assert verdict.status is VerdictStatus.INVALID
    assert "payload altered or signed with another key" in verdict.detail


def test_swapped_bundle_payload_is_invalid(registry: RegistryHandle, registry_repo: str) -> None:
    image = registry.push_image(registry_repo, "v1")
    other = "sha256:" + "1" * 64
    envelope = bundle(SIGNER, sign_statement(image.digest), signed_payload=sign_statement(other))
    push_bundle_signature(registry, registry_repo, image, envelope)

    verdict = verify_one(registry, registry_repo, "v1")
    assert verdict.status is VerdictStatus.INVALID
    assert "payload altered or signed with another key" in verdict.detail


def test_payload_for_another_digest_is_invalid(
    registry: RegistryHandle, registry_repo: str
) -> None:
    image = registry.push_image(registry_repo, "v1")
    elsewhere = "sha256:" + "2" * 64
    layer = legacy_signature(SIGNER, f"{registry.host}/{registry_repo}", elsewhere)
    push_legacy_signatures(registry, registry_repo, image.digest, [layer])

    verdict = verify_one(registry, registry_repo, "v1")
    assert verdict.status is VerdictStatus.INVALID
    assert verdict.detail.endswith(
        f": the signature payload is for sha256:222222222222…, not this image's "
        f"{short_digest(image.digest)} (signature copied from another image?)"
    )


def test_signature_copied_from_another_image_is_a_replay(
    registry: RegistryHandle, registry_repo: str
) -> None:
    signed = registry.push_image(registry_repo, "signed", seed="signed")
    sig_manifest = sign_legacy(registry, registry_repo, signed.digest, SIGNER)
    target = registry.push_image(registry_repo, "target", seed="target")
    # The attacker copies the whole valid .sig manifest to the other image's signature tag.
    registry.retag(registry_repo, sig_tag(target.digest), sig_manifest.digest)

    verdict = verify_one(registry, registry_repo, "target")
    assert verdict.status is VerdictStatus.INVALID
    assert (
        f"the signature payload is for {short_digest(signed.digest)}, not this image's "
        f"{short_digest(target.digest)} (signature copied from another image?)"
    ) in verdict.detail


def test_bundle_referrer_listed_for_another_image_is_a_replay(
    registry: RegistryHandle, registry_repo: str
) -> None:
    signed = registry.push_image(registry_repo, "signed", seed="signed")
    referrer = sign_bundle(registry, registry_repo, signed, SIGNER)
    target = registry.push_image(registry_repo, "target", seed="target")
    # Listed in the target's (mutable) referrers tag, but its subject is the signed image.
    registry.add_to_referrers_index(
        registry_repo, target.digest, referrer.descriptor(artifact_type=BUNDLE_MEDIA_TYPE)
    )
    # And a new referrer naming the target, carrying the signed image's bundle.
    push_bundle_signature(
        registry, registry_repo, target, bundle(SIGNER, sign_statement(signed.digest))
    )

    verdict = verify_one(registry, registry_repo, "target")
    assert verdict.status is VerdictStatus.INVALID
    assert verdict.detail.startswith("2 signatures found, none verifies: ")
    assert (
        f"the referrer is for {short_digest(signed.digest)}, not this image's "
        f"{short_digest(target.digest)}"
    ) in verdict.detail
    assert (
        f"the signature payload is for {short_digest(signed.digest)}, not this image's "
        f"{short_digest(target.digest)} (signature copied from another image?)"
    ) in verdict.detail


def test_tag_re_pointed_after_signing_is_re_resolved(
    registry: RegistryHandle, registry_repo: str
) -> None:
    cache = VerdictCache()
    signed = registry.push_image(registry_repo, "v1", seed="signed")
    sign_legacy(registry, registry_repo, signed.digest, SIGNER)
    assert verify_one(registry, registry_repo, "v1", cache=cache).status is (VerdictStatus.VERIFIED)

    moved = registry.push_image(registry_repo, "v1", seed="unsigned")  # same tag, new image
    verdict = verify_one(registry, registry_repo, "v1", cache=cache)
    assert verdict.status is VerdictStatus.UNSIGNED
    assert verdict.digest == moved.digest != signed.digest
    assert not verdict.cached
    # The message names the image the tag points to now, never the one that was signed.
    assert verdict.detail == unsigned_detail(registry.host, registry_repo, moved.digest)
    assert short_digest(signed.digest) not in verdict.detail


def test_unsigned_image(registry: RegistryHandle, registry_repo: str) -> None:
    image = registry.push_image(registry_repo, "v1")
    verdict = verify_one(registry, registry_repo, "v1")
    assert verdict.status is VerdictStatus.UNSIGNED
    assert verdict.digest == image.digest
    assert verdict.detail == unsigned_detail(registry.host, registry_repo, image.digest)


def test_only_an_attestation_is_still_unsigned(
    registry: RegistryHandle, registry_repo: str
) -> None:
    image = registry.push_image(registry_repo, "v1")
    provenance = "https://slsa.dev/provenance/v1"
    envelope = bundle(SIGNER, sign_statement(image.digest, provenance))
    push_bundle_signature(registry, registry_repo, image, envelope, predicate_type=provenance)

    verdict = verify_one(registry, registry_repo, "v1")
    assert verdict.status is VerdictStatus.UNSIGNED
    assert "1 attestation(s) found, but attestations are not signatures" in verdict.detail


def test_pinned_digest_that_does_not_exist(registry: RegistryHandle, registry_repo: str) -> None:
    registry.push_image(registry_repo, "v1")
    absent = "sha256:" + "3" * 64
    verdict = verify_one(registry, registry_repo, absent)
    assert verdict.status is VerdictStatus.UNVERIFIABLE
    assert verdict.detail == f"manifest unknown: {registry.host}/{registry_repo}@{absent}"


def test_rule_without_a_usable_key_never_accepts(
    registry: RegistryHandle, registry_repo: str
) -> None:
    registry.push_image(registry_repo, "v1")
    broken = SignatureRule(match=("**",), keys=("not a key",), name="images.signatures[2]")
    verdict = verify_one(registry, registry_repo, "v1", rule=broken)
    assert verdict.status is VerdictStatus.INVALID
    assert verdict.detail == (
        "signature rule images.signatures[2] has no usable public key (key 1: not a PEM public "
        "key (no '-----BEGIN PUBLIC KEY-----' block)), so no signature can be accepted"
    )


def test_limits_on_layers_and_blob_size(registry: RegistryHandle, registry_repo: str) -> None:
    image = registry.push_image(registry_repo, "v1")
    reference = f"{registry.host}/{registry_repo}"
    layers = [legacy_signature(ecdsa_signer(40 + n), reference, image.digest) for n in range(3)]
    push_legacy_signatures(
        registry,
        registry_repo,
        image.digest,
        [*layers, legacy_signature(SIGNER, reference, image.digest)],
    )

    few, small = verify(
        registry,
        to_verify(registry.host, registry_repo, "v1"),
        cache=VerdictCache(),
        limits=VerifyLimits(max_layers=2),
    ) + verify(
        registry,
        to_verify(registry.host, registry_repo, "v1"),
        cache=VerdictCache(),
        limits=VerifyLimits(max_blob_bytes=100),
    )
    assert few.status is VerdictStatus.INVALID
    assert few.detail.startswith("2 signatures found, none verifies: ")
    assert " layers 1, 2 of 4: signature does not verify with the trusted key " in few.detail
    assert few.detail.endswith(".sig: 2 more layer(s) not examined (limit 2)")
    assert small.status is VerdictStatus.INVALID
    assert "signature blob of 2" in small.detail and "bytes is over the 100-byte limit" in (
        small.detail
    )


def test_referrer_limit(registry: RegistryHandle, registry_repo: str) -> None:
    image = registry.push_image(registry_repo, "v1")
    sign_bundle(registry, registry_repo, image, INTRUDER)
    sign_bundle(registry, registry_repo, image, SIGNER)

    all_seen = verify_one(registry, registry_repo, "v1")
    assert all_seen.status is VerdictStatus.VERIFIED
    capped = verify_one(registry, registry_repo, "v1", limits=VerifyLimits(max_referrers=1))
    assert capped.status is VerdictStatus.INVALID
    assert capped.detail.endswith("; 1 more signature referrers not examined (limit 1)")


# --------------------------------------------------------------------------- unverifiable


def test_registry_down_is_unverifiable(registry_factory: Factory) -> None:
    handle = registry_factory("open")
    image = handle.push_image("app", "v1")
    sign_legacy(handle, "app", image.digest, SIGNER)
    handle.process.kill()

    by_tag, by_digest = verify(
        handle, to_verify(handle.host, "app", "v1"), to_verify(handle.host, "app", image.digest)
    )
    for verdict in (by_tag, by_digest):
        assert verdict.status is VerdictStatus.UNVERIFIABLE
        assert f"cannot reach {handle.host}" in verdict.detail
    assert by_digest.digest == image.digest


def test_registry_slow_is_unverifiable(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    image = registry.push_image(registry_repo, "v1")
    sign_legacy(registry, registry_repo, image.digest, SIGNER)
    slow = registry_proxy_factory(registry.url, delay=1.0)
    cache = VerdictCache()

    verdict = verify_sync([to_verify(slow.host, registry_repo, "v1")], cache=cache, timeout=0.3)[0]
    assert verdict.status is VerdictStatus.UNVERIFIABLE
    assert verdict.detail == (
        f"manifest {slow.host}/{registry_repo}:v1: {slow.host} did not answer within 0.3 s"
    )
    assert len(cache) == 0  # "could not verify" is never remembered


def test_whole_image_deadline(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    image = registry.push_image(registry_repo, "v1")
    slow = registry_proxy_factory(registry.url, delay=0.15)
    verdict = verify_sync(
        [to_verify(slow.host, registry_repo, image.digest)],
        limits=VerifyLimits(image_timeout=0.2),
    )[0]
    assert verdict.status is VerdictStatus.UNVERIFIABLE
    assert verdict.detail == (
        f"verifying the signatures of {short_digest(image.digest)} took longer than 0.2 s"
    )


def test_auth_refused_is_unverifiable(basic_registry: RegistryHandle, registry_repo: str) -> None:
    image = basic_registry.push_image(registry_repo, "v1")
    sign_legacy(basic_registry, registry_repo, image.digest, SIGNER)
    host = basic_registry.host
    wrong = {host: BasicCredentials("tester", "not-the-password")}

    refused = verify_one(basic_registry, registry_repo, "v1", credentials=wrong)
    assert refused.status is VerdictStatus.UNVERIFIABLE
    assert refused.detail == (
        f"manifest {host}/{registry_repo}:v1: {host} refused the credentials of user 'tester' "
        "(HTTP 401)"
    )
    assert "not-the-password" not in refused.detail

    anonymous = verify_one(basic_registry, registry_repo, "v1", credentials={})
    assert anonymous.status is VerdictStatus.UNVERIFIABLE
    assert "requires a login and no credentials are configured for it" in anonymous.detail


def test_token_server_refusing_is_unverifiable(
    token_registry: RegistryHandle, registry_repo: str
) -> None:
    image = token_registry.push_image(registry_repo, "v1")
    sign_legacy(token_registry, registry_repo, image.digest, SIGNER)
    wrong = {token_registry.host: BasicCredentials("tester", "wrong")}
    verdict = verify_one(token_registry, registry_repo, "v1", credentials=wrong)
    assert verdict.status is VerdictStatus.UNVERIFIABLE
    assert "refused the credentials of user 'tester'" in verdict.detail


# --------------------------------------------------------------------------- cache


def _manifest_gets(proxy: RegistryProxy) -> list[str]:
    return [r.path_qs for r in proxy.requests]


def test_second_verify_of_a_digest_is_served_from_the_cache(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    image = registry.push_image(registry_repo, "v1")
    sign_bundle(registry, registry_repo, image, SIGNER)
    proxy = registry_proxy_factory(registry.url)
    cache = VerdictCache()
    pinned = to_verify(proxy.host, registry_repo, image.digest)
    tagged = to_verify(proxy.host, registry_repo, "v1")

    first = verify_sync([pinned], cache=cache)[0]
    assert first.status is VerdictStatus.VERIFIED and not first.cached
    assert proxy.requests, "the first verification talks to the registry"

    proxy.requests.clear()
    again, by_tag = verify_sync([pinned, tagged], cache=cache)
    assert (again.status, again.cached) == (VerdictStatus.VERIFIED, True)
    assert (by_tag.status, by_tag.cached, by_tag.image) == (
        VerdictStatus.VERIFIED,
        True,
        f"{proxy.host}/{registry_repo}:v1",
    )
    # The pinned digest costs nothing; the tag is re-resolved (one HEAD), never cached.
    assert [(r.method, r.path_qs) for r in proxy.requests] == [
        ("HEAD", f"/v2/{registry_repo}/manifests/v1")
    ]


def test_one_call_resolves_and_verifies_each_thing_once(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    image = registry.push_image(registry_repo, "v1")
    sign_legacy(registry, registry_repo, image.digest, SIGNER)
    proxy = registry_proxy_factory(registry.url)
    items = [to_verify(proxy.host, registry_repo, "v1") for _ in range(5)]
    items.append(to_verify(proxy.host, registry_repo, image.digest))

    verdicts = verify_sync(items, cache=VerdictCache())
    assert {v.status for v in verdicts} == {VerdictStatus.VERIFIED}
    heads = [r for r in proxy.requests if r.method == "HEAD"]
    sig_gets = [r for r in proxy.requests if r.path_qs.endswith(".sig")]
    assert len(heads) == 1 and len(sig_gets) == 1


def test_failures_are_cached_briefly_and_then_re_checked(
    registry: RegistryHandle, registry_repo: str
) -> None:
    now = [1000.0]
    cache = VerdictCache(failure_ttl=120, clock=lambda: now[0])
    image = registry.push_image(registry_repo, "v1")
    assert verify_one(registry, registry_repo, "v1", cache=cache).status is VerdictStatus.UNSIGNED

    sign_legacy(registry, registry_repo, image.digest, SIGNER)  # CI signs a moment later
    now[0] += 60
    held = verify_one(registry, registry_repo, "v1", cache=cache)
    assert (held.status, held.cached) == (VerdictStatus.UNSIGNED, True)
    now[0] += 61
    fresh = verify_one(registry, registry_repo, "v1", cache=cache)
    assert (fresh.status, fresh.cached) == (VerdictStatus.VERIFIED, False)


def test_one_cache_shared_by_runs_in_several_threads(
    registry: RegistryHandle, registry_repo: str
) -> None:
    """The App runs each pipeline in a worker thread, each with its own event loop."""
    digests = [registry.push_image(registry_repo, seed=f"t{n}").digest for n in range(4)]
    for digest in digests:
        sign_legacy(registry, registry_repo, digest, SIGNER)
    cache = VerdictCache()
    items = [to_verify(registry.host, registry_repo, digest) for digest in digests]
    results: list[list[SignatureVerdict]] = []

    def run() -> None:
        results.append(verify_sync(items, cache=cache))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert {v.status for verdicts in results for v in verdicts} == {VerdictStatus.VERIFIED}
    assert len(cache) == 4
    assert all(v.cached for v in verify_sync(items, cache=cache))


def test_global_concurrency_bound(
    registry: RegistryHandle, registry_repo: str, registry_proxy_factory: ProxyFactory
) -> None:
    digests = [registry.push_image(registry_repo, seed=f"c{n}").digest for n in range(6)]
    proxy = registry_proxy_factory(registry.url, delay=0.02)

    async def main() -> list[SignatureVerdict]:
        async with aiohttp.ClientSession() as session:
            client = registry.client(session, max_concurrency=8)
            verifier = ImageVerifier(client, limits=VerifyLimits(concurrency=2))
            return await verifier.verify([to_verify(proxy.host, registry_repo, d) for d in digests])

    verdicts = asyncio.run(main())
    assert [v.status for v in verdicts] == [VerdictStatus.UNSIGNED] * 6
    assert proxy.max_in_flight == 2


# --------------------------------------------------------------------------- cache, pure


def _verdict(status: VerdictStatus, image: str = "x") -> SignatureVerdict:
    return SignatureVerdict(image, RULE, status, "detail", "sha256:" + "a" * 64)


def _key(n: int) -> tuple[str, str, str, str]:
    return ("r.example", "app", f"sha256:{n:064x}", RULE.fingerprint())


def test_cache_lifetimes_by_status() -> None:
    now = [0.0]
    cache = VerdictCache(verified_ttl=86400, failure_ttl=120, clock=lambda: now[0])
    cache.put(_key(1), _verdict(VerdictStatus.VERIFIED))
    cache.put(_key(2), _verdict(VerdictStatus.INVALID))
    cache.put(_key(3), _verdict(VerdictStatus.UNSIGNED))
    cache.put(_key(4), _verdict(VerdictStatus.UNVERIFIABLE))
    assert len(cache) == 3 and cache.get(_key(4)) is None
    now[0] = 119
    assert all(cache.get(_key(n)) is not None for n in (1, 2, 3))
    now[0] = 121
    assert cache.get(_key(2)) is None and cache.get(_key(3)) is None
    assert cache.get(_key(1)) is not None
    now[0] = 86401
    assert cache.get(_key(1)) is None and len(cache) == 0


def test_cache_is_bounded_least_recently_used_first() -> None:
    cache = VerdictCache(max_entries=3)
    for n in range(3):
        cache.put(_key(n), _verdict(VerdictStatus.VERIFIED, f"i{n}"))
    assert cache.get(_key(0)) is not None  # touch: 1 is now the oldest
    cache.put(_key(3), _verdict(VerdictStatus.VERIFIED, "i3"))
    assert len(cache) == 3
    assert cache.get(_key(1)) is None
    assert [cache.get(_key(n)) is not None for n in (0, 2, 3)] == [True, True, True]


def test_cache_is_shared_safely_between_threads() -> None:
    cache = VerdictCache(max_entries=500)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for n in range(2000):
                key = _key((offset * 7919 + n) % 1000)
                cache.put(key, _verdict(VerdictStatus.VERIFIED))
                cache.get(_key(n % 1000))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(cache) == 500


def test_cached_verdict_is_per_rule(registry: RegistryHandle, registry_repo: str) -> None:
    image = registry.push_image(registry_repo, "v1")
    sign_legacy(registry, registry_repo, image.digest, SIGNER)
    cache = VerdictCache()
    other = SignatureRule(match=("**",), keys=(INTRUDER.public_pem,))
    assert verify_one(registry, registry_repo, image.digest, cache=cache).status is (
        VerdictStatus.VERIFIED
    )
    verdict = verify_one(registry, registry_repo, image.digest, cache=cache, rule=other)
    assert (verdict.status, verdict.cached) == (VerdictStatus.INVALID, False)
