"""cosign key-based signature verification, pure (bytes in, verdicts out), with
``cryptography`` only.

What the image check uses:
- legacy "simple signing" layers of a ``sha256-<hex>.sig`` manifest
  (:func:`verify_simple_signing`): the annotation signature over the RAW payload bytes, the
  payload's ``critical.type`` and its digest binding;
- cosign v3 Sigstore bundles pushed as OCI referrers (:func:`verify_bundle`): the DSSE
  signature over the PAE, an in-toto statement whose subject is this image and whose predicate
  type is the cosign signature predicate. ``verificationMaterial.publicKey.hint`` only says
  which key the signer thought of; every trusted key is tried and the hint is never trusted.

This module also holds what every cosign format shares: the media types and annotations, the
trusted key types (:class:`TrustedKey`, :func:`verify_with`), the result vocabulary
(:class:`Problem`, :class:`SignatureCheck`), DSSE envelopes and their PAE, the simple-signing
payload and in-toto statement checks. Certificate-based (keyless) verification builds on them
in :mod:`bot.engines.cosign_keyless`.

Every failure says exactly why, in words that go to users in pull-request annotations.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
# cosign v2's experimental OCI 1.1 mode: a simple-signing layer pushed as a referrer.
COSIGN_V2_REFERRER_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
REKOR_BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
BUNDLE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"

SIMPLE_SIGNING_TYPE = "cosign container image signature"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
IN_TOTO_STATEMENT_TYPES = ("https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1")
SIGN_PREDICATE_TYPE = "https://sigstore.dev/cosign/sign/v1"

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_MIN_RSA_BITS = 2048
_SUPPORTED = "ECDSA P-256, ECDSA P-384, RSA (2048 bits or more) and Ed25519"


def short_digest(digest: str) -> str:
    """``sha256:`` and the first 12 hex digits: enough to tell images apart in a message."""
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}:{hex_part[:12]}…" if len(hex_part) > 12 else digest


# --------------------------------------------------------------------------- trusted keys


class KeyLoadError(ValueError):
    """A configured public key cannot be used; the message names the key type or the problem."""


@dataclass(frozen=True, slots=True)
class TrustedKey:
    public_key: PublicKey
    algorithm: str  # "ECDSA P-256/SHA-256", for messages
    fingerprint: str  # "sha256:<hex of sha256(PKIX DER)>", cosign's key hint in hex

    @property
    def label(self) -> str:
        return f"{short_digest(self.fingerprint)} ({self.algorithm})"

    def verifies(self, signature: bytes, data: bytes) -> bool:
        return verify_with(self.public_key, signature, data)


def load_public_key(pem: str | bytes) -> TrustedKey:
    """A cosign public key (PEM ``PUBLIC KEY``); :class:`KeyLoadError` for anything else."""
    text = pem.decode("utf-8", "replace") if isinstance(pem, bytes) else pem
    blocks = re.findall(r"-----BEGIN ([A-Z0-9 ]+)-----", text)
    if not blocks:
        raise KeyLoadError("not a PEM public key (no '-----BEGIN PUBLIC KEY-----' block)")
    if len(blocks) > 1:
        raise KeyLoadError(f"{len(blocks)} PEM blocks in one key entry; give one key per entry")
    if "PRIVATE KEY" in blocks[0]:
        raise KeyLoadError(
            f"this is a private key ({blocks[0]}); configure the public key (cosign.pub), "
            "and never commit the private one"
        )
    if blocks[0] != "PUBLIC KEY":
        raise KeyLoadError(f"PEM block '{blocks[0]}' is not a public key ('PUBLIC KEY')")
    try:
        key = serialization.load_pem_public_key(text.encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"unreadable public key: {exc}") from exc
    return trusted_key(key)


def trusted_key(key: object) -> TrustedKey:
    """Wrap an already parsed public key, refusing the types cosign does not sign with."""
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        kind = type(key).__name__.removeprefix("_").removesuffix("PublicKey") or "unknown"
        raise KeyLoadError(f"{kind} keys are not supported ({_SUPPORTED})")
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TrustedKey(key, _algorithm_name(key), "sha256:" + hashlib.sha256(der).hexdigest())


def load_public_keys(pems: Iterable[str]) -> tuple[TrustedKey, ...]:
    """Every key of a rule; the error names the entry (1-based) that failed."""
    keys = []
    for number, pem in enumerate(pems, 1):
        try:
            keys.append(load_public_key(pem))
        except KeyLoadError as exc:
            raise KeyLoadError(f"key {number}: {exc}") from exc
    return tuple(keys)


def _algorithm_name(key: PublicKey) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "ECDSA P-256/SHA-256"
        if isinstance(key.curve, ec.SECP384R1):
            return "ECDSA P-384/SHA-384"
        raise KeyLoadError(f"ECDSA keys on curve {key.curve.name} are not supported ({_SUPPORTED})")
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise KeyLoadError(f"RSA key of {key.key_size} bits is too small (minimum 2048)")
        return f"RSA-{key.key_size} PKCS#1 v1.5/SHA-256"
    return "Ed25519"


def verify_with(key: PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` over ``data`` verifies with ``key``, with the padding and hash
    cosign uses for that key type."""
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            return _verify_ecdsa(key, signature, data)
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _verify_ecdsa(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    # cosign < 3 hashed with SHA-256 whatever the curve; newer releases use SHA-384 on P-384.
    # Both are the same key holder's signature, so both are accepted on P-384.
    candidates: tuple[hashes.HashAlgorithm, ...] = (
        (hashes.SHA384(), hashes.SHA256())
        if isinstance(key.curve, ec.SECP384R1)
        else (hashes.SHA256(),)
    )
    for algorithm in candidates:
        try:
            key.verify(signature, data, ec.ECDSA(algorithm))
        except InvalidSignature:
            continue
        return True
    return False


def describe_keys(keys: Sequence[TrustedKey]) -> str:
    if len(keys) == 1:
        return f"the trusted key {keys[0].label}"
    labels = ", ".join(short_digest(key.fingerprint) for key in keys)
    return f"any of the {len(keys)} trusted keys ({labels})"


# --------------------------------------------------------------------------- results


class Problem(StrEnum):
    """Why one signature did not count; the orchestrator ranks and reports them."""

    BAD_SIGNATURE = "bad-signature"  # no trusted key verifies it
    OTHER_DIGEST = "other-digest"  # validly signed, but for another image (replay)
    WRONG_TYPE = "wrong-type"  # validly signed, but not a cosign image signature
    MALFORMED = "malformed"  # not parseable as what its media type says
    NOT_A_SIGNATURE = "not-a-signature"  # an attestation (another predicate type): ignored
    KEYLESS = "keyless"  # certificate-based: not supported by key rules
    IDENTITY = "identity"  # keyless: certificate identity does not match the policy
    CERTIFICATE = "certificate"  # keyless: chain, validity, extensions
    TRANSPARENCY_LOG = "transparency-log"  # keyless: SET, inclusion proof, log body


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The outcome for one signature (one layer, one bundle)."""

    key: TrustedKey | None  # the trusted key that verified it; None when it did not count
    problem: Problem | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.problem is None


def _verified(key: TrustedKey, detail: str) -> SignatureCheck:
    return SignatureCheck(key, None, detail)


def _failed(problem: Problem, detail: str) -> SignatureCheck:
    return SignatureCheck(None, problem, detail)


def other_digest(claimed: str, digest: str) -> SignatureCheck:
    """A valid signature for image ``claimed`` presented for ``digest``: a replay."""
    return _failed(
        Problem.OTHER_DIGEST,
        f"the signature payload is for {short_digest(claimed)}, not this image's "
        f"{short_digest(digest)} (signature copied from another image?)",
    )


def b64decode_field(text: object, what: str) -> bytes:
    """Strict base64 of an untrusted field; :class:`MalformedError` names it (``what``)."""
    if not isinstance(text, str) or not text:
        raise MalformedError(f"{what} is missing or not a string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"{what} is not valid base64") from exc


class MalformedError(Exception):
    """Signature material that is not what its media type says; verifiers turn it into a
    MALFORMED check with this message."""


# --------------------------------------------------------------------------- legacy .sig


def verify_simple_signing(
    payload: bytes,
    annotations: Mapping[str, str],
    digest: str,
    keys: Sequence[TrustedKey],
) -> SignatureCheck:
    """One legacy layer: ``payload`` is the layer blob (raw bytes, never re-serialised),
    ``annotations`` its descriptor's annotations, ``digest`` the image digest being verified.

    The signature is checked before anything in the payload is believed, so a payload that
    claims another digest is reported as a replay only when a trusted key really signed it.
    """
    try:
        signature = b64decode_field(
            annotations.get(SIGNATURE_ANNOTATION), f"annotation {SIGNATURE_ANNOTATION}"
        )
    except MalformedError as exc:
        return _failed(Problem.MALFORMED, f"signature layer: {exc}")
    key = next((key for key in keys if key.verifies(signature, payload)), None)
    if key is None:
        return _bad_signature(keys, keyless=CERTIFICATE_ANNOTATION in annotations)
    try:
        claimed, kind = simple_signing_claims(payload)
    except MalformedError as exc:
        return _failed(Problem.MALFORMED, f"signed payload (by key {key.label}) {exc}")
    if kind != SIMPLE_SIGNING_TYPE:
        return _failed(
            Problem.WRONG_TYPE,
            f"signed payload has critical.type {kind!r}, expected {SIMPLE_SIGNING_TYPE!r}",
        )
    if claimed != digest:
        return other_digest(claimed, digest)
    return _verified(key, f"legacy signature verified with key {key.label}")


def _bad_signature(keys: Sequence[TrustedKey], *, keyless: bool) -> SignatureCheck:
    if keyless:
        # cosign signed with a Fulcio certificate, not with one of our keys.
        return _failed(
            Problem.KEYLESS,
            "keyless signature (Fulcio certificate) does not verify with "
            f"{describe_keys(keys)}; keyless signatures are not supported yet",
        )
    return _failed(
        Problem.BAD_SIGNATURE,
        f"signature does not verify with {describe_keys(keys)}: "
        "payload altered or signed with another key",
    )


def simple_signing_claims(payload: bytes) -> tuple[str, str]:
    """(docker-manifest-digest, critical.type) of a simple-signing payload."""
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedError(f"is not valid JSON: {exc}") from exc
    critical = document.get("critical") if isinstance(document, dict) else None
    if not isinstance(critical, dict):
        raise MalformedError("has no 'critical' object")
    image = critical.get("image")
    claimed = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not isinstance(claimed, str):
        raise MalformedError("has no critical.image.docker-manifest-digest")
    kind = critical.get("type")
    return claimed, kind if isinstance(kind, str) else repr(kind)


# --------------------------------------------------------------------------- v3 bundles


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what a DSSE signature signs."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def verify_bundle(
    bundle: bytes,
    digest: str,
    keys: Sequence[TrustedKey],
    *,
    predicate_types: Collection[str] | None = (SIGN_PREDICATE_TYPE,),
) -> SignatureCheck:
    """A cosign v3 key-based Sigstore bundle (the referrer's layer blob) for image ``digest``.

    ``predicate_types=None`` accepts any predicate (attestations); the default accepts only
    cosign's signature predicate, and anything else is NOT_A_SIGNATURE (to be ignored).
    """
    try:
        document = json_object(bundle, "bundle")
        material = document.get("verificationMaterial")
        if isinstance(material, dict) and (
            "certificate" in material or "x509CertificateChain" in material
        ):
            return _failed(
                Problem.KEYLESS,
                "keyless bundle (Fulcio certificate): keyless signatures are not supported yet",
            )
        envelope = dsse_envelope(document)
    except MalformedError as exc:
        return _failed(Problem.MALFORMED, str(exc))
    key = _dsse_key(envelope, keys)
    if key is None:
        return _bad_signature(keys, keyless=False)
    return check_statement(envelope, digest, predicate_types, f"key {key.label}", key)


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    """``raw`` parsed as a JSON object; :class:`MalformedError` naming ``what`` otherwise."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MalformedError(f"{what} is not a JSON object")
    return document


@dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE envelope, decoded: the payload exactly as signed, every signature."""

    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]


def dsse_envelope(document: Mapping[str, Any]) -> Envelope:
    """The ``dsseEnvelope`` of a Sigstore bundle (key-based or keyless alike)."""
    envelope = document.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        if "messageSignature" in document:
            raise MalformedError(
                "bundle holds a blob signature (messageSignature), not a DSSE envelope"
            )
        raise MalformedError("bundle has no dsseEnvelope")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise MalformedError("DSSE envelope has no payloadType")
    payload = b64decode_field(envelope.get("payload"), "DSSE payload")
    entries = envelope.get("signatures")
    if not isinstance(entries, list) or not entries:
        raise MalformedError("DSSE envelope has no signatures")
    signatures = tuple(
        b64decode_field(entry.get("sig") if isinstance(entry, dict) else None, "DSSE signature")
        for entry in entries
    )
    return Envelope(payload_type, payload, signatures)


def _dsse_key(envelope: Envelope, keys: Sequence[TrustedKey]) -> TrustedKey | None:
    # The PAE covers the payload type, so a changed payloadType breaks the signature too.
    signed = pae(envelope.payload_type, envelope.payload)
    for signature in envelope.signatures:
        for key in keys:
            if key.verifies(signature, signed):
                return key
    return None


def check_statement(
    envelope: Envelope,
    digest: str | None,
    predicate_types: Collection[str] | None,
    signer: str,
    key: TrustedKey | None,
) -> SignatureCheck:
    """The signed in-toto statement: payload type, statement type, subject and predicate.

    Call it only once a signature over the envelope verified (``signer`` says by whom);
    ``digest=None`` accepts any subject, ``predicate_types=None`` any predicate.
    """
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        return _failed(
            Problem.WRONG_TYPE,
            f"DSSE payloadType is {envelope.payload_type!r}, expected {IN_TOTO_PAYLOAD_TYPE!r}",
        )
    try:
        statement = json_object(envelope.payload, f"signed in-toto statement (by {signer})")
    except MalformedError as exc:
        return _failed(Problem.MALFORMED, str(exc))
    if statement.get("_type") not in IN_TOTO_STATEMENT_TYPES:
        return _failed(
            Problem.WRONG_TYPE,
            f"signed payload is not an in-toto statement (_type {statement.get('_type')!r})",
        )
    predicate = statement.get("predicateType")
    if predicate_types is not None and predicate not in predicate_types:
        return _failed(
            Problem.NOT_A_SIGNATURE,
            f"bundle is an attestation (predicateType {predicate!r}), not a signature",
        )
    subjects = _subject_digests(statement)
    if digest is not None and digest not in subjects:
        if not subjects:
            return _failed(Problem.MALFORMED, "signed statement has no sha256 subject digest")
        return other_digest(subjects[0], digest)
    detail = f"bundle signature verified with {signer}"
    return SignatureCheck(key, None, detail)


def _subject_digests(statement: Mapping[str, Any]) -> list[str]:
    subjects = statement.get("subject")
    found = []
    for subject in subjects if isinstance(subjects, list) else []:
        digests = subject.get("digest") if isinstance(subject, dict) else None
        value = digests.get("sha256") if isinstance(digests, dict) else None
        if isinstance(value, str):
            found.append(f"sha256:{value.lower()}")
    return found
