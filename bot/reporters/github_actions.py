"""GitHub Actions workflow commands (``::error file=...,line=...::message``), one per finding,
so a workflow step annotates the pull request without any App.

Escaping follows GitHub's workflow-command docs and ``@actions/core`` (``toCommandValue`` /
``escapeData`` / ``escapeProperty``): in the message ``%``, CR and LF become ``%25``, ``%0D``,
``%0A`` (``%`` first, so an existing ``%0A`` in a message stays literal); property values also
escape ``:`` and ``,`` (``%3A``, ``%2C``), which would otherwise end the value. A finding can
therefore never start a new line, and so never inject a workflow command of its own.

``file=`` is the finding's path as the pipeline reports it: relative to the checked root, with
``/`` separators, which is what the runner expects for a checkout at the workspace root.
"""

from __future__ import annotations

from bot.core.finding import Finding, Severity
from bot.core.pipeline import Report

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(finding: Finding) -> str:
    props: list[str] = []
    if finding.path:
        props.append(f"file={escape_property(finding.path)}")
    if finding.line:
        props.append(f"line={finding.line}")
        if finding.end_line and finding.end_line >= finding.line:
            props.append(f"endLine={finding.end_line}")
        if finding.column:
            props.append(f"col={finding.column}")
    props.append(f"title={escape_property(finding.rule_id)}")
    return f"::{_COMMAND[finding.severity]} {','.join(props)}::{escape_data(finding.message)}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def render(report: Report) -> str:
    lines = [command(f) for f in report.findings]
    counts = ", ".join(_plural(report.count(s), s.value) for s in Severity)
    lines.append(f"gitops-gate: {report.conclusion}: {counts}")
    return "\n".join(lines) + "\n"
