"""The only form in which a secret leaves the scanner: family, a short prefix, the length and a
fingerprint. The prefix never exceeds a quarter of the value (at most 4 characters), so a short
password shows almost nothing."""

from __future__ import annotations

import hashlib


def value_fingerprint(value: str) -> str:
    """A stable, non-reversible id of the secret's value (SHA-256, first 16 hex digits)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def redacted(value: str) -> str:
    """``ghp_…`` style: a prefix of at most a quarter of the value, then an ellipsis."""
    shown = min(4, len(value) // 4)
    return value[:shown] + "…"


def describe(title: str, value: str) -> str:
    """The finding message: what it is and how to recognise it, never the value itself."""
    return (
        f"{title} in plain text: `{redacted(value)}` ({len(value)} characters, "
        f"value fingerprint {value_fingerprint(value)[:8]}). Store it encrypted (Sealed Secrets, "
        "SOPS) or reference it from a secret store (External Secrets, Vault), and rotate it: "
        "it is in the Git history now."
    )
