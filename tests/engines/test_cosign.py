"""cosign verification without a registry: the public vectors A to D of
reference/image-signing.md §8 (C and D in tests/data/cosign) and keys of every supported
algorithm signed by tests/images/signing.py."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, x25519
from cryptography.x509.oid import NameOID

from bot.engines.cosign import (
    SIGN_PREDICATE_TYPE,
    SIGNATURE_ANNOTATION,
    KeyLoadError,
    Problem,
    load_public_key,
    load_public_keys,
    pae,
    verify_bundle,
    verify_simple_signing,
)
from bot.engines.cosign_keyless import (
    CertificateAuthority,
    Identity,
    TransparencyLog,
    TrustedRoot,
    canonical_json,
    load_trusted_root,
    merkle_root_from_proof,
    transparency_log,
    verify_bundle_keyless,
    verify_legacy_keyless,
)
from tests.images.signing import (
    Signer,
    bundle,
    canonical,
    ecdsa_signer,
    ed25519_signer,
    legacy_signature,
    rsa_signer,
    sign_statement,
    signature_layer,
    simple_signing_payload,
)

DATA = Path(__file__).parent.parent / "data" / "cosign"
DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32

# --- vector A: key-based legacy simple signing (sigstore-rs signature_layers.rs)
A_KEY = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENptdY/l3nB0yqkXLBWkZWQwo6+cu
OSWS1X9vPavpiQOoTTGC0xX57OojUadxF1cdQmrsiReWg2Wn4FneJfa8xw==
-----END PUBLIC KEY-----
"""
A_PAYLOAD = (
    b'{"critical":{"identity":{"docker-reference":"registry-testing.svc.lan/busybox"},'
    b'"image":{"docker-manifest-digest":"sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae'
    b'65427886e649b06b"},"type":"cosign container image signature"},"optional":null}'
)
A_DIGEST = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b"
A_SIGNATURE = (
    "MEUCIQD6q/COgzOyW0YH1Dk+CCYSt4uAhm3FDHUwvPI55zwnlwIg"
    "E0ZK58ZOWpZw8YVmBapJhBqCfdPekIknimuO0xH8Jh8="
)
A_WRONG_KEY_DER = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETJP9cqpUQsn2ggmJniWGjHdlsHzDJsB89BPhZYch0U0hKANx5TY+"
    "ncrm0s8bfJxxHoenAEFhwhuXeb4PqIrtoQ=="
)

# --- vector B: key-based DSSE (cosign verify_blob_attestation_test.go)
B_KEY_DER = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAESF79b1ToAtoakhBOHEU5UjnEiihVgZPFIp557+TOoDxf14FODWc+"
    "sIPETk0OgCplAk60doVXbCv33IU4rXZHrg=="
)
B_PAYLOAD = (
    "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjAuMSIsInByZWRpY2F0ZVR5cGUiOiJodHRwczov"
    "L3Nsc2EuZGV2L3Byb3ZlbmFuY2UvdjAuMiIsInN1YmplY3QiOlt7Im5hbWUiOiJibG9iIiwiZGlnZXN0Ijp7InNoYTI1"
    "NiI6IjY1ODc4MWNkNGVkOWJjYTYwZGFjZDA5ZjdiYjkxNGJiNTE1MDJlOGI1ZDYxOWY1N2YzOWExZDY1MjU5NmNjMjQi"
    "fX1dLCJwcmVkaWNhdGUiOnsiYnVpbGRlciI6eyJpZCI6IjIifSwiYnVpbGRUeXBlIjoieCIsImludm9jYXRpb24iOnsi"
    "Y29uZmlnU291cmNlIjp7fX19fQ=="
)
B_SIGNATURE = (
    "MEUCIA8KjZqkrt90fzBojSwwtj3Bqb41E6ruxQk97TLnpzdYAiEA"
    "zOAjOTzyvTHqbpFDAn6zhrg6EZv7kxK5faRoVGYMh2c="
)
B_DIGEST = "sha256:658781cd4ed9bca60dacd09f7bb914bb51502e8b5d619f57f39a1d652596cc24"

C_DIGEST = "sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e"
D_DIGEST = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
D_IDENTITY = Identity("cody@soyland.com", "https://github.com/login/oauth")


def der_to_pem(der_b64: str) -> str:
    key = serialization.load_der_public_key(base64.b64decode(der_b64))
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def b_bundle(**envelope: Any) -> bytes:
    document = {
        "payload": B_PAYLOAD,
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"keyid": "", "sig": B_SIGNATURE}],
        **envelope,
    }
    return json.dumps({"dsseEnvelope": document}).encode()


# --------------------------------------------------------------------------- keys


SIGNERS = {
    "ecdsa-p256": (lambda: ecdsa_signer(1), "ECDSA P-256/SHA-256"),
    "ecdsa-p384": (lambda: ecdsa_signer(1, ec.SECP384R1()), "ECDSA P-384/SHA-384"),
    "rsa-2048": (lambda: rsa_signer(2048), "RSA-2048 PKCS#1 v1.5/SHA-256"),
    "ed25519": (lambda: ed25519_signer(1), "Ed25519"),
}


@pytest.mark.parametrize("name", SIGNERS)
def test_each_supported_algorithm_loads_and_verifies_both_formats(name: str) -> None:
    make, algorithm = SIGNERS[name]
    signer = make()
    key = load_public_key(signer.public_pem)
    assert key.algorithm == algorithm
    der = base64.b64decode(signer.hint)
    assert key.fingerprint == "sha256:" + der.hex()

    layer = legacy_signature(signer, "registry.example/app", DIGEST)
    legacy = verify_simple_signing(layer.data, layer.annotations, DIGEST, [key])
    assert legacy.ok and legacy.key == key

    envelope = bundle(signer, sign_statement(DIGEST))
    assert verify_bundle(envelope, DIGEST, [key]).key == key

    stranger = load_public_key(ecdsa_signer(99).public_pem)
    assert verify_simple_signing(layer.data, layer.annotations, DIGEST, [stranger]).problem == (
        Problem.BAD_SIGNATURE
    )
    assert verify_bundle(envelope, DIGEST, [stranger]).problem == Problem.BAD_SIGNATURE


def test_p384_signature_made_with_sha256_by_older_cosign_still_verifies() -> None:
    private = ecdsa_signer(3, ec.SECP384R1()).private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    payload = simple_signing_payload("registry.example/app", DIGEST)
    layer = signature_layer(payload, private.sign(payload, ec.ECDSA(hashes.SHA256())))
    key = load_public_key(ecdsa_signer(3, ec.SECP384R1()).public_pem)
    assert verify_simple_signing(payload, layer.annotations, DIGEST, [key]).ok


def _pem(public_key: Any) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.mark.parametrize(
    ("make_pem", "message"),
    [
        (
            lambda: _pem(ec.generate_private_key(ec.SECP521R1()).public_key()),
            "ECDSA keys on curve secp521r1 are not supported",
        ),
        (
            lambda: _pem(ec.generate_private_key(ec.SECP256K1()).public_key()),
            "ECDSA keys on curve secp256k1 are not supported",
        ),
        (
            lambda: _pem(rsa_signer(1024).private_key.public_key()),
            "RSA key of 1024 bits is too small (minimum 2048)",
        ),
        (
            lambda: _pem(dsa.generate_private_key(2048).public_key()),
            "DSA keys are not supported",
        ),
        (
            lambda: _pem(ed448.Ed448PrivateKey.generate().public_key()),
            "Ed448 keys are not supported",
        ),
        (
            lambda: _pem(x25519.X25519PrivateKey.generate().public_key()),
            "X25519 keys are not supported",
        ),
        (
            lambda: (
                ecdsa_signer(1)
                .private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                .decode()
            ),
            "this is a private key (PRIVATE KEY); configure the public key (cosign.pub)",
        ),
        (
            lambda: (
                "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJ9\n"
                "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
            ),
            "this is a private key (ENCRYPTED SIGSTORE PRIVATE KEY)",
        ),
        (
            lambda: (DATA / "vector-c" / "certificate.pem").read_text(),
            "PEM block 'CERTIFICATE' is not a public key",
        ),
        (lambda: "ssh-ed25519 AAAAC3Nza", "not a PEM public key"),
        (lambda: A_KEY + A_KEY, "2 PEM blocks in one key entry"),
        (
            lambda: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "unreadable public key",
        ),
    ],
)
def test_unusable_keys_are_refused_naming_the_problem(make_pem: Any, message: str) -> None:
    with pytest.raises(KeyLoadError) as error:
        load_public_key(make_pem())
    assert message in str(error.value)


def test_load_public_keys_names_the_failing_entry() -> None:
    with pytest.raises(KeyLoadError, match=r"^key 2: not a PEM public key"):
        load_public_keys([A_KEY, "nonsense"])


# --------------------------------------------------------------------------- vector A


def test_vector_a_verifies_over_the_raw_payload() -> None:
    key = load_public_key(A_KEY)
    check = verify_simple_signing(A_PAYLOAD, {SIGNATURE_ANNOTATION: A_SIGNATURE}, A_DIGEST, [key])
    assert check.ok and check.key == key
    assert len(A_PAYLOAD) == 248
    assert check.detail.startswith("legacy signature verified with key sha256:")


def test_vector_a_with_an_appended_byte_is_reported_as_altered() -> None:
    key = load_public_key(A_KEY)
    check = verify_simple_signing(
        A_PAYLOAD + b" ", {SIGNATURE_ANNOTATION: A_SIGNATURE}, A_DIGEST, [key]
    )
    assert check.problem == Problem.BAD_SIGNATURE
    assert check.detail == (
        f"signature does not verify with the trusted key {key.label}: "
        "payload altered or signed with another key"
    )


def test_vector_a_with_the_wrong_key_fails_and_lists_the_keys_tried() -> None:
    wrong = load_public_key(der_to_pem(A_WRONG_KEY_DER))
    other = load_public_key(ecdsa_signer(5).public_pem)
    check = verify_simple_signing(
        A_PAYLOAD, {SIGNATURE_ANNOTATION: A_SIGNATURE}, A_DIGEST, [wrong, other]
    )
    assert check.problem == Problem.BAD_SIGNATURE
    assert "any of the 2 trusted keys (sha256:" in check.detail


def test_vector_a_is_found_among_several_keys() -> None:
    right = load_public_key(A_KEY)
    wrong = load_public_key(der_to_pem(A_WRONG_KEY_DER))
    check = verify_simple_signing(
        A_PAYLOAD, {SIGNATURE_ANNOTATION: A_SIGNATURE}, A_DIGEST, [wrong, right]
    )
    assert check.key == right


def test_vector_a_on_another_image_is_a_replay() -> None:
    check = verify_simple_signing(
        A_PAYLOAD, {SIGNATURE_ANNOTATION: A_SIGNATURE}, DIGEST, [load_public_key(A_KEY)]
    )
    assert check.problem == Problem.OTHER_DIGEST
    assert check.detail == (
        "the signature payload is for sha256:f3cfc9d0dbf9…, not this image's "
        "sha256:abababababab… (signature copied from another image?)"
    )


# --------------------------------------------------------------------------- legacy layers


@pytest.fixture(scope="module")
def signer() -> Signer:
    return ecdsa_signer(7)


def _signed(signer: Signer, payload: bytes) -> tuple[bytes, dict[str, str]]:
    layer = signature_layer(payload, signer.sign(payload))
    return payload, dict(layer.annotations)


def test_signed_payload_of_another_type_is_refused(signer: Signer) -> None:
    payload = simple_signing_payload("r/app", DIGEST).replace(
        b"cosign container image signature", b"atomic container signature"
    )
    check = verify_simple_signing(
        *_signed(signer, payload), DIGEST, [load_public_key(signer.public_pem)]
    )
    assert check.problem == Problem.WRONG_TYPE
    assert "'atomic container signature', expected 'cosign container image signature'" in (
        check.detail
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "is not valid JSON"),
        (b"[1, 2]", "has no 'critical' object"),
        (b'{"critical": {"type": "cosign container image signature"}}', "docker-manifest-digest"),
    ],
)
def test_signed_but_malformed_payloads_are_named(
    signer: Signer, payload: bytes, message: str
) -> None:
    key = load_public_key(signer.public_pem)
    check = verify_simple_signing(*_signed(signer, payload), DIGEST, [key])
    assert check.problem == Problem.MALFORMED
    assert check.detail.startswith(f"signed payload (by key {key.label}) ")
    assert message in check.detail


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ({}, "annotation dev.cosignproject.cosign/signature is missing"),
        ({SIGNATURE_ANNOTATION: "%%%"}, "is not valid base64"),
    ],
)
def test_layers_without_a_usable_signature_annotation(
    annotations: dict[str, str], message: str
) -> None:
    payload = simple_signing_payload("r/app", DIGEST)
    check = verify_simple_signing(payload, annotations, DIGEST, [load_public_key(A_KEY)])
    assert check.problem == Problem.MALFORMED
    assert message in check.detail


def test_a_keyless_layer_under_a_key_rule_says_keyless_is_unsupported() -> None:
    layer = json.loads((DATA / "vector-c" / "layer.json").read_text())
    payload = (DATA / "vector-c" / "payload.json").read_bytes()
    check = verify_simple_signing(payload, layer["annotations"], C_DIGEST, [load_public_key(A_KEY)])
    assert check.problem == Problem.KEYLESS
    assert "keyless signatures are not supported yet" in check.detail


# --------------------------------------------------------------------------- vector B, bundles


def test_vector_b_dsse_signature_is_over_the_pae() -> None:
    key = load_public_key(der_to_pem(B_KEY_DER))
    payload = base64.b64decode(B_PAYLOAD)
    signed = pae("application/vnd.in-toto+json", payload)
    assert signed.startswith(b"DSSEv1 28 application/vnd.in-toto+json %d {" % len(payload))
    assert key.verifies(base64.b64decode(B_SIGNATURE), signed)
    assert not key.verifies(base64.b64decode(B_SIGNATURE), payload)
    assert hashlib.sha256(b"some-payload").hexdigest() == B_DIGEST.removeprefix("sha256:")


def test_vector_b_as_a_bundle_verifies_as_an_attestation_but_is_not_a_signature() -> None:
    key = load_public_key(der_to_pem(B_KEY_DER))
    attestation = verify_bundle(b_bundle(), B_DIGEST, [key], predicate_types=None)
    assert attestation.ok and attestation.key == key
    signature = verify_bundle(b_bundle(), B_DIGEST, [key])
    assert signature.problem == Problem.NOT_A_SIGNATURE
    assert "predicateType 'https://slsa.dev/provenance/v0.2'" in signature.detail


def test_vector_b_changed_payload_type_breaks_the_signature() -> None:
    key = load_public_key(der_to_pem(B_KEY_DER))
    check = verify_bundle(b_bundle(payloadType="application/json"), B_DIGEST, [key])
    assert check.problem == Problem.BAD_SIGNATURE


def test_vector_b_on_another_image_is_a_replay() -> None:
    key = load_public_key(der_to_pem(B_KEY_DER))
    check = verify_bundle(b_bundle(), DIGEST, [key], predicate_types=None)
    assert check.problem == Problem.OTHER_DIGEST
    assert "payload is for sha256:658781cd4ed9…, not this image's sha256:abababababab…" in (
        check.detail
    )


def test_bundle_with_a_swapped_payload_fails_the_signature(signer: Signer) -> None:
    swapped = bundle(signer, sign_statement(DIGEST), signed_payload=sign_statement(OTHER))
    check = verify_bundle(swapped, DIGEST, [load_public_key(signer.public_pem)])
    assert check.problem == Problem.BAD_SIGNATURE
    assert "payload altered or signed with another key" in check.detail


def test_bundle_signed_with_another_payload_type_is_refused(signer: Signer) -> None:
    odd = bundle(signer, sign_statement(DIGEST), payload_type="application/json")
    check = verify_bundle(odd, DIGEST, [load_public_key(signer.public_pem)])
    assert check.problem == Problem.WRONG_TYPE
    assert "payloadType is 'application/json'" in check.detail


def test_bundle_key_hint_is_never_trusted(signer: Signer) -> None:
    trusted = load_public_key(signer.public_pem)
    intruder = ecdsa_signer(66)
    forged = json.loads(bundle(intruder, sign_statement(DIGEST)))
    forged["verificationMaterial"]["publicKey"]["hint"] = signer.hint
    assert verify_bundle(canonical(forged), DIGEST, [trusted]).problem == Problem.BAD_SIGNATURE

    honest = json.loads(bundle(signer, sign_statement(DIGEST)))
    honest["verificationMaterial"]["publicKey"]["hint"] = intruder.hint
    assert verify_bundle(canonical(honest), DIGEST, [trusted]).key == trusted


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "bundle is not valid JSON"),
        (b"[]", "bundle is not a JSON object"),
        (b'{"messageSignature": {}}', "blob signature (messageSignature), not a DSSE envelope"),
        (b'{"dsseEnvelope": {"payload": "e30="}}', "DSSE envelope has no payloadType"),
        (
            b'{"dsseEnvelope": {"payload": "e30=", "payloadType": "x", "signatures": []}}',
            "DSSE envelope has no signatures",
        ),
    ],
)
def test_malformed_bundles_are_named(raw: bytes, message: str) -> None:
    check = verify_bundle(raw, DIGEST, [load_public_key(A_KEY)])
    assert check.problem == Problem.MALFORMED
    assert message in check.detail


def test_keyless_bundle_under_a_key_rule_says_keyless_is_unsupported() -> None:
    raw = (DATA / "vector-d" / "oci-attestation.sigstore.json").read_bytes()
    check = verify_bundle(raw, D_DIGEST, [load_public_key(A_KEY)])
    assert check.problem == Problem.KEYLESS
    assert check.detail == (
        "keyless bundle (Fulcio certificate): keyless signatures are not supported yet"
    )


# --------------------------------------------------------------------------- vector C


def c_trust(rekor: TransparencyLog | None = None) -> TrustedRoot:
    root = x509.load_pem_x509_certificate((DATA / "vector-c" / "fulcio-root.pem").read_bytes())
    log = rekor or transparency_log((DATA / "vector-c" / "rekor.pub").read_text())
    return TrustedRoot((CertificateAuthority((root,)),), (log,))


def c_layer() -> tuple[bytes, dict[str, str]]:
    layer = json.loads((DATA / "vector-c" / "layer.json").read_text())
    return (DATA / "vector-c" / "payload.json").read_bytes(), layer["annotations"]


def test_vector_c_legacy_keyless_verifies_every_link() -> None:
    payload, annotations = c_layer()
    check = verify_legacy_keyless(
        payload, annotations, C_DIGEST, c_trust(), Identity("flavio@castelli.me")
    )
    assert check.ok, check.detail
    assert check.subject == "flavio@castelli.me" and check.issuer is None
    assert check.integrated_time == datetime(2021, 10, 20, 7, 25, 17, tzinfo=UTC)
    assert check.checked == (
        "signature over the payload with the certificate's key",
        "Rekor SET with the trusted Rekor key",
        "Rekor body binds the payload hash, signature and certificate",
        "certificate chain to CN=sigstore,O=sigstore.dev at integratedTime",
        "identity flavio@castelli.me",
        "payload bound to sha256:5f481572d088…",
    )
    # the annotation is the same signature as the data file
    assert annotations[SIGNATURE_ANNOTATION] == (
        (DATA / "vector-c" / "signature.b64").read_text().strip()
    )


def test_vector_c_also_verifies_against_the_public_good_trusted_root() -> None:
    trust = load_trusted_root((DATA / "vector-d" / "trusted_root_pgi.json").read_bytes())
    payload, annotations = c_layer()
    assert verify_legacy_keyless(
        payload, annotations, C_DIGEST, trust, Identity("flavio@castelli.me")
    ).ok


@pytest.mark.parametrize(
    ("change", "problem", "message"),
    [
        (
            lambda p, a: (p.replace(b"kubewarden", b"kubewardem"), a),
            Problem.BAD_SIGNATURE,
            "payload altered",
        ),
        (
            lambda p, a: (p, {**a, "dev.sigstore.cosign/bundle": _reset_time(a, 1634714718)}),
            Problem.TRANSPARENCY_LOG,
            "Rekor SignedEntryTimestamp does not verify",
        ),
        (
            lambda p, a: (
                p,
                {k: v for k, v in a.items() if k != "dev.sigstore.cosign/certificate"},
            ),
            Problem.MALFORMED,
            "no certificate",
        ),
    ],
)
def test_vector_c_negative_controls(change: Any, problem: Problem, message: str) -> None:
    payload, annotations = change(*c_layer())
    check = verify_legacy_keyless(
        payload, annotations, C_DIGEST, c_trust(), Identity("flavio@castelli.me")
    )
    assert check.problem == problem
    assert message in check.detail


def _reset_time(annotations: dict[str, str], when: int) -> str:
    entry = json.loads(annotations["dev.sigstore.cosign/bundle"])
    entry["Payload"]["integratedTime"] = when
    return json.dumps(entry)


def test_vector_c_wrong_identity_and_issuer_fail() -> None:
    payload, annotations = c_layer()
    other = verify_legacy_keyless(
        payload, annotations, C_DIGEST, c_trust(), Identity("mallory@example.com")
    )
    assert other.problem == Problem.IDENTITY
    assert other.detail == "signed by flavio@castelli.me, not mallory@example.com"
    issuer = verify_legacy_keyless(
        payload,
        annotations,
        C_DIGEST,
        c_trust(),
        Identity("flavio@castelli.me", "https://accounts.google.com"),
    )
    assert issuer.problem == Problem.IDENTITY
    assert "issued by an unknown issuer, not https://accounts.google.com" in issuer.detail


def test_vector_c_on_another_image_is_a_replay() -> None:
    payload, annotations = c_layer()
    check = verify_legacy_keyless(
        payload, annotations, DIGEST, c_trust(), Identity("flavio@castelli.me")
    )
    assert check.problem == Problem.OTHER_DIGEST


def test_vector_c_against_an_untrusted_root_fails_the_chain() -> None:
    stranger_root = _self_signed_ca()
    trust = TrustedRoot((CertificateAuthority((stranger_root,)),), c_trust().tlogs)
    payload, annotations = c_layer()
    check = verify_legacy_keyless(
        payload, annotations, C_DIGEST, trust, Identity("flavio@castelli.me")
    )
    assert check.problem == Problem.CERTIFICATE
    assert "does not chain to a trusted Fulcio CA" in check.detail


def test_vector_c_logged_at_another_time_is_outside_the_certificate_validity() -> None:
    """A log we control re-signs the entry with integratedTime = now: the SET verifies, but
    the 20-minute certificate was not valid then (verifying 'now' would be wrong anyway)."""
    log_key = ec.generate_private_key(ec.SECP256R1())
    log = TransparencyLog(
        log_key.public_key(),
        hashlib.sha256(
            log_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).digest(),
    )
    payload, annotations = c_layer()
    entry = json.loads(annotations["dev.sigstore.cosign/bundle"])
    entry["Payload"]["integratedTime"] = int(datetime.now(UTC).timestamp())
    entry["Payload"]["logID"] = log.log_id.hex()
    entry["SignedEntryTimestamp"] = base64.b64encode(
        log_key.sign(canonical_json(entry["Payload"]), ec.ECDSA(hashes.SHA256()))
    ).decode()
    moved = {**annotations, "dev.sigstore.cosign/bundle": json.dumps(entry)}
    check = verify_legacy_keyless(
        payload, moved, C_DIGEST, c_trust(log), Identity("flavio@castelli.me")
    )
    assert check.problem == Problem.CERTIFICATE
    assert "does not cover the signing time" in check.detail
    assert "Rekor SET with the trusted Rekor key" in check.checked


def _self_signed_ca() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sigstore")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2040, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .sign(key, hashes.SHA384())
    )


# --------------------------------------------------------------------------- vector D


@pytest.fixture(scope="module")
def d_trust() -> TrustedRoot:
    return load_trusted_root((DATA / "vector-d" / "trusted_root_pgi.json").read_bytes())


def d_bundle() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(
        (DATA / "vector-d" / "oci-attestation.sigstore.json").read_bytes()
    )
    return parsed


def test_vector_d_keyless_bundle_verifies_every_link(d_trust: TrustedRoot) -> None:
    raw = (DATA / "vector-d" / "oci-attestation.sigstore.json").read_bytes()
    check = verify_bundle_keyless(raw, D_DIGEST, d_trust, D_IDENTITY, predicate_types=None)
    assert check.ok, check.detail
    assert (check.subject, check.issuer) == ("cody@soyland.com", "https://github.com/login/oauth")
    assert check.integrated_time == datetime.fromtimestamp(1740770291, UTC)
    assert check.checked == (
        "DSSE signature over the PAE with the certificate's key",
        "inclusion promise (SET) with the trusted Rekor key",
        "tlog body binds the payload hash, signature and certificate",
        "inclusion proof to a checkpoint signed by the Rekor key",
        "certificate chain to CN=sigstore,O=sigstore.dev at integratedTime",
        "embedded SCT with a trusted CT log key",
        "identity cody@soyland.com from https://github.com/login/oauth",
        "in-toto statement (subject, predicate type)",
    )


def test_vector_d_is_an_attestation_not_a_signature(d_trust: TrustedRoot) -> None:
    raw = canonical(d_bundle())
    check = verify_bundle_keyless(raw, D_DIGEST, d_trust, D_IDENTITY)
    assert check.problem == Problem.NOT_A_SIGNATURE
    assert "https://cosign.sigstore.dev/attestation/v1" in check.detail
    assert verify_bundle_keyless(
        raw,
        D_DIGEST,
        d_trust,
        D_IDENTITY,
        predicate_types=("https://cosign.sigstore.dev/attestation/v1",),
    ).ok
    assert SIGN_PREDICATE_TYPE not in check.detail


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        (Identity("mallory@example.com", D_IDENTITY.issuer), "signed by cody@soyland.com, not "),
        (
            Identity("cody@soyland.com", "https://accounts.google.com"),
            "identity issued by https://github.com/login/oauth, not https://accounts.google.com",
        ),
    ],
)
def test_vector_d_wrong_identity_fails(
    d_trust: TrustedRoot, identity: Identity, message: str
) -> None:
    check = verify_bundle_keyless(
        canonical(d_bundle()), D_DIGEST, d_trust, identity, predicate_types=None
    )
    assert check.problem == Problem.IDENTITY
    assert message in check.detail


def _tamper(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    document = d_bundle()
    node: Any = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value(node[path[-1]]) if callable(value) else value
    return document


ENTRY = ("verificationMaterial", "tlogEntries", 0)


@pytest.mark.parametrize(
    ("path", "value", "problem", "message"),
    [
        (
            ("dsseEnvelope", "payload"),
            lambda p: base64.b64encode(base64.b64decode(p).replace(b"foo", b"bar")).decode(),
            Problem.BAD_SIGNATURE,
            "DSSE signature does not verify with the certificate's key",
        ),
        (
            (*ENTRY, "integratedTime"),
            "1740770292",
            Problem.TRANSPARENCY_LOG,
            "inclusion promise (SET) does not verify",
        ),
        (
            (*ENTRY, "inclusionProof", "hashes", 3),
            base64.b64encode(b"\0" * 32).decode(),
            Problem.TRANSPARENCY_LOG,
            "inclusion proof does not reach the root hash",
        ),
        (
            (*ENTRY, "inclusionProof", "checkpoint", "envelope"),
            lambda note: note.replace("wNI9ajBFAiEAuh6l", "wNI9ajBFAiEAuh6m"),
            Problem.TRANSPARENCY_LOG,
            "checkpoint is not signed by the trusted Rekor key",
        ),
        (
            (*ENTRY, "inclusionProof", "treeSize"),
            "53604736",
            Problem.TRANSPARENCY_LOG,
            "inclusion proof",
        ),
        (
            ("verificationMaterial", "tlogEntries"),
            [],
            Problem.TRANSPARENCY_LOG,
            "bundle has no transparency log entry",
        ),
    ],
)
def test_vector_d_negative_controls(
    d_trust: TrustedRoot, path: tuple[Any, ...], value: Any, problem: Problem, message: str
) -> None:
    raw = canonical(_tamper(path, value))
    check = verify_bundle_keyless(raw, D_DIGEST, d_trust, D_IDENTITY, predicate_types=None)
    assert check.problem == problem
    assert message in check.detail


def test_vector_d_needs_the_logs_of_its_trusted_root(d_trust: TrustedRoot) -> None:
    raw = canonical(d_bundle())
    no_rekor = TrustedRoot(d_trust.authorities, (), d_trust.ctlogs)
    check = verify_bundle_keyless(raw, D_DIGEST, no_rekor, D_IDENTITY, predicate_types=None)
    assert check.problem == Problem.TRANSPARENCY_LOG
    assert "is not in the trusted root" in check.detail

    no_ct = TrustedRoot(d_trust.authorities, d_trust.tlogs, ())
    check = verify_bundle_keyless(raw, D_DIGEST, no_ct, D_IDENTITY, predicate_types=None)
    assert check.problem == Problem.CERTIFICATE
    assert check.detail == "no embedded SCT verifies with a trusted CT log"

    only_2021_ca = TrustedRoot(d_trust.authorities[:1], d_trust.tlogs, d_trust.ctlogs)
    check = verify_bundle_keyless(raw, D_DIGEST, only_2021_ca, D_IDENTITY, predicate_types=None)
    assert check.problem == Problem.CERTIFICATE
    assert "does not chain to a trusted Fulcio CA" in check.detail


def test_vector_d_on_another_image_is_a_replay(d_trust: TrustedRoot) -> None:
    check = verify_bundle_keyless(
        canonical(d_bundle()), DIGEST, d_trust, D_IDENTITY, predicate_types=None
    )
    assert check.problem == Problem.OTHER_DIGEST


# --------------------------------------------------------------------------- Merkle proofs


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash, the reference the proof walk must agree with."""
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:split]) + _mth(leaves[split:])).digest()


def _audit_path(index: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*_audit_path(index, leaves[:split]), _mth(leaves[split:])]
    return [*_audit_path(index - split, leaves[split:]), _mth(leaves[:split])]


@pytest.mark.parametrize("size", range(1, 12))
def test_inclusion_proofs_of_every_leaf_reach_the_tree_root(size: int) -> None:
    leaves = [hashlib.sha256(b"\0" + bytes([i])).digest() for i in range(size)]
    root = _mth(leaves)
    for index in range(size):
        proof = _audit_path(index, leaves)
        assert merkle_root_from_proof(index, size, leaves[index], proof) == root
        if size > 1:
            assert merkle_root_from_proof(index, size, leaves[(index + 1) % size], proof) != root


def test_key_expiry_windows_of_the_trusted_root_are_read(d_trust: TrustedRoot) -> None:
    first = d_trust.authorities[0]
    assert first.valid_until == datetime(2022, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert first.covers(datetime(2022, 1, 1, tzinfo=UTC))
    assert not first.covers(datetime(2023, 1, 1, tzinfo=UTC))
    assert d_trust.authorities[1].covers(datetime.now(UTC) + timedelta(days=3650))


def test_keyless_material_of_the_wrong_shape_is_malformed_not_a_crash(
    d_trust: TrustedRoot,
) -> None:
    payload, annotations = c_layer()
    entry = json.loads(annotations["dev.sigstore.cosign/bundle"])
    entry["Payload"]["logID"] = "not hex"
    odd = {**annotations, "dev.sigstore.cosign/bundle": json.dumps(entry)}
    check = verify_legacy_keyless(payload, odd, C_DIGEST, c_trust(), Identity("x@example.com"))
    assert check.problem == Problem.MALFORMED
    assert check.detail.startswith("malformed signature material: ValueError")

    raw = canonical(_tamper((*ENTRY, "logIndex"), "many"))
    check = verify_bundle_keyless(raw, D_DIGEST, d_trust, D_IDENTITY, predicate_types=None)
    assert check.problem == Problem.MALFORMED


def test_malformed_trusted_root_is_a_key_load_error() -> None:
    with pytest.raises(KeyLoadError, match="malformed trusted root: KeyError"):
        load_trusted_root(b'{"certificateAuthorities": [{"uri": "x"}]}')
