"""The ``images:`` config section: values, the finding (and line) for every bad one, keys
checked when the config is read, and the glob semantics."""

from __future__ import annotations

import datetime
import textwrap
from collections.abc import Mapping

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.x509.oid import NameOID

from bot.analyzers.images.reference import parse_reference
from bot.analyzers.images.settings import ImagesConfig, glob_matches, parse_images_config
from bot.analyzers.images.trust import OnUnverifiable, SignatureRule
from bot.configreader import Reader
from bot.core.document import load_text
from bot.core.filekind import FileKind
from bot.core.finding import Category, Severity

CONFIG_PATH = ".github/gitops-gate.yml"

_EC_PRIVATE = ec.generate_private_key(ec.SECP256R1())
EC_PEM = (
    _EC_PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
ED_PEM = (
    ed25519.Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
X25519_PEM = (
    x25519.X25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
PRIVATE_PEM = _EC_PRIVATE.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
).decode()
_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
_NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
CERT_PEM = (
    x509.CertificateBuilder()
    .subject_name(_NAME)
    .issuer_name(_NAME)
    .public_key(_EC_PRIVATE.public_key())
    .serial_number(1)
    .not_valid_before(_NOW)
    .not_valid_after(_NOW + datetime.timedelta(days=1))
    .sign(_EC_PRIVATE, hashes.SHA256())
    .public_bytes(serialization.Encoding.PEM)
    .decode()
)
GARBLED_PEM = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"


def block(pem: str, indent: int) -> str:
    """A PEM as a YAML literal block at ``indent`` spaces."""
    return "|\n" + textwrap.indent(pem, " " * indent)


def parse(
    text: str, files: Mapping[str, bytes] | None = None
) -> tuple[ImagesConfig, list[tuple[str, Severity, int | None, str]]]:
    loaded = load_text(CONFIG_PATH, text, FileKind.GATE_CONFIG)
    assert not loaded.findings
    doc = loaded.documents[0]
    reader = Reader(doc, CONFIG_PATH)
    config = parse_images_config(reader, doc.data.get("images"), (files or {}).get)
    assert all(f.category is Category.CONFIG and f.path == CONFIG_PATH for f in reader.findings)
    return config, [(f.rule_id, f.severity, f.line, f.message) for f in reader.findings]


def test_defaults() -> None:
    config, findings = parse("images:\n")
    assert config == ImagesConfig()
    assert config.latest == "error"
    assert not config.require_digest
    assert findings == []


def test_a_full_section() -> None:
    text = f"""\
images:
  allowed_registries: ["ghcr.io/acme", "registry.k8s.io", "GHCR.IO/Shared/*"]
  denied_registries: docker.io
  require_digest: true
  latest: warning
  signatures:
    - match: ["ghcr.io/acme/**"]
      keys:
        - {block(EC_PEM, 10)}
      key_files: [./.github/cosign.pub]
      signature_repository: ghcr.io/acme/signatures
    - match: "registry.k8s.io/*"
      keys: {block(ED_PEM, 8)}
      required: false
"""
    config, findings = parse(text, {".github/cosign.pub": ED_PEM.encode()})
    assert findings == []
    assert config.allowed_registries == ("ghcr.io/acme", "registry.k8s.io", "ghcr.io/shared/*")
    assert config.denied_registries == ("docker.io",)
    assert config.require_digest
    assert config.latest == "warning"
    assert config.signature_rules == (
        SignatureRule(
            match=("ghcr.io/acme/**",),
            keys=(EC_PEM, ED_PEM),
            required=True,
            on_unverifiable=OnUnverifiable.ERROR,
            signature_repository="ghcr.io/acme/signatures",
            name="images.signatures[0]",
        ),
        SignatureRule(
            match=("registry.k8s.io/*",),
            keys=(ED_PEM,),
            required=False,
            on_unverifiable=OnUnverifiable.WARNING,  # the default when not required
            name="images.signatures[1]",
        ),
    )


def test_latest_off_unquoted() -> None:
    config, findings = parse("images:\n  latest: off\n")
    assert (config.latest, findings) == ("off", [])


BAD_VALUES = """\
images:
  allowed_registries:
    - ghcr.io/acme
    - https://quay.io/acme
    - ""
  denied_registries:
    - ghcr.io/acme/api:v1
    - docker.io/library/nginx@sha256:abc
  require_digest: "yes"
  latest: fatal
  colour: blue
  signatures:
    - "ghcr.io/**"
    - keys: []
    - match: ghcr.io
      keys: [AAAA]
      on_unverifiable: maybe
      required: sometimes
      signature_repository: ghcr.io/acme/sigs:v1
"""


def test_every_bad_value_is_a_finding_at_its_line() -> None:
    config, findings = parse(BAD_VALUES)
    assert findings == [
        (
            "config/unknown-key",
            Severity.ERROR,
            11,
            'Unknown key "images.colour"; known keys here: allowed_registries, '
            "denied_registries, require_digest, latest, signatures.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            4,
            'images.allowed_registries[1]: "https://quay.io/acme": globs match repository '
            "names, which have no URL scheme.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            5,
            'images.allowed_registries[2]: expected a repository glob such as "ghcr.io/acme/**", '
            "got ''.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            7,
            'images.denied_registries[0]: "ghcr.io/acme/api:v1": globs match repository names, '
            'without a tag or digest (such as "ghcr.io/acme/api").',
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            8,
            'images.denied_registries[1]: "docker.io/library/nginx@sha256:abc": globs match '
            'repository names, without a tag or digest (such as "ghcr.io/acme/api").',
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            9,
            "images.require_digest: expected true or false, got 'yes'.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            10,
            "images.latest: expected one of error, warning, notice, off, got 'fatal'.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            13,
            "images.signatures[0]: expected a signature rule (a mapping with match and keys), "
            "got 'ghcr.io/**'.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            14,
            'images.signatures[1] needs "match": the repository globs it applies to; the rule '
            "is dropped.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            18,
            "images.signatures[2].required: expected true or false, got 'sometimes'.",
        ),
        (
            "config/invalid-value",
            Severity.WARNING,
            15,
            'images.signatures[2].match: "ghcr.io" matches no repository (a signature glob must '
            'match the whole name, such as "ghcr.io/**").',
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            17,
            "images.signatures[2].on_unverifiable: expected one of error, warning, got 'maybe'.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            19,
            "images.signatures[2].signature_repository: a repository name, without tag or "
            'digest, such as "ghcr.io/acme/sigs".',
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            16,
            'images.signatures[2].keys[0] is not a PEM public key (expected "-----BEGIN PUBLIC '
            'KEY-----").',
        ),
    ]
    # Each bad value falls back to its default; rules without keys are dropped.
    assert config == ImagesConfig(
        allowed_registries=("ghcr.io/acme",),
        denied_registries=(),
        require_digest=False,
        latest="error",
        signature_rules=(),
    )


def test_images_must_be_a_mapping() -> None:
    config, findings = parse("images: [ghcr.io]\n")
    assert config == ImagesConfig()
    assert findings == [
        (
            "config/invalid-value",
            Severity.ERROR,
            1,
            "images: expected a mapping, got ['ghcr.io'].",
        )
    ]


def rule_text(body: str) -> str:
    return "images:\n  signatures:\n    - match: [ghcr.io/acme/**]\n" + textwrap.indent(
        body, "      "
    )


@pytest.mark.parametrize(
    ("pem", "problem"),
    [
        (
            GARBLED_PEM,
            "is not a valid public key (the PEM block): Could not deserialize key data.",
        ),
        (
            PRIVATE_PEM,
            "holds a private key (the PEM block). Remove it from the repository and rotate it; "
            "give the public key (cosign.pub) instead.",
        ),
        (
            CERT_PEM,
            "holds a certificate (the PEM block), not a public key; extract the key with "
            '"openssl x509 -pubkey -noout -in cert.pem".',
        ),
        (
            X25519_PEM,
            "holds an unsupported key type, X25519PublicKey (the PEM block); cosign keys are "
            "ECDSA, RSA or Ed25519.",
        ),
        (
            EC_PEM + PRIVATE_PEM,
            "holds a private key (PEM block 2). Remove it from the repository and rotate it; "
            "give the public key (cosign.pub) instead.",
        ),
    ],
    ids=["garbled", "private", "certificate", "x25519", "public-then-private"],
)
def test_bad_keys_are_rejected_at_load(pem: str, problem: str) -> None:
    text = rule_text(f"keys:\n  - {block(pem, 4)}")
    config, findings = parse(text)
    assert findings == [
        ("config/invalid-value", Severity.ERROR, 5, f"images.signatures[0].keys[0] {problem}")
    ]
    assert config.signature_rules == ()  # no usable key: dropped, and the error fails the run
    assert all("MII" not in message and "BEGIN" not in message[:40] for *_, message in findings)


def test_a_bad_key_beside_a_good_one_keeps_the_rule() -> None:
    text = rule_text(f"keys:\n  - {block(GARBLED_PEM, 4)}\n  - {block(EC_PEM, 4)}")
    config, findings = parse(text)
    assert [(rule, line) for rule, _, line, _ in findings] == [("config/invalid-value", 5)]
    assert [r.keys for r in config.signature_rules] == [(EC_PEM,)]


def test_key_files() -> None:
    text = rule_text(
        "key_files:\n"
        "  - .github/cosign.pub\n"
        "  - keys/missing.pub\n"
        "  - ../outside.pub\n"
        "  - /etc/ssl/key.pub\n"
        "  - keys/binary.pub\n"
        "  - keys/garbled.pub\n"
    )
    files = {
        ".github/cosign.pub": EC_PEM.encode(),
        "keys/binary.pub": b"\xff\xfe\x00",
        "keys/garbled.pub": GARBLED_PEM.encode(),
    }
    config, findings = parse(text, files)
    assert findings == [
        (
            "config/invalid-value",
            Severity.ERROR,
            6,
            'images.signatures[0].key_files[1]: key file "keys/missing.pub" was not found in '
            "the trusted tree (the base branch); add it there first, or give the key inline "
            "under keys.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            7,
            'images.signatures[0].key_files[2]: key file "../outside.pub" must be a path inside '
            "the repository.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            8,
            'images.signatures[0].key_files[3]: key file "/etc/ssl/key.pub" must be a path '
            "inside the repository.",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            9,
            'images.signatures[0].key_files[4]: key file "keys/binary.pub" is not a PEM text '
            "file (not UTF-8).",
        ),
        (
            "config/invalid-value",
            Severity.ERROR,
            10,
            'images.signatures[0].key_files[5]: key file "keys/garbled.pub" is not a valid '
            "public key (the PEM block): Could not deserialize key data.",
        ),
    ]
    assert [r.keys for r in config.signature_rules] == [(EC_PEM,)]


def test_keyless_is_not_supported_yet() -> None:
    keyless = "keyless:\n  issuer: https://token.actions.githubusercontent.com\n"
    # Required and keyless only: dropped, and an error so the check fails rather than passing
    # images nobody verified.
    config, findings = parse(rule_text(keyless))
    assert config.signature_rules == ()
    assert findings == [
        (
            "config/not-supported",
            Severity.ERROR,
            4,
            "images.signatures[0]: keyless verification (certificate identity and issuer) is "
            "not supported yet, so this rule is dropped and the images it matches are not "
            "verified.",
        )
    ]
    # Not required: the same, as a warning.
    config, findings = parse(rule_text(keyless + "required: false\n"))
    assert config.signature_rules == ()
    assert [(f[0], f[1], f[2]) for f in findings] == [("config/not-supported", Severity.WARNING, 4)]
    # With keys too: the keys are used, the keyless part is ignored with a warning.
    config, findings = parse(rule_text(keyless + f"keys: {block(EC_PEM, 2)}"))
    assert [r.keys for r in config.signature_rules] == [(EC_PEM,)]
    assert findings == [
        (
            "config/not-supported",
            Severity.WARNING,
            4,
            "images.signatures[0]: keyless verification (certificate identity and issuer) is "
            "not supported yet; this rule verifies with its keys only.",
        )
    ]


def test_a_rule_without_keys() -> None:
    config, findings = parse(rule_text("required: true\n"))
    assert config.signature_rules == ()
    assert findings == [
        (
            "config/invalid-value",
            Severity.ERROR,
            3,
            'images.signatures[0] has no "keys" or "key_files", so it cannot verify anything; '
            "the images it matches (ghcr.io/acme/**) are not verified.",
        )
    ]


def test_registry_lists_cover_everything_below_an_entry() -> None:
    config = ImagesConfig(
        allowed_registries=("ghcr.io/acme", "registry.k8s.io", "*.gcr.io", "[::1]:5000"),
        denied_registries=("ghcr.io/acme/legacy/*",),
    )

    def verdict(text: str) -> tuple[bool, str | None]:
        ref = parse_reference(text)
        return config.allowed(ref), config.denied_by(ref)

    assert verdict("ghcr.io/acme/api:1") == (True, None)
    assert verdict("GHCR.IO/acme/team/api:1") == (True, None)
    assert verdict("ghcr.io/acmeevil/api:1") == (False, None)
    assert verdict("registry.k8s.io/pause:3.10") == (True, None)
    assert verdict("registry.k8s.io.evil.com/pause:3.10") == (False, None)
    assert verdict("eu.gcr.io/p/x:1") == (True, None)
    assert verdict("gcr.io/p/x:1") == (False, None)
    assert verdict("[::1]:5000/x:1") == (True, None)
    assert verdict("nginx:1.27") == (False, None)
    assert verdict("ghcr.io/acme/legacy/api:1") == (True, "ghcr.io/acme/legacy/*")
    assert verdict("ghcr.io/acme/legacy/x/y:1") == (True, "ghcr.io/acme/legacy/*")
    assert not config.permitted(parse_reference("ghcr.io/acme/legacy/api:1"))
    assert ImagesConfig().permitted(parse_reference("anything.example/x:1"))


def test_signature_globs_match_whole_names() -> None:
    assert glob_matches("ghcr.io/acme/*", "ghcr.io/acme/api")
    assert not glob_matches("ghcr.io/acme/*", "ghcr.io/acme/team/api")
    assert glob_matches("ghcr.io/acme/**", "ghcr.io/acme/team/api")
    assert not glob_matches("ghcr.io/acme/**", "ghcr.io/acme")
    assert not glob_matches("ghcr.io/acme/**", "ghcr.io/acmeevil/api")
    assert glob_matches("docker.io/library/nginx", "docker.io/library/nginx")
    assert not glob_matches("docker.io/library/nginx", "docker.io/library/nginx-unprivileged")
    assert glob_matches("ghcr.io/acme/ap?", "ghcr.io/acme/api")
    assert glob_matches("**", "anything/at/all")
    rules = (
        SignatureRule(("ghcr.io/acme/**",), (EC_PEM,), name="a"),
        SignatureRule(("ghcr.io/*/api",), (EC_PEM,), name="b"),
        SignatureRule(("docker.io/**",), (EC_PEM,), name="c"),
    )
    config = ImagesConfig(signature_rules=rules)
    assert [r.name for r in config.rules_for(parse_reference("GHCR.io/acme/api:1"))] == ["a", "b"]
    assert [r.name for r in config.rules_for(parse_reference("nginx"))] == ["c"]
    assert config.rules_for(parse_reference("quay.io/x/y")) == ()
