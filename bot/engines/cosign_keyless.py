"""cosign keyless verification: signatures made with a short-lived Fulcio certificate and
recorded in a Rekor transparency log, checked against a Sigstore trusted root, with
``cryptography`` only (library level: the configuration does not accept keyless rules yet).

A keyless signature is trusted through three independent records instead of a key the user
holds: the certificate chains to a trusted Fulcio CA at the moment the transparency log
recorded the signature (``integratedTime``, so an expired ten-minute certificate still
verifies); the log's signed promise (SET) and, when present, its Merkle inclusion proof to a
signed checkpoint bind that moment to this payload, signature and certificate; and the
certificate's identity (SAN and OIDC issuer) must be the one the policy names.

- :func:`verify_legacy_keyless`: a legacy ``.sig`` layer with the certificate and Rekor bundle
  annotations (vector C of ``reference/image-signing.md``);
- :func:`verify_bundle_keyless`: a cosign v3 keyless Sigstore bundle, including its embedded
  SCT (vector D);
- :func:`load_trusted_root` / :func:`transparency_log`: the trust material;
  :func:`merkle_root_from_proof` (RFC 9162) and :func:`canonical_json` are the log primitives.

The shared vocabulary (:class:`~bot.engines.cosign.Problem`, DSSE envelopes, statement checks)
lives in :mod:`bot.engines.cosign`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from bot.engines.cosign import (
    CERTIFICATE_ANNOTATION,
    REKOR_BUNDLE_ANNOTATION,
    SIGN_PREDICATE_TYPE,
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_TYPE,
    Envelope,
    KeyLoadError,
    MalformedError,
    Problem,
    PublicKey,
    b64decode_field,
    check_statement,
    dsse_envelope,
    json_object,
    load_public_key,
    other_digest,
    pae,
    short_digest,
    simple_signing_claims,
    verify_with,
)

_OIDC_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")  # raw string (deprecated)
_OIDC_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")  # DER UTF8String
_MAX_CHAIN = 4
# What walking a JSON document of unexpected shape raises (binascii.Error is a ValueError).
_SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who must have signed: the certificate's SAN (email or URI), exactly, and the OIDC issuer
    from Fulcio's extension (``None`` skips it: 2021 certificates have no issuer extension)."""

    subject: str
    issuer: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    chain: tuple[x509.Certificate, ...]  # issuing certificate first, root last
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def covers(self, moment: datetime) -> bool:
        return _within(moment, self.valid_from, self.valid_until)


@dataclass(frozen=True, slots=True)
class TransparencyLog:
    """A Rekor or CT log key; ``log_id`` is sha256 of its PKIX DER (Rekor's logID)."""

    key: PublicKey
    log_id: bytes
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class TrustedRoot:
    authorities: tuple[CertificateAuthority, ...]
    tlogs: tuple[TransparencyLog, ...]
    ctlogs: tuple[TransparencyLog, ...] = ()


@dataclass(frozen=True, slots=True)
class KeylessCheck:
    problem: Problem | None
    detail: str
    subject: str | None = None
    issuer: str | None = None
    integrated_time: datetime | None = None
    checked: tuple[str, ...] = ()  # what was verified, in order: the honest list for reports

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Keyless(Exception):
    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.detail = detail


def _stopped(exc: Exception, checked: list[str]) -> KeylessCheck:
    """The verdict of a check that ``exc`` ended, with what had verified until then."""
    if isinstance(exc, MalformedError):
        return KeylessCheck(Problem.MALFORMED, str(exc), checked=tuple(checked))
    if isinstance(exc, _Keyless):
        return KeylessCheck(exc.problem, exc.detail, checked=tuple(checked))
    # Otherwise one of _SHAPE_ERRORS: a field of the wrong type deep in untrusted JSON.
    detail = f"malformed signature material: {type(exc).__name__}: {exc}"
    return KeylessCheck(Problem.MALFORMED, detail, checked=tuple(checked))


def transparency_log(pem: str | bytes) -> TransparencyLog:
    """A log from its PEM public key (Rekor's ``rekor.pub``)."""
    key = load_public_key(pem).public_key
    return TransparencyLog(key, _key_id(key))


def load_trusted_root(data: bytes) -> TrustedRoot:
    """A Sigstore ``trusted_root.json`` (media type ``…trustedroot+json;version=0.1``)."""
    try:
        return _trusted_root(json.loads(data))
    except (*_SHAPE_ERRORS, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"malformed trusted root: {type(exc).__name__}: {exc}") from exc


def _trusted_root(document: Mapping[str, Any]) -> TrustedRoot:
    authorities = tuple(
        CertificateAuthority(
            tuple(
                x509.load_der_x509_certificate(base64.b64decode(cert["rawBytes"]))
                for cert in entry["certChain"]["certificates"]
            ),
            *_valid_for(entry.get("validFor")),
        )
        for entry in document.get("certificateAuthorities", [])
    )
    return TrustedRoot(
        authorities,
        tuple(_log_entry(entry) for entry in document.get("tlogs", [])),
        tuple(_log_entry(entry) for entry in document.get("ctlogs", [])),
    )


def _log_entry(entry: Mapping[str, Any]) -> TransparencyLog:
    key_info = entry["publicKey"]
    key = serialization.load_der_public_key(base64.b64decode(key_info["rawBytes"]))
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise KeyLoadError(f"unsupported log key type {type(key).__name__}")
    return TransparencyLog(
        key, base64.b64decode(entry["logId"]["keyId"]), *_valid_for(key_info.get("validFor"))
    )


def _valid_for(period: Mapping[str, str] | None) -> tuple[datetime | None, datetime | None]:
    period = period or {}
    return (
        _timestamp(period["start"]) if "start" in period else None,
        _timestamp(period["end"]) if "end" in period else None,
    )


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or start <= moment) and (end is None or moment <= end)


def _key_id(key: PublicKey) -> bytes:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()


def verify_legacy_keyless(
    payload: bytes,
    annotations: Mapping[str, str],
    digest: str,
    trust: TrustedRoot,
    identity: Identity,
) -> KeylessCheck:
    """A legacy keyless layer: the certificate annotation's key signed the raw payload, the
    certificate chains to a trusted Fulcio CA at the Rekor ``integratedTime``, the Rekor bundle
    annotation's SET verifies with a trusted Rekor key and its body binds this payload,
    signature and certificate, the SAN (and issuer) match ``identity``, and the payload is a
    cosign image signature for ``digest``.

    Not checked: an embedded SCT (2021 certificates have none; :func:`verify_bundle_keyless`
    checks it), an RFC 3161 timestamp instead of Rekor, the ``chain`` annotation (the trusted
    root supplies the intermediates).
    """
    checked: list[str] = []
    try:
        leaf = _certificate_pem(annotations.get(CERTIFICATE_ANNOTATION))
        signature = b64decode_field(annotations.get(SIGNATURE_ANNOTATION), "signature annotation")
        if not verify_with(_certificate_key(leaf), signature, payload):
            raise _Keyless(
                Problem.BAD_SIGNATURE,
                "signature does not verify with the certificate's key: payload altered",
            )
        checked.append("signature over the payload with the certificate's key")
        entry = json_object(
            (annotations.get(REKOR_BUNDLE_ANNOTATION) or "").encode(), "Rekor bundle annotation"
        )
        moment = _legacy_rekor_entry(entry, trust, payload, signature, leaf, checked)
        path = _verify_chain(leaf, trust, moment)
        checked.append(
            f"certificate chain to {path[-1].subject.rfc4514_string()} at integratedTime"
        )
        subject, issuer = _check_identity(leaf, identity)
        checked.append(f"identity {subject}" + (f" from {issuer}" if issuer else ""))
        claimed, kind = simple_signing_claims(payload)
    except (MalformedError, _Keyless, *_SHAPE_ERRORS) as exc:
        return _stopped(exc, checked)
    if kind != SIMPLE_SIGNING_TYPE:
        return KeylessCheck(Problem.WRONG_TYPE, f"payload critical.type is {kind!r}")
    if claimed != digest:
        other = other_digest(claimed, digest)
        return KeylessCheck(Problem.OTHER_DIGEST, other.detail, checked=tuple(checked))
    checked.append(f"payload bound to {short_digest(digest)}")
    return KeylessCheck(
        None,
        f"keyless signature by {subject} verified",
        subject,
        issuer,
        moment,
        tuple(checked),
    )


def _legacy_rekor_entry(
    entry: Mapping[str, Any],
    trust: TrustedRoot,
    payload: bytes,
    signature: bytes,
    leaf: x509.Certificate,
    checked: list[str],
) -> datetime:
    """Check a legacy ``{SignedEntryTimestamp, Payload}`` bundle; returns integratedTime."""
    body = entry.get("Payload")
    if not isinstance(body, dict):
        raise MalformedError("Rekor bundle has no Payload")
    log_id = body.get("logID")
    log = _find_log(trust.tlogs, bytes.fromhex(log_id) if isinstance(log_id, str) else b"")
    set_signature = b64decode_field(entry.get("SignedEntryTimestamp"), "SignedEntryTimestamp")
    if not verify_with(log.key, set_signature, canonical_json(body)):
        raise _Keyless(Problem.TRANSPARENCY_LOG, "Rekor SignedEntryTimestamp does not verify")
    checked.append("Rekor SET with the trusted Rekor key")
    moment = _integrated_time(body.get("integratedTime"), log)
    rekord = json_object(b64decode_field(body.get("body"), "Rekor body"), "Rekor body")
    _check_rekord(rekord, payload, signature, leaf)
    checked.append("Rekor body binds the payload hash, signature and certificate")
    return moment


def _check_rekord(
    rekord: Mapping[str, Any], payload: bytes, signature: bytes, leaf: x509.Certificate
) -> None:
    if rekord.get("kind") not in ("rekord", "hashedrekord"):
        raise _Keyless(Problem.TRANSPARENCY_LOG, f"Rekor entry kind {rekord.get('kind')!r}")
    spec = rekord.get("spec") or {}
    data_hash = ((spec.get("data") or {}).get("hash") or {}).get("value")
    if data_hash != hashlib.sha256(payload).hexdigest():
        raise _Keyless(
            Problem.TRANSPARENCY_LOG, "Rekor entry is for another payload (hash differs)"
        )
    logged = spec.get("signature") or {}
    if b64decode_field(logged.get("content"), "Rekor signature") != signature:
        raise _Keyless(Problem.TRANSPARENCY_LOG, "Rekor entry holds another signature")
    logged_key = b64decode_field((logged.get("publicKey") or {}).get("content"), "Rekor public key")
    if _certificate_pem(logged_key.decode("utf-8", "replace")) != leaf:
        raise _Keyless(Problem.TRANSPARENCY_LOG, "Rekor entry holds another certificate")


def canonical_json(value: object) -> bytes:
    """RFC 8785-style canonical JSON for the values Rekor signs (strings and integers)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _find_log(logs: Sequence[TransparencyLog], log_id: bytes) -> TransparencyLog:
    for log in logs:
        if log.log_id == log_id:
            return log
    raise _Keyless(
        Problem.TRANSPARENCY_LOG,
        f"transparency log {log_id.hex()[:16]}… is not in the trusted root",
    )


def _integrated_time(value: object, log: TransparencyLog) -> datetime:
    try:
        moment = datetime.fromtimestamp(int(str(value)), UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise MalformedError(f"integratedTime {value!r} is not a Unix time") from exc
    if not _within(moment, log.valid_from, log.valid_until):
        raise _Keyless(Problem.TRANSPARENCY_LOG, "the log key was not valid at integratedTime")
    return moment


def _certificate_pem(text: object) -> x509.Certificate:
    if not isinstance(text, str) or "BEGIN CERTIFICATE" not in text:
        raise MalformedError("no certificate (annotation dev.sigstore.cosign/certificate)")
    try:
        return x509.load_pem_x509_certificate(text.encode())
    except ValueError as exc:
        raise MalformedError(f"unreadable certificate: {exc}") from exc


def _certificate_key(certificate: x509.Certificate) -> PublicKey:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise _Keyless(Problem.CERTIFICATE, f"unsupported certificate key {type(key).__name__}")
    return key


def _verify_chain(
    leaf: x509.Certificate, trust: TrustedRoot, moment: datetime
) -> list[x509.Certificate]:
    """The path leaf → … → self-signed root through one trusted CA, each certificate valid at
    ``moment`` (the signing time, so expired short-lived Fulcio certificates still verify)."""
    _check_leaf(leaf, moment)
    reasons = []
    for authority in trust.authorities:
        if not authority.covers(moment):
            reasons.append("CA not valid at integratedTime")
            continue
        try:
            return _path_through(leaf, authority.chain, moment)
        except _Keyless as exc:
            reasons.append(exc.detail)
    raise _Keyless(
        Problem.CERTIFICATE,
        "certificate does not chain to a trusted Fulcio CA"
        + (f" ({'; '.join(sorted(set(reasons)))})" if reasons else ""),
    )


def _check_leaf(leaf: x509.Certificate, moment: datetime) -> None:
    if not leaf.not_valid_before_utc <= moment <= leaf.not_valid_after_utc:
        raise _Keyless(
            Problem.CERTIFICATE,
            f"certificate valid {leaf.not_valid_before_utc:%Y-%m-%d %H:%M:%S} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC does not cover the signing time "
            f"{moment:%Y-%m-%d %H:%M:%S} UTC",
        )
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = x509.ExtendedKeyUsage([])
    if ExtendedKeyUsageOID.CODE_SIGNING not in usages:
        raise _Keyless(Problem.CERTIFICATE, "certificate is not for code signing (EKU)")


def _path_through(
    leaf: x509.Certificate, chain: Sequence[x509.Certificate], moment: datetime
) -> list[x509.Certificate]:
    path = [leaf]
    for _ in range(_MAX_CHAIN):
        current = path[-1]
        issuer = next((c for c in chain if _issued_by(current, c)), None)
        if issuer is None:
            raise _Keyless(
                Problem.CERTIFICATE, f"no trusted issuer for {current.issuer.rfc4514_string()}"
            )
        _check_ca(issuer, moment, below=len(path) - 1)
        path.append(issuer)
        if issuer.issuer == issuer.subject:
            return path
    raise _Keyless(Problem.CERTIFICATE, "certificate chain too long")


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject or certificate == issuer:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _check_ca(ca: x509.Certificate, moment: datetime, *, below: int) -> None:
    if not ca.not_valid_before_utc <= moment <= ca.not_valid_after_utc:
        raise _Keyless(Problem.CERTIFICATE, f"CA {ca.subject.rfc4514_string()} not valid then")
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        raise _Keyless(Problem.CERTIFICATE, "issuer is not a CA (no basicConstraints)") from exc
    if not constraints.ca:
        raise _Keyless(Problem.CERTIFICATE, "issuer is not a CA")
    if constraints.path_length is not None and below > constraints.path_length:
        raise _Keyless(Problem.CERTIFICATE, "CA path length constraint exceeded")


def _check_identity(leaf: x509.Certificate, identity: Identity) -> tuple[str, str | None]:
    subjects = _san_values(leaf)
    issuer = _oidc_issuer(leaf)
    if identity.subject not in subjects:
        raise _Keyless(
            Problem.IDENTITY,
            f"signed by {', '.join(subjects) or 'an unnamed identity'}, not {identity.subject}",
        )
    if identity.issuer is not None and issuer != identity.issuer:
        raise _Keyless(
            Problem.IDENTITY,
            f"identity issued by {issuer or 'an unknown issuer'}, not {identity.issuer}",
        )
    return identity.subject, issuer


def _san_values(leaf: x509.Certificate) -> list[str]:
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [
        *names.get_values_for_type(x509.RFC822Name),
        *names.get_values_for_type(x509.UniformResourceIdentifier),
    ]


def _oidc_issuer(leaf: x509.Certificate) -> str | None:
    for oid, der in ((_OIDC_ISSUER_V2, True), (_OIDC_ISSUER_V1, False)):
        try:
            value = leaf.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        return _der_utf8(raw) if der else raw.decode("utf-8", "replace")
    return None


def _der_utf8(raw: bytes) -> str:
    """The text of a DER UTF8String (tag 0x0c), short or long length form."""
    if len(raw) < 2 or raw[0] != 0x0C:
        raise _Keyless(Problem.CERTIFICATE, "malformed OIDC issuer extension")
    length, start = raw[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, start = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
    return raw[start : start + length].decode("utf-8", "replace")


# --------------------------------------------------------------------------- keyless bundle


def verify_bundle_keyless(
    bundle: bytes,
    digest: str | None,
    trust: TrustedRoot,
    identity: Identity,
    *,
    predicate_types: Collection[str] | None = (SIGN_PREDICATE_TYPE,),
) -> KeylessCheck:
    """A keyless Sigstore bundle with a DSSE envelope (cosign v3 ``sign``/``attest``).

    Checked: the DSSE signature with the leaf certificate's key; the first tlog entry — its
    log is in the trusted root, the inclusion promise (SET) verifies, its body binds the
    payload hash, signature and certificate, and, when present, the inclusion proof reaches
    the root hash of a checkpoint signed by the same log; the certificate chains to a trusted
    Fulcio CA at integratedTime, is for code signing, and its embedded SCT verifies with a
    trusted CT log; the identity; the statement (subject ``digest`` unless None, predicate
    type unless ``predicate_types`` is None). Not checked: RFC 3161 timestamps, more than one
    tlog entry, Rekor v2 entries.
    """
    checked: list[str] = []
    try:
        document = json_object(bundle, "bundle")
        leaf = _bundle_certificate(document)
        envelope = dsse_envelope(document)
        key = _certificate_key(leaf)
        signed = pae(envelope.payload_type, envelope.payload)
        signature = next((s for s in envelope.signatures if verify_with(key, s, signed)), None)
        if signature is None:
            raise _Keyless(
                Problem.BAD_SIGNATURE,
                "DSSE signature does not verify with the certificate's key: payload altered",
            )
        checked.append("DSSE signature over the PAE with the certificate's key")
        moment = _bundle_tlog_entry(document, trust, envelope, signature, leaf, checked)
        path = _verify_chain(leaf, trust, moment)
        checked.append(
            f"certificate chain to {path[-1].subject.rfc4514_string()} at integratedTime"
        )
        _verify_sct(leaf, path[1], trust)
        checked.append("embedded SCT with a trusted CT log key")
        subject, issuer = _check_identity(leaf, identity)
        checked.append(f"identity {subject}" + (f" from {issuer}" if issuer else ""))
    except (MalformedError, _Keyless, *_SHAPE_ERRORS) as exc:
        return _stopped(exc, checked)
    statement = check_statement(envelope, digest, predicate_types, subject, None)
    if not statement.ok:
        return KeylessCheck(statement.problem, statement.detail, checked=tuple(checked))
    checked.append("in-toto statement (subject, predicate type)")
    return KeylessCheck(
        None,
        f"keyless bundle signed by {subject} verified",
        subject,
        issuer,
        moment,
        tuple(checked),
    )


def _bundle_certificate(document: Mapping[str, Any]) -> x509.Certificate:
    material = document.get("verificationMaterial") or {}
    raw = (material.get("certificate") or {}).get("rawBytes")
    if raw is None:
        chain = (material.get("x509CertificateChain") or {}).get("certificates") or [{}]
        raw = chain[0].get("rawBytes")
    if raw is None:
        raise MalformedError("bundle has no certificate (a key-based bundle is not keyless)")
    try:
        return x509.load_der_x509_certificate(b64decode_field(raw, "certificate rawBytes"))
    except ValueError as exc:
        raise MalformedError(f"unreadable bundle certificate: {exc}") from exc


def _bundle_tlog_entry(
    document: Mapping[str, Any],
    trust: TrustedRoot,
    envelope: Envelope,
    signature: bytes,
    leaf: x509.Certificate,
    checked: list[str],
) -> datetime:
    entries = (document.get("verificationMaterial") or {}).get("tlogEntries") or []
    if not entries:
        raise _Keyless(Problem.TRANSPARENCY_LOG, "bundle has no transparency log entry")
    entry = entries[0]
    log = _find_log(trust.tlogs, b64decode_field((entry.get("logId") or {}).get("keyId"), "logId"))
    body_b64 = entry.get("canonicalizedBody")
    body = b64decode_field(body_b64, "canonicalizedBody")
    promise = b64decode_field(
        (entry.get("inclusionPromise") or {}).get("signedEntryTimestamp"), "inclusion promise"
    )
    signed_entry = {
        "body": body_b64,
        "integratedTime": int(entry.get("integratedTime", -1)),
        "logID": log.log_id.hex(),
        "logIndex": int(entry.get("logIndex", -1)),
    }
    if not verify_with(log.key, promise, canonical_json(signed_entry)):
        raise _Keyless(Problem.TRANSPARENCY_LOG, "inclusion promise (SET) does not verify")
    checked.append("inclusion promise (SET) with the trusted Rekor key")
    moment = _integrated_time(entry.get("integratedTime"), log)
    _check_dsse_entry(json_object(body, "tlog body"), envelope, signature, leaf)
    checked.append("tlog body binds the payload hash, signature and certificate")
    proof = entry.get("inclusionProof")
    if proof:
        _check_inclusion_proof(proof, body, log)
        checked.append("inclusion proof to a checkpoint signed by the Rekor key")
    return moment


def _check_dsse_entry(
    body: Mapping[str, Any], envelope: Envelope, signature: bytes, leaf: x509.Certificate
) -> None:
    if body.get("kind") != "dsse":
        raise _Keyless(
            Problem.TRANSPARENCY_LOG, f"tlog entry kind {body.get('kind')!r} is not dsse"
        )
    spec = body.get("spec") or {}
    payload_hash = (spec.get("payloadHash") or {}).get("value")
    if payload_hash != hashlib.sha256(envelope.payload).hexdigest():
        raise _Keyless(Problem.TRANSPARENCY_LOG, "tlog entry is for another payload (hash differs)")
    leaf_pem = leaf.public_bytes(serialization.Encoding.PEM)
    for logged in spec.get("signatures") or []:
        same_signature = base64.b64decode(logged.get("signature", "")) == signature
        verifier = base64.b64decode(logged.get("verifier", ""))
        if same_signature and verifier.strip() == leaf_pem.strip():
            return
    raise _Keyless(Problem.TRANSPARENCY_LOG, "tlog entry holds another signature or certificate")


def _check_inclusion_proof(proof: Mapping[str, Any], body: bytes, log: TransparencyLog) -> None:
    """RFC 9162 §2.1.3.2 audit path from the entry's leaf hash to the proof's root hash, and
    the checkpoint (a signed note) that commits the log to that root at that size."""
    index, size = int(proof.get("logIndex", -1)), int(proof.get("treeSize", -1))
    root = b64decode_field(proof.get("rootHash"), "inclusion proof rootHash")
    path = [b64decode_field(h, "inclusion proof hash") for h in proof.get("hashes") or []]
    computed = merkle_root_from_proof(index, size, hashlib.sha256(b"\0" + body).digest(), path)
    if computed != root:
        raise _Keyless(Problem.TRANSPARENCY_LOG, "inclusion proof does not reach the root hash")
    note = str((proof.get("checkpoint") or {}).get("envelope") or "")
    text, _, signatures = note.partition("\n\n")
    lines = text.split("\n")
    if (
        len(lines) < 3
        or lines[1] != str(size)
        or b64decode_field(lines[2], "checkpoint root") != root
    ):
        raise _Keyless(Problem.TRANSPARENCY_LOG, "checkpoint is for another tree size or root")
    for line in signatures.splitlines():
        raw = b64decode_field(line.rpartition(" ")[2], "checkpoint signature")
        # A note signature is a 4-byte key hint (the start of the log ID) and the signature.
        ours = line.startswith("\u2014 ") and raw[:4] == log.log_id[:4]
        if ours and verify_with(log.key, raw[4:], (text + "\n").encode()):
            return
    raise _Keyless(Problem.TRANSPARENCY_LOG, "checkpoint is not signed by the trusted Rekor key")


def merkle_root_from_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    if not 0 <= index < size:
        raise _Keyless(
            Problem.TRANSPARENCY_LOG, f"inclusion proof index {index} outside tree {size}"
        )
    fn, sn, result = index, size - 1, leaf_hash
    for sibling in proof:
        if sn == 0:
            raise _Keyless(Problem.TRANSPARENCY_LOG, "inclusion proof too long")
        if fn & 1 or fn == sn:
            result = hashlib.sha256(b"\x01" + sibling + result).digest()
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = hashlib.sha256(b"\x01" + result + sibling).digest()
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise _Keyless(Problem.TRANSPARENCY_LOG, "inclusion proof too short")
    return result


def _verify_sct(leaf: x509.Certificate, issuer: x509.Certificate, trust: TrustedRoot) -> None:
    """The leaf's embedded precertificate SCT (RFC 6962 §3.2) signed by a trusted CT log."""
    try:
        scts = leaf.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        ).value
    except x509.ExtensionNotFound as exc:
        raise _Keyless(Problem.CERTIFICATE, "certificate has no embedded SCT") from exc
    issuer_key_hash = hashlib.sha256(
        issuer.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).digest()
    tbs = leaf.tbs_precertificate_bytes
    for sct in scts:
        log = next((log for log in trust.ctlogs if log.log_id == sct.log_id), None)
        if log is None:
            continue
        millis = (
            sct.timestamp.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
        ) // timedelta(milliseconds=1)
        signed = (
            b"\x00\x00"  # v1, certificate_timestamp
            + millis.to_bytes(8, "big")
            + b"\x00\x01"  # precert_entry
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + len(sct.extension_bytes).to_bytes(2, "big")
            + sct.extension_bytes
        )
        if verify_with(log.key, sct.signature, signed):
            return
    raise _Keyless(Problem.CERTIFICATE, "no embedded SCT verifies with a trusted CT log")
