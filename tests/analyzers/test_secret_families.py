"""Credential families: one generated true positive per family (exact family id and offsets) and
benign look-alikes that must not be hits. Every token is generated here with a seeded RNG."""

from __future__ import annotations

import base64
import itertools
import json
import random
import string
import struct
import zlib
from collections.abc import Callable
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bot.analyzers.secrets.families import (
    FAMILIES,
    FAMILIES_BY_ID,
    github_checksum_ok,
    hit_severity,
    scan,
)
from bot.analyzers.secrets.placeholders import (
    is_benign,
    is_documentation_example,
    is_placeholder,
    shannon_entropy,
)
from bot.analyzers.secrets.privatekeys import scan_private_keys
from bot.core.finding import Severity

RNG = random.Random(20240611)
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = string.ascii_letters + string.digits + "+/"
B64URL = string.ascii_letters + string.digits + "-_"
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
UPPER_DIGITS = string.ascii_uppercase + string.digits


def rand(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b62(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(6, "0")


def gh_token(prefix: str, n: int = 30, *, good: bool = True) -> str:
    body = rand(ALNUM, n)
    crc = zlib.crc32(body.encode())
    return prefix + body + b62(crc if good else crc ^ 1)


def jwt(header: dict[str, object], payload: dict[str, object]) -> str:
    h = b64url(json.dumps(header).encode())
    p = b64url(json.dumps(payload).encode())
    return f"{h}.{p}.{b64url(RNG.randbytes(32))}"


def bech32_age() -> str:
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    hrp = "age-secret-key-"
    data = [RNG.randrange(32) for _ in range(52)]
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data + [0] * 6
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    polymod = chk ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return (hrp + "1" + "".join(charset[d] for d in data + checksum)).upper()


def pem_pkcs8(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, password: bytes | None) -> str:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
    ).decode()


EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)
ED_KEY = ed25519.Ed25519PrivateKey.generate()
RSA_PEM = RSA_KEY.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.NoEncryption(),
).decode()
EC_PEM = pem_pkcs8(EC_KEY, None)
EC_PEM_ENCRYPTED = pem_pkcs8(EC_KEY, b"correct horse battery")
OPENSSH_PEM = ED_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
).decode()


def pgp_block(*, encrypted: bool = False) -> str:
    """An armored v4 RSA Secret-Key packet with random MPIs (structurally valid)."""

    def mpi(nbytes: int) -> bytes:
        data = bytes([0x80 | RNG.randrange(128)]) + RNG.randbytes(nbytes - 1)
        return struct.pack(">H", nbytes * 8) + data

    body = bytes([4]) + struct.pack(">I", 1_700_000_000) + bytes([1]) + mpi(128) + mpi(3)
    body += (bytes([254, 9, 3]) + RNG.randbytes(40)) if encrypted else (bytes([0]) + mpi(64) * 4)
    packet = bytes([0xC5, 0xFF]) + struct.pack(">I", len(body)) + body
    crc = 0xB704CE
    for byte in packet:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    armored = b64(packet)
    lines = [armored[i : i + 64] for i in range(0, len(armored), 64)]
    checksum = "=" + b64((crc & 0xFFFFFF).to_bytes(3, "big"))
    return (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
        + "\n".join(lines)
        + f"\n{checksum}\n-----END PGP PRIVATE KEY BLOCK-----"
    )


def slack_id(prefix: str) -> str:
    return prefix + rand(UPPER_DIGITS, 9)


def azure_sas() -> tuple[str, str]:
    sig = quote(b64(RNG.randbytes(32)), safe="")
    url = (
        "https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&srt=sco&sp=rl"
        f"&se=2030-01-01T00:00:00Z&spr=https&sig={sig}"
    )
    return url, sig


def gcp_service_account() -> tuple[str, str]:
    doc = {
        "type": "service_account",
        "project_id": "demo",
        "private_key_id": rand(HEX, 40),
        "private_key": pem_pkcs8(RSA_KEY, None),
        "client_email": "svc@demo.iam.gserviceaccount.com",
    }
    text = json.dumps(doc, indent=2)
    secret = json.dumps(doc["private_key"])[1:-1]
    secret = secret[: secret.index("-----END PRIVATE KEY-----") + len("-----END PRIVATE KEY-----")]
    return text, secret


def pypi_token(host: bytes = b"pypi.org") -> str:
    raw = b"\x02\x01" + bytes([len(host)]) + host + b"\x02\x01" + RNG.randbytes(80)
    return "pypi-" + b64url(raw)


def discord_token() -> str:
    user_id = str(RNG.randrange(10**17, 10**18)).encode()
    return f"{b64url(user_id)}.{rand(B64URL, 6)}.{rand(B64URL, 38)}"


def grafana_cloud() -> str:
    payload = {"o": "123456", "n": "deploy", "k": rand(ALNUM, 24), "m": {"r": "prod-eu-west-0"}}
    return "glc_" + b64(json.dumps(payload).encode())


# Each case builds (text, secret): the secret must be found in the text with this family id.
Case = Callable[[], tuple[str, str]]


def embed(template: str, secret: str) -> tuple[str, str]:
    return template.format(s=secret), secret


def _url_case(template: str, password: str) -> tuple[str, str]:
    return template.format(p=password), password


CASES: dict[str, Case] = {
    "github-pat-classic": lambda: embed("GITHUB_TOKEN: {s}\n", gh_token("ghp_")),
    "github-oauth-token": lambda: embed('{{"token": "{s}"}}', gh_token("gho_")),
    "github-user-token": lambda: embed("token={s}\n", gh_token("ghu_")),
    "github-app-token": lambda: embed(
        "url: https://x-access-token:{s}@github.com/o/r.git\n", gh_token("ghs_")
    ),
    "github-refresh-token": lambda: embed("refresh: {s}\n", gh_token("ghr_", 70)),
    "github-pat-fine-grained": lambda: embed(
        "GH_PAT={s}\n", f"github_pat_{rand(ALNUM, 22)}_{rand(ALNUM, 59)}"
    ),
    "aws-access-key-id": lambda: embed(
        "AWS_ACCESS_KEY_ID: {s}\n", "AKIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    ),
    "aws-secret-access-key": lambda: embed("aws_secret_access_key = {s}\n", rand(B64, 40)),
    "gitlab-pat": lambda: embed("token: {s}\n", "glpat-" + rand(B64URL, 20)),
    "gitlab-deploy-token": lambda: embed("password: {s}\n", "gldt-" + rand(ALNUM, 20)),
    "gitlab-runner-token": lambda: embed("runnerToken: {s}\n", "glrt-" + rand(ALNUM, 20)),
    "gitlab-pipeline-trigger-token": lambda: embed("t: {s}\n", "glptt-" + rand(HEX, 40)),
    "gitlab-token": lambda: embed("secret: {s}\n", "gloas-" + rand(HEX, 64)),
    "slack-bot-token": lambda: embed(
        "SLACK_BOT_TOKEN={s}\n",
        f"xoxb-{rand(string.digits, 12)}-{rand(string.digits, 13)}-{rand(ALNUM, 24)}",
    ),
    "slack-user-token": lambda: embed(
        "token: {s}\n",
        f"xoxp-{rand(string.digits, 11)}-{rand(string.digits, 11)}-"
        f"{rand(string.digits, 12)}-{rand(HEX, 32)}",
    ),
    "slack-app-token": lambda: embed(
        "appToken: {s}\n",
        f"xapp-1-{slack_id('A')}-{rand(string.digits, 13)}-{rand(HEX, 64)}",
    ),
    "slack-token": lambda: embed("legacy: {s}\n", f"xoxe.xoxp-1-{rand(ALNUM, 150)}"),
    "slack-webhook": lambda: embed(
        "webhook: https://hooks.slack.com/services/{s}\n",
        f"{slack_id('T')}/{slack_id('B')}/{rand(ALNUM, 24)}",
    ),
    "stripe-secret-key": lambda: embed("STRIPE_KEY: {s}\n", "sk_live_" + rand(ALNUM, 24)),
    "stripe-restricted-key": lambda: embed("key: {s}\n", "rk_live_" + rand(ALNUM, 99)),
    "stripe-test-key": lambda: embed("key: {s}\n", "sk_test_" + rand(ALNUM, 24)),
    "google-api-key": lambda: embed("apiKey: {s}\n", "AIza" + rand(B64URL, 35)),
    "gcp-service-account-key": gcp_service_account,
    "gcp-oauth-client-secret": lambda: embed("client_secret: {s}\n", "GOCSPX-" + rand(B64URL, 28)),
    "azure-storage-account-key": lambda: embed(
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={s};"
        "EndpointSuffix=core.windows.net",
        b64(RNG.randbytes(64)),
    ),
    "azure-connection-string": lambda: embed(
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey={s}",
        b64(RNG.randbytes(32)),
    ),
    "azure-sas-token": azure_sas,
    "azure-ad-client-secret": lambda: embed(
        "clientSecret: {s}\n", rand(ALNUM, 3) + "8Q~" + rand(ALNUM + "_-", 34)
    ),
    "npm-token": lambda: embed("//registry.npmjs.org/:_authToken={s}\n", gh_token("npm_")),
    "pypi-token": lambda: embed("password: {s}\n", pypi_token()),
    "dockerhub-pat": lambda: embed("password: {s}\n", "dckr_pat_" + rand(B64URL, 27)),
    "vault-service-token": lambda: embed("VAULT_TOKEN: {s}\n", "hvs.CAESI" + rand(B64URL, 86)),
    "vault-batch-token": lambda: embed("token: {s}\n", "hvb.AAAAAQ" + rand(B64URL, 130)),
    "terraform-cloud-token": lambda: embed(
        'token = "{s}"\n', f"{rand(ALNUM, 14)}.atlasv1.{rand(ALNUM, 67)}"
    ),
    "datadog-api-key": lambda: embed("DD_API_KEY: {s}\n", rand(HEX, 32)),
    "datadog-app-key": lambda: embed("datadog_app_key = {s}\n", rand(HEX, 40)),
    "twilio-api-key": lambda: embed("TWILIO_KEY: {s}\n", "SK" + rand(HEX, 32)),
    "twilio-auth-token": lambda: embed(
        f"TWILIO_ACCOUNT_SID: AC{rand(HEX, 32)}\nTWILIO_AUTH_TOKEN: {{s}}\n", rand(HEX, 32)
    ),
    "sendgrid-api-key": lambda: embed(
        "SENDGRID_API_KEY={s}\n", f"SG.{rand(B64URL, 22)}.{rand(B64URL, 43)}"
    ),
    "openai-api-key": lambda: embed(
        "OPENAI_API_KEY: {s}\n", f"sk-{rand(ALNUM, 20)}T3BlbkFJ{rand(ALNUM, 20)}"
    ),
    "anthropic-api-key": lambda: embed(
        "ANTHROPIC_API_KEY: {s}\n", f"sk-ant-api03-{rand(B64URL, 93)}AA"
    ),
    "jwt": lambda: embed(
        "Authorization: Bearer {s}\n",
        jwt({"alg": "RS256", "typ": "JWT"}, {"sub": "system:serviceaccount:x:y", "iat": 1}),
    ),
    "url-credentials": lambda: _url_case(
        "repoURL: https://deploy:{p}@git.internal.example/r.git\n", rand(ALNUM, 16)
    ),
    "database-url": lambda: _url_case(
        "DATABASE_URL: postgresql://app:{p}@db.prod:5432/app?sslmode=require\n", rand(ALNUM, 18)
    ),
    "shopify-access-token": lambda: embed("token: {s}\n", "shpat_" + rand(HEX, 32)),
    "shopify-shared-secret": lambda: embed("secret: {s}\n", "shpss_" + rand(HEX, 32)),
    "mailgun-api-key": lambda: embed("MAILGUN_API_KEY: {s}\n", "key-" + rand(HEX, 32)),
    "mailchimp-api-key": lambda: embed("MAILCHIMP_KEY: {s}\n", rand(HEX, 32) + "-us21"),
    "hubspot-private-app-token": lambda: embed(
        "HUBSPOT_TOKEN: {s}\n",
        f"pat-na1-{rand(HEX, 8)}-{rand(HEX, 4)}-{rand(HEX, 4)}-{rand(HEX, 4)}-{rand(HEX, 12)}",
    ),
    "heroku-api-key": lambda: embed("HEROKU_API_KEY: {s}\n", "HRKU-AA" + rand(B64URL, 58)),
    "digitalocean-token": lambda: embed("DO_TOKEN: {s}\n", "dop_v1_" + rand(HEX, 64)),
    "linear-api-key": lambda: embed("LINEAR_API_KEY: {s}\n", "lin_api_" + rand(ALNUM, 40)),
    "discord-bot-token": lambda: embed("DISCORD_BOT_TOKEN: {s}\n", discord_token()),
    "discord-webhook": lambda: embed(
        "url: https://discord.com/api/webhooks/{s}\n",
        f"{rand(string.digits, 18)}/{rand(B64URL, 68)}",
    ),
    "telegram-bot-token": lambda: embed(
        "TELEGRAM_TOKEN: {s}\n", f"{rand(string.digits, 10)}:AA{rand(B64URL, 33)}"
    ),
    "newrelic-user-api-key": lambda: embed(
        "NEW_RELIC_API_KEY: {s}\n", "NRAK-" + rand(UPPER_DIGITS, 27)
    ),
    "newrelic-ingest-key": lambda: embed("NEW_RELIC_LICENSE_KEY: {s}\n", rand(HEX, 36) + "NRAL"),
    "sentry-dsn": lambda: _url_case(
        f"SENTRY_DSN: https://{rand(HEX, 32)}:{{p}}@o12345.ingest.sentry.io/678\n", rand(HEX, 32)
    ),
    "sentry-dsn-client-key": lambda: embed(
        "SENTRY_DSN: https://{s}@o123456.ingest.sentry.io/4504321\n", rand(HEX, 32)
    ),
    "sentry-auth-token": lambda: embed("SENTRY_AUTH_TOKEN: {s}\n", "sntryu_" + rand(HEX, 64)),
    "postman-api-key": lambda: embed(
        "POSTMAN_API_KEY: {s}\n", f"PMAK-{rand(HEX, 24)}-{rand(HEX, 34)}"
    ),
    "atlassian-api-token": lambda: embed("JIRA_API_TOKEN: {s}\n", "ATATT3" + rand(B64URL, 186)),
    "cloudflare-api-token": lambda: embed("CLOUDFLARE_API_TOKEN: {s}\n", rand(B64URL, 40)),
    "cloudflare-api-key": lambda: embed("CF_API_KEY: {s}\n", rand(HEX, 37)),
    "cloudflare-origin-ca-key": lambda: embed(
        "CF_ORIGIN_CA_KEY: {s}\n", f"v1.0-{rand(HEX, 24)}-{rand(HEX, 146)}"
    ),
    "grafana-service-account-token": lambda: embed(
        "GRAFANA_TOKEN: {s}\n", f"glsa_{rand(ALNUM, 32)}_{rand(HEX, 8)}"
    ),
    "grafana-cloud-token": lambda: embed("GRAFANA_CLOUD_TOKEN: {s}\n", grafana_cloud()),
    "doppler-token": lambda: embed("DOPPLER_TOKEN: {s}\n", "dp.st.prd." + rand(ALNUM, 40)),
    "age-secret-key": lambda: embed("# age identity\n{s}\n", bech32_age()),
    "alibaba-access-key-id": lambda: embed("ALIBABA_AK: {s}\n", "LTAI" + rand(ALNUM, 20)),
    "fcm-server-key": lambda: embed(
        "FCM_SERVER_KEY: {s}\n", f"AAAA{rand(B64URL, 7)}:APA91b{rand(B64URL, 134)}"
    ),
    "huggingface-token": lambda: embed("HF_TOKEN: {s}\n", "hf_" + rand(string.ascii_letters, 34)),
    "databricks-token": lambda: embed("DATABRICKS_TOKEN: {s}\n", "dapi" + rand(HEX, 32)),
    "dynatrace-token": lambda: embed(
        "DT_API_TOKEN: {s}\n", f"dt0c01.{rand(UPPER_DIGITS, 24)}.{rand(UPPER_DIGITS, 64)}"
    ),
    "pulumi-token": lambda: embed("PULUMI_ACCESS_TOKEN: {s}\n", "pul-" + rand(HEX, 40)),
    "mapbox-secret-token": lambda: embed(
        "MAPBOX_TOKEN: {s}\n", f"sk.eyJ1Ijoi{rand(B64URL, 60)}.{rand(B64URL, 22)}"
    ),
    "private-key": lambda: embed("tls.key: |\n{s}\n", EC_PEM.strip()),
    "openssh-private-key": lambda: embed("id_ed25519: |\n{s}\n", OPENSSH_PEM.strip()),
    "pgp-private-key": lambda: embed("key: |\n{s}\n", pgp_block()),
}


def test_there_are_at_least_40_families() -> None:
    assert len(FAMILIES) >= 40
    assert len({f.id for f in FAMILIES}) == len(FAMILIES)


def test_every_family_has_a_case() -> None:
    assert set(CASES) == set(FAMILIES_BY_ID)


@pytest.mark.parametrize("family_id", sorted(CASES))
def test_true_positive(family_id: str) -> None:
    text, secret = CASES[family_id]()
    start = text.index(secret)
    hits = scan(text)
    matching = [h for h in hits if h.start == start]
    assert [h.family.id for h in matching] == [family_id], [h.family.id for h in hits]
    hit = matching[0]
    assert (hit.start, hit.end) == (start, start + len(secret))
    assert hit.value == secret


@pytest.mark.parametrize("family_id", sorted(CASES))
def test_true_positive_inside_a_manifest(family_id: str) -> None:
    text, secret = CASES[family_id]()
    prefix = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  note: hello\n"
    hits = scan(prefix + text)
    assert any(
        h.family.id == family_id and h.start == len(prefix) + text.index(secret) for h in hits
    )


def test_hits_are_sorted_and_disjoint() -> None:
    texts = [CASES[f]()[0] for f in sorted(CASES)]
    hits = scan("\n".join(texts))
    found = len(hits)
    assert found >= len(CASES)
    assert [h.start for h in hits] == sorted(h.start for h in hits)
    for a, b in itertools.pairwise(hits):
        assert a.end <= b.start


# --- benign look-alikes -----------------------------------------------------------------------

JWT_IO = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwia"
    "WF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
AZURITE = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

BENIGN: dict[str, str] = {
    "ghp placeholder": "token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
    "ghp zeros": "token: ghp_000000000000000000000000000000000000\n",
    "ghp wrong checksum": f"token: {gh_token('ghp_', good=False)}\n",
    "npm wrong checksum": f"token: {gh_token('npm_', good=False)}\n",
    "aws docs pair": "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    "aws secret no context": f"checksum: {rand(B64, 40)}\n",
    "jwt.io": f"token: {JWT_IO}\n",
    "jwt alg none": "t: " + jwt({"alg": "none"}, {"sub": "x"}) + "\n",
    "azurite": f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE};",
    "slack webhook placeholder": "url: https://hooks.slack.com/services/T00000000/B00000000/"
    "XXXXXXXXXXXXXXXXXXXXXXXX\n",
    "stripe docs": "key: sk_test_4eC39HqLyjWDarjtT1zdp7dc\n",
    "url empty password": "url: https://user:@example.com/\n",
    "url env password": "url: postgres://app:${PASSWORD}@db:5432/app\n",
    "url helm password": "url: postgres://app:{{ .Values.db.password }}@db:5432/app\n",
    "url placeholder": "url: mysql://root:changeme@db/app\n",
    "url angle placeholder": "url: redis://:<password>@cache:6379\n",
    "host and port": "url: http://example.com:8080@proxy\n",
    "uuid": "uid: 123e4567-e89b-12d3-a456-426614174000\n",
    "sha": f"targetRevision: {rand(HEX, 40)}\n",
    "digest": f"image: nginx@sha256:{rand(HEX, 64)}\n",
    "datadog no context": f"checksum/config: {rand(HEX, 32)}\n",
    "public key": EC_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode(),
    "ssh public key": ED_KEY.public_key()
    .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    .decode(),
    "certificate": "-----BEGIN CERTIFICATE-----\n" + b64(RNG.randbytes(300)) + "\n"
    "-----END CERTIFICATE-----\n",
    "truncated pem": "\n".join([*RSA_PEM.splitlines()[:6], "-----END RSA PRIVATE KEY-----"]),
    "garbage pem": "-----BEGIN PRIVATE KEY-----\n"
    + b64(RNG.randbytes(600))
    + "\n-----END PRIVATE KEY-----",
    "pem without end": "\n".join(RSA_PEM.splitlines()[:8]),
    "template pem": "-----BEGIN PRIVATE KEY-----\n{{ .Values.tls.key }}\n-----END PRIVATE KEY-----",
    "pgp public": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
    + b64(RNG.randbytes(200))
    + "\n-----END PGP PUBLIC KEY BLOCK-----",
    "pgp garbage": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
    + b64(RNG.randbytes(200))
    + "\n-----END PGP PRIVATE KEY BLOCK-----",
    "vault legacy without context": f"session: s.{rand(ALNUM, 24)}\n",
    "sas without sv": f"url: https://x/y?sig={quote(b64(RNG.randbytes(32)), safe='')}\n",
    "age wrong checksum": "k: "
    + bech32_age()[:-1]
    + ("Q" if not bech32_age().endswith("Q") else "P"),
    "sealed secret": "spec:\n  encryptedData:\n    password: AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq"
    + b64(RNG.randbytes(200))
    + "\n",
}


@pytest.mark.parametrize("name", sorted(BENIGN))
def test_benign_look_alike_is_not_a_hit(name: str) -> None:
    assert scan(BENIGN[name]) == []


def test_stripe_test_key_is_a_warning() -> None:
    assert FAMILIES_BY_ID["stripe-test-key"].severity is Severity.WARNING
    assert FAMILIES_BY_ID["stripe-secret-key"].severity is Severity.ERROR


def test_github_checksum() -> None:
    token = gh_token("ghp_")
    assert github_checksum_ok(token)
    assert not github_checksum_ok(token[:-1] + ("A" if token[-1] != "A" else "B"))


def test_more_specific_family_wins_the_same_span() -> None:
    token = gh_token("ghs_")
    hits = scan(f"https://x-access-token:{token}@github.com/o/r")
    assert [h.family.id for h in hits] == ["github-app-token"]


def test_aws_secret_next_to_an_access_key_id() -> None:
    key_id = "AKIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    secret = rand(B64, 40)
    hits = scan(f"{key_id},{secret}\n")
    assert [(h.family.id, h.value) for h in hits] == [
        ("aws-access-key-id", key_id),
        ("aws-secret-access-key", secret),
    ]


def test_aws_secret_in_a_container_env_pair() -> None:
    secret = rand(B64, 40)
    text = f"env:\n  - name: AWS_SECRET_ACCESS_KEY\n    value: {secret}\n"
    hits = scan(text)
    assert [(h.family.id, h.start, h.key) for h in hits] == [
        ("aws-secret-access-key", text.index(secret), "AWS_SECRET_ACCESS_KEY")
    ]


def test_redis_url_with_empty_user() -> None:
    password = rand(ALNUM, 20)
    hits = scan(f"REDIS_URL=rediss://:{password}@cache:6380/0\n")
    assert [(h.family.id, h.value) for h in hits] == [("database-url", password)]


def test_mongodb_srv_url() -> None:
    password = rand(ALNUM, 20)
    hits = scan(f"uri: mongodb+srv://svc:{password}@cluster0.abcde.mongodb.net/db\n")
    assert [(h.family.id, h.value) for h in hits] == [("database-url", password)]


def test_vault_legacy_token_in_vault_context() -> None:
    token = "s." + rand(ALNUM, 24)
    hits = scan(f"VAULT_ADDR: https://vault:8200\nVAULT_TOKEN: {token}\n")
    assert [(h.family.id, h.value) for h in hits] == [("vault-service-token", token)]


def test_test_pypi_token() -> None:
    token = pypi_token(b"test.pypi.org")
    assert [h.family.id for h in scan(f"password: {token}\n")] == ["pypi-token"]


def test_sentry_dsn_with_a_client_key_only() -> None:
    key = rand(HEX, 32)
    text = f"SENTRY_DSN: https://{key}@o123456.ingest.sentry.io/4504321\n"
    hits = scan(text)
    assert [(h.family.id, h.value, h.start) for h in hits] == [
        ("sentry-dsn-client-key", key, text.index(key))
    ]
    assert hits[0].family.severity is Severity.NOTICE


def test_sentry_legacy_dsn_reports_the_secret_key() -> None:
    public, secret = rand(HEX, 32), rand(HEX, 32)
    text = f"dsn = https://{public}:{secret}@sentry.io/12345\n"
    hits = scan(text)
    assert [(h.family.id, h.value, h.start) for h in hits] == [
        ("sentry-dsn", secret, text.index(secret))
    ]


@pytest.mark.parametrize(
    "text",
    [
        "dsn: https://examplePublicKey@o0.ingest.sentry.io/0\n",  # Sentry's documentation
        "url: https://o4504.ingest.sentry.io/api/4504/envelope/\n",  # no key
        f"remote: https://{'0123abcd' * 4}@git.example.com/team/12\n",  # not a Sentry host
        f"dsn: ftp://{'9f8e7d6c' * 4}@sentry.example.com/3\n",  # not http(s)
    ],
)
def test_sentry_look_alikes(text: str) -> None:
    assert [h.family.id for h in scan(text) if h.family.id == "sentry-dsn"] == []


def test_mailgun_key_in_the_newer_format() -> None:
    key = f"{rand(HEX, 32)}-{rand(HEX, 8)}-{rand(HEX, 8)}"
    text = f"env:\n  - name: MAILGUN_API_KEY\n    value: {key}\n"
    hits = scan(text)
    assert [(h.family.id, h.value, h.start) for h in hits] == [
        ("mailgun-api-key", key, text.index(key))
    ]


def test_mailgun_shaped_value_without_mailgun_context() -> None:
    value = f"{rand(HEX, 32)}-{rand(HEX, 8)}-{rand(HEX, 8)}"
    assert scan(f"build-id: {value}\n") == []


def test_mailgun_newer_format_wins_over_a_datadog_key() -> None:
    key = f"{rand(HEX, 32)}-{rand(HEX, 8)}-{rand(HEX, 8)}"
    text = f"DATADOG_SITE=datadoghq.eu\nMAILGUN_API_KEY={key}\n"
    assert [(h.family.id, h.value) for h in scan(text)] == [("mailgun-api-key", key)]


def test_discord_bot_token_with_a_17_digit_user_id() -> None:
    user_id = str(RNG.randrange(10**16, 10**17)).encode()
    token = f"{b64url(user_id)}.{rand(B64URL, 6)}.{rand(B64URL, 27)}"
    text = f"DISCORD_TOKEN={token}\n"
    hits = scan(text)
    assert [(h.family.id, h.start, h.end) for h in hits] == [
        ("discord-bot-token", text.index(token), text.index(token) + len(token))
    ]


def test_discord_shape_without_a_base64_user_id_is_not_a_bot_token() -> None:
    head = "N" + rand(ALNUM, 23)
    assert not base64.b64decode(head + "=" * (-len(head) % 4)).isdigit()
    assert scan(f"DISCORD_BOT_TOKEN: {head}.{rand(B64URL, 6)}.{rand(B64URL, 27)}\n") == []


# --- private keys -----------------------------------------------------------------------------


def test_rsa_pem_indented_in_a_block_scalar() -> None:
    block = "\n".join("    " + line for line in RSA_PEM.strip().splitlines())
    text = f"stringData:\n  tls.key: |\n{block}\n"
    hits = scan(text)
    assert [h.family.id for h in hits] == ["private-key"]
    assert hits[0].start == text.index("-----BEGIN")
    assert hits[0].end == text.index("-----END RSA PRIVATE KEY-----") + 29


def test_pem_with_json_escapes() -> None:
    text = json.dumps({"key": RSA_PEM})
    hits = scan(text)
    assert [h.family.id for h in hits] == ["private-key"]


def test_encrypted_private_key_is_a_warning() -> None:
    hits = scan(f"key: |\n{EC_PEM_ENCRYPTED}")
    assert [(h.family.id, h.encrypted) for h in hits] == [("private-key", True)]
    assert hit_severity(hits[0]) is Severity.WARNING
    assert hit_severity(scan(EC_PEM)[0]) is Severity.ERROR


def test_encrypted_pgp_private_key() -> None:
    hits = scan_private_keys(pgp_block(encrypted=True))
    assert [(h.family.id, h.encrypted) for h in hits] == [("pgp-private-key", True)]


def test_truncated_block_before_a_real_one() -> None:
    truncated = "\n".join(RSA_PEM.splitlines()[:5])
    text = truncated + "\n" + RSA_PEM
    hits = scan(text)
    assert [(h.family.id, h.start) for h in hits] == [("private-key", len(truncated) + 1)]


def test_truncated_openssh_key() -> None:
    lines = OPENSSH_PEM.strip().splitlines()
    assert scan("\n".join(lines[:3] + lines[-1:])) == []


def test_gcp_service_account_reports_the_private_key_once() -> None:
    text, secret = gcp_service_account()
    hits = scan(text)
    assert [h.family.id for h in hits] == ["gcp-service-account-key"]
    assert text[hits[0].start : hits[0].end] == secret


# --- placeholders -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "changeme",
        "CHANGE_ME",
        "REPLACE_ME",
        "${DB_PASSWORD}",
        "$(cat /run/secret)",
        "{{ .Values.password }}",
        "${{ secrets.TOKEN }}",
        "<token>",
        "xxxxxxxxxxxxxxxx",
        "****************",
        "0000000000000000",
        "your-api-key-here",
        "example",
        "my-example-token",
        "$PASSWORD",
        "var.db_password",
        "random_password.db.result",
        "ENC[AES256_GCM,data:abc,iv:def,tag:ghi,type:str]",
    ],
)
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["Xk9#pL2$vQ7!", rand(ALNUM, 32), "s3cr3t-Pa55"])
def test_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


@pytest.mark.parametrize(
    "value",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        JWT_IO,
        AZURITE,
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        jwt({"alg": "HS256"}, {"sub": "1234567890", "name": "John Doe", "admin": True}),
        "07401b.f395accd246ae52d",  # Kubernetes TLS bootstrapping
        "9a08jv.c0izixklcxtmnze7",  # kubeadm configuration
    ],
)
def test_documentation_examples(value: str) -> None:
    assert is_documentation_example(value)


def test_not_documentation_example() -> None:
    assert not is_documentation_example(gh_token("ghp_"))


@pytest.mark.parametrize(
    "value",
    [
        "123e4567-e89b-12d3-a456-426614174000",
        rand(HEX, 32),
        rand(HEX, 40),
        rand(HEX, 64),
        "sha256:" + rand(HEX, 64),
        "sha512-" + b64(RNG.randbytes(64)),
    ],
)
def test_benign(value: str) -> None:
    assert is_benign(value)


def test_not_benign() -> None:
    assert not is_benign(rand(ALNUM, 40))


def test_shannon_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
