"""Points of issue 7's acceptance list that tests/engines/test_image_verify.py covers only in
part: the message for a tag re-pointed after signing, the bearer-token flow with credentials,
and a multi-arch index signed with a cosign v3 bundle. Against the real registries of
tests/registry, with signatures written by tests/images/signing.py."""

from __future__ import annotations

from bot.analyzers.images.trust import SignatureRule, VerdictStatus
from bot.engines.cosign import load_public_key, short_digest
from bot.engines.image_verify import ImageToVerify, VerdictCache, verify_sync
from bot.engines.registry import BasicCredentials
from tests.images.signing import ecdsa_signer, sign_bundle, sign_legacy
from tests.registry.plugin import RegistryHandle

SIGNER = ecdsa_signer(31)
RULE = SignatureRule(match=("**",), keys=(SIGNER.public_pem,), name="images.signatures[0]")


def by_tag(host: str, repository: str, tag: str) -> ImageToVerify:
    return ImageToVerify(f"{host}/{repository}:{tag}", host, repository, tag, None, RULE)


def test_a_tag_re_pointed_after_signing_is_reported_with_the_digest_it_now_names(
    registry: RegistryHandle, registry_repo: str
) -> None:
    cache = VerdictCache()
    signed = registry.push_image(registry_repo, "v1", seed="gap-signed")
    sign_legacy(registry, registry_repo, signed.digest, SIGNER)
    (before,) = verify_sync([by_tag(registry.host, registry_repo, "v1")], cache=cache)
    assert before.status is VerdictStatus.VERIFIED and before.digest == signed.digest

    moved = registry.push_image(registry_repo, "v1", seed="gap-moved")  # same tag, new image
    (after,) = verify_sync([by_tag(registry.host, registry_repo, "v1")], cache=cache)
    assert after.status is VerdictStatus.UNSIGNED
    assert after.digest == moved.digest
    # The message names the image the tag points to now, never the one that was signed.
    assert after.detail == (
        f"no cosign signature for {short_digest(moved.digest)} in "
        f"{registry.host}/{registry_repo} (no signature bundle referrer, no "
        f"{short_digest(moved.digest).replace(':', '-')}.sig tag)"
    )
    assert short_digest(signed.digest) not in after.detail


def test_token_registry_with_credentials_is_verified_through_the_token_flow(
    token_registry: RegistryHandle, registry_repo: str
) -> None:
    image = token_registry.push_image(registry_repo, "v1", seed="gap-token")
    sign_legacy(token_registry, registry_repo, image.digest, SIGNER)
    tokens = token_registry.token_server
    assert tokens is not None and token_registry.password is not None
    credentials = {token_registry.host: BasicCredentials("tester", token_registry.password)}

    (verdict,) = verify_sync(
        [by_tag(token_registry.host, registry_repo, "v1")], credentials=credentials
    )
    assert verdict.status is VerdictStatus.VERIFIED
    assert verdict.digest == image.digest
    scope = f"repository:{registry_repo}:pull"
    assert {r.account for r in tokens.requests_for(scope)} == {"tester"}  # not anonymous


def test_a_multi_arch_index_signed_with_a_v3_bundle_is_verified(
    registry: RegistryHandle, registry_repo: str
) -> None:
    index = registry.push_multiarch(registry_repo, "v1", seed="gap-multi")
    referrer = sign_bundle(registry, registry_repo, index, SIGNER)

    (verdict,) = verify_sync([by_tag(registry.host, registry_repo, "v1")])
    assert verdict.status is VerdictStatus.VERIFIED
    assert verdict.digest == index.digest  # the index, not one of its platform images
    assert verdict.signature_format == "bundle"
    assert verdict.detail == (
        f"bundle referrer {short_digest(referrer.digest)} verified with key "
        f"{load_public_key(SIGNER.public_pem).label}"
    )
