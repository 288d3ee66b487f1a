"""Process settings of the GitHub App, from the environment, read once and validated at start.

``load_settings(os.environ)`` returns a frozen ``Settings`` or raises ``SettingsError`` listing
every problem at once, each naming its variable. Secret values (the private key, the webhook
secret) never appear in a message or in ``repr(settings)``.

- ``GITOPS_GATE_APP_ID``: the GitHub App's id, a positive integer. Required.
- ``GITOPS_GATE_PRIVATE_KEY``: the App's RSA private key as PEM text (literal ``\\n`` escapes
  are accepted), or ``GITOPS_GATE_PRIVATE_KEY_FILE``: a path to the PEM file. Exactly one.
- ``GITOPS_GATE_WEBHOOK_SECRET``: the webhook secret, non-empty. Required.
- ``GITOPS_GATE_GITHUB_API_URL``: the REST API root, http(s); default
  ``https://api.github.com``; GitHub Enterprise Server: ``https://HOST/api/v3``.
- ``GITOPS_GATE_DATABASE``: the SQLite file; default ``./gitops-gate.db``.
- ``GITOPS_GATE_WORKERS``: concurrent jobs, 1..64; default 4.
- ``GITOPS_GATE_JOB_DEADLINE``: seconds a job may take before its check run fails; default 600.
- ``GITOPS_GATE_CHECK_DRAFTS``: check draft pull requests (true/false); default true.
- ``GITOPS_GATE_RETRY_BASE_DELAY``: seconds before the first retry of a failed GitHub call
  (doubling, with jitter, up to 30 s); default 0.5.
- ``GITOPS_GATE_OPA_URL`` and ``GITOPS_GATE_OPA_TOKEN``: the OPA server used when a
  repository's config says ``policies.engine: opa-server`` (a repository's config cannot name
  a server or a token variable itself: that would let it send the App's secrets anywhere).
- ``GITOPS_GATE_REGISTRY_CONFIG``: a Docker ``config.json`` whose ``auths`` hold the registry
  credentials for signature checks (``auth`` or ``username``/``password``); default none
  (anonymous). Never taken from a repository.

A variable set to the empty string counts as unset (except the webhook secret, which is then
reported as empty).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from bot.engines.credentials import BasicCredentials
from bot.engines.registry_auth import REGISTRY_CONFIG, load_registry_config
from bot.errors import SettingsError, UsageError

PREFIX = "GITOPS_GATE_"
APP_ID = "GITOPS_GATE_APP_ID"
PRIVATE_KEY = "GITOPS_GATE_PRIVATE_KEY"
PRIVATE_KEY_FILE = "GITOPS_GATE_PRIVATE_KEY_FILE"
WEBHOOK_SECRET = "GITOPS_GATE_WEBHOOK_SECRET"
GITHUB_API_URL = "GITOPS_GATE_GITHUB_API_URL"
DATABASE = "GITOPS_GATE_DATABASE"
WORKERS = "GITOPS_GATE_WORKERS"
JOB_DEADLINE = "GITOPS_GATE_JOB_DEADLINE"
CHECK_DRAFTS = "GITOPS_GATE_CHECK_DRAFTS"
RETRY_BASE_DELAY = "GITOPS_GATE_RETRY_BASE_DELAY"
OPA_URL = "GITOPS_GATE_OPA_URL"
OPA_TOKEN = "GITOPS_GATE_OPA_TOKEN"

DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_DATABASE = "./gitops-gate.db"
DEFAULT_WORKERS = 4
MAX_WORKERS = 64
DEFAULT_JOB_DEADLINE = 600.0
MAX_JOB_DEADLINE = 86_400.0
DEFAULT_CHECK_DRAFTS = True
DEFAULT_RETRY_BASE_DELAY = 0.5
MAX_RETRY_BASE_DELAY = 60.0
MAX_KEY_FILE_BYTES = 64 * 1024

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_REDACTED = "<redacted>"


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    app_id: int
    private_key: str
    """PEM text of the App's RSA private key (validated; never shown)."""
    webhook_secret: str
    """Never shown."""
    github_api_url: str = DEFAULT_GITHUB_API_URL
    """Without a trailing slash."""
    database: Path = Path(DEFAULT_DATABASE)
    workers: int = DEFAULT_WORKERS
    job_deadline: float = DEFAULT_JOB_DEADLINE
    check_drafts: bool = DEFAULT_CHECK_DRAFTS
    retry_base_delay: float = DEFAULT_RETRY_BASE_DELAY
    private_key_source: str = PRIVATE_KEY
    """Where the key came from: the variable's name or ``file <path>`` (safe to log)."""
    registry_credentials: Mapping[str, BasicCredentials] = field(default_factory=dict)
    """Registry host -> credentials (never shown)."""
    opa_url: str | None = None
    opa_token: str | None = None
    """Never shown."""

    def __repr__(self) -> str:
        return (
            f"Settings(app_id={self.app_id}, private_key={_REDACTED}, "
            f"webhook_secret={_REDACTED}, github_api_url={self.github_api_url!r}, "
            f"database={str(self.database)!r}, workers={self.workers}, "
            f"job_deadline={self.job_deadline:g}, check_drafts={self.check_drafts}, "
            f"retry_base_delay={self.retry_base_delay:g}, "
            f"private_key_source={self.private_key_source!r}, "
            f"registries_with_credentials={sorted(self.registry_credentials)!r}, "
            f"opa_url={self.opa_url!r})"
        )

    __str__ = __repr__


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Read and validate every setting; raise ``SettingsError`` with all the problems found."""
    problems: list[str] = []

    app_id = _app_id(environ.get(APP_ID), problems)
    private_key, key_source = _private_key(environ, problems)
    secret = environ.get(WEBHOOK_SECRET)
    if secret is None:
        problems.append(f"{WEBHOOK_SECRET} is required (the App's webhook secret)")
    elif secret == "":
        problems.append(f"{WEBHOOK_SECRET} is empty; set it to the App's webhook secret")
    api_url = _api_url(_get(environ, GITHUB_API_URL), problems)
    database = _get(environ, DATABASE)
    workers = _int_in_range(
        _get(environ, WORKERS), WORKERS, DEFAULT_WORKERS, 1, MAX_WORKERS, problems
    )
    deadline = _seconds(
        _get(environ, JOB_DEADLINE), JOB_DEADLINE, DEFAULT_JOB_DEADLINE, MAX_JOB_DEADLINE, problems
    )
    check_drafts = _bool(_get(environ, CHECK_DRAFTS), CHECK_DRAFTS, DEFAULT_CHECK_DRAFTS, problems)
    retry_base_delay = _seconds(
        _get(environ, RETRY_BASE_DELAY),
        RETRY_BASE_DELAY,
        DEFAULT_RETRY_BASE_DELAY,
        MAX_RETRY_BASE_DELAY,
        problems,
    )

    registries = _registry_credentials(_get(environ, REGISTRY_CONFIG), problems)
    opa_url = _opa_url(_get(environ, OPA_URL), problems)

    if problems:
        raise SettingsError(problems)
    assert app_id is not None and private_key is not None and secret is not None
    return Settings(
        app_id=app_id,
        private_key=private_key,
        webhook_secret=secret,
        github_api_url=api_url,
        database=Path(database or DEFAULT_DATABASE),
        workers=workers,
        job_deadline=deadline,
        check_drafts=check_drafts,
        retry_base_delay=retry_base_delay,
        private_key_source=key_source,
        registry_credentials=registries,
        opa_url=opa_url,
        opa_token=_get(environ, OPA_TOKEN),
    )


def _registry_credentials(path: str | None, problems: list[str]) -> dict[str, BasicCredentials]:
    if path is None:
        return {}
    try:
        return load_registry_config(Path(path))
    except UsageError as exc:
        problems.append(f"{REGISTRY_CONFIG}: {exc}")
        return {}


def _get(environ: Mapping[str, str], name: str) -> str | None:
    """The variable's value stripped of surrounding white space; unset or empty -> None."""
    value = environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _app_id(raw: str | None, problems: list[str]) -> int | None:
    if raw is None or not raw.strip():
        problems.append(f"{APP_ID} is required (the GitHub App's numeric id)")
        return None
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or int(text) <= 0:
        problems.append(f"{APP_ID} must be a positive integer, got {text!r}")
        return None
    return int(text)


def _private_key(environ: Mapping[str, str], problems: list[str]) -> tuple[str | None, str]:
    inline = _get(environ, PRIVATE_KEY)
    path = _get(environ, PRIVATE_KEY_FILE)
    if inline is not None and path is not None:
        problems.append(f"set only one of {PRIVATE_KEY} and {PRIVATE_KEY_FILE}, not both")
        return None, PRIVATE_KEY
    if inline is None and path is None:
        problems.append(
            f"{PRIVATE_KEY} (PEM text) or {PRIVATE_KEY_FILE} (a path) is required: "
            "the GitHub App's private key"
        )
        return None, PRIVATE_KEY
    if inline is not None:
        source = PRIVATE_KEY
        text = inline
    else:
        assert path is not None
        source = f"{PRIVATE_KEY_FILE} ({path})"
        read = _read_key_file(Path(path), source, problems)
        if read is None:
            return None, source
        text = read
    pem = _normalise_pem(text)
    problem = _key_problem(pem)
    if problem is not None:
        problems.append(f"{source}: {problem}")
        return None, source
    return pem, source


def _read_key_file(path: Path, source: str, problems: list[str]) -> str | None:
    try:
        if path.is_dir():
            problems.append(f"{source}: is a directory, not a PEM file")
            return None
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as error:
        problems.append(f"{source}: cannot be read: {error.strerror or type(error).__name__}")
        return None
    if len(data) > MAX_KEY_FILE_BYTES:
        problems.append(f"{source}: larger than {MAX_KEY_FILE_BYTES} bytes; not a PEM key file")
        return None
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        problems.append(f"{source}: not a PEM text file (non-ASCII bytes)")
        return None


def _normalise_pem(text: str) -> str:
    """Accept the forms keys take in environment variables: literal ``\\n`` escapes instead of
    newlines (PEM never contains a backslash), CRLF line ends, surrounding quotes or spaces."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    text = text.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\r\n", "\n")
    return text.strip() + "\n"


def _key_problem(pem: str) -> str | None:
    """Why ``pem`` is not a usable RSA private key, or None. Never quotes the key."""
    if "-----BEGIN" not in pem:
        return (
            "not PEM text (expected '-----BEGIN RSA PRIVATE KEY-----' or "
            "'-----BEGIN PRIVATE KEY-----', as downloaded from the App's settings)"
        )
    if "PUBLIC KEY-----" in pem and "PRIVATE KEY-----" not in pem:
        return "is a public key; the App needs its private key"
    if "CERTIFICATE-----" in pem and "PRIVATE KEY-----" not in pem:
        return "is a certificate; the App needs its private key"
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii", "replace"), password=None)
    except TypeError:
        return "is encrypted with a passphrase; provide the unencrypted key GitHub issued"
    except UnsupportedAlgorithm:
        return "uses an unsupported key algorithm; GitHub App keys are RSA"
    except ValueError:
        return (
            "cannot be parsed as a PEM private key (damaged or incomplete; if it is set "
            "in an environment variable, keep its line breaks or write them as \\n)"
        )
    if not isinstance(key, RSAPrivateKey):
        return f"is {_kind(key)} key, not an RSA key; GitHub App keys are RSA (RS256)"
    return None


def _kind(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "an EC"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return "an EdDSA"
    if isinstance(key, dsa.DSAPrivateKey):
        return "a DSA"
    return "a non-RSA"


def _shown(url: str) -> str:
    """``url`` as it may appear in a message: without user information (credentials)."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('/', 1)[0].rsplit('@', 1)[1]}" + (
            "/" + rest.split("/", 1)[1] if "/" in rest else ""
        )
    return url


def _opa_url(raw: str | None, problems: list[str]) -> str | None:
    if raw is None:
        return None
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{OPA_URL} must be an http(s) URL such as https://opa.internal:8181")
        return None
    return raw.rstrip("/")


def _api_url(raw: str | None, problems: list[str]) -> str:
    if raw is None:
        return DEFAULT_GITHUB_API_URL
    try:
        parts = urlsplit(raw)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        problems.append(f"{GITHUB_API_URL} is not a valid URL: {_shown(raw)!r}")
        return DEFAULT_GITHUB_API_URL
    if parts.scheme not in ("http", "https"):
        problems.append(
            f"{GITHUB_API_URL} must be an http(s) URL such as {DEFAULT_GITHUB_API_URL} "
            f"or https://HOST/api/v3 for GitHub Enterprise Server, got {_shown(raw)!r}"
        )
    elif not hostname:
        problems.append(f"{GITHUB_API_URL} has no host: {_shown(raw)!r}")
    elif parts.username is not None or parts.password is not None:
        problems.append(f"{GITHUB_API_URL} must not contain credentials: {_shown(raw)!r}")
    elif parts.query or parts.fragment:
        problems.append(f"{GITHUB_API_URL} must not have a query or a fragment: {raw!r}")
    return raw.rstrip("/")


def _int_in_range(
    raw: str | None, name: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be an integer between {low} and {high}, got {raw!r}")
        return default
    if not low <= value <= high:
        problems.append(f"{name} must be between {low} and {high}, got {value}")
        return default
    return value


def _seconds(raw: str | None, name: str, default: float, high: float, problems: list[str]) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name} must be a number of seconds, got {raw!r}")
        return default
    if not math.isfinite(value) or not 0 < value <= high:
        problems.append(f"{name} must be more than 0 and at most {high:g} seconds, got {raw!r}")
        return default
    return value


def _bool(raw: str | None, name: str, default: bool, problems: list[str]) -> bool:
    if raw is None:
        return default
    word = raw.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    problems.append(f"{name} must be true or false (also 1/0, yes/no, on/off), got {raw!r}")
    return default
