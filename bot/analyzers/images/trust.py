"""Signature rules (from the base branch's config or the App's settings, never the PR head) and
the verdicts the verifier (``bot.engines.image_verify``) returns for the analyzer to report."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum


class OnUnverifiable(StrEnum):
    """What "could not verify" (registry down, timeout, auth refused) becomes."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class SignatureRule:
    # Globs on the normalised repository ("ghcr.io/acme/*", "docker.io/library/nginx",
    # "registry.example.com:5000/**"): "*" stays within one path segment, "**" crosses them.
    match: tuple[str, ...]
    keys: tuple[str, ...]  # PEM public keys (PKIX "PUBLIC KEY")
    required: bool = True
    on_unverifiable: OnUnverifiable = OnUnverifiable.ERROR
    # Where the signatures live when not beside the image (cosign's COSIGN_REPOSITORY).
    signature_repository: str | None = None
    name: str = ""  # for messages: the config key path of the rule

    def fingerprint(self) -> str:
        """Hash of everything that decides a verdict: the cache key's second half."""
        parts = [*self.match, "\0", *self.keys, "\0", self.signature_repository or ""]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class VerdictStatus(StrEnum):
    VERIFIED = "verified"
    UNSIGNED = "unsigned"  # no signature in any known format
    INVALID = "invalid"  # signatures exist, none verifies with a trusted key
    UNVERIFIABLE = "unverifiable"  # registry unreachable, timeout, auth refused, bad response


@dataclass(frozen=True, slots=True)
class SignatureVerdict:
    image: str  # the reference as written in the manifest
    rule: SignatureRule
    status: VerdictStatus
    detail: str  # the precise reason, for the finding's message
    digest: str | None = None  # the digest that was verified ("sha256:<hex>")
    signature_format: str | None = None  # "legacy" (.sig tag) or "bundle" (v3 referrer)
    cached: bool = False
