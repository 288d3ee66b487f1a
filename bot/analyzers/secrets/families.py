"""Credential families: provider token formats with a keyword prefilter, a precise pattern and,
where the format allows it, a checksum or structure check.

``scan(text)`` is the entry point: pure, no file or Kubernetes logic. It lower-cases the text
once, finds which keywords occur with a single pass of one compiled expression (anchored on the
rarest character of each keyword, so text without keywords costs a few microseconds), and runs
only the detectors whose keywords occur. Values that are placeholders, public documentation
examples or (for most families) benign identifiers are dropped; overlapping hits are resolved in
favour of the more specific family.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from bot.analyzers.secrets.model import Family, Hit
from bot.analyzers.secrets.placeholders import (
    is_benign,
    is_documentation_example,
    is_placeholder,
    shannon_entropy,
)
from bot.analyzers.secrets.privatekeys import (
    KEYWORDS as PRIVATE_KEY_KEYWORDS,
)
from bot.analyzers.secrets.privatekeys import (
    PRIVATE_KEY_FAMILIES,
    check_pem_block,
    scan_private_keys,
)
from bot.core.finding import Severity

__all__ = [
    "DETECTORS",
    "FAMILIES",
    "FAMILIES_BY_ID",
    "Detector",
    "github_checksum_ok",
    "hit_severity",
    "scan",
]

# --- validators -------------------------------------------------------------------------------

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B62_INDEX = {c: i for i, c in enumerate(_B62)}


def _b62_decode(s: str) -> int:
    n = 0
    for c in s:
        n = n * 62 + _B62_INDEX[c]
    return n


def github_checksum_ok(token: str) -> bool:
    """GitHub's token format (also npm's): ``<prefix>_<random><checksum>`` where the last six
    characters are the base62-encoded CRC32 of the random part."""
    body = token.rsplit("_", 1)[-1]
    if len(body) <= 6 or not body.isascii() or not body.isalnum():
        return False
    return zlib.crc32(body[:-6].encode("ascii")) == _b62_decode(body[-6:])


def _b64_any(value: str) -> bytes | None:
    v = value.strip().rstrip("=")
    v = v.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(v + "=" * (-len(v) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _decodes_to(length: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        raw = _b64_any(value)
        return raw is not None and len(raw) == length

    return check


def _entropy_at_least(bits: float) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        return shannon_entropy(value) >= bits

    return check


def _mixed_case(value: str) -> bool:
    return any(c.islower() for c in value) and any(c.isupper() for c in value)


def _random_b64_40(value: str) -> bool:
    """An AWS secret access key: 40 characters of base64 that look random."""
    return (
        _mixed_case(value)
        and any(c.isdigit() or c in "+/" for c in value)
        and shannon_entropy(value) >= 3.8
    )


def _jwt_ok(value: str) -> bool:
    parts = value.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(_b64_any(parts[0]) or b"")
        payload = json.loads(_b64_any(parts[1]) or b"")
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return False
    alg = header.get("alg")
    return isinstance(alg, str) and alg.lower() != "none"


def _pypi_ok(value: str) -> bool:
    raw = _b64_any(value[len("pypi-") :])
    return raw is not None and len(raw) >= 60 and raw[:3] in (b"\x02\x01\x08", b"\x02\x01\x0d")


def _discord_ok(value: str) -> bool:
    raw = _b64_any(value.split(".", 1)[0])
    return raw is not None and raw.isdigit() and 15 <= len(raw) <= 21


def _json_object(value: str) -> bool:
    raw = _b64_any(value.split("_", 1)[1])
    if raw is None:
        return False
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, UnicodeDecodeError):
        return False


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_ok(value: str) -> bool:
    """Bech32 checksum (BIP-173), as used by age identities ``AGE-SECRET-KEY-1…``."""
    v = value.lower()
    sep = v.rfind("1")
    hrp, data_part = v[:sep], v[sep + 1 :]
    if not hrp or len(data_part) < 6 or any(c not in _BECH32 for c in data_part):
        return False
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    values += [_BECH32.index(c) for c in data_part]
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v5 in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v5
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk == 1


def _not_all_lower(value: str) -> bool:
    return _mixed_case(value) and shannon_entropy(value) >= 3.0


# --- detectors --------------------------------------------------------------------------------

Finder = Callable[[str, str], Iterator[tuple[int, int, str | None]]]


@dataclass(frozen=True, slots=True)
class Detector:
    """One way of finding a family's secrets. ``pattern`` has a ``secret`` group (and maybe a
    ``key`` group); a custom ``finder(text, lower_text)`` yields ``(start, end, key)`` spans."""

    family: Family
    keywords: tuple[str, ...]  # lower case; the detector runs if any occurs in the text
    pattern: re.Pattern[str] | None = None
    finder: Finder | None = None
    validate: Callable[[str], bool] | None = None
    context: re.Pattern[str] | None = None  # must occur in the lower-cased text near the hit
    window: int = 0  # characters around the hit searched for ``context`` (0: the whole text)
    priority: int = 50  # the more specific family wins an overlap
    benign_ok: bool = False  # keep values that look like UUIDs/hex digests (keyword context)


def _f(fid: str, title: str, severity: Severity = Severity.ERROR) -> Family:
    return Family(fid, title, severity)


def _tok(prefix: str, rest: str, *, tail: str = r"(?![A-Za-z0-9_\-])") -> str:
    """``prefix`` + ``rest`` as the secret, not preceded by a word character. The literal comes
    first so that the regex engine can use its fast literal search."""
    p = re.escape(prefix)
    return rf"(?P<secret>{p}(?<![A-Za-z0-9_]{p}){rest}){tail}"


_SEP = r"""["']?\s*(?:[:=]|=>|:=|\s*\n\s*-?\s*value:)\s*["']?"""


def _assign(key: str, value: str) -> str:
    """``key`` assigned ``value`` in YAML, JSON, .env, HCL, properties or a container env pair."""
    return rf"(?P<key>{key}){_SEP}(?P<secret>{value})"


def _rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


F = _f  # short alias for the table below

GITHUB_PAT = F("github-pat-classic", "GitHub personal access token (classic)")
GITHUB_FINE = F("github-pat-fine-grained", "GitHub fine-grained personal access token")
GITHUB_OAUTH = F("github-oauth-token", "GitHub OAuth access token")
GITHUB_USER = F("github-user-token", "GitHub App user-to-server token")
GITHUB_APP = F("github-app-token", "GitHub App installation token")
GITHUB_REFRESH = F("github-refresh-token", "GitHub App refresh token")
AWS_KEY_ID = F("aws-access-key-id", "AWS access key id")
AWS_SECRET = F("aws-secret-access-key", "AWS secret access key")
GITLAB_PAT = F("gitlab-pat", "GitLab personal access token")
GITLAB_DEPLOY = F("gitlab-deploy-token", "GitLab deploy token")
GITLAB_RUNNER = F("gitlab-runner-token", "GitLab runner token")
GITLAB_TRIGGER = F("gitlab-pipeline-trigger-token", "GitLab pipeline trigger token")
GITLAB_OTHER = F("gitlab-token", "GitLab token (OAuth secret, feed, agent, CI job...)")
SLACK_BOT = F("slack-bot-token", "Slack bot token")
SLACK_USER = F("slack-user-token", "Slack user token")
SLACK_APP = F("slack-app-token", "Slack app-level token")
SLACK_OTHER = F("slack-token", "Slack token (legacy, workspace, configuration, refresh)")
SLACK_WEBHOOK = F("slack-webhook", "Slack incoming webhook URL")
STRIPE_SECRET = F("stripe-secret-key", "Stripe live secret key")
STRIPE_RESTRICTED = F("stripe-restricted-key", "Stripe live restricted key")
STRIPE_TEST = F("stripe-test-key", "Stripe test-mode key", Severity.WARNING)
GOOGLE_API = F("google-api-key", "Google API key")
GCP_SA = F("gcp-service-account-key", "Google Cloud service account key (JSON)")
GCP_OAUTH = F("gcp-oauth-client-secret", "Google OAuth client secret")
AZURE_STORAGE = F("azure-storage-account-key", "Azure storage account key")
AZURE_CONN = F("azure-connection-string", "Azure shared access key in a connection string")
AZURE_SAS = F("azure-sas-token", "Azure shared access signature (SAS) token")
AZURE_AD = F("azure-ad-client-secret", "Microsoft Entra ID (Azure AD) client secret")
NPM = F("npm-token", "npm access token")
PYPI = F("pypi-token", "PyPI API token")
DOCKERHUB = F("dockerhub-pat", "Docker Hub access token")
VAULT_SERVICE = F("vault-service-token", "HashiCorp Vault service token")
VAULT_BATCH = F("vault-batch-token", "HashiCorp Vault batch token")
TFC = F("terraform-cloud-token", "Terraform Cloud / Enterprise API token")
DD_API = F("datadog-api-key", "Datadog API key")
DD_APP = F("datadog-app-key", "Datadog application key")
TWILIO_KEY = F("twilio-api-key", "Twilio API key")
TWILIO_AUTH = F("twilio-auth-token", "Twilio auth token")
SENDGRID = F("sendgrid-api-key", "SendGrid API key")
OPENAI = F("openai-api-key", "OpenAI API key")
ANTHROPIC = F("anthropic-api-key", "Anthropic API key")
JWT = F("jwt", "JSON Web Token")
URL_CREDS = F("url-credentials", "Credentials in a URL (user:password@)")
DB_URL = F("database-url", "Database connection URL with a password")
SHOPIFY = F("shopify-access-token", "Shopify access token")
SHOPIFY_SECRET = F("shopify-shared-secret", "Shopify shared secret")
MAILGUN = F("mailgun-api-key", "Mailgun API key")
MAILCHIMP = F("mailchimp-api-key", "Mailchimp API key")
HUBSPOT = F("hubspot-private-app-token", "HubSpot private app token")
HEROKU = F("heroku-api-key", "Heroku API key")
DIGITALOCEAN = F("digitalocean-token", "DigitalOcean token")
LINEAR = F("linear-api-key", "Linear API key")
DISCORD_BOT = F("discord-bot-token", "Discord bot token")
DISCORD_WEBHOOK = F("discord-webhook", "Discord webhook URL")
TELEGRAM = F("telegram-bot-token", "Telegram bot token")
NEWRELIC_USER = F("newrelic-user-api-key", "New Relic user API key")
NEWRELIC_INGEST = F("newrelic-ingest-key", "New Relic license / insert key")
SENTRY_DSN = F("sentry-dsn", "Sentry DSN with a secret key")
# Sentry documents the client key of a DSN as safe to expose (it only submits events): said,
# so putting it in Git is a deliberate choice, but never blocking.
SENTRY_CLIENT_KEY = F(
    "sentry-dsn-client-key", "Sentry DSN client key (public by design)", Severity.NOTICE
)
SENTRY_TOKEN = F("sentry-auth-token", "Sentry auth token")
POSTMAN = F("postman-api-key", "Postman API key")
ATLASSIAN = F("atlassian-api-token", "Atlassian API token")
CF_TOKEN = F("cloudflare-api-token", "Cloudflare API token")
CF_KEY = F("cloudflare-api-key", "Cloudflare global API key")
CF_ORIGIN = F("cloudflare-origin-ca-key", "Cloudflare Origin CA key")
GRAFANA_SA = F("grafana-service-account-token", "Grafana service account token")
GRAFANA_CLOUD = F("grafana-cloud-token", "Grafana Cloud access policy token")
DOPPLER = F("doppler-token", "Doppler token")
AGE = F("age-secret-key", "age secret key")
ALIBABA = F("alibaba-access-key-id", "Alibaba Cloud AccessKey id")
FCM = F("fcm-server-key", "Firebase Cloud Messaging server key")
HUGGINGFACE = F("huggingface-token", "Hugging Face access token")
DATABRICKS = F("databricks-token", "Databricks personal access token")
DYNATRACE = F("dynatrace-token", "Dynatrace API token")
PULUMI = F("pulumi-token", "Pulumi access token")
MAPBOX = F("mapbox-secret-token", "Mapbox secret access token")

_AWS_ID = r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}"
_AWS_ID_KW = ("akia", "asia", "abia", "acca", "a3t")
_B64_40 = r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
_KEY_SEP = r"[_\-.]?"
_I = re.IGNORECASE
_TAIL_B64 = r"(?![A-Za-z0-9+/=])"


# --- custom finders ---------------------------------------------------------------------------

_AWS_PAIR_RE = _rx(
    rf"(?<![A-Z0-9]){_AWS_ID}(?![A-Z0-9])[^\n]{{1,100}}?(?<![A-Za-z0-9/+=])(?P<secret>{_B64_40})"
)


def _find_aws_pair(text: str, low: str) -> Iterator[tuple[int, int, str | None]]:
    """A 40-character secret key on the same line as (after) an access key id."""
    for m in _AWS_PAIR_RE.finditer(text):
        yield m.start("secret"), m.end("secret"), None


_URL_RE = _rx(
    r"://(?P<user>[^\s:/?#@\"'<>\[\]|\\^`]{0,256}):(?P<secret>[^\s/?#@\"'<>\\]{1,512})@"
    r"(?P<host>[A-Za-z0-9._~%\-]+|\[[0-9A-Fa-f:.]+\])"
)
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_DB_SCHEMES = frozenset(
    {
        "postgres",
        "postgresql",
        "postgresql+psycopg2",
        "postgresql+asyncpg",
        "mysql",
        "mysql+pymysql",
        "mysqlx",
        "mariadb",
        "mongodb",
        "mongodb+srv",
        "redis",
        "rediss",
        "redis+sentinel",
        "amqp",
        "amqps",
        "mssql",
        "sqlserver",
        "oracle",
        "cockroachdb",
        "clickhouse",
        "cassandra",
        "couchdb",
        "neo4j",
        "neo4j+s",
        "bolt",
        "memcached",
        "nats",
        "kafka",
    }
)
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _url_scheme(text: str, colon: int) -> str:
    i = colon
    while i > 0 and text[i - 1] in _SCHEME_CHARS:
        i -= 1
    scheme = text[i:colon].lower()
    return scheme if scheme[:1].isalpha() else ""


def _url_kind(text: str, m: re.Match[str]) -> Family | None:
    scheme = _url_scheme(text, m.start())
    if not scheme:
        return None
    user, password, host = m.group("user"), m.group("secret"), m.group("host").lower()
    if password.isdigit() and ("." in user or not user):
        return None  # host:port, not user:password
    if "sentry" in host and _HEX32.match(user) and _HEX32.match(password):
        return SENTRY_DSN
    if scheme in _DB_SCHEMES:
        return DB_URL
    return URL_CREDS


# The current DSN form carries only the project's client key: ``https://<key>@o1.ingest.sentry.io/2``
# (the legacy ``<key>:<secret>@`` form is a URL with credentials, see ``_url_kind``).
_SENTRY_KEY_DSN_RE = _rx(
    r"://(?P<secret>[0-9a-f]{32})@(?P<host>[A-Za-z0-9.\-]*sentry[A-Za-z0-9.\-]*)(?::[0-9]{1,5})?"
    r"/(?:[A-Za-z0-9._\-]+/)*[0-9]+(?![A-Za-z0-9._\-])",
    _I,
)


def _find_sentry_key_dsn(text: str, low: str) -> Iterator[tuple[int, int, str | None]]:
    for m in _SENTRY_KEY_DSN_RE.finditer(text):
        if _url_scheme(text, m.start()) in ("http", "https"):
            yield m.start("secret"), m.end("secret"), None


def _url_finder(family: Family) -> Finder:
    def find(text: str, low: str) -> Iterator[tuple[int, int, str | None]]:
        for m in _URL_RE.finditer(text):
            if _url_kind(text, m) is family:
                yield m.start("secret"), m.end("secret"), None

    return find


_GCP_SA_RE = _rx(r'"private_key"\s*:\s*"(?P<value>-----BEGIN[^"]{0,8000})"')
_GCP_TYPE_RE = _rx(r'"type"\s*:\s*"service_account"')


def _find_gcp_sa(text: str, low: str) -> Iterator[tuple[int, int, str | None]]:
    """The ``private_key`` of a Google service-account JSON key file."""
    if not _GCP_TYPE_RE.search(text):
        return
    for m in _GCP_SA_RE.finditer(text):
        value = m.group("value")
        inner = re.match(
            r"-----BEGIN (PRIVATE KEY|RSA PRIVATE KEY)-----(.*)-----END \1-----", value
        )
        if inner and check_pem_block(inner.group(1), inner.group(2)).real:
            start = m.start("value")
            yield start, start + inner.end(), "private_key"


_SAS_SIG_RE = _rx(r"[?&;]sig=(?P<secret>[A-Za-z0-9%+/=]{40,120})(?![A-Za-z0-9%+/=])")
_QUERY_START = re.compile(r"[\s\"'<>(]")


def _find_azure_sas(text: str, low: str) -> Iterator[tuple[int, int, str | None]]:
    for m in _SAS_SIG_RE.finditer(text):
        lo = max(0, m.start() - 600)
        before = text[lo : m.start()]
        stops = list(_QUERY_START.finditer(before))
        query = before[stops[-1].end() :] if stops else before
        if "sv=" not in query or not ("se=" in query or "sr=" in query or "sp=" in query):
            continue
        raw = _b64_any(unquote(m.group("secret")))
        if raw is not None and len(raw) == 32:
            yield m.start("secret"), m.end("secret"), "sig"


# --- the table --------------------------------------------------------------------------------


def _gh(family: Family, prefix: str, length: str = "{36}") -> Detector:
    return Detector(
        family,
        (prefix,),
        _rx(_tok(prefix, rf"[A-Za-z0-9]{length}")),
        validate=github_checksum_ok,
        priority=90,
    )


DETECTORS: tuple[Detector, ...] = (
    _gh(GITHUB_PAT, "ghp_"),
    _gh(GITHUB_OAUTH, "gho_"),
    _gh(GITHUB_USER, "ghu_"),
    _gh(GITHUB_APP, "ghs_"),
    _gh(GITHUB_REFRESH, "ghr_", "{36,76}"),
    Detector(
        GITHUB_FINE,
        ("github_pat_",),
        _rx(_tok("github_pat_", r"[A-Za-z0-9]{22}_[A-Za-z0-9]{59}")),
        validate=_entropy_at_least(4.0),
        priority=90,
    ),
    Detector(
        AWS_KEY_ID,
        _AWS_ID_KW,
        _rx(rf"(?<![A-Za-z0-9])(?P<secret>{_AWS_ID})(?![A-Za-z0-9])"),
        validate=_entropy_at_least(3.0),
        priority=80,
    ),
    Detector(
        AWS_SECRET,
        ("aws", "secret_access", "secretaccess", "secret-access", "secret.access"),
        _rx(
            _assign(
                rf"aws{_KEY_SEP}secret{_KEY_SEP}(?:access{_KEY_SEP})?key"
                rf"|secret{_KEY_SEP}access{_KEY_SEP}key",
                _B64_40,
            ),
            _I,
        ),
        validate=_random_b64_40,
        priority=75,
    ),
    Detector(AWS_SECRET, _AWS_ID_KW, finder=_find_aws_pair, validate=_random_b64_40, priority=70),
    Detector(
        GITLAB_PAT,
        ("glpat-",),
        _rx(_tok("glpat-", r"[A-Za-z0-9_\-]{20,}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,12})?")),
        validate=_entropy_at_least(3.0),
        priority=90,
    ),
    Detector(GITLAB_DEPLOY, ("gldt-",), _rx(_tok("gldt-", r"[A-Za-z0-9_\-]{20,}")), priority=90),
    Detector(
        GITLAB_RUNNER,
        ("glrt-", "gr1348941"),
        _rx(
            r"(?<![A-Za-z0-9_])(?P<secret>glrt-[A-Za-z0-9_\-]{20,}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,12})?"
            r"|GR1348941[A-Za-z0-9_\-]{20})(?![A-Za-z0-9_\-])"
        ),
        priority=90,
    ),
    Detector(GITLAB_TRIGGER, ("glptt-",), _rx(_tok("glptt-", r"[0-9a-f]{40}")), priority=90),
    Detector(
        GITLAB_OTHER,
        ("gloas-", "glft-", "glimt-", "glagent-", "glcbt-", "glsoat-", "glffct-"),
        _rx(
            r"(?<![A-Za-z0-9_])(?P<secret>(?:gloas|glft|glimt|glagent|glcbt|glsoat|glffct)-"
            r"[A-Za-z0-9_\-]{20,})(?![A-Za-z0-9_\-])"
        ),
        priority=85,
    ),
    Detector(
        SLACK_BOT,
        ("xoxb-",),
        _rx(_tok("xoxb-", r"[0-9]{8,13}-[0-9]{8,13}-[A-Za-z0-9]{20,32}")),
        priority=90,
    ),
    Detector(
        SLACK_USER,
        ("xoxp-",),
        _rx(_tok("xoxp-", r"[0-9]{8,13}-[0-9]{8,13}-[0-9]{8,13}-[A-Za-z0-9]{28,34}")),
        priority=90,
    ),
    Detector(
        SLACK_APP,
        ("xapp-",),
        _rx(_tok("xapp-", r"[0-9]-[A-Z0-9]{8,12}-[0-9]{10,16}-[A-Za-z0-9]{32,64}")),
        priority=90,
    ),
    Detector(
        SLACK_OTHER,
        ("xoxa-", "xoxo-", "xoxr-", "xoxs-", "xoxe"),
        _rx(
            r"(?<![A-Za-z0-9_])(?P<secret>xox[aeors](?:\.xox[bp])?-[0-9]{1,13}-"
            r"[A-Za-z0-9\-]{20,300})(?![A-Za-z0-9_\-])"
        ),
        validate=_entropy_at_least(3.5),
        priority=85,
    ),
    Detector(
        SLACK_WEBHOOK,
        ("hooks.slack.com",),
        _rx(
            r"hooks\.slack\.com/(?:services|workflows|triggers)/"
            r"(?P<secret>T[A-Z0-9]{6,12}/[A-Z0-9]{6,12}/(?:[0-9]{6,20}/)?[A-Za-z0-9]{20,40})"
            r"(?![A-Za-z0-9])"
        ),
        priority=90,
    ),
    Detector(
        STRIPE_SECRET, ("sk_live_",), _rx(_tok("sk_live_", r"[A-Za-z0-9]{24,247}")), priority=90
    ),
    Detector(
        STRIPE_RESTRICTED,
        ("rk_live_",),
        _rx(_tok("rk_live_", r"[A-Za-z0-9]{24,247}")),
        priority=90,
    ),
    Detector(
        STRIPE_TEST,
        ("sk_test_", "rk_test_"),
        _rx(r"(?<![A-Za-z0-9_])(?P<secret>[sr]k_test_[A-Za-z0-9]{24,247})(?![A-Za-z0-9_\-])"),
        priority=90,
    ),
    Detector(
        GOOGLE_API,
        ("aiza",),
        _rx(_tok("AIza", r"[A-Za-z0-9_\-]{35}")),
        validate=_entropy_at_least(3.5),
        priority=85,
    ),
    Detector(GCP_SA, ("service_account",), finder=_find_gcp_sa, priority=99),
    Detector(GCP_OAUTH, ("gocspx-",), _rx(_tok("GOCSPX-", r"[A-Za-z0-9_\-]{28}")), priority=90),
    Detector(
        AZURE_STORAGE,
        ("accountkey", "account_key", "account-key", "storage_key", "storagekey", "storage-key"),
        _rx(
            _assign(
                rf"accountkey|(?:azure{_KEY_SEP})?storage{_KEY_SEP}(?:account{_KEY_SEP})?"
                rf"(?:access{_KEY_SEP})?key",
                rf"[A-Za-z0-9+/]{{86}}=={_TAIL_B64}",
            ),
            _I,
        ),
        validate=_decodes_to(64),
        priority=85,
    ),
    Detector(
        AZURE_CONN,
        ("sharedaccesskey=",),
        _rx(rf"(?P<key>SharedAccessKey)=(?P<secret>[A-Za-z0-9+/]{{43}}=){_TAIL_B64}", _I),
        validate=_decodes_to(32),
        priority=85,
    ),
    Detector(AZURE_SAS, ("sig=",), finder=_find_azure_sas, priority=80),
    Detector(
        AZURE_AD,
        ("q~",),
        _rx(
            r"(?<![A-Za-z0-9_~.\-])(?P<secret>[A-Za-z0-9_~.\-]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34})"
            r"(?![A-Za-z0-9_~.\-])"
        ),
        validate=_entropy_at_least(3.5),
        priority=80,
    ),
    Detector(
        NPM,
        ("npm_",),
        _rx(_tok("npm_", r"[A-Za-z0-9]{36}")),
        validate=github_checksum_ok,
        priority=90,
    ),
    Detector(
        PYPI,
        ("pypi-ageichlwas5vcmc", "pypi-agendgvzdc5wexbplm9yzw"),
        _rx(
            r"(?<![A-Za-z0-9_])(?P<secret>pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)"
            r"[A-Za-z0-9_\-]{50,})(?![A-Za-z0-9_\-])"
        ),
        validate=_pypi_ok,
        priority=90,
    ),
    Detector(
        DOCKERHUB,
        ("dckr_pat_", "dckr_oat_"),
        _rx(r"(?<![A-Za-z0-9_])(?P<secret>dckr_(?:pat|oat)_[A-Za-z0-9_\-]{27,})(?![A-Za-z0-9_\-])"),
        validate=_entropy_at_least(3.5),
        priority=90,
    ),
    Detector(
        VAULT_SERVICE,
        ("hvs.",),
        _rx(_tok("hvs.", r"[A-Za-z0-9_\-]{24,}")),
        validate=_entropy_at_least(3.5),
        priority=90,
    ),
    Detector(
        VAULT_SERVICE,
        ("vault",),
        _rx(r"(?<![A-Za-z0-9_.])(?P<secret>s\.[A-Za-z0-9]{24})(?![A-Za-z0-9_.\-])"),
        validate=_not_all_lower,
        context=_rx(r"vault"),
        window=300,
        priority=70,
    ),
    Detector(
        VAULT_BATCH,
        ("hvb.",),
        _rx(_tok("hvb.", r"[A-Za-z0-9_\-]{100,}")),
        validate=_entropy_at_least(3.5),
        priority=90,
    ),
    Detector(
        TFC,
        ("atlasv1",),
        _rx(
            r"(?<![A-Za-z0-9])(?P<secret>[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70})"
            r"(?![A-Za-z0-9_=\-])"
        ),
        priority=90,
    ),
    Detector(
        DD_API,
        ("datadog", "dd_api", "dd-api", "ddapi"),
        _rx(_assign(rf"(?:dd|datadog){_KEY_SEP}api{_KEY_SEP}key", r"[a-f0-9]{32}(?![a-f0-9])"), _I),
        priority=70,
        benign_ok=True,
    ),
    Detector(
        DD_API,
        ("datadog",),
        _rx(_assign(rf"api{_KEY_SEP}key", r"[a-f0-9]{32}(?![a-f0-9])"), _I),
        context=_rx(r"datadog"),
        window=400,
        priority=65,
        benign_ok=True,
    ),
    Detector(
        DD_APP,
        ("datadog", "dd_app", "dd-app", "ddapp"),
        _rx(
            _assign(
                rf"(?:dd|datadog){_KEY_SEP}app(?:lication)?{_KEY_SEP}key",
                r"[a-f0-9]{40}(?![a-f0-9])",
            ),
            _I,
        ),
        priority=70,
        benign_ok=True,
    ),
    Detector(
        TWILIO_KEY,
        ("sk",),
        _rx(r"(?P<secret>SK(?<![A-Za-z0-9_]SK)[0-9a-f]{32})(?![A-Za-z0-9_])"),
        validate=_entropy_at_least(3.0),
        priority=80,
    ),
    Detector(
        TWILIO_AUTH,
        ("twilio",),
        _rx(
            _assign(rf"(?:twilio{_KEY_SEP})?auth{_KEY_SEP}token", r"[a-f0-9]{32}(?![a-f0-9])"),
            _I,
        ),
        context=_rx(r"twilio|\bac[0-9a-f]{32}\b"),
        window=500,
        priority=70,
        benign_ok=True,
    ),
    Detector(
        SENDGRID,
        ("sg.",),
        _rx(_tok("SG.", r"[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}")),
        validate=_entropy_at_least(3.5),
        priority=90,
    ),
    Detector(
        OPENAI,
        ("t3blbkfj", "sk-proj-", "sk-svcacct-", "sk-admin-"),
        _rx(
            _tok(
                "sk-",
                r"(?:(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}"
                r"|[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,})",
            )
        ),
        validate=_entropy_at_least(3.5),
        priority=88,
    ),
    Detector(
        ANTHROPIC,
        ("sk-ant-",),
        _rx(_tok("sk-ant-", r"(?:api|admin)[0-9]{2}-[A-Za-z0-9_\-]{93}AA")),
        priority=92,
    ),
    Detector(
        JWT,
        ("eyj",),
        _rx(
            r"(?P<secret>eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{8,}\.e[wy][A-Za-z0-9_\-]{6,}"
            r"\.[A-Za-z0-9_\-]{16,})(?![A-Za-z0-9_\-]|\.[A-Za-z0-9_\-])"
        ),
        validate=_jwt_ok,
        priority=60,
    ),
    Detector(URL_CREDS, ("://",), finder=_url_finder(URL_CREDS), priority=30, benign_ok=True),
    Detector(DB_URL, ("://",), finder=_url_finder(DB_URL), priority=40, benign_ok=True),
    Detector(
        SHOPIFY,
        ("shpat_", "shpca_", "shppa_"),
        _rx(r"(?<![A-Za-z0-9_])(?P<secret>shp(?:at|ca|pa)_[a-fA-F0-9]{32})(?![A-Za-z0-9_])"),
        priority=90,
    ),
    Detector(SHOPIFY_SECRET, ("shpss_",), _rx(_tok("shpss_", r"[a-fA-F0-9]{32}")), priority=90),
    Detector(
        MAILGUN,
        ("mailgun",),
        _rx(r"(?P<secret>key-(?<![A-Za-z0-9_]key-)[0-9a-f]{32})(?![A-Za-z0-9_])"),
        context=_rx(r"mailgun"),
        priority=80,
    ),
    Detector(
        MAILGUN,
        ("mailgun",),
        _rx(
            r"(?<![A-Za-z0-9_\-])(?P<secret>[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})"
            r"(?![A-Za-z0-9_\-])"
        ),
        validate=_entropy_at_least(3.0),
        context=_rx(r"mailgun"),
        window=300,
        priority=80,
    ),
    Detector(
        MAILCHIMP,
        ("-us",),
        _rx(r"(?<![A-Za-z0-9_])(?P<secret>[0-9a-f]{32}-us[0-9]{1,2})(?![A-Za-z0-9_])"),
        priority=80,
    ),
    Detector(
        HUBSPOT,
        ("pat-na", "pat-eu"),
        _rx(
            _tok(
                "pat-",
                r"(?:na|eu)[0-9]-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            )
        ),
        priority=85,
    ),
    Detector(HEROKU, ("hrku-",), _rx(_tok("HRKU-AA", r"[A-Za-z0-9_\-]{58}")), priority=90),
    Detector(
        HEROKU,
        ("heroku",),
        _rx(
            _assign(
                r"heroku[\w.\-]{0,20}?(?:api[_\-.]?key|token|key)",
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])",
            ),
            _I,
        ),
        priority=70,
        benign_ok=True,
    ),
    Detector(
        DIGITALOCEAN,
        ("dop_v1_", "doo_v1_", "dor_v1_"),
        _rx(r"(?<![A-Za-z0-9_])(?P<secret>do[opr]_v1_[a-f0-9]{64})(?![A-Za-z0-9_])"),
        priority=90,
    ),
    Detector(LINEAR, ("lin_api_",), _rx(_tok("lin_api_", r"[A-Za-z0-9]{40}")), priority=90),
    Detector(
        DISCORD_BOT,
        ("discord",),
        _rx(
            r"(?<![A-Za-z0-9_\-])(?P<secret>[MNO][A-Za-z0-9_\-]{22,27}\.[A-Za-z0-9_\-]{6}"
            r"\.[A-Za-z0-9_\-]{27,40})(?![A-Za-z0-9_\-])"
        ),
        validate=_discord_ok,
        context=_rx(r"discord"),
        priority=80,
    ),
    Detector(
        DISCORD_WEBHOOK,
        ("discord.com/api/webhooks", "discordapp.com/api/webhooks"),
        _rx(
            r"discord(?:app)?\.com/api/webhooks/(?P<secret>[0-9]{17,20}/[A-Za-z0-9_\-]{60,80})"
            r"(?![A-Za-z0-9_\-])"
        ),
        priority=90,
    ),
    Detector(
        TELEGRAM,
        (":aa",),
        _rx(r"(?<![0-9])(?P<secret>[0-9]{8,10}:AA[A-Za-z0-9_\-]{33})(?![A-Za-z0-9_\-])"),
        validate=_entropy_at_least(3.5),
        priority=85,
    ),
    Detector(NEWRELIC_USER, ("nrak-",), _rx(_tok("NRAK-", r"[A-Z0-9]{27}")), priority=90),
    Detector(
        NEWRELIC_INGEST,
        ("nral", "nrii-"),
        _rx(
            r"(?<![A-Za-z0-9_])(?P<secret>[a-f0-9]{36}NRAL|NRII-[A-Za-z0-9_\-]{32})"
            r"(?![A-Za-z0-9_\-])"
        ),
        priority=85,
    ),
    Detector(SENTRY_DSN, ("://",), finder=_url_finder(SENTRY_DSN), priority=80, benign_ok=True),
    Detector(
        SENTRY_CLIENT_KEY, ("sentry",), finder=_find_sentry_key_dsn, priority=80, benign_ok=True
    ),
    Detector(
        SENTRY_TOKEN,
        ("sntrys_", "sntryu_"),
        _rx(
            r"(?<![A-Za-z0-9_])(?P<secret>sntrys_eyJ[A-Za-z0-9_=+/\-]{50,}|sntryu_[a-f0-9]{64})"
            r"(?![A-Za-z0-9_=+/\-])"
        ),
        priority=90,
    ),
    Detector(POSTMAN, ("pmak-",), _rx(_tok("PMAK-", r"[a-f0-9]{24}-[a-f0-9]{34}")), priority=90),
    Detector(
        ATLASSIAN,
        ("atatt3",),
        _rx(_tok("ATATT3", r"[A-Za-z0-9_\-=]{150,250}", tail=r"(?![A-Za-z0-9_\-=])")),
        validate=_entropy_at_least(4.0),
        priority=90,
    ),
    Detector(
        CF_TOKEN,
        ("cloudflare", "cf_api", "cf-api", "cf_token", "cf-token", "cfapi"),
        _rx(
            _assign(
                rf"(?:cf|cloudflare){_KEY_SEP}(?:api{_KEY_SEP})?token",
                r"[A-Za-z0-9_\-]{40}(?![A-Za-z0-9_\-])",
            ),
            _I,
        ),
        validate=_not_all_lower,
        priority=70,
    ),
    Detector(
        CF_KEY,
        ("cloudflare", "cf_api", "cf-api", "cf_global", "cfapi"),
        _rx(
            _assign(
                rf"(?:cf|cloudflare){_KEY_SEP}(?:global{_KEY_SEP})?api{_KEY_SEP}key",
                r"[a-f0-9]{37}(?![a-f0-9])",
            ),
            _I,
        ),
        priority=70,
        benign_ok=True,
    ),
    Detector(CF_ORIGIN, ("v1.0-",), _rx(_tok("v1.0-", r"[a-f0-9]{24}-[a-f0-9]{146}")), priority=85),
    Detector(
        GRAFANA_SA,
        ("glsa_",),
        _rx(_tok("glsa_", r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}")),
        priority=90,
    ),
    Detector(
        GRAFANA_CLOUD,
        ("glc_",),
        _rx(_tok("glc_", r"[A-Za-z0-9+/]{32,400}={0,2}", tail=r"(?![A-Za-z0-9+/=_\-])")),
        validate=_json_object,
        priority=90,
    ),
    Detector(
        DOPPLER,
        ("dp.pt.", "dp.st.", "dp.ct.", "dp.sa.", "dp.scim.", "dp.audit."),
        _rx(
            r"(?<![A-Za-z0-9_.])(?P<secret>dp\.(?:pt|st|ct|sa|scim|audit)\."
            r"(?:[a-z0-9_\-]{2,35}\.)?[A-Za-z0-9]{40,44})(?![A-Za-z0-9_])"
        ),
        priority=90,
    ),
    Detector(
        AGE,
        ("age-secret-key-1",),
        _rx(_tok("AGE-SECRET-KEY-1", r"[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}")),
        validate=_bech32_ok,
        priority=95,
    ),
    Detector(
        ALIBABA,
        ("ltai",),
        _rx(_tok("LTAI", r"[A-Za-z0-9]{12,20}")),
        validate=_not_all_lower,
        priority=85,
    ),
    Detector(
        FCM,
        ("apa91b",),
        _rx(
            r"(?<![A-Za-z0-9_\-])(?P<secret>AAAA[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{134})"
            r"(?![A-Za-z0-9_\-])"
        ),
        priority=90,
    ),
    Detector(
        HUGGINGFACE,
        ("hf_",),
        _rx(_tok("hf_", r"[A-Za-z]{34}")),
        validate=_not_all_lower,
        priority=85,
    ),
    Detector(
        DATABRICKS,
        ("dapi",),
        _rx(_tok("dapi", r"[a-f0-9]{32}(?:-[0-9])?")),
        validate=_entropy_at_least(3.0),
        priority=85,
    ),
    Detector(
        DYNATRACE,
        ("dt0c01.",),
        _rx(_tok("dt0c01.", r"[A-Z0-9]{24}\.[A-Z0-9]{64}")),
        priority=90,
    ),
    Detector(PULUMI, ("pul-",), _rx(_tok("pul-", r"[a-f0-9]{40}")), priority=85),
    Detector(
        MAPBOX,
        ("sk.eyj",),
        _rx(_tok("sk.eyJ", r"[A-Za-z0-9_\-]{50,}\.[A-Za-z0-9_\-]{20,}")),
        priority=90,
    ),
)

# Private keys come from ``privatekeys`` (their own keyword check, parsed with cryptography).
_PRIVATE_KEY_PRIORITY = 95

FAMILIES: tuple[Family, ...] = tuple(
    dict.fromkeys([d.family for d in DETECTORS] + list(PRIVATE_KEY_FAMILIES))
)
FAMILIES_BY_ID: dict[str, Family] = {f.id: f for f in FAMILIES}


def hit_severity(hit: Hit) -> Severity:
    """The severity to report ``hit`` at: its family's, lowered to WARNING for an encrypted key."""
    if hit.encrypted and hit.family.severity.rank > Severity.WARNING.rank:
        return Severity.WARNING
    return hit.family.severity


# --- the keyword prefilter ---------------------------------------------------------------------

# Characters of Kubernetes YAML from the most to the least frequent. Each keyword is looked for
# through its rarest character (its pivot): a one-character ``in`` is a ``memchr``, so a text
# holding none of a pivot's keywords usually costs one ``memchr`` per pivot character.
_FREQUENCY = ' ea\n:tsnopirmcldu.bvg-hk1y/f0w"82zx5_{}43*6q9j7,[]#()'


def _rarity(ch: str) -> int:
    i = _FREQUENCY.find(ch)
    return len(_FREQUENCY) if i < 0 else i


def _pivot(keyword: str) -> int:
    """The index of the rarest character of ``keyword`` (the first of equally rare ones)."""
    return max(range(len(keyword)), key=lambda i: (_rarity(keyword[i]), -i))


@dataclass(frozen=True, slots=True)
class _PivotGroup:
    pivot: str
    pattern: re.Pattern[str]  # the pivot character where one of the keywords surrounds it
    keywords: tuple[tuple[str, int], ...]  # (keyword, index of the pivot in it)


def _build_prefilter() -> tuple[_PivotGroup, ...]:
    keywords = {kw for d in DETECTORS for kw in d.keywords} | set(PRIVATE_KEY_KEYWORDS)
    by_pivot: dict[str, list[tuple[str, int]]] = {}
    for kw in sorted(keywords):
        i = _pivot(kw)
        by_pivot.setdefault(kw[i], []).append((kw, i))
    groups = []
    for pivot, entries in sorted(by_pivot.items(), key=lambda e: -_rarity(e[0])):
        alts = []
        for kw, i in entries:
            before, after = kw[:i], kw[i + 1 :]
            alts.append(
                (f"(?<={re.escape(before + pivot)})" if before else "")
                + (f"(?={re.escape(after)})" if after else "")
            )
        # The pattern consumes the pivot only, so that no occurrence hides another one.
        body = "" if "" in alts else "(?:" + "|".join(alts) + ")"
        groups.append(_PivotGroup(pivot, re.compile(re.escape(pivot) + body), tuple(entries)))
    return tuple(groups)


_PREFILTER = _build_prefilter()
KEYWORDS: frozenset[str] = frozenset(kw for g in _PREFILTER for kw, _ in g.keywords)


def keywords_in(low: str) -> set[str]:
    """The keywords occurring in an already lower-cased text."""
    found: set[str] = set()
    for group in _PREFILTER:
        if group.pivot not in low:
            continue
        first = group.pattern.search(low)
        if first is None:
            continue
        for m in group.pattern.finditer(low, first.start()):
            pos = m.start()
            for kw, i in group.keywords:
                if pos >= i and low.startswith(kw, pos - i):
                    found.add(kw)
    return found


# --- scanning ---------------------------------------------------------------------------------


def _spans(det: Detector, text: str, low: str) -> Iterator[tuple[int, int, str | None]]:
    if det.finder is not None:
        yield from det.finder(text, low)
        return
    assert det.pattern is not None
    for m in det.pattern.finditer(text):
        key = m.groupdict().get("key")
        yield m.start("secret"), m.end("secret"), key


def _accept(det: Detector, value: str, text: str, low: str, start: int, end: int) -> bool:
    if is_placeholder(value) or is_documentation_example(value):
        return False
    if not det.benign_ok and is_benign(value):
        return False
    if det.context is not None:
        lo, hi = (0, len(low)) if det.window == 0 else (start - det.window, end + det.window)
        if not det.context.search(low, max(0, lo), hi):
            return False
    return det.validate is None or det.validate(value)


def _resolve(candidates: list[tuple[int, Hit]]) -> list[Hit]:
    """Drop overlaps: the higher priority wins, then the longer span, then the earlier one."""
    kept: list[Hit] = []
    for _prio, hit in sorted(candidates, key=lambda c: (-c[0], c[1].start - c[1].end, c[1].start)):
        if all(hit.end <= k.start or hit.start >= k.end for k in kept):
            kept.append(hit)
    kept.sort(key=lambda h: h.start)
    return kept


def scan(text: str) -> list[Hit]:
    """Every credential of every family in ``text``, sorted by start offset, at most one hit per
    span (the more specific family wins an overlap); private keys included."""
    low = text.lower()
    found = keywords_in(low)
    if not found:
        return []
    candidates: list[tuple[int, Hit]] = []
    for det in DETECTORS:
        if not any(kw in found for kw in det.keywords):
            continue
        for start, end, key in _spans(det, text, low):
            value = text[start:end]
            if _accept(det, value, text, low, start, end):
                candidates.append((det.priority, Hit(det.family, value, start, end, key=key)))
    if any(kw in found for kw in PRIVATE_KEY_KEYWORDS):
        candidates.extend((_PRIVATE_KEY_PRIORITY, h) for h in scan_private_keys(text))
    return _resolve(candidates)
