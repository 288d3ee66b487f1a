"""The shapes shared by the secret scanner's parts."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.finding import Severity


@dataclass(frozen=True, slots=True)
class Family:
    """A kind of credential: ``id`` becomes the rule id ``secret/<id>``."""

    id: str  # e.g. "github-pat-classic"
    title: str  # e.g. "GitHub personal access token (classic)"
    severity: Severity = Severity.ERROR


@dataclass(frozen=True, slots=True)
class Hit:
    """One secret in a text. ``value`` is the secret itself: it must never be printed, logged
    or put in a finding; reporters get a redacted form (``bot.analyzers.secrets.redact``)."""

    family: Family
    value: str
    start: int  # offset of the secret in the scanned text
    end: int
    encrypted: bool = False  # a passphrase-protected private key: reported at lower severity
    key: str | None = None  # the key or variable name it was assigned to, when known


@dataclass(frozen=True, slots=True)
class FileHit:
    """A hit placed in a file: 1-based line and column of the secret's first character."""

    family: Family
    value: str
    line: int
    column: int
    end_line: int
    encrypted: bool = False
    key: str | None = None
    # The resource the secret sits in, when it is inside a Kubernetes document.
    api_version: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
