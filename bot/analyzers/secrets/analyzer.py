"""The secrets analyzer: every file's secrets as findings, minus what is allowed on purpose
(listed as allowances) and, on a diff, minus what the change did not add (counted as
pre-existing: only a change's own secrets can fail its check)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.analyzers.secrets.allow import NO_ALLOWLIST, AllowList, decide
from bot.analyzers.secrets.model import FileHit
from bot.analyzers.secrets.redact import describe, value_fingerprint
from bot.analyzers.secrets.scanfile import scan_file
from bot.core.allowance import Allowance
from bot.core.document import LoadedFile
from bot.core.finding import Category, Finding, ResourceRef, Severity, Source


@dataclass(slots=True)
class SecretsResult:
    findings: list[Finding] = field(default_factory=list)
    allowances: list[Allowance] = field(default_factory=list)
    pre_existing: int = 0


def analyze(
    files: Sequence[LoadedFile],
    allow: AllowList = NO_ALLOWLIST,
    added_lines: Mapping[str, frozenset[int] | None] | None = None,
) -> SecretsResult:
    result = SecretsResult()
    for loaded in files:
        if loaded.text is None:
            continue
        lines = loaded.text.splitlines()
        added = (added_lines or {}).get(loaded.path)
        hits = scan_file(loaded)
        _release_nodes(loaded)
        for hit in hits:
            finding = to_finding(loaded.path, hit)
            if added is not None and not _added(hit, added):
                result.pre_existing += 1
                continue
            allowance = decide(finding, lines, allow)
            if allowance is not None:
                result.allowances.append(allowance)
            else:
                result.findings.append(finding)
    return result


def _release_nodes(loaded: LoadedFile) -> None:
    """The scan composed node trees to place values; drop them again (they are four times the
    size of the data, and nothing after this analyzer needs them)."""
    for doc in loaded.documents:
        if doc.source is not None:
            doc.source.release()


def _added(hit: FileHit, added: frozenset[int]) -> bool:
    return any(line in added for line in range(hit.line, hit.end_line + 1))


def to_finding(path: str, hit: FileHit) -> Finding:
    severity = Severity.WARNING if hit.encrypted else hit.family.severity
    resource = (
        ResourceRef(hit.api_version, hit.kind, hit.namespace, hit.name)
        if hit.kind is not None
        else None
    )
    title = hit.family.title + (" (passphrase-protected)" if hit.encrypted else "")
    return Finding(
        rule_id=f"secret/{hit.family.id}",
        category=Category.SECRET,
        severity=severity,
        message=describe(title, hit.value),
        path=path,
        line=hit.line,
        column=hit.column,
        end_line=hit.end_line,
        resource=resource,
        source=Source(engine="secrets", rule=hit.family.id),
        # The value's hash, not its line: the fingerprint survives edits around it.
        locator=f"secret:{value_fingerprint(hit.value)}",
    )
