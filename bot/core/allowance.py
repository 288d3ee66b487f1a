"""A finding allowed on purpose: never dropped silently, always listed in the report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Allowance:
    rule_id: str
    path: str
    line: int | None
    fingerprint: str
    how: str  # e.g. "inline comment", "config: path", "config: rule", "config: fingerprint"
    reason: str

    def to_dict(self) -> dict[str, str | int | None]:
        return {
            "rule_id": self.rule_id,
            "path": self.path,
            "line": self.line,
            "fingerprint": self.fingerprint,
            "how": self.how,
            "reason": self.reason,
        }
