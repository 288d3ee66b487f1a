"""What every human-facing reporter says about a finding beyond its severity."""

from __future__ import annotations

from bot.core.finding import Finding, Severity


def blocking_mark(finding: Finding, blocking: bool) -> str:
    """ " (blocking)" for a warning or notice that fails the run (an environment's threshold),
    " (not blocking)" for an error that does not (``--fail-on never``), else nothing."""
    if blocking and finding.severity is not Severity.ERROR:
        return " (blocking)"
    if not blocking and finding.severity is Severity.ERROR:
        return " (not blocking)"
    return ""
