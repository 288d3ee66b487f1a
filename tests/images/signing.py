"""What cosign writes to a registry, produced with ``cryptography`` for tests.

- keys: :class:`Signer` for ECDSA P-256/P-384, RSA and Ed25519, fixed per seed;
- legacy signatures (cosign ≤ v2): the simple-signing payload, the layer with its
  ``dev.cosignproject.cosign/signature`` annotation, and the ``sha256-<hex>.sig`` manifest
  holding one layer per signature (:func:`push_legacy_signatures`);
- cosign v3 signatures: the Sigstore bundle (DSSE over an in-toto statement) pushed by digest
  as a referrer whose ``subject`` is the image, plus the ``sha256-<hex>`` referrers-tag index
  that cosign (go-containerregistry) writes when the registry has no referrers API, as
  distribution 2.8 does not (:func:`push_bundle_signature`).

Images themselves come from ``tests.registry.push`` (``push_image``, ``push_multiarch``).
Everything is deterministic: ECDSA signs with RFC 6979 nonces, Ed25519 and RSA PKCS#1 v1.5 are
deterministic anyway, so the same inputs give the same bytes and digests.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from bot.engines.cosign import (
    BUNDLE_MEDIA_TYPE,
    BUNDLE_PREDICATE_ANNOTATION,
    IN_TOTO_PAYLOAD_TYPE,
    SIGN_PREDICATE_TYPE,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    SIMPLE_SIGNING_TYPE,
    pae,
)
from tests.registry.push import AsyncPusher, Layer, Pushed, Pusher

IN_TOTO_STATEMENT_V1 = "https://in-toto.io/Statement/v1"
CREATED = "2025-01-01T00:00:00Z"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
# cosign's .sig manifests carry a (meaningless) image config; verifiers ignore it.
SIG_CONFIG = Layer(
    OCI_CONFIG,
    b'{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers",'
    b'"diff_ids":[]},"config":{}}',
)


def canonical(document: object) -> bytes:
    """Compact JSON, as Go's encoder writes it (byte-exact: signatures and digests cover it)."""
    return json.dumps(document, separators=(",", ":")).encode()


def sig_tag(digest: str) -> str:
    """cosign's legacy signature tag for an image digest: ``sha256-<hex>.sig``."""
    return digest.replace(":", "-", 1) + ".sig"


# --------------------------------------------------------------------------- keys


@dataclass(frozen=True)
class Signer:
    """A private key and how cosign signs with it."""

    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    def sign(self, data: bytes) -> bytes:
        key = self.private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            digest = hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()
            return key.sign(data, ec.ECDSA(digest, deterministic_signing=True))
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(data)

    @property
    def public_pem(self) -> str:
        """What goes into a signature rule's ``keys`` (cosign.pub)."""
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def hint(self) -> str:
        """cosign's bundle ``publicKey.hint``: base64 of sha256 of the PKIX DER."""
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(hashlib.sha256(der).digest()).decode()


def ecdsa_signer(seed: int = 1, curve: ec.EllipticCurve | None = None) -> Signer:
    """A fixed ECDSA key per seed (P-256 unless ``curve``): cosign's default algorithm."""
    return Signer(ec.derive_private_key(0x5EED0000 + seed, curve or ec.SECP256R1()))


def ed25519_signer(seed: int = 1) -> Signer:
    private = hashlib.sha256(b"ed25519-%d" % seed).digest()
    return Signer(ed25519.Ed25519PrivateKey.from_private_bytes(private))


@functools.cache
def rsa_signer(bits: int = 2048) -> Signer:
    """RSA keys cannot be derived from a seed with cryptography: one per process and size."""
    return Signer(rsa.generate_private_key(public_exponent=65537, key_size=bits))


# --------------------------------------------------------------------------- legacy .sig


def simple_signing_payload(
    docker_reference: str, digest: str, optional: Mapping[str, str] | None = None
) -> bytes:
    """The payload ``cosign sign`` signs (Go ``json.Marshal`` of its struct: this order)."""
    document = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIMPLE_SIGNING_TYPE,
        },
        "optional": dict(optional) if optional else None,
    }
    return canonical(document)


def signature_layer(payload: bytes, signature: bytes, **annotations: str) -> Layer:
    """One ``.sig`` manifest layer: the payload blob and its signature annotation."""
    encoded = base64.b64encode(signature).decode()
    return Layer(SIMPLE_SIGNING_MEDIA_TYPE, payload, {SIGNATURE_ANNOTATION: encoded, **annotations})


def legacy_signature(signer: Signer, docker_reference: str, digest: str) -> Layer:
    """The layer ``cosign sign --key`` adds for one image digest."""
    payload = simple_signing_payload(docker_reference, digest)
    return signature_layer(payload, signer.sign(payload))


def push_legacy_signatures(
    registry: Pusher, repository: str, digest: str, layers: Sequence[Layer], *, docker: bool = False
) -> Pushed:
    """Write the ``sha256-<hex>.sig`` manifest of ``digest`` with exactly ``layers``."""
    return registry.push_artifact(
        repository, layers=layers, config=SIG_CONFIG, tag=sig_tag(digest), docker=docker
    )


def sign_legacy(
    registry: Pusher, repository: str, digest: str, signer: Signer, *, host: str = "example"
) -> Pushed:
    """``cosign sign --key`` (v2 default) for one signer."""
    layer = legacy_signature(signer, f"{host}/{repository}", digest)
    return push_legacy_signatures(registry, repository, digest, [layer])


async def async_sign_legacy(
    pusher: AsyncPusher, repository: str, digest: str, signer: Signer
) -> Pushed:
    layer = legacy_signature(signer, repository, digest)
    return await pusher.push_artifact(
        repository, layers=[layer], config=SIG_CONFIG, tag=sig_tag(digest)
    )


# --------------------------------------------------------------------------- v3 bundles


def sign_statement(digest: str, predicate_type: str = SIGN_PREDICATE_TYPE) -> bytes:
    """cosign v3's signature statement for an image digest (its subject has no name)."""
    algorithm, _, hex_digest = digest.partition(":")
    return canonical(
        {
            "_type": IN_TOTO_STATEMENT_V1,
            "subject": [{"digest": {algorithm: hex_digest}}],
            "predicateType": predicate_type,
            "predicate": {},
        }
    )


def bundle(
    signer: Signer,
    statement: bytes,
    *,
    payload_type: str = IN_TOTO_PAYLOAD_TYPE,
    signed_payload: bytes | None = None,
) -> bytes:
    """A key-based Sigstore bundle v0.3 with a DSSE envelope over ``statement``.

    ``signed_payload``: sign these bytes instead of the statement carried (a swapped payload).
    """
    signed = statement if signed_payload is None else signed_payload
    signature = signer.sign(pae(payload_type, signed))
    return canonical(
        {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {"publicKey": {"hint": signer.hint}, "tlogEntries": []},
            "dsseEnvelope": {
                "payload": base64.b64encode(statement).decode(),
                "payloadType": payload_type,
                "signatures": [{"sig": base64.b64encode(signature).decode()}],
            },
        }
    )


def referrer_annotations(predicate_type: str = SIGN_PREDICATE_TYPE) -> dict[str, str]:
    return {
        "dev.sigstore.bundle.content": "dsse-envelope",
        BUNDLE_PREDICATE_ANNOTATION: predicate_type,
        "org.opencontainers.image.created": CREATED,
    }


def push_bundle_signature(
    registry: Pusher,
    repository: str,
    subject: Pushed | Mapping[str, object],
    bundle_bytes: bytes,
    *,
    predicate_type: str = SIGN_PREDICATE_TYPE,
) -> Pushed:
    """Push a bundle as cosign v3 does: the referrer manifest by digest (empty config, one
    bundle layer, ``subject``), then the ``sha256-<hex>`` referrers-tag index entry."""
    return registry.push_artifact(
        repository,
        layers=[Layer(BUNDLE_MEDIA_TYPE, bundle_bytes)],
        artifact_type=BUNDLE_MEDIA_TYPE,
        subject=subject,
        annotations=referrer_annotations(predicate_type),
    )


def sign_bundle(registry: Pusher, repository: str, subject: Pushed, signer: Signer) -> Pushed:
    """``cosign sign --key`` (v3 default) for one signer."""
    envelope = bundle(signer, sign_statement(subject.digest))
    return push_bundle_signature(registry, repository, subject, envelope)


async def async_sign_bundle(
    pusher: AsyncPusher, repository: str, subject: Pushed, signer: Signer
) -> Pushed:
    envelope = bundle(signer, sign_statement(subject.digest))
    return await pusher.push_artifact(
        repository,
        layers=[Layer(BUNDLE_MEDIA_TYPE, envelope)],
        artifact_type=BUNDLE_MEDIA_TYPE,
        subject=subject,
        annotations=referrer_annotations(),
    )
