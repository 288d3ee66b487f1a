"""Values that look like credentials but are not: placeholders, templated references, public
documentation examples and benign identifiers (UUIDs, digests, commit SHAs)."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter

__all__ = [
    "is_benign",
    "is_documentation_example",
    "is_placeholder",
    "shannon_entropy",
]

# Shorter than this, a value is not worth reporting as a credential.
MIN_LENGTH = 4


def shannon_entropy(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character (0.0 for an empty string)."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


# --- placeholders ---------------------------------------------------------------------------

_PLACEHOLDER_WORDS = frozenset(
    {
        "changeme",
        "change_me",
        "change-me",
        "changeit",
        "replaceme",
        "replace_me",
        "replace-me",
        "password",
        "passw0rd",
        "passwd",
        "pass",
        "secret",
        "token",
        "apikey",
        "api_key",
        "api-key",
        "key",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "example",
        "sample",
        "dummy",
        "test",
        "testing",
        "placeholder",
        "todo",
        "tbd",
        "fixme",
        "redacted",
        "masked",
        "hidden",
        "default",
        "empty",
        "value",
        "foo",
        "bar",
        "baz",
        "foobar",
        "secretpassword",
        "mypassword",
        "yourpassword",
        "mysecret",
        "yoursecret",
        "mytoken",
        "yourtoken",
        "n/a",
    }
)

# Substrings that mark a value as a stand-in whatever surrounds them.
_PLACEHOLDER_PARTS = (
    "changeme",
    "change_me",
    "change-me",
    "replace_me",
    "replaceme",
    "replace-me",
    "placeholder",
    "example",
    "dummy",
    "redacted",
    "notreal",
    "not_real",
    "not-real",
    "not-a-real",
    "fake_",
    "fake-",
    "insert_",
    "insert-",
    "<your",
    "your_",
    "your-",
    "your.",
)

_TEMPLATE_RE = re.compile(
    r"""
      \$\{.*\}                 # ${VAR}, ${{ secrets.X }}
    | \$\(.*\)                 # $(cmd)
    | \{\{.*\}\}               # {{ .Values.x }}, Jinja
    | \{%.*%\}
    | ^\$[A-Za-z_][A-Za-z0-9_]*$        # $VAR
    | ^%[A-Za-z_][A-Za-z0-9_]*%$        # %VAR%
    | ^@[A-Za-z_][A-Za-z0-9_.]*@$       # @VAR@
    | ^<[^<>]*>$                        # <token>
    | ^\#\{.*\}$                        # #{var}
    | ^\{[A-Za-z0-9_.]*\}$              # {0}, {token}
    | ^%[-+ #0]*\d*(?:\.\d+)?[sdrvqx]$  # printf verbs
    | ^(?:var|local|data|module|each)\.[\w.\[\]"'-]+$    # Terraform references
    | ^random_password\.[\w.\[\]-]+$
    | ^(?:ENC|AGE|SOPS)\[.*\]$          # SOPS-encrypted values
    """,
    re.VERBOSE | re.DOTALL,
)

_YOUR_HERE_RE = re.compile(r"^(?:your|my|insert|enter|put|add)[-_ .]?.*(?:here|goes_here)$")
# Characters used to pad a placeholder: a long run of one of them is never random.
_PAD_RUN_RE = re.compile(r"([xX*0#.•?_-])\1{5,}")
_SEQUENTIAL = (
    "0123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
)


def _is_sequential(value: str) -> bool:
    body = value.rstrip("=")
    if len(body) < 8:
        return False
    return any(seq[i : i + 8] in body for seq in _SEQUENTIAL for i in range(len(seq) - 7))


def is_placeholder(value: str) -> bool:
    """A stand-in rather than a credential: empty/short, a template or reference
    (``${VAR}``, ``$(cmd)``, ``{{ .Values.x }}``, ``<token>``, ``var.x``), a well-known dummy
    word (``changeme``, ``REPLACE_ME``, ``your-token-here``) or padding (``xxxx``, ``****``,
    ``0000``)."""
    v = value.strip().strip("\"'`").strip()
    if len(v) < MIN_LENGTH:
        return True
    low = v.lower()
    if low in _PLACEHOLDER_WORDS:
        return True
    if _TEMPLATE_RE.search(v):
        return True
    if any(part in low for part in _PLACEHOLDER_PARTS):
        return True
    if _YOUR_HERE_RE.match(low):
        return True
    if _PAD_RUN_RE.search(v):
        return True
    # One character dominating the value (``aaaaaaab``, ``ghp_0000…01``).
    top = Counter(v).most_common(1)[0][1]
    if len(v) >= 8 and top / len(v) >= 0.6:
        return True
    return _is_sequential(v)


# --- public documentation values ------------------------------------------------------------

_DOCUMENTATION_VALUES = frozenset(
    {
        # AWS documentation key pair
        "AKIAIOSFODNN7EXAMPLE",
        "ASIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        # The jwt.io sample token
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiw"
        "iaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        # The Azurite / Azure Storage Emulator development account key
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        # Stripe API reference test keys
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "pk_test_TYooMQauvdEDq54NiTphI7jx",
        "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
        # Slack API documentation tokens
        "xoxb-not-a-real-token-this-will-not-work",
        # GitHub documentation placeholders
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "gho_16C7e42F292c6912E7710c838347Ae178B4a",
        # Kubernetes documentation bootstrap tokens (TLS bootstrapping, kubeadm configuration)
        "07401b.f395accd246ae52d",
        "9a08jv.c0izixklcxtmnze7",
        "783bde.3f89s0fje9f38fhf",
    }
)

# Public example values recognisable by shape: AWS's ``…EXAMPLE`` keys, the Azurite account name.
_DOCUMENTATION_RE = re.compile(r"EXAMPLE(?:KEY)?$|^devstoreaccount1$|/XXXXXXXX")


def _jwt_is_jwt_io_sample(value: str) -> bool:
    parts = value.split(".")
    if len(parts) != 3 or not value.startswith("eyJ"):
        return False
    try:
        raw = parts[1] + "=" * (-len(parts[1]) % 4)
        payload = json.loads(base64.urlsafe_b64decode(raw))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    # Every revision of the jwt.io debugger sample is issued to "John Doe".
    return (
        isinstance(payload, dict)
        and payload.get("name") == "John Doe"
        and str(payload.get("sub")) == "1234567890"
    )


def is_documentation_example(value: str) -> bool:
    """An exact, publicly documented sample credential (AWS ``…EXAMPLE`` keys, the jwt.io token,
    the Azurite development key, Stripe/Slack/GitHub documentation tokens, Kubernetes
    documentation bootstrap tokens)."""
    v = value.strip()
    if v in _DOCUMENTATION_VALUES:
        return True
    if _DOCUMENTATION_RE.search(v):
        return True
    return _jwt_is_jwt_io_sample(v)


# --- benign identifiers -----------------------------------------------------------------------

_BENIGN_RE = re.compile(
    r"""^(?:
        [0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}   # UUID
      | [0-9a-f]{32} | [0-9A-F]{32}                                   # md5-like
      | [0-9a-f]{40} | [0-9A-F]{40}                                   # sha1 / git SHA
      | [0-9a-f]{64} | [0-9A-F]{64}                                   # sha256
      | [0-9a-f]{128}                                                 # sha512
      | (?:sha1|sha224|sha256|sha384|sha512|md5|blake2b|blake3):[0-9a-fA-F]{32,128}  # digests
      | (?:sha256|sha384|sha512)-[A-Za-z0-9+/]{43,86}={0,2}         # SRI integrity
      | [\w.\-/]*@sha256:[0-9a-f]{64}                                 # image@digest
    )$""",
    re.VERBOSE,
)


def is_benign(value: str) -> bool:
    """An identifier, not a credential: a UUID, a hex digest of 32/40/64/128 characters (md5,
    git SHA, sha256), an ``algo:hex`` digest or an SRI hash."""
    return bool(_BENIGN_RE.match(value.strip()))
