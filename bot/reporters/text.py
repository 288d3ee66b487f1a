"""Human-readable report: findings grouped by file, colours on a terminal, one summary line."""

from __future__ import annotations

from itertools import groupby

from bot.core.finding import Finding, Severity
from bot.core.pipeline import Report

_COLOURS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.NOTICE: "36"}


def render(report: Report, *, colour: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if colour else text

    lines: list[str] = []
    pairs = list(zip(report.findings, report.blocking, strict=True))
    for path, group in groupby(pairs, key=lambda pair: pair[0].path):
        lines.append(paint(path or "(run)", "1"))
        for finding, blocking in group:
            lines.append("  " + _line(finding, blocking, paint))
        lines.append("")
    lines.append(_summary(report, paint))
    return "\n".join(lines) + "\n"


def _line(finding: Finding, blocking: bool, paint: object) -> str:
    assert callable(paint)
    where = f"{finding.line}:{finding.column or 1}" if finding.line else "-"
    severity = paint(f"{finding.severity.value:<7}", _COLOURS[finding.severity])
    mark = "" if blocking or finding.severity is not Severity.ERROR else " (not blocking)"
    return f"{where:>8}  {severity}  {finding.message}  [{finding.rule_id}]{mark}"


def _summary(report: Report, paint: object) -> str:
    assert callable(paint)
    counts = ", ".join(
        f"{report.count(s)} {s.value}{'s' if report.count(s) != 1 else ''}" for s in Severity
    )
    verdict = (
        paint("FAIL", "1;31") if report.conclusion == "failure" else paint("PASS", "1;32")
    )
    return (
        f"{verdict}: {counts} in {report.files} file{'s' if report.files != 1 else ''}, "
        f"{report.documents} document{'s' if report.documents != 1 else ''}"
    )
