"""The one Finding type that flows from every analyzer to every reporter."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls(text.strip().lower())


_RANK = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.NOTICE: 1}


class Category(StrEnum):
    SYNTAX = "syntax"
    SCHEMA = "schema"
    POLICY = "policy"
    SECRET = "secret"
    IMAGE = "image"
    CONFIG = "config"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class ResourceRef:
    api_version: str | None
    kind: str | None
    namespace: str | None
    name: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "api_version": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }

    def key(self) -> str:
        return f"{self.api_version}/{self.kind}/{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Source:
    engine: str
    policy: str | None = None
    rule: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"engine": self.engine, "policy": self.policy, "rule": self.rule}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place.

    ``locator`` names the offending node independently of its line (a field path such as
    ``spec.replicas``), so the fingerprint survives edits elsewhere in the file.
    """

    rule_id: str
    category: Category
    severity: Severity
    message: str
    path: str
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    resource: ResourceRef | None = None
    source: Source = field(default_factory=lambda: Source(engine="gitops-gate"))
    help_url: str | None = None
    locator: str = ""

    @property
    def fingerprint(self) -> str:
        parts = [
            self.rule_id,
            self.path,
            self.resource.key() if self.resource else "",
            self.locator,
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    def with_severity(self, severity: Severity) -> Finding:
        return replace(self, severity=severity)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line or 0, self.column or 0, self.rule_id, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "category": self.category.value,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "resource": self.resource.to_dict() if self.resource else None,
            "source": self.source.to_dict(),
            "fingerprint": self.fingerprint,
            "help_url": self.help_url,
        }
