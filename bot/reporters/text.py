"""Human-readable report: findings grouped by file, one summary line.

Colours (ANSI SGR) only when the caller asks for them (``colour=True``, e.g. stdout is a
terminal). A finding whose blocking state is not what its severity suggests says so: a warning
or notice that fails the run (an environment with ``fail_on: warning``) is marked
``(blocking)``, an error that does not (``--fail-on never``) is marked ``(not blocking)``.

Messages and paths come from the checked files; control characters in them are shown escaped so
that a manifest cannot move the cursor or recolour the terminal, and a multi-line message
continues on indented lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import groupby

from bot.core.finding import Finding, Severity
from bot.core.pipeline import Report
from bot.reporters.marks import blocking_mark

Paint = Callable[[str, str], str]

_COLOURS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.NOTICE: "36"}
_BOLD, _FAIL, _PASS, _DIM = "1", "1;31", "1;32", "2"
_WHERE_WIDTH = 8
_INDENT = "  "
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # not tab, not newline
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def render(report: Report, *, colour: bool = False) -> str:
    paint = _painter(colour)
    lines: list[str] = []
    pairs = list(zip(report.findings, report.blocking, strict=True))
    for path, group in groupby(pairs, key=lambda pair: pair[0].path):
        lines.append(paint(_clean(path) if path else "(run)", _BOLD))
        for finding, blocking in group:
            lines.append(_INDENT + _line(finding, blocking, paint))
        lines.append("")
    lines.extend(_allowed(report))
    lines.append(_summary(report, paint))
    return "\n".join(lines) + "\n"


def _painter(colour: bool) -> Paint:
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m"

    def plain(text: str, code: str) -> str:
        return text

    return paint if colour else plain


def _clean(text: str, *, newlines: bool = False) -> str:
    """Escape control characters (ESC, CR, BEL...); tab is kept, newline too if ``newlines``."""
    pattern = _CONTROL if newlines else _CONTROL_OR_NEWLINE
    return pattern.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _line(finding: Finding, blocking: bool, paint: Paint) -> str:
    where = f"{finding.line}:{finding.column or 1}" if finding.line else "-"
    severity = paint(f"{finding.severity.value:<7}", _COLOURS[finding.severity])
    message = _clean(finding.message.replace("\r\n", "\n").rstrip(), newlines=True)
    first, *rest = message.split("\n")
    hang = _INDENT + " " * (_WHERE_WIDTH + 2 + 7 + 2)
    continuation = "".join("\n" + (hang + line.rstrip() if line.strip() else "") for line in rest)
    rule = paint(f"[{_clean(finding.rule_id)}]", _DIM)
    mark = blocking_mark(finding, blocking)
    return f"{where:>{_WHERE_WIDTH}}  {severity}  {first.rstrip()}  {rule}{mark}{continuation}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _allowed(report: Report) -> list[str]:
    """Allowed findings and pre-existing secrets are said, never hidden."""
    out: list[str] = []
    if report.allowances:
        out.append(f"Allowed on purpose ({len(report.allowances)}):")
        for allowance in report.allowances:
            where = f"{allowance.path}:{allowance.line}" if allowance.line else allowance.path
            out.append(
                f"{_INDENT}{where}  [{allowance.rule_id}]  {allowance.how}: {allowance.reason}"
            )
        out.append("")
    if report.pre_existing_secrets:
        out.append(
            f"{_plural(report.pre_existing_secrets, 'secret')} already on the base branch "
            "(not findings: only lines the change adds can fail it)."
        )
        out.append("")
    return out


def _summary(report: Report, paint: Paint) -> str:
    counts = ", ".join(_plural(report.count(s), s.value) for s in Severity)
    verdict = paint("FAIL", _FAIL) if report.conclusion == "failure" else paint("PASS", _PASS)
    return (
        f"{verdict}: {counts} in {_plural(report.files, 'file')}, "
        f"{_plural(report.documents, 'document')}"
    )
