"""A seeded, labeled corpus of GitOps files with planted credentials and benign look-alikes.

Every file is built line by line, so each planted credential and each benign look-alike is
labeled with its exact place: ``(path, line, end_line, family, kind)``, 1-based lines,
``family`` the scanner's family id (``None`` for a benign item). Multi-line objects (PEM
blocks, a block scalar holding a key, a service-account JSON) carry their line range; a finding
anywhere in the range counts for the item.

File categories: Deployments with env vars (values, the split ``name:``/``value:`` form,
references), Secrets with ``data``/``stringData``, ``.dockerconfigjson`` Secrets, Argo CD
repository Secrets, SealedSecrets, SOPS-encrypted YAML and dotenv, ExternalSecrets and
SecretStores, SecretProviderClasses, Vault-agent-annotated Deployments, kubeconfigs, Helm
``values.yaml``, ``.env`` files, Terraform ``.tf``, ``application.properties`` in ConfigMaps,
ConfigMaps of public material (certificates, public keys, known_hosts, ``binaryData``),
webhook configurations with ``caBundle``, Argo CD Applications and Flux objects (commit SHAs,
image digests), docker ``config.json`` with credential helpers, plain Services/Ingresses.

Planted values are fake but valid-shaped: right prefixes, lengths and charsets, GitHub/npm
CRC32 checksums, JWTs built from JSON, PEM keys made with ``cryptography`` (small RSA and EC
keys, Ed25519 OpenSSH keys, some passphrase-encrypted), an OpenPGP secret-key block.

Everything comes from one ``random.Random(seed)``: the same seed gives the same files and
labels. (Passphrase-encrypted keys take a fresh salt from ``cryptography``, so their bytes,
not their length or labels, vary between runs.)

    python -m bench.secrets_corpus --files 300 --out /tmp/secrets-corpus [--seed 7]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import random
import string
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

# -- family ids (the scanner's ``Family.id``) ---------------------------------------------------

AWS_KEY_ID = "aws-access-key-id"
AWS_SECRET = "aws-secret-access-key"
GH_CLASSIC = "github-pat-classic"
GH_FINE = "github-pat-fine-grained"
GH_OAUTH = "github-oauth-token"
GH_APP = "github-app-token"
GH_USER = "github-user-token"
GH_REFRESH = "github-refresh-token"
GITLAB = "gitlab-pat"
GITLAB_DEPLOY = "gitlab-deploy-token"
GITLAB_RUNNER = "gitlab-runner-token"
GITLAB_TRIGGER = "gitlab-pipeline-trigger-token"
GITLAB_OTHER = "gitlab-token"
SLACK_BOT = "slack-bot-token"
SLACK_USER = "slack-user-token"
SLACK_APP = "slack-app-token"
SLACK_OTHER = "slack-token"
SLACK_HOOK = "slack-webhook"
STRIPE = "stripe-secret-key"
STRIPE_RESTRICTED = "stripe-restricted-key"
STRIPE_TEST = "stripe-test-key"
GOOGLE_KEY = "google-api-key"
GCP_SA = "gcp-service-account-key"
AZURE_KEY = "azure-storage-account-key"
AZURE_CONN = "azure-connection-string"
AZURE_SAS = "azure-sas-token"
NPM = "npm-token"
PYPI = "pypi-token"
DOCKERHUB = "dockerhub-pat"
VAULT = "vault-service-token"
VAULT_BATCH = "vault-batch-token"
TFC = "terraform-cloud-token"
DATADOG = "datadog-api-key"
DATADOG_APP = "datadog-app-key"
TWILIO = "twilio-api-key"
TWILIO_AUTH = "twilio-auth-token"
SENDGRID = "sendgrid-api-key"
OPENAI = "openai-api-key"
ANTHROPIC = "anthropic-api-key"
JWT = "jwt"
URL_CRED = "url-credentials"
DB_URL = "database-url"
PRIVATE_KEY = "private-key"
OPENSSH_KEY = "openssh-private-key"
PGP_KEY = "pgp-private-key"
G_PASSWORD = "generic-password"
G_TOKEN = "generic-token"
G_API_KEY = "generic-api-key"
G_SECRET = "generic-secret"
K8S_SECRET = "kubernetes-secret"
DOCKERCONFIG = "docker-config-auth"
KUBECONFIG = "kubeconfig-credential"
SOPS_PLAIN = "sops-unencrypted-value"

GENERIC = (G_PASSWORD, G_TOKEN, G_API_KEY, G_SECRET)

# Documentation values that are public on purpose (the list).
AWS_DOC_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
JWT_IO = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwia"
    "WF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
UPPER_B32 = string.ascii_uppercase + "234567"

_TEAMS = ("payments", "checkout", "catalog", "search", "identity", "ledger", "media", "growth")
_COMPONENTS = ("api", "web", "worker", "gateway", "indexer", "consumer", "backend", "sync")
_NAMESPACES = ("prod", "staging", "dev", "payments-prod", "platform", "monitoring", "default")
_REGISTRIES = ("ghcr.io/acme", "registry.example.com/platform", "quay.io/acme", "docker.io/acme")
_WORDS = (
    "orange", "river", "falcon", "granite", "harbor", "velvet", "cobalt", "meadow", "summit",
    "lantern", "willow", "ember", "quartz", "tundra", "saffron", "drift",
)  # fmt: skip


# -- labels and files ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Label:
    """One planted credential (``family`` set) or benign look-alike (``family`` None)."""

    path: str  # relative, POSIX
    line: int  # 1-based
    end_line: int  # inclusive; == line for a one-line item
    family: str | None
    kind: str  # where/what: "env-split", "secret-data", "aws-doc-example", "sops-enc", ...
    alt: tuple[str, ...] = ()  # other family ids that also count as the right family

    @property
    def planted(self) -> bool:
        return self.family is not None

    def covers(self, line: int) -> bool:
        return self.line <= line <= self.end_line

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "end_line": self.end_line,
            "family": self.family,
            "kind": self.kind,
            "alt": list(self.alt),
        }


@dataclass(slots=True)
class CorpusFile:
    path: str
    category: str
    text: str
    labels: list[Label] = field(default_factory=list)
    # (line, needle) pairs checked by ``check()``: a planted value must sit on its line.
    # Never printed.
    needles: list[tuple[int, int, str]] = field(default_factory=list, repr=False)

    @property
    def planted(self) -> list[Label]:
        return [lb for lb in self.labels if lb.planted]


class Text:
    """Lines and the labels placed on them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.marks: list[tuple[int, int, str | None, str, tuple[str, ...], str | None]] = []

    @property
    def next_line(self) -> int:
        return len(self.lines) + 1

    def add(self, *lines: str) -> int:
        self.lines.extend(lines)
        return len(self.lines)

    def block(self, text: str, indent: str) -> tuple[int, int]:
        """Add a multi-line text, each line indented; return its first and last line."""
        first = self.next_line
        for raw in text.rstrip("\n").split("\n"):
            self.lines.append(indent + raw if raw else "")
        return first, len(self.lines)

    def plant(
        self,
        line: str,
        family: str,
        kind: str,
        needle: str | None = None,
        alt: Iterable[str] = (),
    ) -> int:
        n = self.add(line)
        self.marks.append((n, n, family, kind, tuple(alt), needle))
        return n

    def benign(self, line: str, kind: str) -> int:
        n = self.add(line)
        self.marks.append((n, n, None, kind, (), None))
        return n

    def mark(
        self,
        first: int,
        last: int,
        family: str | None,
        kind: str,
        alt: Iterable[str] = (),
        needle: str | None = None,
    ) -> None:
        self.marks.append((first, last, family, kind, tuple(alt), needle))

    def finish(self, path: str, category: str) -> CorpusFile:
        text = "\n".join(self.lines) + "\n"
        labels: list[Label] = []
        needles: list[tuple[int, int, str]] = []
        seen: set[tuple[int, bool]] = set()
        for first, last, family, kind, alt, needle in sorted(self.marks, key=lambda m: m[0]):
            # One label per line and polarity: a planted label wins over a benign one.
            if (first, family is not None) in seen:
                continue
            seen.add((first, family is not None))
            labels.append(Label(path, first, last, family, kind, alt))
            if needle is not None:
                needles.append((first, last, needle))
        planted_lines = {lb.line for lb in labels if lb.planted}
        labels = [lb for lb in labels if lb.planted or lb.line not in planted_lines]
        return CorpusFile(path, category, text, labels, needles)


# -- valid-shaped fake credentials --------------------------------------------------------------


def rand(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choices(alphabet, k=n))


def base62(number: int) -> str:
    out = ""
    while number:
        number, rem = divmod(number, 62)
        out = B62[rem] + out
    return out or "0"


def github_checksum(body: str) -> str:
    """The 6-character base62 CRC32 of a token's random part (GitHub's and npm's format)."""
    return base62(zlib.crc32(body.encode())).rjust(6, "0")


def checksummed(rng: random.Random, prefix: str) -> str:
    body = rand(rng, ALNUM, 30)
    return prefix + body + github_checksum(body)


def wrong_checksum(rng: random.Random, prefix: str) -> str:
    body = rand(rng, ALNUM, 30)
    good = github_checksum(body)
    bad = good
    while bad == good:
        bad = rand(rng, ALNUM, 6)
    return prefix + body + bad


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def aws_key_id(rng: random.Random) -> str:
    return rng.choice(("AKIA", "AKIA", "AKIA", "ASIA")) + rand(rng, UPPER_B32, 16)


def aws_secret(rng: random.Random) -> str:
    return rand(rng, B64, 40)


def github_fine_grained(rng: random.Random) -> str:
    return (
        "github_pat_11"
        + rand(rng, string.ascii_uppercase + string.digits, 20)
        + "_"
        + (rand(rng, ALNUM, 59))
    )


def gitlab_token(prefix: str) -> Callable[[random.Random], str]:
    return lambda rng: prefix + rand(rng, URLSAFE, 20)


def slack_bot(rng: random.Random) -> str:
    return f"xoxb-{rand(rng, string.digits, 12)}-{rand(rng, string.digits, 13)}-" + rand(
        rng, ALNUM, 24
    )


def slack_user(rng: random.Random) -> str:
    return (
        f"xoxp-{rand(rng, string.digits, 12)}-{rand(rng, string.digits, 12)}-"
        f"{rand(rng, string.digits, 13)}-{rand(rng, HEX, 32)}"
    )


def slack_app(rng: random.Random) -> str:
    upper = string.ascii_uppercase + string.digits
    return f"xapp-1-A{rand(rng, upper, 10)}-{rand(rng, string.digits, 13)}-{rand(rng, HEX, 64)}"


def slack_other(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "xoxe.xoxp-1-" + rand(rng, ALNUM, 150)
    return "xoxe-1-" + rand(rng, ALNUM, 140)


def slack_webhook(rng: random.Random) -> str:
    upper = string.ascii_uppercase + string.digits
    return (
        f"https://hooks.slack.com/services/T{rand(rng, upper, 8)}/B{rand(rng, upper, 10)}/"
        + rand(rng, ALNUM, 24)
    )


def stripe_key(prefix: str) -> Callable[[random.Random], str]:
    return lambda rng: prefix + rand(rng, ALNUM, rng.choice((24, 99)))


def google_api_key(rng: random.Random) -> str:
    return "AIza" + rand(rng, URLSAFE, 35)


def azure_key(rng: random.Random) -> str:
    return b64(rng.randbytes(64))


def azure_conn(rng: random.Random) -> str:
    account = rng.choice(_TEAMS) + rand(rng, string.ascii_lowercase + string.digits, 6)
    return (
        f"DefaultEndpointsProtocol=https;AccountName={account};AccountKey={azure_key(rng)};"
        "EndpointSuffix=core.windows.net"
    )


def azure_sas_url(rng: random.Random) -> str:
    account = rng.choice(_TEAMS) + rand(rng, string.ascii_lowercase + string.digits, 6)
    sig = b64(rng.randbytes(32)).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    return (
        f"https://{account}.blob.core.windows.net/backups?sv=2022-11-02&ss=b&srt=co&sp=rwdlac"
        f"&se=2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T00:00:00Z&st=2025-01-01T00:00:00Z"
        f"&spr=https&sig={sig}"
    )


def pypi_token(rng: random.Random) -> str:
    return "pypi-AgEIcHlwaS5vcmc" + rand(rng, URLSAFE, rng.randint(70, 140))


def dockerhub_token(rng: random.Random) -> str:
    return "dckr_pat_" + rand(rng, URLSAFE, 27)


def vault_token(rng: random.Random) -> str:
    if rng.random() < 0.75:
        return "hvs." + rand(rng, URLSAFE, rng.choice((24, 91)))
    return "s." + rand(rng, ALNUM, 24)


def vault_batch(rng: random.Random) -> str:
    return "hvb." + rand(rng, URLSAFE, 138)


BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32(hrp: str, data: bytes) -> str:
    """BIP-173 bech32 of ``data`` (8-bit groups regrouped to 5 bits), with its checksum."""
    acc, bits, groups = 0, 0, []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            groups.append((acc >> bits) & 31)
    if bits:
        groups.append((acc << (5 - bits)) & 31)
    values = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp] + groups
    chk = 1
    for v in [*values, 0, 0, 0, 0, 0, 0]:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i, gen in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            if (top >> i) & 1:
                chk ^= gen
    chk ^= 1
    checksum = [(chk >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32[g] for g in groups + checksum)


def age_secret_key(rng: random.Random) -> str:
    return bech32("age-secret-key-", rng.randbytes(32)).upper()


def _fixed(prefix: str, alphabet: str, n: int) -> Callable[[random.Random], str]:
    return lambda rng: prefix + rand(rng, alphabet, n)


def atlassian_token(rng: random.Random) -> str:
    return "ATATT3xFfGF0" + rand(rng, URLSAFE, 170) + "=" + rand(rng, HEX.upper(), 8)


def azure_ad_secret(rng: random.Random) -> str:
    return rand(rng, ALNUM, 3) + "8Q~" + rand(rng, ALNUM + "_~.-", 34)


def cloudflare_origin(rng: random.Random) -> str:
    return "v1.0-" + rand(rng, HEX, 24) + "-" + rand(rng, HEX, 146)


def discord_bot(rng: random.Random) -> str:
    # Discord's format: base64 of the bot's user id (a snowflake), a 6-character timestamp and
    # an HMAC. The id is derived from the same random draws as before, so that the rest of the
    # corpus does not change.
    head = rng.choice("MN") + rand(rng, ALNUM, 23)
    digest = int.from_bytes(hashlib.sha256(head.encode()).digest()[:8], "big")
    user_id = str(10**17 + digest % (9 * 10**17))
    return f"{b64url(user_id.encode())}.{rand(rng, URLSAFE, 6)}.{rand(rng, URLSAFE, 27)}"


def discord_webhook(rng: random.Random) -> str:
    hook = rand(rng, string.digits, 18)
    return f"https://discord.com/api/webhooks/{hook}/{rand(rng, URLSAFE, 68)}"


def dynatrace(rng: random.Random) -> str:
    upper = string.ascii_uppercase + string.digits
    return f"dt0c01.{rand(rng, upper, 24)}.{rand(rng, upper, 64)}"


def fcm_key(rng: random.Random) -> str:
    return "AAAA" + rand(rng, URLSAFE, 7) + ":APA91b" + rand(rng, URLSAFE, 134)


def grafana_cloud(rng: random.Random) -> str:
    payload = {
        "o": rand(rng, string.digits, 6),
        "n": f"{rng.choice(_TEAMS)}-push",
        "k": rand(rng, ALNUM, 24),
        "m": {"r": "prod-eu-west-2"},
    }
    return "glc_" + b64(json.dumps(payload, separators=(",", ":")).encode())


def grafana_sa(rng: random.Random) -> str:
    return "glsa_" + rand(rng, ALNUM, 32) + "_" + rand(rng, HEX, 8)


def heroku_key(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "HRKU-AA" + rand(rng, URLSAFE, 58)
    return uuid4(rng)


def hubspot(rng: random.Random) -> str:
    return f"pat-{rng.choice(('na1', 'eu1'))}-{uuid4(rng)}"


def mailchimp(rng: random.Random) -> str:
    return rand(rng, HEX, 32) + f"-us{rng.randint(1, 21)}"


def mailgun(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "key-" + rand(rng, HEX, 32)
    return f"{rand(rng, HEX, 32)}-{rand(rng, HEX, 8)}-{rand(rng, HEX, 8)}"


def mapbox(rng: random.Random) -> str:
    body = b64url(json.dumps({"u": rng.choice(_TEAMS), "a": rand(rng, ALNUM, 25)}).encode())
    return f"sk.{body}.{rand(rng, URLSAFE, 22)}"


def postman(rng: random.Random) -> str:
    return f"PMAK-{rand(rng, HEX, 24)}-{rand(rng, HEX, 34)}"


def sentry_dsn(rng: random.Random) -> str:
    org, project = rand(rng, string.digits, 6), rand(rng, string.digits, 7)
    return f"https://{rand(rng, HEX, 32)}@o{org}.ingest.sentry.io/{project}"


def sentry_dsn_legacy(rng: random.Random) -> str:
    """The old DSN form that carried the secret key after the public one."""
    return (
        f"https://{rand(rng, HEX, 32)}:{rand(rng, HEX, 32)}@sentry.io/{rand(rng, string.digits, 6)}"
    )


def telegram(rng: random.Random) -> str:
    return f"{rand(rng, string.digits, 10)}:AA{rand(rng, URLSAFE, 33)}"


def doppler(rng: random.Random) -> str:
    return rng.choice(("dp.pt.", "dp.st.", "dp.sa.")) + rand(rng, ALNUM, 43)


def tfc_token(rng: random.Random) -> str:
    return rand(rng, ALNUM, 14) + ".atlasv1." + rand(rng, ALNUM, 67)


def datadog_key(rng: random.Random) -> str:
    return rand(rng, HEX, 32)


def twilio_key(rng: random.Random) -> str:
    return "SK" + rand(rng, HEX, 32)


def sendgrid_key(rng: random.Random) -> str:
    return "SG." + rand(rng, URLSAFE, 22) + "." + rand(rng, URLSAFE, 43)


def openai_key(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return "sk-" + rand(rng, ALNUM, 20) + "T3BlbkFJ" + rand(rng, ALNUM, 20)
    return "sk-proj-" + rand(rng, URLSAFE, 74) + "T3BlbkFJ" + rand(rng, URLSAFE, 74)


def anthropic_key(rng: random.Random) -> str:
    return "sk-ant-api03-" + rand(rng, URLSAFE, 93) + "AA"


def jwt_token(rng: random.Random) -> str:
    alg = rng.choice(("HS256", "RS256", "ES256"))
    header = {"alg": alg, "typ": "JWT"}
    if alg != "HS256":
        header["kid"] = rand(rng, URLSAFE, 22)
    now = 1_700_000_000 + rng.randint(0, 40_000_000)
    payload: dict[str, object] = {
        "iss": rng.choice(
            ("https://auth.acme.io/", "kubernetes/serviceaccount", "https://login.example.com")
        ),
        "sub": rng.choice(
            (
                f"system:serviceaccount:{rng.choice(_NAMESPACES)}:{rng.choice(_COMPONENTS)}",
                rand(rng, HEX, 24),
                f"user-{rng.randint(1000, 99999)}",
            )
        ),
        "iat": now,
        "exp": now + rng.choice((3600, 86400, 31_536_000)),
    }
    if rng.random() < 0.5:
        payload["aud"] = rng.choice(("api", "https://api.acme.io", "vault"))
    sig_len = {"HS256": 32, "RS256": 256, "ES256": 64}[alg]
    return ".".join(
        (
            b64url(json.dumps(header, separators=(",", ":")).encode()),
            b64url(json.dumps(payload, separators=(",", ":")).encode()),
            b64url(rng.randbytes(sig_len)),
        )
    )


def password(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return rand(rng, ALNUM, rng.randint(16, 32))
    if roll < 0.75:
        return rand(rng, ALNUM + "!#%+-_.", rng.randint(14, 28)) + rng.choice("!#%+")
    if roll < 0.9:
        word = rng.choice(_WORDS)
        return (
            f"{word.capitalize()}{rng.randint(10, 9999)}{rng.choice('!#$%&*')}{rng.choice(_WORDS)}"
        )
    return "-".join(rng.sample(_WORDS, 4)) + str(rng.randint(1, 99))


def hex_secret(rng: random.Random) -> str:
    return rand(rng, HEX, rng.choice((32, 40, 64)))


def api_key(rng: random.Random) -> str:
    return rand(rng, ALNUM, rng.choice((32, 40)))


def _host(rng: random.Random) -> str:
    return rng.choice(
        (
            f"{rng.choice(_TEAMS)}-db.{rng.choice(_NAMESPACES)}.svc.cluster.local",
            f"{rng.choice(_TEAMS)}.cluster-{rand(rng, 'abcdefghijklmnop0123456789', 12)}"
            ".eu-west-1.rds.amazonaws.com",
            "10.0.12.34",
            f"db-{rng.randint(1, 9)}.internal.acme.net",
        )
    )


def db_url(rng: random.Random) -> str:
    scheme, port = rng.choice(
        (("postgres", 5432), ("postgresql", 5432), ("mysql", 3306), ("mongodb", 27017),
         ("mongodb+srv", 0), ("redis", 6379), ("rediss", 6380), ("postgresql+asyncpg", 5432))
    )  # fmt: skip
    user = rng.choice(("app", "admin", "svc_" + rng.choice(_TEAMS), "root", "postgres"))
    secret = rand(rng, ALNUM, rng.randint(14, 28))
    host = _host(rng)
    where = host if not port else f"{host}:{port}"
    db = rng.choice(_TEAMS)
    if scheme.startswith("redis"):
        return f"{scheme}://{'' if rng.random() < 0.5 else 'default'}:{secret}@{where}/0"
    return f"{scheme}://{user}:{secret}@{where}/{db}"


def url_cred(rng: random.Random) -> str:
    secret = rand(rng, ALNUM, rng.randint(12, 24))
    user = rng.choice(("deploy", "ci-bot", "svc-" + rng.choice(_TEAMS), "admin", "oauth2"))
    return rng.choice(
        (
            f"https://{user}:{secret}@git.acme.io/{rng.choice(_TEAMS)}/gitops.git",
            f"amqp://{user}:{secret}@rabbitmq.{rng.choice(_NAMESPACES)}.svc:5672/vhost",
            f"smtp://{user}:{secret}@smtp.mailgun.org:587",
            f"https://{user}:{secret}@nexus.acme.io/repository/pypi/simple",
            f"ftp://{user}:{secret}@files.acme.net/exports",
            f"http://{user}:{secret}@prometheus-pushgateway.monitoring:9091",
        )
    )


# -- keys and certificates (deterministic from the rng) -----------------------------------------

_SMALL_PRIMES = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73)


def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(16):
        a = rng.randrange(2, n - 2)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if _is_probable_prime(candidate, rng) and (candidate - 1) % 65537:
            return candidate


def rsa_key(rng: random.Random, bits: int = 1024) -> rsa.RSAPrivateKey:
    """A small RSA key from the rng (reproducible, unlike ``rsa.generate_private_key``)."""
    e = 65537
    while True:
        p, q = _prime(rng, bits // 2), _prime(rng, bits // 2)
        if p != q:
            break
    phi = (p - 1) * (q - 1)
    d = pow(e, -1, phi)
    public = rsa.RSAPublicNumbers(e, p * q)
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q), public
    )
    return numbers.private_key()


class Keys:
    """A small pool of keys per type, made from the rng on first use."""

    POOL = 6

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._rsa: list[rsa.RSAPrivateKey] = []
        self._ec: list[ec.EllipticCurvePrivateKey] = []
        self._ed: list[ed25519.Ed25519PrivateKey] = []
        self._certs: list[str] = []

    def rsa(self) -> rsa.RSAPrivateKey:
        if len(self._rsa) < self.POOL:
            self._rsa.append(rsa_key(self.rng))
            return self._rsa[-1]
        return self.rng.choice(self._rsa)

    def ec(self) -> ec.EllipticCurvePrivateKey:
        if len(self._ec) < self.POOL:
            scalar = self.rng.randrange(1, 2**255)
            self._ec.append(ec.derive_private_key(scalar, ec.SECP256R1()))
            return self._ec[-1]
        return self.rng.choice(self._ec)

    def ed(self) -> ed25519.Ed25519PrivateKey:
        if len(self._ed) < self.POOL:
            self._ed.append(ed25519.Ed25519PrivateKey.from_private_bytes(self.rng.randbytes(32)))
            return self._ed[-1]
        return self.rng.choice(self._ed)

    def private_pem(self) -> tuple[str, str, bool]:
        """(PEM text, family, encrypted)."""
        rng = self.rng
        roll = rng.random()
        Enc = serialization.Encoding
        Fmt = serialization.PrivateFormat
        none = serialization.NoEncryption()
        if roll < 0.3:
            pem = self.rsa().private_bytes(Enc.PEM, Fmt.TraditionalOpenSSL, none)
            return pem.decode(), PRIVATE_KEY, False
        if roll < 0.5:
            pem = self.ec().private_bytes(Enc.PEM, Fmt.TraditionalOpenSSL, none)
            return pem.decode(), PRIVATE_KEY, False
        if roll < 0.65:
            key = self.rsa() if rng.random() < 0.5 else self.ec()
            pem = key.private_bytes(Enc.PEM, Fmt.PKCS8, none)
            return pem.decode(), PRIVATE_KEY, False
        if roll < 0.85:
            pem = self.ed().private_bytes(Enc.PEM, Fmt.OpenSSH, none)
            return pem.decode(), OPENSSH_KEY, False
        passphrase = rand(rng, ALNUM, 12).encode()
        enc = serialization.BestAvailableEncryption(passphrase)
        fmt = Fmt.PKCS8 if rng.random() < 0.6 else Fmt.TraditionalOpenSSL
        pem = self.rsa().private_bytes(Enc.PEM, fmt, enc)
        return pem.decode(), PRIVATE_KEY, True

    def public_pem(self) -> str:
        key = self.rng.choice((self.rsa, self.ec, self.ed))()
        return (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def ssh_public(self) -> str:
        key = self.rng.choice((self.rsa, self.ed))()
        line = (
            key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
        return f"{line} {self.rng.choice(_TEAMS)}@acme.io"

    def certificate(self) -> str:
        """A self-signed Ed25519 certificate (deterministic signature), from a small pool."""
        if len(self._certs) >= self.POOL:
            return self.rng.choice(self._certs)
        key = self.ed()
        cn = f"{self.rng.choice(_TEAMS)}.{self.rng.choice(_NAMESPACES)}.svc"
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=self.rng.randint(0, 300))
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(self.rng.getrandbits(64) | 1)
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=365))
            .sign(key, None)
        )
        self._certs.append(cert.public_bytes(serialization.Encoding.PEM).decode())
        return self._certs[-1]

    def pgp_private(self) -> str:
        """An ASCII-armored OpenPGP v4 secret-key packet (RSA, unprotected)."""
        numbers = self.rsa().private_numbers()
        pub = numbers.public_numbers

        def mpi(n: int) -> bytes:
            return struct.pack(">H", n.bit_length()) + n.to_bytes((n.bit_length() + 7) // 8)

        p, q = sorted((numbers.p, numbers.q))
        u = pow(p, -1, q)
        secret = mpi(numbers.d) + mpi(p) + mpi(q) + mpi(u)
        created = 1_600_000_000 + self.rng.randint(0, 100_000_000)
        body = (
            b"\x04"
            + struct.pack(">I", created)
            + b"\x01"
            + mpi(pub.n)
            + mpi(pub.e)
            + b"\x00"
            + secret
            + struct.pack(">H", sum(secret) % 65536)
        )
        packet = b"\xc5" + _new_length(len(body)) + body
        armored = base64.b64encode(packet).decode()
        lines = [armored[i : i + 64] for i in range(0, len(armored), 64)]
        crc = base64.b64encode(_crc24(packet).to_bytes(3)).decode()
        return "\n".join(
            [
                "-----BEGIN PGP PRIVATE KEY BLOCK-----",
                "",
                *lines,
                "=" + crc,
                "-----END PGP PRIVATE KEY BLOCK-----",
                "",
            ]
        )


def _new_length(n: int) -> bytes:
    if n < 192:
        return bytes([n])
    if n < 8384:
        n -= 192
        return bytes([(n >> 8) + 192, n & 0xFF])
    return b"\xff" + struct.pack(">I", n)


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


# -- the value families and the keys they are assigned to ---------------------------------------


@dataclass(frozen=True, slots=True)
class Spec:
    family: str
    make: Callable[[random.Random], str]
    keys: tuple[str, ...]  # variable names people assign this to
    alt: tuple[str, ...] = ()


VENDOR: tuple[Spec, ...] = (
    Spec(GH_CLASSIC, lambda r: checksummed(r, "ghp_"), ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_PAT")),
    Spec(GH_FINE, github_fine_grained, ("GITHUB_TOKEN", "GH_PAT", "RENOVATE_TOKEN")),
    Spec(GH_OAUTH, lambda r: checksummed(r, "gho_"), ("GITHUB_OAUTH_TOKEN", "GH_TOKEN")),
    Spec(
        GH_APP,
        lambda r: checksummed(r, "ghs_"),
        ("GITHUB_APP_TOKEN", "GITHUB_TOKEN"),
    ),
    Spec(GH_REFRESH, lambda r: checksummed(r, "ghr_"), ("GITHUB_REFRESH_TOKEN",)),
    Spec(GH_USER, lambda r: checksummed(r, "ghu_"), ("GITHUB_USER_TOKEN", "GH_TOKEN")),
    Spec(GITLAB, gitlab_token("glpat-"), ("GITLAB_TOKEN", "GITLAB_PAT", "GL_TOKEN")),
    Spec(GITLAB_DEPLOY, gitlab_token("gldt-"), ("GITLAB_DEPLOY_TOKEN", "REGISTRY_PASSWORD")),
    Spec(GITLAB_RUNNER, gitlab_token("glrt-"), ("RUNNER_TOKEN", "CI_SERVER_TOKEN")),
    Spec(GITLAB_TRIGGER, _fixed("glptt-", HEX, 40), ("TRIGGER_TOKEN", "GITLAB_TRIGGER_TOKEN")),
    Spec(GITLAB_OTHER, gitlab_token("glft-"), ("GITLAB_FEED_TOKEN", "FEED_TOKEN")),
    Spec(SLACK_BOT, slack_bot, ("SLACK_BOT_TOKEN", "SLACK_TOKEN")),
    Spec(SLACK_USER, slack_user, ("SLACK_USER_TOKEN", "SLACK_TOKEN")),
    Spec(SLACK_APP, slack_app, ("SLACK_APP_TOKEN", "SOCKET_MODE_TOKEN")),
    Spec(SLACK_OTHER, slack_other, ("SLACK_CONFIG_TOKEN", "SLACK_REFRESH_TOKEN")),
    Spec(SLACK_HOOK, slack_webhook, ("SLACK_WEBHOOK_URL", "ALERTMANAGER_SLACK_URL", "SLACK_HOOK")),
    Spec(STRIPE, stripe_key("sk_live_"), ("STRIPE_SECRET_KEY", "STRIPE_API_KEY")),
    Spec(STRIPE_RESTRICTED, stripe_key("rk_live_"), ("STRIPE_RESTRICTED_KEY", "STRIPE_KEY")),
    Spec(STRIPE_TEST, stripe_key("sk_test_"), ("STRIPE_TEST_SECRET_KEY", "STRIPE_SECRET_KEY")),
    Spec(GOOGLE_KEY, google_api_key, ("GOOGLE_API_KEY", "MAPS_API_KEY", "FIREBASE_API_KEY")),
    Spec(AZURE_KEY, azure_key, ("AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCOUNT_KEY"), (AZURE_CONN,)),
    Spec(
        AZURE_CONN,
        azure_conn,
        ("AZURE_STORAGE_CONNECTION_STRING", "BLOB_CONNECTION_STRING"),
        (AZURE_KEY,),
    ),
    Spec(AZURE_SAS, azure_sas_url, ("BACKUP_SAS_URL", "AZURE_BLOB_SAS_URL", "EXPORT_URL")),
    Spec(NPM, lambda r: checksummed(r, "npm_"), ("NPM_TOKEN", "NODE_AUTH_TOKEN")),
    Spec(PYPI, pypi_token, ("PYPI_TOKEN", "TWINE_PASSWORD", "UV_PUBLISH_TOKEN")),
    Spec(DOCKERHUB, dockerhub_token, ("DOCKERHUB_TOKEN", "DOCKER_PASSWORD", "REGISTRY_TOKEN")),
    Spec(VAULT, vault_token, ("VAULT_TOKEN", "VAULT_ROOT_TOKEN")),
    Spec(VAULT_BATCH, vault_batch, ("VAULT_TOKEN", "VAULT_BATCH_TOKEN")),
    Spec(TFC, tfc_token, ("TFE_TOKEN", "TF_API_TOKEN", "TF_TOKEN_app_terraform_io")),
    Spec(DATADOG, datadog_key, ("DD_API_KEY", "DATADOG_API_KEY")),
    Spec(DATADOG_APP, _fixed("", HEX, 40), ("DD_APP_KEY", "DATADOG_APP_KEY")),
    Spec(TWILIO, twilio_key, ("TWILIO_API_KEY", "TWILIO_API_SECRET_SID")),
    Spec(TWILIO_AUTH, _fixed("", HEX, 32), ("TWILIO_AUTH_TOKEN",)),
    Spec(SENDGRID, sendgrid_key, ("SENDGRID_API_KEY", "SMTP_PASSWORD", "MAIL_API_KEY")),
    Spec(OPENAI, openai_key, ("OPENAI_API_KEY", "LLM_API_KEY")),
    Spec(ANTHROPIC, anthropic_key, ("ANTHROPIC_API_KEY", "CLAUDE_API_KEY")),
    Spec(JWT, jwt_token, ("SERVICE_TOKEN", "AUTH_BEARER", "API_JWT", "METRICS_BEARER_TOKEN")),
    Spec(
        DB_URL,
        db_url,
        ("DATABASE_URL", "DB_DSN", "MONGO_URI", "REDIS_URL", "SQLALCHEMY_URL"),
        (URL_CRED,),
    ),
    Spec("age-secret-key", age_secret_key, ("SOPS_AGE_KEY", "AGE_KEY")),
    Spec("alibaba-access-key-id", _fixed("LTAI", ALNUM, 20), ("ALIBABA_CLOUD_ACCESS_KEY_ID",)),
    Spec("atlassian-api-token", atlassian_token, ("JIRA_API_TOKEN", "CONFLUENCE_TOKEN")),
    Spec("azure-ad-client-secret", azure_ad_secret, ("AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET")),
    Spec("cloudflare-api-key", _fixed("", HEX, 37), ("CLOUDFLARE_API_KEY", "CF_API_KEY")),
    Spec("cloudflare-api-token", _fixed("", URLSAFE, 40), ("CLOUDFLARE_API_TOKEN",)),
    Spec("cloudflare-origin-ca-key", cloudflare_origin, ("CF_ORIGIN_CA_KEY",)),
    Spec("databricks-token", _fixed("dapi", HEX, 32), ("DATABRICKS_TOKEN",)),
    Spec("digitalocean-token", _fixed("dop_v1_", HEX, 64), ("DIGITALOCEAN_TOKEN", "DO_TOKEN")),
    Spec("discord-bot-token", discord_bot, ("DISCORD_BOT_TOKEN", "DISCORD_TOKEN")),
    Spec("discord-webhook", discord_webhook, ("DISCORD_WEBHOOK_URL", "ALERT_WEBHOOK")),
    Spec("doppler-token", doppler, ("DOPPLER_TOKEN",)),
    Spec("dynatrace-token", dynatrace, ("DT_API_TOKEN", "DYNATRACE_TOKEN")),
    Spec("fcm-server-key", fcm_key, ("FCM_SERVER_KEY", "FIREBASE_SERVER_KEY")),
    Spec("gcp-oauth-client-secret", _fixed("GOCSPX-", URLSAFE, 28), ("GOOGLE_CLIENT_SECRET",)),
    Spec("grafana-cloud-token", grafana_cloud, ("GRAFANA_CLOUD_TOKEN", "GCLOUD_RW_API_KEY")),
    Spec("grafana-service-account-token", grafana_sa, ("GRAFANA_TOKEN", "GRAFANA_SA_TOKEN")),
    Spec("heroku-api-key", heroku_key, ("HEROKU_API_KEY",)),
    Spec("hubspot-private-app-token", hubspot, ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_TOKEN")),
    Spec("huggingface-token", _fixed("hf_", string.ascii_letters, 34), ("HF_TOKEN",)),
    Spec("linear-api-key", _fixed("lin_api_", ALNUM, 40), ("LINEAR_API_KEY",)),
    Spec("mailchimp-api-key", mailchimp, ("MAILCHIMP_API_KEY",)),
    Spec("mailgun-api-key", mailgun, ("MAILGUN_API_KEY", "MAILGUN_KEY")),
    Spec("mapbox-secret-token", mapbox, ("MAPBOX_SECRET_TOKEN", "MAPBOX_DOWNLOADS_TOKEN")),
    Spec("newrelic-ingest-key", _fixed("NRII-", URLSAFE, 32), ("NEW_RELIC_INSERT_KEY",)),
    Spec("newrelic-user-api-key", _fixed("NRAK-", UPPER_B32 + "0189", 27), ("NEW_RELIC_API_KEY",)),
    Spec("postman-api-key", postman, ("POSTMAN_API_KEY",)),
    Spec("pulumi-token", _fixed("pul-", HEX, 40), ("PULUMI_ACCESS_TOKEN",)),
    Spec("sentry-auth-token", _fixed("sntryu_", HEX, 64), ("SENTRY_AUTH_TOKEN",)),
    Spec("sentry-dsn-client-key", sentry_dsn, ("SENTRY_DSN",)),
    Spec("sentry-dsn", sentry_dsn_legacy, ("SENTRY_DSN_LEGACY",)),
    Spec("shopify-access-token", _fixed("shpat_", HEX, 32), ("SHOPIFY_ACCESS_TOKEN",)),
    Spec("shopify-shared-secret", _fixed("shpss_", HEX, 32), ("SHOPIFY_API_SECRET",)),
    Spec("telegram-bot-token", telegram, ("TELEGRAM_BOT_TOKEN", "TG_TOKEN")),
    Spec(
        URL_CRED,
        url_cred,
        ("BROKER_URL", "SMTP_URL", "GIT_REMOTE", "PIP_INDEX_URL", "PUSH_URL"),
        (DB_URL,),  # amqp:// and the like are database-ish URLs to some scanners
    ),
)
GENERIC_SPECS: tuple[Spec, ...] = (
    Spec(
        G_PASSWORD,
        password,
        (
            "DB_PASSWORD",
            "POSTGRES_PASSWORD",
            "MYSQL_ROOT_PASSWORD",
            "REDIS_PASSWORD",
            "ADMIN_PASSWORD",
            "SMTP_PASS",
            "LDAP_BIND_PASSWORD",
            "RABBITMQ_DEFAULT_PASS",
            "KEYSTORE_PASSWORD",
            "GRAFANA_ADMIN_PASSWORD",
        ),
        GENERIC,
    ),
    Spec(
        G_SECRET,
        lambda r: rand(r, ALNUM, r.randint(24, 48)),
        (
            "SESSION_SECRET",
            "CLIENT_SECRET",
            "OAUTH_CLIENT_SECRET",
            "JWT_SECRET",
            "COOKIE_SECRET",
            "NEXTAUTH_SECRET",
            "WEBHOOK_SECRET",
        ),
        GENERIC,
    ),
    Spec(
        G_TOKEN,
        lambda r: rand(r, ALNUM + "-_", r.randint(32, 48)),
        ("API_TOKEN", "ACCESS_TOKEN", "INTERNAL_TOKEN", "ARGOCD_AUTH_TOKEN", "BOT_TOKEN"),
        GENERIC,
    ),
    Spec(
        G_API_KEY,
        lambda r: r.choice((api_key, hex_secret))(r),
        (
            "API_KEY",
            "PAYMENT_API_KEY",
            "SEARCH_API_KEY",
            "ALGOLIA_ADMIN_KEY",
            "NEWRELIC_LICENSE_KEY",
            "WEBHOOK_HMAC_KEY",
            "ENCRYPTION_KEY",
            "SECRET_KEY_BASE",
        ),
        GENERIC,
    ),
)
ASSIGNABLE: tuple[Spec, ...] = VENDOR + GENERIC_SPECS
SPEC_BY_FAMILY = {s.family: s for s in ASSIGNABLE}

# Families planted only by dedicated contexts (PEM blocks, pairs, Kubernetes structures).
STRUCTURAL = (
    AWS_KEY_ID,
    AWS_SECRET,
    GCP_SA,
    PRIVATE_KEY,
    OPENSSH_KEY,
    PGP_KEY,
    K8S_SECRET,
    DOCKERCONFIG,
    KUBECONFIG,
    SOPS_PLAIN,
)
ALL_FAMILIES: tuple[str, ...] = tuple(s.family for s in ASSIGNABLE) + STRUCTURAL

# -- benign look-alikes -------------------------------------------------------------------------

PLACEHOLDERS: tuple[tuple[str, str], ...] = (
    ("changeme", "placeholder-changeme"),
    ("CHANGEME", "placeholder-changeme"),
    ("REPLACE_ME", "placeholder-replace-me"),
    ("${DB_PASSWORD}", "placeholder-env-ref"),
    ("${API_TOKEN}", "placeholder-env-ref"),
    ("$(SECRET_VALUE)", "placeholder-env-ref"),
    ("<token>", "placeholder-angle"),
    ("<your-api-key>", "placeholder-angle"),
    ("{{ .Values.auth.password }}", "placeholder-template"),
    ("{{ .Values.secrets.apiToken | quote }}", "placeholder-template"),
    ("${{ secrets.DEPLOY_TOKEN }}", "placeholder-gha"),
    ("", "placeholder-empty"),
    ("********", "placeholder-stars"),
    ("xxxxxxxxxxxxxxxx", "placeholder-xxx"),
)
CONFIG_LOOKALIKES: tuple[tuple[str, Callable[[random.Random], str]], ...] = (
    ("TOKEN_TTL", lambda r: str(r.choice((300, 3600, 86400)))),
    ("PASSWORD_MIN_LENGTH", lambda r: str(r.choice((8, 12, 14)))),
    ("SECRET_NAME", lambda r: f"{r.choice(_TEAMS)}-credentials"),
    (
        "TOKEN_ENDPOINT",
        lambda r: f"https://auth.{r.choice(('acme.io', 'example.com'))}/oauth/token",
    ),
    ("API_KEY_HEADER", lambda r: r.choice(("X-API-Key", "Authorization"))),
    ("JWT_ISSUER", lambda r: "https://auth.acme.io/"),
    ("PASSWORD_RESET_URL", lambda r: "https://acme.io/account/reset"),
    ("SECRET_MOUNT_PATH", lambda r: "/var/run/secrets/app"),
    ("AUTH_ENABLED", lambda r: r.choice(("true", "false"))),
    ("TOKEN_CACHE_SIZE", lambda r: str(r.choice((128, 1024)))),
)


def sha256_hex(rng: random.Random) -> str:
    return rand(rng, HEX, 64)


def commit_sha(rng: random.Random) -> str:
    return rand(rng, HEX, 40)


def uuid4(rng: random.Random) -> str:
    h = rand(rng, HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{rng.choice('89ab')}{h[17:20]}-{h[20:]}"


def yq(value: str, rng: random.Random) -> str:
    """A YAML scalar for ``value``: plain when safe (sometimes quoted anyway), else quoted."""
    safe = value and all(c in ALNUM + "-_./+=" for c in value) and not value[0].isdigit()
    if safe and value.lower() not in ("true", "false", "yes", "no", "null", "on", "off"):
        roll = rng.random()
        if roll < 0.6:
            return value
        if roll < 0.8:
            return f"'{value}'"
    return json.dumps(value)


def sealed_ciphertext(rng: random.Random, size: int) -> str:
    # kubeseal: 2-byte length of the RSA-OAEP session key, the 512-byte key, AES-GCM payload.
    return b64(b"\x02\x00" + rng.randbytes(512) + rng.randbytes(size + 16))


def sops_enc(rng: random.Random, size: int, kind: str = "str") -> str:
    return (
        f"ENC[AES256_GCM,data:{b64(rng.randbytes(size))},iv:{b64(rng.randbytes(32))},"
        f"tag:{b64(rng.randbytes(16))},type:{kind}]"
    )


def age_recipient(rng: random.Random) -> str:
    return bech32("age", rng.randbytes(32))


def age_block(rng: random.Random) -> list[str]:
    body = b64(b"age-encryption.org/v1\n-> X25519 " + rng.randbytes(160))
    return [
        "-----BEGIN AGE ENCRYPTED FILE-----",
        *[body[i : i + 64] for i in range(0, len(body), 64)],
        "-----END AGE ENCRYPTED FILE-----",
    ]


# -- the generator ------------------------------------------------------------------------------

CATEGORY_WEIGHTS: dict[str, int] = {
    "deployment": 16,
    "secret": 9,
    "dockerconfigjson": 3,
    "argocd-repo-secret": 2,
    "sealed-secret": 7,
    "sops-yaml": 5,
    "sops-dotenv": 2,
    "external-secret": 6,
    "secret-provider-class": 3,
    "vault-agent": 3,
    "kubeconfig": 3,
    "helm-values": 7,
    "dotenv": 5,
    "terraform": 5,
    "properties-configmap": 5,
    "public-material": 5,
    "webhook-cabundle": 2,
    "argocd-flux": 6,
    "docker-config": 1,
    "gcp-sa-json": 1,
    "plain": 4,
}
# Files in these categories must produce no finding at all.
CLEAN_CATEGORIES = frozenset(
    {"sealed-secret", "sops-yaml", "sops-dotenv", "external-secret", "secret-provider-class"}
)


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.keys = Keys(self.rng)
        self._quota: list[Spec] = []

    # -- small pieces ----------------------------------------------------------------------

    def name(self) -> str:
        rng = self.rng
        out = f"{rng.choice(_TEAMS)}-{rng.choice(_COMPONENTS)}"
        if rng.random() < 0.4:
            out += "-" + rand(rng, string.ascii_lowercase + string.digits, 5)
        return out

    def image(self, digest: bool | None = None) -> str:
        rng = self.rng
        version = f"{rng.randint(1, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
        ref = f"{rng.choice(_REGISTRIES)}/{rng.choice(_COMPONENTS)}:{version}"
        if digest or (digest is None and rng.random() < 0.4):
            ref += "@sha256:" + sha256_hex(rng)
        return ref

    def spec(self) -> Spec:
        """The next assignable family: a shuffled round robin, so every family is planted."""
        if not self._quota:
            self._quota = list(ASSIGNABLE)
            self.rng.shuffle(self._quota)
        return self._quota.pop()

    def meta(self, t: Text, name: str, namespace: str | None, indent: str = "") -> None:
        t.add(f"{indent}metadata:", f"{indent}  name: {name}")
        if namespace:
            t.add(f"{indent}  namespace: {namespace}")
        if self.rng.random() < 0.5:
            t.add(f"{indent}  labels:", f"{indent}    app.kubernetes.io/name: {name}")
        if self.rng.random() < 0.25:
            t.add(
                f"{indent}  annotations:",
                f'{indent}    argocd.argoproj.io/sync-wave: "{self.rng.randint(-1, 3)}"',
            )

    def benign_value(self, t: Text, key: str, prefix: str, sep: str, quote: bool) -> None:
        """A benign value under a credential-sounding key: a placeholder or a doc example."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.7:
            value, kind = rng.choice(PLACEHOLDERS)
        elif roll < 0.85:
            value, kind = f"ghp_{'x' * 36}", "placeholder-ghp-xxx"
        else:
            value, kind = JWT_IO, "jwt-io-example"
        shown = yq(value, rng) if quote else value
        t.benign(f"{prefix}{key}{sep}{shown}", kind)

    # -- env vars --------------------------------------------------------------------------

    def env(self, t: Text, indent: str, secrets: int) -> None:
        rng = self.rng
        items: list[str] = ["plain"] * rng.randint(1, 4) + ["secret"] * secrets
        items += rng.choices(
            ("ref", "placeholder", "config", "uuid", "aws-doc", "plain", "field"),
            k=rng.randint(1, 4),
        )
        rng.shuffle(items)
        t.add(f"{indent}env:")
        p = indent + "  "
        for item in items:
            if item == "plain":
                k, v = rng.choice(
                    (("LOG_LEVEL", "info"), ("PORT", '"8080"'), ("TZ", "UTC"),
                     ("FEATURE_FLAGS", "search,checkout"), ("WORKERS", '"4"'),
                     ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.monitoring:4317"))
                )  # fmt: skip
                t.add(f"{p}- name: {k}", f"{p}  value: {v}")
            elif item == "field":
                t.add(
                    f"{p}- name: POD_NAMESPACE",
                    f"{p}  valueFrom:",
                    f"{p}    fieldRef:",
                    f"{p}      fieldPath: metadata.namespace",
                )
            elif item == "ref":
                key = rng.choice(
                    ("DB_PASSWORD", "API_TOKEN", "STRIPE_SECRET_KEY", "AWS_SECRET_ACCESS_KEY")
                )
                first = t.add(f"{p}- name: {key}", f"{p}  valueFrom:")
                last = t.add(
                    f"{p}    secretKeyRef:",
                    f"{p}      name: {self.name()}-secrets",
                    f"{p}      key: {key.lower().replace('_', '-')}",
                )
                t.mark(first, last, None, "secret-key-ref")
            elif item == "placeholder":
                key = rng.choice(("DB_PASSWORD", "API_TOKEN", "CLIENT_SECRET", "GITHUB_TOKEN"))
                t.add(f"{p}- name: {key}")
                self.benign_value(t, "value", p + "  ", ": ", True)
            elif item == "config":
                key, make = rng.choice(CONFIG_LOOKALIKES)
                t.add(f"{p}- name: {key}")
                t.benign(f"{p}  value: {json.dumps(make(rng))}", "config-lookalike")
            elif item == "uuid":
                key = rng.choice(
                    ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "INSTANCE_ID", "SUBSCRIPTION_ID")
                )
                t.add(f"{p}- name: {key}")
                t.benign(f"{p}  value: {uuid4(rng)}", "uuid")
            elif item == "aws-doc":
                t.add(f"{p}- name: AWS_ACCESS_KEY_ID")
                t.benign(f"{p}  value: {AWS_DOC_KEY_ID}", "aws-doc-example")
                t.add(f"{p}- name: AWS_SECRET_ACCESS_KEY")
                t.benign(f"{p}  value: {AWS_DOC_SECRET}", "aws-doc-example")
            else:
                if rng.random() < 0.15:
                    self.aws_pair_env(t, p)
                    continue
                s = self.spec()
                value = s.make(rng)
                key = rng.choice(s.keys)
                if rng.random() < 0.1:
                    t.plant(
                        f"{p}- {{name: {key}, value: {json.dumps(value)}}}",
                        s.family, "env-inline", value, s.alt,
                    )  # fmt: skip
                    continue
                t.add(f"{p}- name: {key}")
                t.plant(f"{p}  value: {yq(value, rng)}", s.family, "env-split", value, s.alt)

    def aws_pair_env(self, t: Text, p: str) -> None:
        rng = self.rng
        kid, sec = aws_key_id(rng), aws_secret(rng)
        t.add(f"{p}- name: AWS_ACCESS_KEY_ID")
        t.plant(f"{p}  value: {kid}", AWS_KEY_ID, "env-split", kid)
        t.add(f"{p}- name: AWS_SECRET_ACCESS_KEY")
        t.plant(f"{p}  value: {json.dumps(sec)}", AWS_SECRET, "env-split", sec, GENERIC)

    # -- categories --------------------------------------------------------------------------

    def deployment(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        name = self.name()
        ns = rng.choice(_NAMESPACES)
        if rng.random() < 0.3:
            t.add(f"# {name}: rendered by kustomize, do not edit")
        kind = rng.choice(("Deployment", "Deployment", "StatefulSet"))
        t.add("apiVersion: apps/v1", f"kind: {kind}")
        self.meta(t, name, ns)
        t.add(
            "spec:",
            f"  replicas: {rng.randint(1, 5)}",
            "  selector:",
            "    matchLabels:",
            f"      app: {name}",
            "  template:",
            "    metadata:",
            "      labels:",
            f"        app: {name}",
        )
        if rng.random() < 0.4:
            t.add("      annotations:")
            t.benign(f"        checksum/config: {sha256_hex(rng)}", "sha256-checksum")
        t.add("    spec:", "      containers:", f"        - name: {name.split('-')[1]}")
        image = self.image()
        if "@sha256:" in image:
            t.benign(f"          image: {image}", "image-digest")
        else:
            t.add(f"          image: {image}")
        if rng.random() < 0.2:
            s = rng.choice(GENERIC_SPECS[:2])
            value = s.make(rng)
            flag = rng.choice(("--db-password", "--client-secret", "--admin-password"))
            t.add("          args:")
            t.plant(f"          - {flag}={value}", s.family, "cli-flag", value, s.alt)
        t.add("          ports:", f"            - containerPort: {rng.choice((80, 8080, 9090))}")
        self.env(t, "          ", secrets=rng.choice((0, 1, 1, 2, 3)))
        if rng.random() < 0.3:
            t.add(
                "          envFrom:",
                "            - secretRef:",
                f"                name: {name}-env",
            )
        t.add(
            "          resources:",
            "            requests:",
            f"              cpu: {rng.choice(('100m', '250m', '500m'))}",
            f"              memory: {rng.choice(('128Mi', '256Mi', '1Gi'))}",
        )
        return t.finish(path, "deployment")

    def secret(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add("apiVersion: v1", "kind: Secret")
        self.meta(t, f"{self.name()}-credentials", rng.choice(_NAMESPACES))
        t.add(f"type: {rng.choice(('Opaque', 'Opaque', 'kubernetes.io/basic-auth'))}")
        as_data = rng.random() < 0.5
        t.add("data:" if as_data else "stringData:")
        for _ in range(rng.randint(1, 4)):
            roll = rng.random()
            if roll < 0.12:
                pem, fam, _enc = self.keys.private_pem()
                key = rng.choice(("tls.key", "ssh-privatekey", "signing.key", "id_ed25519"))
                if as_data:
                    enc_value = b64(pem.encode())
                    t.plant(
                        f"  {key}: {enc_value}", fam, "secret-data-key", enc_value, (K8S_SECRET,)
                    )
                else:
                    first = t.add(f"  {key}: |")
                    _f, last = t.block(pem, "    ")
                    t.mark(
                        first, last, fam, "secret-stringdata-pem", (K8S_SECRET,), pem.split("\n")[1]
                    )
                continue
            s = self.spec()
            value = s.make(rng)
            key = rng.choice(s.keys)
            if rng.random() < 0.5:
                key = key.lower().replace("_", "-")
            if as_data:
                enc_value = b64(value.encode())
                t.plant(
                    f"  {key}: {enc_value}", K8S_SECRET, "secret-data",
                    enc_value, (s.family, *s.alt),
                )  # fmt: skip
            else:
                t.plant(
                    f"  {key}: {yq(value, rng)}", s.family, "secret-stringdata",
                    value, (K8S_SECRET, *s.alt),
                )  # fmt: skip
        return t.finish(path, "secret")

    def dockerconfigjson(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add("apiVersion: v1", "kind: Secret")
        self.meta(
            t, rng.choice(("regcred", "ghcr-pull", "registry-credentials")), rng.choice(_NAMESPACES)
        )
        t.add("type: kubernetes.io/dockerconfigjson")
        registry = rng.choice(
            ("ghcr.io", "registry.example.com", "https://index.docker.io/v1/", "quay.io")
        )
        user = rng.choice(("ci-bot", "acme-deploy", "robot$acme+puller"))
        secret = (
            checksummed(rng, "ghp_") if registry == "ghcr.io"
            else dockerhub_token(rng) if "docker" in registry
            else rand(rng, ALNUM, 32)
        )  # fmt: skip
        # The registry token's own family is also right (the most specific family).
        vendor = (
            (GH_CLASSIC,) if registry == "ghcr.io" else (DOCKERHUB,) if "docker" in registry else ()
        )
        auth: dict[str, str] = {"auth": b64(f"{user}:{secret}".encode())}
        if rng.random() < 0.5:
            auth = {"username": user, "password": secret, **auth}
        config = json.dumps({"auths": {registry: auth}})
        if rng.random() < 0.7:
            t.add("data:")
            value = b64(config.encode())
            t.plant(
                f"  .dockerconfigjson: {value}",
                DOCKERCONFIG,
                "dockerconfigjson-data",
                value,
                (K8S_SECRET, *vendor),
            )
        else:
            t.add("stringData:")
            t.plant(
                f"  .dockerconfigjson: '{config}'",
                DOCKERCONFIG,
                "dockerconfigjson-string",
                auth["auth"],
                (K8S_SECRET, *vendor),
            )
        return t.finish(path, "dockerconfigjson")

    def argocd_repo_secret(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add("apiVersion: v1", "kind: Secret", "metadata:", f"  name: repo-{self.name()}")
        t.add("  namespace: argocd", "  labels:", "    argocd.argoproj.io/secret-type: repository")
        t.add("stringData:", "  type: git")
        if rng.random() < 0.5:
            t.add(
                f"  url: https://github.com/acme/{rng.choice(_TEAMS)}-gitops.git",
                "  username: ci-bot",
            )
            value = checksummed(rng, "ghp_") if rng.random() < 0.5 else password(rng)
            fam = GH_CLASSIC if value.startswith("ghp_") else G_PASSWORD
            t.plant(
                f"  password: {yq(value, rng)}",
                fam,
                "argocd-repo-password",
                value,
                (K8S_SECRET, *GENERIC),
            )
        else:
            t.add(f"  url: git@github.com:acme/{rng.choice(_TEAMS)}-gitops.git")
            pem = (
                self.keys.ed()
                .private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.OpenSSH,
                    serialization.NoEncryption(),
                )
                .decode()
            )
            first = t.add("  sshPrivateKey: |")
            _f, last = t.block(pem, "    ")
            t.mark(
                first,
                last,
                OPENSSH_KEY,
                "argocd-repo-ssh-key",
                (K8S_SECRET, PRIVATE_KEY),
                pem.split("\n")[1],
            )
        return t.finish(path, "argocd-repo-secret")

    def sealed_secret(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        name = f"{self.name()}-credentials"
        ns = rng.choice(_NAMESPACES)
        t.add("apiVersion: bitnami.com/v1alpha1", "kind: SealedSecret")
        self.meta(t, name, ns)
        if rng.random() < 0.3:
            t.add("  annotations:", '    sealedsecrets.bitnami.com/cluster-wide: "true"')
        t.add("spec:", "  encryptedData:")
        for key in rng.sample(
            (
                "password",
                "api-key",
                "DB_PASSWORD",
                "token",
                "client-secret",
                "tls.key",
                ".dockerconfigjson",
                "AWS_SECRET_ACCESS_KEY",
            ),
            rng.randint(1, 4),
        ):
            t.benign(
                f"    {key}: {sealed_ciphertext(rng, rng.randint(16, 120))}", "sealed-ciphertext"
            )
        t.add(
            "  template:",
            "    metadata:",
            f"      name: {name}",
            f"      namespace: {ns}",
            "    type: Opaque",
        )
        return t.finish(path, "sealed-secret")

    def _sops_meta(self, t: Text, regex: str) -> None:
        rng = self.rng
        t.add("sops:", "    kms: []", "    gcp_kms: []", "    azure_kv: []", "    hc_vault: []")
        t.add("    age:", f"        - recipient: {age_recipient(rng)}", "          enc: |")
        first, last = t.block("\n".join(age_block(rng)), "            ")
        t.mark(first, last, None, "sops-age-block")
        t.add(
            f'    lastmodified: "2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:'
            f'{rng.randint(10, 59)}:00Z"'
        )
        t.benign(f"    mac: {sops_enc(rng, 32)}", "sops-enc")
        t.add("    pgp: []", f"    encrypted_regex: {regex}", "    version: 3.9.1")

    def sops_yaml(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        if rng.random() < 0.6:
            t.add("apiVersion: v1", "kind: Secret")
            self.meta(t, f"{self.name()}-secrets", rng.choice(_NAMESPACES))
            t.add("type: Opaque", "stringData:")
            keys = ("DB_PASSWORD", "API_TOKEN", "STRIPE_SECRET_KEY", "tls.key", "client-secret")
            for key in rng.sample(keys, rng.randint(1, 4)):
                t.benign(f"    {key}: {sops_enc(rng, rng.randint(12, 60))}", "sops-enc")
            regex = "^(data|stringData)$"
        else:
            t.add("database:")
            t.benign(f"    password: {sops_enc(rng, 24)}", "sops-enc")
            t.benign(f"    username: {sops_enc(rng, 6)}", "sops-enc")
            t.add("api:")
            t.benign(f"    token: {sops_enc(rng, 40)}", "sops-enc")
            t.benign(f"    retries: {sops_enc(rng, 1, 'int')}", "sops-enc")
            regex = "^(password|username|token|retries)$"
        self._sops_meta(t, regex)
        return t.finish(path, "sops-yaml")

    def sops_partial(self, path: str) -> CorpusFile:
        """A SOPS file where one value that the rules say must be encrypted is not."""
        rng = self.rng
        t = Text()
        t.add("apiVersion: v1", "kind: Secret")
        self.meta(t, f"{self.name()}-secrets", rng.choice(_NAMESPACES))
        t.add("type: Opaque", "stringData:")
        t.benign(f"    DB_USER: {sops_enc(rng, 8)}", "sops-enc")
        value = password(rng)
        t.plant(
            f"    DB_PASSWORD: {yq(value, rng)}",
            SOPS_PLAIN,
            "sops-unencrypted",
            value,
            (K8S_SECRET, *GENERIC),
        )
        self._sops_meta(t, "^(data|stringData)$")
        return t.finish(path, "sops-partial")

    def sops_dotenv(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        for key in rng.sample(
            ("DB_PASSWORD", "API_TOKEN", "STRIPE_SECRET_KEY", "SESSION_SECRET", "REDIS_URL"), 3
        ):
            t.benign(f"{key}={sops_enc(rng, rng.randint(16, 60))}", "sops-enc")
        block = "\\n".join(age_block(rng)) + "\\n"
        t.benign(f"sops_age__list_0__map_enc={block}", "sops-age-block")
        t.add(f"sops_age__list_0__map_recipient={age_recipient(rng)}")
        t.add("sops_lastmodified=2025-03-02T11:22:33Z")
        t.benign(f"sops_mac={sops_enc(rng, 32)}", "sops-enc")
        t.add("sops_unencrypted_suffix=_unencrypted", "sops_version=3.9.1")
        return t.finish(path, "sops-dotenv")

    def external_secret(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        if rng.random() < 0.3:
            t.add("apiVersion: external-secrets.io/v1beta1", "kind: ClusterSecretStore")
            self.meta(t, "vault-backend", None)
            t.add("spec:", "  provider:", "    vault:", "      server: https://vault.acme.io:8200")
            t.add("      path: secret", "      version: v2", "      auth:", "        kubernetes:")
            t.add("          mountPath: kubernetes", f"          role: {rng.choice(_TEAMS)}")
            t.add("          secretRef:", "            name: vault-token", "            key: token")
            t.add("---")
        t.add("apiVersion: external-secrets.io/v1beta1", "kind: ExternalSecret")
        self.meta(t, f"{self.name()}-secrets", rng.choice(_NAMESPACES))
        t.add(
            "spec:",
            "  refreshInterval: 1h",
            "  secretStoreRef:",
            "    kind: ClusterSecretStore",
            "    name: vault-backend",
        )
        t.add("  target:", f"    name: {self.name()}-credentials", "    creationPolicy: Owner")
        if rng.random() < 0.4:
            t.add("    template:", "      data:")
            t.benign(
                '        DATABASE_URL: "postgres://app:{{ .password }}@db:5432/app"',
                "placeholder-template",
            )
        t.add("  data:")
        for key in rng.sample(
            ("password", "api-key", "token", "client-secret", "AWS_SECRET_ACCESS_KEY"),
            rng.randint(1, 3),
        ):
            t.benign(f"    - secretKey: {key}", "external-secret-ref")
            t.add(
                "      remoteRef:",
                f"        key: {rng.choice(_NAMESPACES)}/{rng.choice(_TEAMS)}/{key}",
                f"        property: {key}",
            )
        return t.finish(path, "external-secret")

    def secret_provider_class(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add("apiVersion: secrets-store.csi.x-k8s.io/v1", "kind: SecretProviderClass")
        self.meta(t, f"{self.name()}-spc", rng.choice(_NAMESPACES))
        t.add("spec:")
        if rng.random() < 0.5:
            t.add("  provider: azure", "  parameters:", '    usePodIdentity: "false"')
            t.benign(f"    userAssignedIdentityID: {uuid4(rng)}", "uuid")
            t.add(f"    keyvaultName: kv-{rng.choice(_TEAMS)}")
            t.benign(f"    tenantId: {uuid4(rng)}", "uuid")
            t.add(
                "    objects: |",
                "      array:",
                "        - |",
                "          objectName: db-password",
                "          objectType: secret",
            )
        else:
            t.add("  provider: aws", "  parameters:", "    objects: |")
            t.add(
                f'      - objectName: "arn:aws:secretsmanager:eu-west-1:'
                f'{rand(rng, string.digits, 12)}:secret:prod/db-password-{rand(rng, ALNUM, 6)}"'
            )
            t.add('        objectType: "secretsmanager"')
        t.add(
            "  secretObjects:",
            f"    - secretName: {self.name()}-db",
            "      type: Opaque",
            "      data:",
        )
        t.add("        - objectName: db-password", "          key: password")
        return t.finish(path, "secret-provider-class")

    def vault_agent(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        name = self.name()
        t.add("apiVersion: apps/v1", "kind: Deployment")
        self.meta(t, name, rng.choice(_NAMESPACES))
        t.add("spec:", "  template:", "    metadata:", "      annotations:")
        t.add(
            '        vault.hashicorp.com/agent-inject: "true"',
            f'        vault.hashicorp.com/role: "{rng.choice(_TEAMS)}"',
        )
        t.benign(
            "        vault.hashicorp.com/agent-inject-secret-db-password: "
            f'"secret/data/{rng.choice(_TEAMS)}/db"',
            "vault-annotation",
        )
        t.add("        vault.hashicorp.com/agent-inject-template-db-password: |")
        first, last = t.block(
            '{{- with secret "secret/data/app/db" -}}\n'
            'export DB_PASSWORD="{{ .Data.data.password }}"\n{{- end }}',
            "          ",
        )
        t.mark(first, last, None, "vault-annotation")
        t.add(
            "    spec:",
            "      serviceAccountName: " + name,
            "      containers:",
            "        - name: app",
            f"          image: {self.image(False)}",
        )
        return t.finish(path, "vault-agent")

    def kubeconfig(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        cluster = rng.choice(("prod", "staging", "kind-dev"))
        t.add("apiVersion: v1", "kind: Config", "clusters:", "- cluster:")
        t.benign(
            f"    certificate-authority-data: {b64(self.keys.certificate().encode())}",
            "certificate-b64",
        )
        t.add(
            f"    server: https://10.{rng.randint(0, 255)}.0.{rng.randint(1, 250)}:6443",
            f"  name: {cluster}",
        )
        t.add(
            "contexts:",
            "- context:",
            f"    cluster: {cluster}",
            f"    user: {cluster}-admin",
            f"  name: {cluster}",
        )
        t.add(f"current-context: {cluster}", "users:")
        kinds = rng.sample(("client-key", "token", "password", "exec"), rng.randint(1, 3))
        if all(k == "exec" for k in kinds):
            kinds.append("token")
        for k in kinds:
            t.add(f"- name: {cluster}-{k}", "  user:")
            if k == "client-key":
                t.benign(
                    f"    client-certificate-data: {b64(self.keys.certificate().encode())}",
                    "certificate-b64",
                )
                pem, _fam, _enc = self.keys.private_pem()
                value = b64(pem.encode())
                t.plant(
                    f"    client-key-data: {value}",
                    KUBECONFIG,
                    "kubeconfig-client-key",
                    value,
                    (PRIVATE_KEY, OPENSSH_KEY),
                )
            elif k == "token":
                value = (
                    jwt_token(rng)
                    if rng.random() < 0.6
                    else rand(rng, string.ascii_lowercase + string.digits, 6)
                    + "."
                    + rand(rng, string.ascii_lowercase + string.digits, 16)
                )
                t.plant(
                    f"    token: {value}", KUBECONFIG, "kubeconfig-token", value, (JWT, *GENERIC)
                )
            elif k == "password":
                t.add("    username: admin")
                value = password(rng)
                t.plant(
                    f"    password: {yq(value, rng)}",
                    KUBECONFIG,
                    "kubeconfig-password",
                    value,
                    GENERIC,
                )
            else:
                t.add(
                    "    exec:",
                    "      apiVersion: client.authentication.k8s.io/v1beta1",
                    "      command: aws",
                )
                t.benign(
                    f"      args: [eks, get-token, --cluster-name, {cluster}]", "kubeconfig-exec"
                )
        return t.finish(path, "kubeconfig")

    def helm_values(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add(
            f"# Default values for {self.name()}.", f"replicaCount: {rng.randint(1, 3)}", "image:"
        )
        t.add(
            f"  repository: {rng.choice(_REGISTRIES)}/{rng.choice(_COMPONENTS)}",
            f"  tag: {rng.randint(1, 3)}.{rng.randint(0, 9)}.0",
        )
        if rng.random() < 0.5:
            t.benign(f"  digest: sha256:{sha256_hex(rng)}", "image-digest")
        if rng.random() < 0.3:
            t.benign(
                f"# Tokens look like {wrong_checksum(rng, 'ghp_')}, see Developer settings.",
                "github-wrong-checksum",
            )
        sections = rng.sample(
            ("postgresql", "redis", "smtp", "auth", "integrations", "oidc", "rabbitmq", "grafana"),
            rng.randint(2, 4),
        )
        for section in sections:
            t.add(f"{section}:")
            if section in ("postgresql", "redis", "rabbitmq", "grafana"):
                t.add(
                    "  auth:",
                    "    enabled: true"
                    if section == "redis"
                    else f"    username: {rng.choice(('app', 'admin'))}",
                )
                roll = rng.random()
                key = {
                    "postgresql": "postgresPassword",
                    "redis": "password",
                    "rabbitmq": "password",
                    "grafana": "adminPassword",
                }[section]
                if roll < 0.5:
                    value = password(rng)
                    t.plant(
                        f"    {key}: {yq(value, rng)}", G_PASSWORD, "helm-values", value, GENERIC
                    )
                elif roll < 0.75:
                    t.add(f'    {key}: ""')
                    t.benign(f"    existingSecret: {section}-credentials", "existing-secret-ref")
                else:
                    self.benign_value(t, key, "    ", ": ", True)
            elif section == "smtp":
                t.add("  host: smtp.sendgrid.net", "  port: 587", "  username: apikey")
                if rng.random() < 0.6:
                    value = sendgrid_key(rng)
                    t.plant(f"  password: {value}", SENDGRID, "helm-values", value, GENERIC)
                else:
                    self.benign_value(t, "password", "  ", ": ", True)
            elif section == "oidc":
                t.add(f"  issuerUrl: https://login.microsoftonline.com/{uuid4(rng)}/v2.0")
                t.benign(f"  clientId: {uuid4(rng)}", "uuid")
                if rng.random() < 0.6:
                    value = rand(rng, ALNUM + "~._-", 40)
                    t.plant(
                        f"  clientSecret: {yq(value, rng)}", G_SECRET, "helm-values", value, GENERIC
                    )
                else:
                    self.benign_value(t, "clientSecret", "  ", ": ", True)
            else:
                for _ in range(rng.randint(1, 2)):
                    s = self.spec()
                    value = s.make(rng)
                    key = _camel(rng.choice(s.keys))
                    t.plant(f"  {key}: {yq(value, rng)}", s.family, "helm-values", value, s.alt)
                if rng.random() < 0.4:
                    key, make = rng.choice(CONFIG_LOOKALIKES)
                    t.benign(f"  {_camel(key)}: {json.dumps(make(rng))}", "config-lookalike")
        if rng.random() < 0.4:
            t.add("serviceAccount:", "  create: true", "  annotations:")
            t.benign(
                f"    eks.amazonaws.com/role-arn: arn:aws:iam::{rand(rng, string.digits, 12)}:role/"
                + self.name(),
                "iam-role-arn",
            )
        return t.finish(path, "helm-values")

    def dotenv(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add(
            f"# {self.name()} environment", "APP_ENV=production", f"PORT={rng.choice((3000, 8080))}"
        )
        items = ["secret"] * rng.randint(1, 3) + rng.choices(
            ("placeholder", "config", "plain", "aws", "azurite", "url"), k=rng.randint(1, 4)
        )
        rng.shuffle(items)
        for item in items:
            if item == "secret":
                s = self.spec()
                value = s.make(rng)
                q = '"' if (rng.random() < 0.3 or " " in value) else ""
                t.plant(f"{rng.choice(s.keys)}={q}{value}{q}", s.family, "dotenv", value, s.alt)
            elif item == "aws":
                if rng.random() < 0.5:
                    kid, sec = aws_key_id(rng), aws_secret(rng)
                    t.plant(f"AWS_ACCESS_KEY_ID={kid}", AWS_KEY_ID, "dotenv", kid)
                    t.plant(f"AWS_SECRET_ACCESS_KEY={sec}", AWS_SECRET, "dotenv", sec, GENERIC)
                else:
                    t.benign(f"AWS_ACCESS_KEY_ID={AWS_DOC_KEY_ID}", "aws-doc-example")
                    t.benign(f"AWS_SECRET_ACCESS_KEY={AWS_DOC_SECRET}", "aws-doc-example")
            elif item == "azurite":
                t.benign(
                    "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                    f"AccountKey={AZURITE_KEY};BlobEndpoint=http://azurite:10000/devstoreaccount1;",
                    "azurite-example",
                )
            elif item == "url":
                t.benign(
                    rng.choice(
                        (
                            "DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app",
                            "REDIS_URL=redis://redis:6379/0",
                            "BROKER_URL=amqp://${RABBIT_USER}:${RABBIT_PASS}@rabbitmq:5672/",
                            "GIT_REMOTE=git@github.com:acme/gitops.git",
                        )
                    ),
                    "url-without-credentials",
                )
            elif item == "placeholder":
                self.benign_value(
                    t, rng.choice(("DB_PASSWORD", "API_TOKEN", "CLIENT_SECRET")), "", "=", False
                )
            elif item == "config":
                key, make = rng.choice(CONFIG_LOOKALIKES)
                t.benign(f"{key}={make(rng)}", "config-lookalike")
            else:
                t.add(rng.choice(("LOG_LEVEL=debug", "TZ=UTC", "WORKERS=4", "FEATURE_X=true")))
        return t.finish(path, "dotenv")

    def terraform(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add(
            "terraform {",
            "  required_providers {",
            '    aws = { source = "hashicorp/aws", version = "~> 5.0" }',
            "  }",
            "}",
            "",
        )
        if rng.random() < 0.5:
            t.add('provider "aws" {', '  region     = "eu-west-1"')
            if rng.random() < 0.6:
                kid, sec = aws_key_id(rng), aws_secret(rng)
                t.plant(f'  access_key = "{kid}"', AWS_KEY_ID, "terraform", kid)
                t.plant(f'  secret_key = "{sec}"', AWS_SECRET, "terraform", sec, GENERIC)
            else:
                t.benign("  access_key = var.aws_access_key_id", "terraform-reference")
                t.benign("  secret_key = var.aws_secret_access_key", "terraform-reference")
            t.add("}", "")
        t.add(
            'resource "aws_db_instance" "main" {',
            f'  identifier     = "{self.name()}"',
            '  engine         = "postgres"',
            '  username       = "app"',
        )
        if rng.random() < 0.5:
            value = password(rng)
            t.plant(f'  password       = "{value}"', G_PASSWORD, "terraform", value, GENERIC)
        else:
            t.benign(
                rng.choice(
                    (
                        "  password       = random_password.db.result",
                        "  password       = var.db_password",
                    )
                ),
                "terraform-reference",
            )
        t.add("}", "")
        if rng.random() < 0.5:
            s = self.spec()
            value = s.make(rng)
            var = rng.choice(s.keys).lower()
            t.add(f'variable "{var}" {{', "  type      = string", "  sensitive = true")
            t.plant(
                f'  default   = "{value}"', s.family, "terraform-variable-default", value, s.alt
            )
            t.add("}", "")
        if rng.random() < 0.4:
            s = self.spec()
            value = s.make(rng)
            t.add(
                'resource "kubernetes_secret" "app" {',
                "  metadata {",
                f'    name = "{self.name()}"',
                "  }",
                "  data = {",
            )
            t.plant(
                f'    {rng.choice(s.keys).lower()} = "{value}"', s.family, "terraform", value, s.alt
            )
            t.add("  }", "}", "")
        if rng.random() < 0.3:
            pem, fam, _enc = self.keys.private_pem()
            t.add('resource "tls_locally_signed_cert" "x" {')
            first = t.add("  ca_private_key_pem = <<-EOT")
            _f, last = t.block(pem, "    ")
            t.add("  EOT", "}", "")
            t.mark(
                first,
                last,
                fam,
                "terraform-heredoc-pem",
                (PRIVATE_KEY, OPENSSH_KEY),
                pem.split("\n")[1],
            )
        if rng.random() < 0.4:
            t.add(
                'resource "random_password" "db" {', "  length  = 32", "  special = true", "}", ""
            )
        if rng.random() < 0.3:
            t.add(
                'data "aws_ami" "ubuntu" {',
                "  most_recent = true",
                '  owners      = ["099720109477"]',
                "}",
            )
        return t.finish(path, "terraform")

    def properties_configmap(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add("apiVersion: v1", "kind: ConfigMap")
        self.meta(t, f"{self.name()}-config", rng.choice(_NAMESPACES))
        t.add(
            "data:",
            "  application.properties: |",
            "    server.port=8080",
            "    spring.application.name=" + self.name(),
        )
        host = _host(rng)
        t.add(
            f"    spring.datasource.url=jdbc:postgresql://{host}:5432/app",
            "    spring.datasource.username=app",
        )
        roll = rng.random()
        if roll < 0.55:
            value = password(rng)
            t.plant(
                f"    spring.datasource.password={value}",
                G_PASSWORD,
                "properties-in-configmap",
                value,
                GENERIC,
            )
        else:
            t.benign(
                rng.choice(
                    (
                        "    spring.datasource.password=${DB_PASSWORD}",
                        "    spring.datasource.password=",
                    )
                ),
                "placeholder-env-ref",
            )
        if rng.random() < 0.5:
            s = self.spec()
            value = s.make(rng)
            key = "app." + rng.choice(s.keys).lower().replace("_", "-")
            t.plant(f"    {key}={value}", s.family, "properties-in-configmap", value, s.alt)
        t.add("    management.endpoints.web.exposure.include=health,info")
        if rng.random() < 0.3:
            key, make = rng.choice(CONFIG_LOOKALIKES)
            t.benign(f"    app.{key.lower().replace('_', '.')}={make(rng)}", "config-lookalike")
        t.add(f"  LOG_LEVEL: {rng.choice(('info', 'debug'))}")
        if rng.random() < 0.3:
            s = self.spec()
            value = s.make(rng)
            t.plant(
                f"  {rng.choice(s.keys)}: {yq(value, rng)}",
                s.family,
                "configmap-value",
                value,
                s.alt,
            )
        return t.finish(path, "properties-configmap")

    def public_material(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add("apiVersion: v1", "kind: ConfigMap")
        name = rng.choice(
            ("trusted-ca", "cosign-pub", "argocd-ssh-known-hosts-cm", "jwks", "authorized-keys")
        )
        self.meta(t, name, rng.choice(_NAMESPACES))
        t.add("data:")
        if name in ("trusted-ca", "jwks"):
            first = t.add("  ca.crt: |" if name == "trusted-ca" else "  signing-cert.pem: |")
            _f, last = t.block(self.keys.certificate(), "    ")
            t.mark(first, last, None, "certificate")
        elif name == "cosign-pub":
            first = t.add("  cosign.pub: |")
            _f, last = t.block(self.keys.public_pem(), "    ")
            t.mark(first, last, None, "public-key")
        elif name == "argocd-ssh-known-hosts-cm":
            first = t.add("  ssh_known_hosts: |")
            hosts = (("github.com", self.keys.ssh_public()), ("gitlab.com", self.keys.ssh_public()))
            lines = [f"{h} {k.split(' ')[0]} {k.split(' ')[1]}" for h, k in hosts]
            _f, last = t.block("\n".join(lines), "    ")
            t.mark(first, last, None, "ssh-public-key")
        else:
            first = t.add("  authorized_keys: |")
            _f, last = t.block("\n".join(self.keys.ssh_public() for _ in range(2)), "    ")
            t.mark(first, last, None, "ssh-public-key")
        if rng.random() < 0.4:
            t.benign(f"  build-commit: {commit_sha(rng)}", "commit-sha")
        if rng.random() < 0.4:
            t.add("binaryData:")
            t.benign(f"  favicon.ico: {b64(rng.randbytes(rng.randint(60, 300)))}", "binary-data")
        return t.finish(path, "public-material")

    def webhook_cabundle(self, path: str) -> CorpusFile:
        t = Text()
        name = self.name()
        t.add("apiVersion: admissionregistration.k8s.io/v1", "kind: ValidatingWebhookConfiguration")
        self.meta(t, name, None)
        t.add(
            "webhooks:", f"  - name: validate.{name}.acme.io", "    clientConfig:", "      service:"
        )
        t.add(f"        name: {name}", "        namespace: platform", "        path: /validate")
        t.benign(f"      caBundle: {b64(self.keys.certificate().encode())}", "certificate-b64")
        t.add("    admissionReviewVersions: [v1]", "    sideEffects: None")
        return t.finish(path, "webhook-cabundle")

    def argocd_flux(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        roll = rng.random()
        repo = f"https://github.com/acme/{rng.choice(_TEAMS)}-gitops.git"
        if roll < 0.4:
            t.add("apiVersion: argoproj.io/v1alpha1", "kind: Application")
            self.meta(t, self.name(), "argocd")
            t.add("spec:", "  project: default", "  source:", f"    repoURL: {repo}")
            t.benign(f"    targetRevision: {commit_sha(rng)}", "commit-sha")
            t.add(
                f"    path: apps/{rng.choice(_TEAMS)}",
                "    helm:",
                "      parameters:",
                "        - name: image.digest",
            )
            t.benign(f"          value: sha256:{sha256_hex(rng)}", "image-digest")
            t.add(
                "  destination:",
                "    server: https://kubernetes.default.svc",
                f"    namespace: {rng.choice(_NAMESPACES)}",
            )
        elif roll < 0.7:
            t.add("apiVersion: source.toolkit.fluxcd.io/v1", "kind: GitRepository")
            self.meta(t, rng.choice(_TEAMS), "flux-system")
            t.add("spec:", "  interval: 5m", f"  url: {repo}", "  ref:", "    branch: main")
            t.benign(f"    commit: {commit_sha(rng)}", "commit-sha")
            t.add("  secretRef:", "    name: flux-system")
            t.add("---", "apiVersion: kustomize.toolkit.fluxcd.io/v1", "kind: Kustomization")
            self.meta(t, rng.choice(_TEAMS), "flux-system")
            t.add(
                "spec:",
                "  interval: 10m",
                "  path: ./clusters/prod",
                "  prune: true",
                "  sourceRef:",
                "    kind: GitRepository",
                "    name: flux-system",
            )
            t.add("  decryption:", "    provider: sops", "    secretRef:", "      name: sops-age")
        else:
            t.add("apiVersion: helm.toolkit.fluxcd.io/v2", "kind: HelmRelease")
            self.meta(t, self.name(), rng.choice(_NAMESPACES))
            t.add(
                "spec:",
                "  interval: 10m",
                "  chart:",
                "    spec:",
                "      chart: podinfo",
                "      version: 6.x",
            )
            t.add(
                "  valuesFrom:",
                "    - kind: Secret",
                "      name: podinfo-values",
                "      valuesKey: values.yaml",
            )
            t.add("  values:", "    image:", f"      repository: {rng.choice(_REGISTRIES)}/podinfo")
            t.benign(f"      digest: sha256:{sha256_hex(rng)}", "image-digest")
            t.add("    auth:")
            t.benign(f"      existingSecret: {self.name()}-auth", "existing-secret-ref")
            t.benign(f"      instanceId: {uuid4(rng)}", "uuid")
        return t.finish(path, "argocd-flux")

    def docker_config(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add("{", '  "credHelpers": {')
        t.benign(
            f'    "{rand(rng, string.digits, 12)}.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login",',
            "docker-cred-helper",
        )
        t.benign('    "gcr.io": "gcloud"', "docker-cred-helper")
        t.add("  },")
        t.benign('  "credsStore": "desktop",', "docker-cred-helper")
        if rng.random() < 0.5:
            t.add('  "auths": {', '    "registry.example.com": {')
            value = b64(f"deploy:{password(rng)}".encode())
            t.plant(f'      "auth": "{value}"', DOCKERCONFIG, "docker-config-auth", value, GENERIC)
            t.add("    }", "  },")
        t.add('  "experimental": "disabled"', "}")
        return t.finish(path, "docker-config")

    def gcp_sa_json(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        key = (
            self.keys.rsa()
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode()
        )
        project = f"{rng.choice(_TEAMS)}-{rand(rng, string.digits, 6)}"
        doc = {
            "type": "service_account",
            "project_id": project,
            "private_key_id": rand(rng, HEX, 40),
            "private_key": key,
            "client_email": f"deployer@{project}.iam.gserviceaccount.com",
            "client_id": rand(rng, string.digits, 21),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
        body = json.dumps(doc, indent=2)
        if path.endswith(".yaml"):
            t.add("apiVersion: v1", "kind: Secret")
            self.meta(t, "gcp-credentials", rng.choice(_NAMESPACES))
            t.add("type: Opaque", "stringData:")
            first = t.add("  credentials.json: |")
            _f, last = t.block(body, "    ")
        else:
            first, last = t.block(body, "")
        t.mark(first, last, GCP_SA, "gcp-sa-json", (PRIVATE_KEY, K8S_SECRET), key.split("\n")[1])
        return t.finish(path, "gcp-sa-json")

    def plain(self, path: str) -> CorpusFile:
        rng = self.rng
        t = Text()
        name = self.name()
        if rng.random() < 0.5:
            t.add("apiVersion: v1", "kind: Service")
            self.meta(t, name, rng.choice(_NAMESPACES))
            t.add(
                "spec:",
                "  selector:",
                f"    app: {name}",
                "  ports:",
                "    - port: 80",
                "      targetPort: http",
            )
        else:
            t.add("apiVersion: networking.k8s.io/v1", "kind: Ingress")
            self.meta(t, name, rng.choice(_NAMESPACES))
            t.add(
                "spec:",
                "  tls:",
                "    - hosts: [api.acme.io]",
                f"      secretName: {name}-tls",
                "  rules:",
            )
            t.add(
                "    - host: api.acme.io",
                "      http:",
                "        paths:",
                "          - path: /",
                "            pathType: Prefix",
            )
            t.add(
                "            backend:",
                "              service:",
                f"                name: {name}",
                "                port:",
                "                  number: 80",
            )
        return t.finish(path, "plain")

    # -- the corpus ---------------------------------------------------------------------------

    def path_for(self, category: str, index: int) -> str:
        rng = self.rng
        team = rng.choice(_TEAMS)
        env = rng.choice(("prod", "staging", "dev"))
        stem = f"{index:05d}"
        return {
            "deployment": f"apps/{team}/{env}/{stem}-deployment.yaml",
            "secret": f"apps/{team}/{env}/{stem}-secret.yaml",
            "dockerconfigjson": f"apps/{team}/{env}/{stem}-regcred.yaml",
            "argocd-repo-secret": f"argocd/repos/{stem}-repo.yaml",
            "sealed-secret": f"apps/{team}/{env}/{stem}-sealedsecret.yaml",
            "sops-yaml": f"clusters/{env}/secrets/{stem}-secrets.enc.yaml",
            "sops-partial": f"clusters/{env}/secrets/{stem}-secrets.enc.yaml",
            "sops-dotenv": f"clusters/{env}/secrets/{stem}-app.enc.env",
            "external-secret": f"apps/{team}/{env}/{stem}-externalsecret.yaml",
            "secret-provider-class": f"apps/{team}/{env}/{stem}-spc.yaml",
            "vault-agent": f"apps/{team}/{env}/{stem}-vault-deployment.yaml",
            "kubeconfig": f"clusters/{env}/{stem}-kubeconfig.yaml",
            "helm-values": f"charts/{team}-{stem}/values.yaml",
            "dotenv": f"apps/{team}/{stem}/.env",
            "terraform": f"infra/{env}/{stem}-main.tf",
            "properties-configmap": f"apps/{team}/{env}/{stem}-configmap.yaml",
            "public-material": f"platform/{stem}-configmap.yaml",
            "webhook-cabundle": f"platform/{stem}-webhook.yaml",
            "argocd-flux": f"clusters/{env}/{stem}-gitops.yaml",
            "docker-config": f"ci/{stem}/docker/config.json",
            "gcp-sa-json": f"apps/{team}/{env}/{stem}-gcp-sa.{rng.choice(('yaml', 'json'))}",
            "plain": f"apps/{team}/{env}/{stem}-{rng.choice(('service', 'ingress'))}.yaml",
        }[category]

    def files(self, count: int) -> list[CorpusFile]:
        rng = self.rng
        builders: dict[str, Callable[[str], CorpusFile]] = {
            "deployment": self.deployment,
            "secret": self.secret,
            "dockerconfigjson": self.dockerconfigjson,
            "argocd-repo-secret": self.argocd_repo_secret,
            "sealed-secret": self.sealed_secret,
            "sops-yaml": self.sops_yaml,
            "sops-partial": self.sops_partial,
            "sops-dotenv": self.sops_dotenv,
            "external-secret": self.external_secret,
            "secret-provider-class": self.secret_provider_class,
            "vault-agent": self.vault_agent,
            "kubeconfig": self.kubeconfig,
            "helm-values": self.helm_values,
            "dotenv": self.dotenv,
            "terraform": self.terraform,
            "properties-configmap": self.properties_configmap,
            "public-material": self.public_material,
            "webhook-cabundle": self.webhook_cabundle,
            "argocd-flux": self.argocd_flux,
            "docker-config": self.docker_config,
            "gcp-sa-json": self.gcp_sa_json,
            "plain": self.plain,
        }
        # Every category (and the structural families they plant) at least once, then weighted.
        categories = [*CATEGORY_WEIGHTS, "sops-partial", "gcp-sa-json", "argocd-repo-secret"]
        names = list(CATEGORY_WEIGHTS)
        weights = [CATEGORY_WEIGHTS[n] for n in names]
        while len(categories) < count:
            categories.append(rng.choices(names, weights=weights)[0])
            if rng.random() < 0.01:
                categories.append("sops-partial")
        categories = categories[:count]
        out: list[CorpusFile] = []
        for index, category in enumerate(categories):
            if index == len(categories) - 1 and index >= 20:
                # The last file plants the assignable families not planted yet (if any) in a
                # shared .env, so that even a small corpus has every family.
                planted = {lb.family for f in out for lb in f.planted}
                missing = [s for s in ASSIGNABLE if s.family not in planted]
                if missing:
                    out.append(self.coverage_dotenv(f"shared/{index:05d}/.env", missing))
                    break
            path = self.path_for(category, index)
            file = builders[category](path)
            if category == "secret" and rng.random() < 0.15:
                file = self._with_pgp(file)
            out.append(file)
        return out

    def coverage_dotenv(self, path: str, specs: Sequence[Spec]) -> CorpusFile:
        rng = self.rng
        t = Text()
        t.add("# shared integration credentials", "APP_ENV=production")
        for s in specs:
            value = s.make(rng)
            t.plant(f"{rng.choice(s.keys)}={value}", s.family, "dotenv", value, s.alt)
            if rng.random() < 0.3:
                key, make = rng.choice(CONFIG_LOOKALIKES)
                t.benign(f"{key}={make(rng)}", "config-lookalike")
        return t.finish(path, "dotenv")

    def _with_pgp(self, file: CorpusFile) -> CorpusFile:
        """Append a PGP private key block to a stringData/data Secret (as ``signing.asc``)."""
        t = Text()
        t.lines = file.text.rstrip("\n").split("\n")
        t.marks = [(lb.line, lb.end_line, lb.family, lb.kind, lb.alt, None) for lb in file.labels]
        pgp = self.keys.pgp_private()
        if (
            t.lines
            and "data:" in "\n".join(t.lines)
            and any(x.startswith("stringData:") for x in t.lines)
        ):
            first = t.add("  signing.asc: |")
            _f, last = t.block(pgp, "    ")
            t.mark(first, last, PGP_KEY, "secret-stringdata-pgp", (K8S_SECRET, PRIVATE_KEY))
        else:
            value = b64(pgp.encode())
            n = t.add(f"  signing.asc: {value}")
            t.mark(n, n, PGP_KEY, "secret-data-pgp", (K8S_SECRET, PRIVATE_KEY))
        out = t.finish(file.path, file.category)
        out.needles = file.needles
        return out


def _camel(env_name: str) -> str:
    parts = env_name.lower().split("_")
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


# -- public API ---------------------------------------------------------------------------------


def generate(count: int, seed: int = 1) -> list[CorpusFile]:
    """``count`` labeled files; every category appears once the count allows it."""
    return Generator(seed).files(count)


def check(files: Sequence[CorpusFile]) -> list[str]:
    """Internal consistency: each needle is on its labeled lines, YAML files parse. Problems
    are described without the values."""
    import yaml

    problems: list[str] = []
    for f in files:
        lines = f.text.split("\n")
        for first, last, needle in f.needles:
            if not any(needle in line for line in lines[first - 1 : last]):
                problems.append(f"{f.path}: planted value not on lines {first}-{last}")
        if f.path.endswith((".yaml", ".yml")):
            try:
                list(yaml.safe_load_all(f.text))
            except yaml.YAMLError as exc:
                problems.append(f"{f.path}: does not parse as YAML ({type(exc).__name__})")
        elif f.path.endswith(".json"):
            try:
                json.loads(f.text)
            except ValueError:
                problems.append(f"{f.path}: does not parse as JSON")
    return problems


def write(files: Sequence[CorpusFile], directory: Path) -> Path:
    """Write the files under ``directory`` and ``labels.json`` beside them (no values)."""
    directory.mkdir(parents=True, exist_ok=True)
    for f in files:
        target = directory / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.text, encoding="utf-8")
    labels = directory / "labels.json"
    labels.write_text(
        json.dumps(
            [{"path": f.path, "category": f.category, "labels": [lb.as_json() for lb in f.labels]}
             for f in files],
            indent=1,
        ),
        encoding="utf-8",
    )  # fmt: skip
    return labels


def summary(files: Sequence[CorpusFile]) -> str:
    planted = Counter(lb.family for f in files for lb in f.labels if lb.planted)
    benign = Counter(lb.kind for f in files for lb in f.labels if not lb.planted)
    cats = Counter(f.category for f in files)
    digest = hashlib.sha256("".join(f.text for f in files).encode()).hexdigest()[:12]
    return (
        f"{len(files)} files ({dict(cats)}); {sum(planted.values())} planted in "
        f"{len(planted)} families; {sum(benign.values())} benign items in {len(benign)} kinds; "
        f"text digest {digest}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    files = generate(args.files, args.seed)
    problems = check(files)
    write(files, args.out)
    print(summary(files))
    for p in problems:
        print("problem:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
