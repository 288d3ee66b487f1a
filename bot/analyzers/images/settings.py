"""The ``images:`` section of the repository config.

```yaml
images:
  allowed_registries: ["ghcr.io/acme", "registry.k8s.io"]  # empty: every registry is allowed
  denied_registries: ["docker.io"]                         # deny wins over allow
  require_digest: false   # true: a tag without a digest is an error (environments: per path)
  latest: error           # ":latest" or no tag at all: error | warning | notice | off
  signatures:
    - match: ["ghcr.io/acme/**"]         # repository globs
      keys: ["-----BEGIN PUBLIC KEY-----\\n..."]   # PEM public keys, and/or
      key_files: [".github/cosign.pub"]  # files read from the trusted (base) tree
      required: true                     # unsigned / bad signature: error (false: warning)
      on_unverifiable: error             # registry down, timeout...: error | warning
      signature_repository: ghcr.io/acme/signatures   # cosign's COSIGN_REPOSITORY
```

Globs (both lists and ``match``) are matched against the normalised repository name
(``nginx`` is ``docker.io/library/nginx``): ``*`` is any run of characters except ``/``,
``**`` any run including ``/``, ``?`` one character except ``/``; everything else is literal
(``[`` too, for IPv6 registries). Host names are compared case-insensitively.

- A registry list entry covers the name it matches and everything below it: ``docker.io``
  covers all of Docker Hub, ``ghcr.io/acme`` covers ``ghcr.io/acme/api`` and
  ``ghcr.io/acme/team/api``, ``ghcr.io/acme/*`` covers ``ghcr.io/acme/api`` and below.
- A signature ``match`` glob must match the whole name (as sigstore's policy-controller):
  ``ghcr.io/acme/*`` is one level below ``acme``, ``ghcr.io/acme/**`` any depth.

A signature rule that cannot be honoured (no usable key, keyless only) is dropped, and the
config finding that says so is an error when the rule is ``required``: the check then fails
on the config error, never silently passes images nobody verified.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from bot.analyzers.images.reference import ImageReference, parse_reference, show
from bot.analyzers.images.reference import ReferenceError as ImageReferenceError
from bot.analyzers.images.trust import OnUnverifiable, SignatureRule
from bot.configreader import Reader, off
from bot.core.document import FieldPath, format_path
from bot.core.finding import Severity

__all__ = ["LATEST_WORDS", "ImagesConfig", "glob_matches", "parse_images_config"]

LATEST_WORDS = ("error", "warning", "notice", "off")
_KEYS = ("allowed_registries", "denied_registries", "require_digest", "latest", "signatures")
_RULE_KEYS = (
    "match",
    "keys",
    "key_files",
    "required",
    "on_unverifiable",
    "signature_repository",
    "keyless",
)
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
_KEY_TYPES = (ec.EllipticCurvePublicKey, rsa.RSAPublicKey, ed25519.Ed25519PublicKey)
_MAX_KEY_FILE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ImagesConfig:
    allowed_registries: tuple[str, ...] = ()
    denied_registries: tuple[str, ...] = ()
    require_digest: bool = False
    latest: str = "error"  # a severity, or "off": ":latest" is then judged as any other tag
    signature_rules: tuple[SignatureRule, ...] = field(default=())

    def denied_by(self, ref: ImageReference) -> str | None:
        """The ``denied_registries`` entry that covers ``ref``, if any."""
        return next((p for p in self.denied_registries if _covers(p, ref.match_name)), None)

    def allowed(self, ref: ImageReference) -> bool:
        """Covered by ``allowed_registries`` (all are, when the list is empty)."""
        return not self.allowed_registries or any(
            _covers(p, ref.match_name) for p in self.allowed_registries
        )

    def permitted(self, ref: ImageReference) -> bool:
        """Allowed and not denied: the only images whose registries we ever contact."""
        return self.allowed(ref) and self.denied_by(ref) is None

    def rules_for(self, ref: ImageReference) -> tuple[SignatureRule, ...]:
        """Every signature rule whose ``match`` covers ``ref``; each must pass."""
        return tuple(
            rule
            for rule in self.signature_rules
            if any(glob_matches(p, ref.match_name) for p in rule.match)
        )


def glob_matches(pattern: str, name: str) -> bool:
    """Whole-name match: ``*`` within a path segment, ``**`` across segments."""
    return _compiled(pattern, False).fullmatch(name) is not None


def _covers(pattern: str, name: str) -> bool:
    """Registry-list match: the glob matches ``name`` or one of its leading segments."""
    return _compiled(pattern, True).fullmatch(name) is not None


@lru_cache(maxsize=1024)
def _compiled(pattern: str, below: bool) -> re.Pattern[str]:
    out = []
    i = 0
    text = pattern.lower()
    while i < len(text):
        if text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(out) + ("(?:/.*)?" if below else ""), re.DOTALL)


def parse_images_config(
    reader: Reader, value: Any, read_file: Callable[[str], bytes | None]
) -> ImagesConfig:
    """The ``images:`` section; every bad key or value becomes a config finding at its line.

    ``read_file`` reads a ``key_files`` entry from the trusted tree (the base branch), never
    from the change being checked; it returns None when there is no such file.
    """
    where: FieldPath = ("images",)
    data = reader.mapping(value, where, _KEYS)
    return ImagesConfig(
        allowed_registries=_patterns(
            reader, data.get("allowed_registries"), (*where, "allowed_registries")
        ),
        denied_registries=_patterns(
            reader, data.get("denied_registries"), (*where, "denied_registries")
        ),
        require_digest=reader.boolean(
            data.get("require_digest"), (*where, "require_digest"), False
        ),
        latest=reader.choice(off(data.get("latest")), (*where, "latest"), LATEST_WORDS, "error"),
        signature_rules=_rules(reader, data.get("signatures"), (*where, "signatures"), read_file),
    )


def _patterns(reader: Reader, value: Any, where: FieldPath) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        reader.invalid(where, value, "a list of repository globs")
        return ()
    out: list[str] = []
    for index, item in enumerate(items):
        item_where = (*where, index) if not isinstance(value, str) else where
        problem = _pattern_problem(item)
        if problem:
            reader.problem(
                item_where, "config/invalid-value", f"{format_path(item_where)}: {problem}"
            )
        else:
            out.append(item.strip().lower())
    return tuple(out)


def _pattern_problem(pattern: Any) -> str | None:
    if not isinstance(pattern, str) or not pattern.strip():
        return f'expected a repository glob such as "ghcr.io/acme/**", got {_show(pattern)}.'
    text = pattern.strip()
    if any(ch.isspace() for ch in text):
        return f"{show(text)} contains whitespace."
    if "://" in text:
        return f"{show(text)}: globs match repository names, which have no URL scheme."
    last = text.rsplit("/", 1)[-1]
    if "@" in text or ("/" in text and ":" in last):
        return (
            f"{show(text)}: globs match repository names, without a tag or digest "
            '(such as "ghcr.io/acme/api").'
        )
    return None


def _rules(
    reader: Reader,
    value: Any,
    where: FieldPath,
    read_file: Callable[[str], bytes | None],
) -> tuple[SignatureRule, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        reader.invalid(where, value, "a list of signature rules")
        return ()
    rules = []
    for index, item in enumerate(value):
        rule = _rule(reader, item, (*where, index), read_file)
        if rule is not None:
            rules.append(rule)
    return tuple(rules)


def _rule(
    reader: Reader, value: Any, where: FieldPath, read_file: Callable[[str], bytes | None]
) -> SignatureRule | None:
    name = format_path(where)
    if not isinstance(value, dict):
        reader.invalid(where, value, "a signature rule (a mapping with match and keys)")
        return None
    data = reader.mapping(value, where, _RULE_KEYS)
    required = reader.boolean(data.get("required"), (*where, "required"), True)
    dropped = Severity.ERROR if required else Severity.WARNING
    match = _patterns(reader, data.get("match"), (*where, "match"))
    raw_match = data.get("match")
    for index, pattern in enumerate(raw_match if isinstance(raw_match, list) else [raw_match]):
        if _pattern_problem(pattern) is None and "/" not in pattern and "**" not in pattern:
            pattern = pattern.strip().lower()
            at = (*where, "match", index) if isinstance(raw_match, list) else (*where, "match")
            reader.problem(
                at,
                "config/invalid-value",
                f'{name}.match: "{pattern}" matches no repository (a signature glob must match '
                f'the whole name, such as "{pattern}/**").',
                severity=Severity.WARNING,
            )
    on_unverifiable = reader.choice(
        data.get("on_unverifiable"),
        (*where, "on_unverifiable"),
        tuple(o.value for o in OnUnverifiable),
        "error" if required else "warning",
    )
    repository = _signature_repository(reader, data.get("signature_repository"), where)
    reported = len(reader.findings)
    keys = [
        *_inline_keys(reader, data.get("keys"), (*where, "keys")),
        *_file_keys(reader, data.get("key_files"), (*where, "key_files"), read_file),
    ]
    has_keyless = data.get("keyless") is not None
    if has_keyless:
        reader.problem(
            (*where, "keyless"),
            "config/not-supported",
            f"{name}: keyless verification (certificate identity and issuer) is not supported "
            + (
                "yet; this rule verifies with its keys only."
                if keys
                else "yet, so this rule is dropped and the images it matches are not verified."
            ),
            key=True,
            severity=Severity.WARNING if keys else dropped,
        )
    if not match:
        if "match" not in data:
            reader.problem(
                where,
                "config/invalid-value",
                f'{name} needs "match": the repository globs it applies to; the rule is dropped.',
                severity=dropped,
            )
        return None
    if not keys:
        if not has_keyless and len(reader.findings) == reported:
            reader.problem(
                where,
                "config/invalid-value",
                f'{name} has no "keys" or "key_files", so it cannot verify anything; '
                f"the images it matches ({', '.join(match)}) are not verified.",
                severity=dropped,
            )
        return None
    return SignatureRule(
        match=match,
        keys=tuple(dict.fromkeys(keys)),
        required=required,
        on_unverifiable=OnUnverifiable(on_unverifiable),
        signature_repository=repository,
        name=name,
    )


def _signature_repository(reader: Reader, value: Any, where: FieldPath) -> str | None:
    if value is None:
        return None
    at = (*where, "signature_repository")
    if not isinstance(value, str):
        reader.invalid(at, value, 'a repository name such as "ghcr.io/acme/signatures"')
        return None
    try:
        ref = parse_reference(value.strip())
    except ImageReferenceError as exc:
        reader.problem(at, "config/invalid-value", f"{format_path(at)}: {exc.reason}.")
        return None
    if ref.tag or ref.digest:
        reader.problem(
            at,
            "config/invalid-value",
            f"{format_path(at)}: a repository name, without tag or digest, such as "
            f'"{ref.familiar_name}".',
        )
        return None
    return ref.name


def _inline_keys(reader: Reader, value: Any, where: FieldPath) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        reader.invalid(where, value, "a list of PEM public keys")
        return []
    out: list[str] = []
    for index, item in enumerate(items):
        at = where if isinstance(value, str) else (*where, index)
        if not isinstance(item, str):
            reader.invalid(at, item, "a PEM public key (text)")
            continue
        keys, problem = public_keys(item)
        if problem:
            reader.problem(at, "config/invalid-value", f"{format_path(at)} {problem}")
        out.extend(keys)
    return out


def _file_keys(
    reader: Reader,
    value: Any,
    where: FieldPath,
    read_file: Callable[[str], bytes | None],
) -> list[str]:
    out: list[str] = []
    paths = reader.strings(value, where)
    for index, raw in enumerate(paths):
        at = where if isinstance(value, str) else (*where, index)
        path = posixpath.normpath(raw.strip()).removeprefix("./")
        if not raw.strip() or path.startswith(("/", "../")) or path == "..":
            reader.problem(
                at,
                "config/invalid-value",
                f'{format_path(at)}: key file "{raw}" must be a path inside the repository.',
            )
            continue
        content = read_file(path)
        if content is None:
            reader.problem(
                at,
                "config/invalid-value",
                f'{format_path(at)}: key file "{path}" was not found in the trusted tree (the base '
                "branch); add it there first, or give the key inline under keys.",
            )
            continue
        if len(content) > _MAX_KEY_FILE_BYTES:
            reader.problem(
                at,
                "config/invalid-value",
                f'{format_path(at)}: key file "{path}" is {len(content):,} bytes; a public key is '
                "well under 64 KiB.",
            )
            continue
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            reader.problem(
                at,
                "config/invalid-value",
                f'{format_path(at)}: key file "{path}" is not a PEM text file (not UTF-8).',
            )
            continue
        keys, problem = public_keys(text)
        if problem:
            reader.problem(
                at, "config/invalid-value", f'{format_path(at)}: key file "{path}" {problem}'
            )
        out.extend(keys)
    return out


def public_keys(text: str) -> tuple[list[str], str | None]:
    """The PEM public keys in ``text``, normalised, and what is wrong with the rest.

    Never quotes the text: a misplaced private key must not end up in a report.
    """
    blocks = list(_PEM_BLOCK.finditer(text))
    if not blocks:
        return [], 'is not a PEM public key (expected "-----BEGIN PUBLIC KEY-----").'
    keys: list[str] = []
    for number, block in enumerate(blocks, start=1):
        label = block.group(1)
        where = f"PEM block {number}" if len(blocks) > 1 else "the PEM block"
        if "PRIVATE KEY" in label:
            return [], (
                f"holds a private key ({where}). Remove it from the repository and rotate it; "
                "give the public key (cosign.pub) instead."
            )
        if label == "CERTIFICATE":
            return [], (
                f"holds a certificate ({where}), not a public key; extract the key with "
                '"openssl x509 -pubkey -noout -in cert.pem".'
            )
        if label != "PUBLIC KEY":
            return [], f'holds a "{label}" PEM block ({where}), not a "PUBLIC KEY".'
        try:
            key = serialization.load_pem_public_key(block.group(0).encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            return [], f"is not a valid public key ({where}): {_crypto_reason(exc)}."
        if not isinstance(key, _KEY_TYPES):
            return [], (
                f"holds an unsupported key type, {type(key).__name__} ({where}); cosign keys "
                "are ECDSA, RSA or Ed25519."
            )
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        keys.append(pem.decode("ascii"))
    return keys, None


def _crypto_reason(exc: Exception) -> str:
    # cryptography's messages run on with FAQ links and ASN.1 detail: the first sentence says it.
    text = str(exc).split(". ")[0].strip() or type(exc).__name__
    return text[:120]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
