"""GitHub Actions workflow commands (``::error file=...,line=...::message``), one per finding,
so a workflow step annotates the pull request without any App."""

from __future__ import annotations

from bot.core.finding import Finding, Severity
from bot.core.pipeline import Report

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(finding: Finding) -> str:
    props = []
    if finding.path:
        props.append(f"file={_escape_property(finding.path)}")
    if finding.line:
        props.append(f"line={finding.line}")
        if finding.end_line:
            props.append(f"endLine={finding.end_line}")
        if finding.column:
            props.append(f"col={finding.column}")
    props.append(f"title={_escape_property(finding.rule_id)}")
    return f"::{_COMMAND[finding.severity]} {','.join(props)}::{_escape_data(finding.message)}"


def render(report: Report) -> str:
    lines = [command(f) for f in report.findings]
    lines.append(
        f"gitops-gate: {report.conclusion}: {report.count(Severity.ERROR)} errors, "
        f"{report.count(Severity.WARNING)} warnings, {report.count(Severity.NOTICE)} notices"
    )
    return "\n".join(lines) + "\n"
