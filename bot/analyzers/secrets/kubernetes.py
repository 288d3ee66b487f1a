"""Kubernetes- and GitOps-aware secret detection.

- A core ``v1`` ``Secret``: one finding per ``data`` (base64, decoded within a bound) or
  ``stringData`` key, at the line of that key's value, unless the value is empty, templated, a
  placeholder or public material. The decoded value is scanned by ``families`` too: a base64
  PEM key is reported as a private key, not as a generic Secret value.
- ``.dockerconfigjson`` / ``.dockercfg`` (and a Docker ``config.json``): ``auths.*.auth`` and
  passwords/tokens are credentials, ``credHelpers``/``credsStore`` are references.
- kubeconfig (``kind: Config``): ``users[].user`` ``client-key-data``, ``token``, ``password``
  and auth-provider secrets are credentials; ``exec`` plugins are references and the
  certificate fields are public.
- The right way to keep secrets in Git never produces a finding: ``SealedSecret``,
  ``ExternalSecret`` and secret stores, ``SecretProviderClass``, Vault operator objects and
  Vault agent annotations (``never_document``/``public_spans`` give the caller the text ranges
  to suppress text-level hits in).
- SOPS-encrypted files produce no finding except a value that the file's own rules say should
  be encrypted, is not, and looks like a credential (``sops-unencrypted-value``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.analyzers.secrets import families, generic, placeholders
from bot.analyzers.secrets.generic import DocText, mapping_get, scalar_hit, word_list
from bot.analyzers.secrets.model import Family, Hit
from bot.core.document import Document

KUBERNETES_SECRET = Family("kubernetes-secret", "Value of a Kubernetes Secret")
DOCKER_CONFIG_AUTH = Family("docker-config-auth", "Container registry credentials (Docker config)")
KUBECONFIG_CREDENTIAL = Family("kubeconfig-credential", "kubeconfig user credential")
SOPS_UNENCRYPTED = Family("sops-unencrypted-value", "Unencrypted value in a SOPS-encrypted file")
FAMILIES: tuple[Family, ...] = (
    KUBERNETES_SECRET,
    DOCKER_CONFIG_AUTH,
    KUBECONFIG_CREDENTIAL,
    SOPS_UNENCRYPTED,
)

MAX_DECODED_BYTES = 64 * 1024
_MAX_ENCODED_CHARS = (MAX_DECODED_BYTES // 3 + 1) * 4 + 64  # some room for line breaks

# Objects that keep secrets out of Git (encrypted or referenced): never findings.
NEVER_KINDS = frozenset(
    {
        "SealedSecret",
        "ExternalSecret",
        "ClusterExternalSecret",
        "SecretStore",
        "ClusterSecretStore",
        "PushSecret",
        "SecretProviderClass",
        "SecretProviderClassPodStatus",
        "VaultStaticSecret",
        "VaultDynamicSecret",
        "VaultPKISecret",
        "VaultAuth",
        "VaultConnection",
        "SopsSecret",
        "OnePasswordItem",
    }
)
# Secret keys that hold connection settings, not credentials (unless a family matches).
_PLAIN_SECRET_KEYS = frozenset(
    word_list(
        """username user login email host hostname server port database db dbname namespace region
    endpoint url uri scheme driver sslmode type ca.crt tls.crt ca-bundle.crt ssh-publickey
    known_hosts"""
    )
)
_PUBLIC_SUFFIXES = (".crt", ".cer", ".pub")
_PUBLIC_MATERIAL = re.compile(
    r"-----BEGIN (?:CERTIFICATE|PUBLIC KEY|RSA PUBLIC KEY|X509 CRL|CERTIFICATE REQUEST|"
    r"PGP PUBLIC KEY BLOCK|TRUSTED CERTIFICATE)-----"
    r"|^(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-\S+|sk-ssh-\S+|sk-ecdsa-\S+) AAAA"
    r"|^age1[0-9a-z]{20,}$",
    re.MULTILINE,
)
_PRIVATE_MATERIAL = re.compile(r"PRIVATE KEY|OPENSSH PRIVATE|PGP PRIVATE")
_ENC_VALUE = "ENC[AES256_GCM,"
_DOCKER_KEYS = (".dockerconfigjson", ".dockercfg")


def never_document(doc: Document) -> bool:
    """A document that keeps secrets out of Git: never a finding, nor text hits inside it."""
    kind = doc.kind
    if kind is None:
        return False
    if kind == "SealedSecret":
        return True
    return kind in NEVER_KINDS


def is_core_secret(doc: Document) -> bool:
    return doc.kind == "Secret" and doc.api_version == "v1"


def is_kubeconfig(doc: Document) -> bool:
    return doc.kind == "Config" and isinstance(doc.data, dict) and "users" in doc.data


def public_spans(root: Node, dt: DocText) -> list[tuple[int, int]]:
    """Text ranges of public material and references (``caBundle``, certificate data, Vault
    agent annotations) inside a document."""
    spans: list[tuple[int, int]] = []
    for key, value in _pairs(root):
        if key in generic.PUBLIC_KEYS or key.startswith(generic.VAULT_ANNOTATION_PREFIX):
            spans.append(dt.span(value))
    return spans


def _pairs(node: Node, depth: int = 0) -> Iterator[tuple[str, Node]]:
    if depth > 100:
        return
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode):
                yield key_node.value, value_node
            yield from _pairs(value_node, depth + 1)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _pairs(item, depth + 1)


# ---------------------------------------------------------------------------------------------
# Values


def decode_base64(value: str) -> bytes | None:
    """The bytes of a base64 value, or None when it is not base64 or over the bound."""
    compact = "".join(value.split())
    if not compact or len(compact) > _MAX_ENCODED_CHARS:
        return None
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        try:
            decoded = base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
        except (binascii.Error, ValueError):
            return None
    return decoded if len(decoded) <= MAX_DECODED_BYTES else None


def _as_text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def is_public_material(text: str) -> bool:
    return bool(_PUBLIC_MATERIAL.search(text)) and not _PRIVATE_MATERIAL.search(text)


def _templated(text: str) -> bool:
    return "{{" in text or "${{" in text


def _ignorable(text: str) -> bool:
    value = text.strip()
    return (
        not value
        or _templated(value)
        or placeholders.is_placeholder(value)
        or placeholders.is_documentation_example(value)
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    family: Family
    encrypted: bool = False
    inner: Hit | None = None  # the family hit inside the value, when one matched


def judge_secret_value(key: str, text: str) -> Verdict | None:
    """Whether a Secret's (decoded) value is a credential, and which family."""
    if _ignorable(text) or is_public_material(text):
        return None
    hits = families.scan(text)
    if hits:
        return Verdict(hits[0].family, hits[0].encrypted, hits[0])
    lower = key.lower()
    if lower in _PLAIN_SECRET_KEYS or lower.endswith(_PUBLIC_SUFFIXES):
        return None
    if placeholders.is_benign(text.strip()) and generic.classify_key(key) is None:
        return None
    return Verdict(KUBERNETES_SECRET)


# ---------------------------------------------------------------------------------------------
# Secret


def scan_secret(doc: Document, root: Node, dt: DocText) -> list[Hit]:
    """One hit per credential key of a core v1 Secret's ``data`` and ``stringData``."""
    hits: list[Hit] = []
    for field in ("data", "stringData"):
        mapping = mapping_get(root, field)
        if not isinstance(mapping, MappingNode):
            continue
        for key_node, value_node in mapping.value:
            if not isinstance(key_node, ScalarNode) or not isinstance(value_node, ScalarNode):
                continue
            key: str = key_node.value
            if field == "data":
                hit = _data_value(key, value_node, dt)
            else:
                hit = _string_value(key, value_node, dt)
            if hit is not None:
                hits.append(hit)
    return hits


def _data_value(key: str, node: ScalarNode, dt: DocText) -> Hit | None:
    raw: str = node.value
    if not raw.strip() or _templated(raw):
        return None
    decoded = decode_base64(raw)
    text = _as_text(decoded) if decoded is not None else raw
    if key in _DOCKER_KEYS and text is not None:
        return _docker_blob(text, node, dt)
    if text is None:  # binary (a keystore, a DER key): Secret material all the same
        lower = key.lower()
        if lower in _PLAIN_SECRET_KEYS or lower.endswith(_PUBLIC_SUFFIXES):
            return None
        start = dt.place(node)
        return Hit(KUBERNETES_SECRET, raw, start, dt.value_end(node, start), key=key)
    verdict = judge_secret_value(key, text)
    if verdict is None:
        return None
    start = dt.place(node)
    # The decoded credential is the secret: its fingerprint matches the same value elsewhere.
    value = verdict.inner.value if verdict.inner is not None else text
    return Hit(
        verdict.family,
        value,
        start,
        dt.value_end(node, start),
        encrypted=verdict.encrypted,
        key=key,
    )


def _string_value(key: str, node: ScalarNode, dt: DocText) -> Hit | None:
    text: str = node.value
    if key in _DOCKER_KEYS:
        return _docker_literal(text, node, dt)
    verdict = judge_secret_value(key, text)
    if verdict is None:
        return None
    if verdict.inner is not None:
        inner = verdict.inner
        start = dt.place(node, inner.start, inner.end)
        return Hit(
            verdict.family,
            inner.value,
            start,
            start + len(inner.value),
            encrypted=verdict.encrypted,
            key=key,
        )
    if "\n" in text.strip():
        # A config file: point at its first credential assignment when there is one.
        span = dt.span(node)
        embedded = generic.scan_assignments(dt.index.text, "embedded", *span)
        if embedded:
            first = embedded[0]
            return Hit(verdict.family, first.value, first.start, first.end, key=key)
    start = dt.place(node, len(text) - len(text.lstrip()))
    return Hit(verdict.family, text, start, dt.value_end(node, start), key=key)


# ---------------------------------------------------------------------------------------------
# Docker config


def docker_credentials(config: Any) -> list[str]:
    """Credentials in a Docker config (``config.json`` or legacy ``.dockercfg``): each
    ``auths.*.auth`` with a non-empty password, and each ``password``/``identitytoken``."""
    if not isinstance(config, dict):
        return []
    registries = config.get("auths") if "auths" in config else config
    if not isinstance(registries, dict):
        return []
    found: list[str] = []
    for entry in registries.values():
        if not isinstance(entry, dict):
            continue
        for field in ("auth", "password", "identitytoken", "registrytoken"):
            value = entry.get(field)
            if isinstance(value, str) and _docker_credential(field, value):
                found.append(value)
    return found


def _docker_credential(field: str, value: str) -> bool:
    if _ignorable(value):
        return False
    if field != "auth":
        return True
    decoded = decode_base64(value)
    text = _as_text(decoded) if decoded is not None else None
    if text is None or ":" not in text:
        return not _ignorable(value)  # not user:password: opaque, treat as a credential
    password = text.split(":", 1)[1]
    return not _ignorable(password)


def _docker_family(credential: str) -> tuple[Family, bool]:
    decoded = decode_base64(credential)
    text = _as_text(decoded) if decoded is not None else None
    candidates = [credential] + ([text.split(":", 1)[1]] if text and ":" in text else [])
    for candidate in candidates:
        hits = families.scan(candidate)
        if hits:
            return hits[0].family, hits[0].encrypted
    return DOCKER_CONFIG_AUTH, False


def _docker_blob(text: str, node: ScalarNode, dt: DocText) -> Hit | None:
    """A base64 ``.dockerconfigjson``: one hit at the value (it is a single token in the
    file), for the first credential inside it."""
    try:
        config = json.loads(text)
    except ValueError:
        verdict = judge_secret_value(".dockerconfigjson", text)
        if verdict is None:
            return None
        start = dt.place(node)
        return Hit(verdict.family, text, start, dt.value_end(node, start))
    credentials = docker_credentials(config)
    if not credentials:
        return None
    family, encrypted = _docker_family(credentials[0])
    start = dt.place(node)
    return Hit(family, credentials[0], start, dt.value_end(node, start), encrypted=encrypted)


def _docker_literal(text: str, node: ScalarNode, dt: DocText) -> Hit | None:
    try:
        config = json.loads(text)
    except ValueError:
        return None
    credentials = docker_credentials(config)
    if not credentials:
        return None
    first = credentials[0]
    family, encrypted = _docker_family(first)
    inner = text.find(first)
    start = dt.place(node, max(inner, 0), max(inner, 0) + len(first))
    return Hit(family, first, start, start + len(first), encrypted=encrypted, key="auth")


def scan_docker_config(root: Node, dt: DocText) -> list[Hit]:
    """A Docker ``config.json`` document (top-level ``auths``)."""
    auths = mapping_get(root, "auths")
    if not isinstance(auths, MappingNode):
        return []
    hits: list[Hit] = []
    for _, entry in auths.value:
        if not isinstance(entry, MappingNode):
            continue
        for key_node, value_node in entry.value:
            field = key_node.value if isinstance(key_node, ScalarNode) else None
            if field not in ("auth", "password", "identitytoken", "registrytoken"):
                continue
            if (
                isinstance(value_node, ScalarNode)
                and isinstance(value_node.value, str)
                and _docker_credential(field, value_node.value)
            ):
                family, encrypted = _docker_family(value_node.value)
                hit = scalar_hit(dt, value_node, family, field)
                hits.append(Hit(hit.family, hit.value, hit.start, hit.end, encrypted, key=field))
    return hits


# ---------------------------------------------------------------------------------------------
# kubeconfig

_KUBECONFIG_SECRETS = {
    "token": generic.GENERIC_TOKEN,
    "password": generic.GENERIC_PASSWORD,
}


# A kubeadm bootstrap token, ``<token-id>.<token-secret>``: lower case and digits only, which
# the generic value rules take for a resource name.
_BOOTSTRAP_TOKEN = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")


def is_bootstrap_token(value: str) -> bool:
    v = value.strip()
    return (
        _BOOTSTRAP_TOKEN.fullmatch(v) is not None
        and not _ignorable(v)
        and placeholders.shannon_entropy(v) >= 3.0
    )


def scan_kubeconfig(root: Node, dt: DocText) -> list[Hit]:
    users = mapping_get(root, "users")
    if not isinstance(users, SequenceNode):
        return []
    hits: list[Hit] = []
    for item in users.value:
        user = mapping_get(item, "user")
        if not isinstance(user, MappingNode):
            continue
        for key_node, value_node in user.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else ""
            if key == "auth-provider":
                hits.extend(_auth_provider(value_node, dt))
            if not isinstance(value_node, ScalarNode) or not isinstance(value_node.value, str):
                continue  # exec: a plugin that fetches the credential, a reference
            hit = _kubeconfig_value(key, value_node, dt)
            if hit is not None:
                hits.append(hit)
    return hits


def _kubeconfig_value(key: str, node: ScalarNode, dt: DocText) -> Hit | None:
    value: str = node.value
    if key == "client-key-data":
        decoded = decode_base64(value)
        text = _as_text(decoded) if decoded is not None else None
        if text is None or _ignorable(text) or is_public_material(text):
            return None if text is not None else _kubeconfig_hit(node, dt, KUBECONFIG_CREDENTIAL)
        found = families.scan(text)
        if found:
            return _kubeconfig_hit(node, dt, found[0].family, found[0].encrypted, found[0].value)
        return _kubeconfig_hit(node, dt, KUBECONFIG_CREDENTIAL, value=text)
    if key == "token" and is_bootstrap_token(value):
        return _kubeconfig_hit(node, dt, KUBECONFIG_CREDENTIAL)
    generic_family = _KUBECONFIG_SECRETS.get(key)
    if generic_family is None or not generic.is_credential_value(generic_family, value):
        return None
    found = families.scan(value)
    if found:
        return _kubeconfig_hit(node, dt, found[0].family, found[0].encrypted)
    return _kubeconfig_hit(node, dt, KUBECONFIG_CREDENTIAL)


def _kubeconfig_hit(
    node: ScalarNode,
    dt: DocText,
    family: Family,
    encrypted: bool = False,
    value: str | None = None,
) -> Hit:
    start = dt.place(node)
    return Hit(
        family,
        node.value if value is None else value,
        start,
        dt.value_end(node, start),
        encrypted=encrypted,
    )


def _auth_provider(node: Node, dt: DocText) -> list[Hit]:
    config = mapping_get(node, "config")
    if not isinstance(config, MappingNode):
        return []
    hits: list[Hit] = []
    for key_node, value_node in config.value:
        if not isinstance(key_node, ScalarNode) or not isinstance(value_node, ScalarNode):
            continue
        family = generic.classify_key(key_node.value)
        if family is not None and generic.is_credential_value(family, value_node.value):
            hits.append(scalar_hit(dt, value_node, KUBECONFIG_CREDENTIAL, key_node.value))
    return hits


# ---------------------------------------------------------------------------------------------
# SOPS


@dataclass(frozen=True, slots=True)
class SopsRules:
    """Which keys a SOPS file encrypts (sops' ``--unencrypted-suffix`` and friends)."""

    unencrypted_suffix: str | None = "_unencrypted"
    encrypted_suffix: str | None = None
    unencrypted_regex: re.Pattern[str] | None = None
    encrypted_regex: re.Pattern[str] | None = None

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> SopsRules:
        def text(name: str) -> str | None:
            value = meta.get(name)
            return value if isinstance(value, str) and value else None

        def pattern(name: str) -> re.Pattern[str] | None:
            value = text(name)
            if value is None:
                return None
            try:
                return re.compile(value)
            except re.error:
                return None

        encrypted_suffix = text("encrypted_suffix")
        unencrypted_regex = pattern("unencrypted_regex")
        encrypted_regex = pattern("encrypted_regex")
        unencrypted_suffix = text("unencrypted_suffix")
        if unencrypted_suffix is None and not (
            encrypted_suffix or unencrypted_regex or encrypted_regex
        ):
            unencrypted_suffix = "_unencrypted"
        return cls(unencrypted_suffix, encrypted_suffix, unencrypted_regex, encrypted_regex)

    def should_encrypt(self, keys: list[str]) -> bool:
        if self.unencrypted_suffix and any(k.endswith(self.unencrypted_suffix) for k in keys):
            return False
        if self.unencrypted_regex and any(self.unencrypted_regex.search(k) for k in keys):
            return False
        if self.encrypted_regex is not None:
            return any(self.encrypted_regex.search(k) for k in keys)
        if self.encrypted_suffix is not None:
            return any(k.endswith(self.encrypted_suffix) for k in keys)
        return True


def sops_metadata(data: Any) -> dict[str, Any] | None:
    """The top-level ``sops`` mapping of an encrypted document, else None."""
    if not isinstance(data, dict):
        return None
    meta = data.get("sops")
    if isinstance(meta, dict) and "mac" in meta and ("lastmodified" in meta or "version" in meta):
        return meta
    return None


def has_encrypted_values(data: Any, depth: int = 0) -> bool:
    """Any ``ENC[AES256_GCM,...]`` value in a document."""
    if depth > 100:
        return False
    if isinstance(data, str):
        return data.startswith(_ENC_VALUE)
    if isinstance(data, dict):
        return any(has_encrypted_values(v, depth + 1) for v in data.values())
    if isinstance(data, list):
        return any(has_encrypted_values(v, depth + 1) for v in data)
    return False


def scan_sops_document(doc: Document, root: Node, dt: DocText, rules: SopsRules) -> list[Hit]:
    """Values of a SOPS-encrypted document that should be encrypted, are not, and look like
    credentials."""
    secret = is_core_secret(doc)
    hits: list[Hit] = []
    for path, parent, node in _leaves(root):
        if path and path[0] == "sops":
            continue
        value = node.value
        if not isinstance(value, str) or value.startswith("ENC[") or not value.strip():
            continue
        keys = [p for p in path if isinstance(p, str)]
        if not rules.should_encrypt(keys):
            continue
        key = keys[-1] if keys else ""
        if key == "value" and parent is not None:
            name = mapping_get(parent, "name")
            if isinstance(name, ScalarNode) and isinstance(name.value, str):
                key = name.value
        if _sops_credential(key, value, secret and len(path) == 2 and path[0], node):
            hits.append(scalar_hit(dt, node, SOPS_UNENCRYPTED, key))
    return hits


def _sops_credential(key: str, value: str, secret_field: Any, node: ScalarNode) -> bool:
    if secret_field in ("data", "stringData"):
        text = value
        if secret_field == "data":
            decoded = decode_base64(value)
            text = (_as_text(decoded) if decoded is not None else None) or value
        return judge_secret_value(key, text) is not None
    if families.scan(value):
        return True
    family = generic.classify_key(key)
    return (
        family is not None
        and node.tag.endswith((":str", ":int"))
        and generic.is_credential_value(family, value)
    )


def _leaves(
    node: Node,
    path: tuple[str | int, ...] = (),
    parent: MappingNode | None = None,
    depth: int = 0,
) -> Iterator[tuple[tuple[str | int, ...], MappingNode | None, ScalarNode]]:
    if depth > 100:
        return
    if isinstance(node, ScalarNode):
        yield path, parent, node
    elif isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode):
                yield from _leaves(value_node, (*path, key_node.value), node, depth + 1)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield from _leaves(item, (*path, i), None, depth + 1)


_SOPS_DOTENV = re.compile(r"^sops_(?:mac|version|lastmodified)=", re.MULTILINE)
_SOPS_INI = re.compile(r"^\[sops\][ \t]*$", re.MULTILINE)
_SOPS_LINE_KEY = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][\w.\-]*)[ \t]*[=:]", re.MULTILINE)


def is_sops_text(text: str) -> bool:
    """A dotenv or INI file encrypted by SOPS (its metadata lives in ``sops_*`` lines or a
    ``[sops]`` section)."""
    if len(_SOPS_DOTENV.findall(text)) >= 2 and "sops_mac=" in text:
        return True
    return bool(_SOPS_INI.search(text)) and re.search(r"^mac[ \t]*=", text, re.M) is not None


def sops_text_rules(text: str) -> SopsRules:
    meta: dict[str, Any] = {"mac": ""}
    for match in re.finditer(r"^sops_(\w+)=(.*)$", text, re.MULTILINE):
        meta[match.group(1)] = match.group(2).strip()
    return SopsRules.from_metadata(meta)


def scan_sops_text(text: str, dialect: generic.Dialect) -> list[Hit]:
    """Credential assignments of a SOPS dotenv/INI file that should be encrypted and are not."""
    rules = sops_text_rules(text)
    in_sops_section = _sops_section_ranges(text)
    hits: list[Hit] = []
    candidates = generic.scan_assignments(text, dialect) + families.scan(text)
    for hit in candidates:
        if any(start <= hit.start < end for start, end in in_sops_section):
            continue
        line_start = text.rfind("\n", 0, hit.start) + 1
        match = _SOPS_LINE_KEY.match(text, line_start)
        key = match.group(1) if match else (hit.key or "")
        if key.startswith("sops_") or hit.value.startswith("ENC["):
            continue
        if "ENC[" in text[line_start : hit.start]:
            continue
        if rules.should_encrypt([key]):
            hits.append(Hit(SOPS_UNENCRYPTED, hit.value, hit.start, hit.end, key=key))
    return hits


def _sops_section_ranges(text: str) -> list[tuple[int, int]]:
    found = _SOPS_INI.search(text)
    if found is None:
        return []
    following = re.compile(r"^\[[^\]]+\][ \t]*$", re.MULTILINE).search(text, found.end())
    return [(found.start(), following.start() if following else len(text))]
