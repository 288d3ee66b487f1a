"""Reading a config mapping: every bad key or value becomes a ``config/...`` finding at its line
and the caller falls back to the default. Shared by the config sections of every analyzer."""

from __future__ import annotations

from typing import Any

from bot.core.document import Document, FieldPath, format_path
from bot.core.finding import Category, Finding, Severity, Source

SEVERITY_WORDS = ("error", "warning", "notice", "off")
_SOURCE = Source(engine="config")


class Reader:
    """Walks the config data, recording a finding at the line of each bad key or value."""

    def __init__(self, doc: Document | None, path: str) -> None:
        self.doc = doc
        self.path = path
        self.findings: list[Finding] = []

    def problem(
        self,
        where: FieldPath,
        rule: str,
        message: str,
        *,
        key: bool = False,
        severity: Severity = Severity.ERROR,
    ) -> None:
        pos = self.doc.locate(where, key=key) if self.doc else None
        self.findings.append(
            Finding(
                rule_id=rule,
                category=Category.CONFIG,
                severity=severity,
                message=message,
                path=self.path,
                line=pos.line if pos else None,
                column=pos.column if pos else None,
                end_line=pos.line if pos else None,
                source=_SOURCE,
                locator=format_path(where),
            )
        )

    def mapping(self, value: Any, where: FieldPath, known: tuple[str, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.invalid(where, value, "a mapping")
            return {}
        for key in value:
            if key not in known:
                self.problem(
                    (*where, key),
                    "config/unknown-key",
                    f'Unknown key "{format_path((*where, key))}"; known keys here: '
                    f"{', '.join(known)}.",
                    key=True,
                )
        return value

    def invalid(self, where: FieldPath, value: Any, expected: str) -> None:
        self.problem(
            where,
            "config/invalid-value",
            f"{format_path(where)}: expected {expected}, got {show(value)}.",
        )

    def choice(self, value: Any, where: FieldPath, options: tuple[str, ...], default: str) -> str:
        if value is None:
            return default
        if isinstance(value, str) and value in options:
            return value
        self.invalid(where, value, "one of " + ", ".join(options))
        return default

    def boolean(self, value: Any, where: FieldPath, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.invalid(where, value, "true or false")
        return default

    def strings(self, value: Any, where: FieldPath) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.invalid(where, value, "a string or a list of strings")
        return ()

    def severity_map(self, value: Any, where: FieldPath) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        if value is None:
            return ()
        if not isinstance(value, dict):
            self.invalid(where, value, "a mapping of rule id (glob) to severity")
            return ()
        for rule, sev in value.items():
            sev = off(sev)
            if isinstance(sev, str) and sev in SEVERITY_WORDS:
                out.append((rule, sev))
            else:
                self.invalid((*where, rule), sev, "one of " + ", ".join(SEVERITY_WORDS))
        return tuple(out)


def off(value: Any) -> Any:
    # An unquoted `off` is a YAML 1.1 boolean; in a severity position it can only mean "off".
    return "off" if value is False else value


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def inside_repository(reader: Reader, path: str, where: FieldPath) -> bool:
    """Paths in the config name files of the repository: never absolute, never ``..``."""
    parts = path.replace("\\", "/").split("/")
    if path.startswith(("/", "\\")) or ".." in parts or not path.strip():
        reader.problem(
            where,
            "config/invalid-value",
            f"{format_path(where)}: {show(path)} must be a path inside the repository "
            "(relative, without '..').",
        )
        return False
    return True
