"""The check run's completed output: conclusion, title, Markdown summary and annotations.

A pure renderer: ``render(report)`` returns what the Checks API needs and the publisher sends it
(create the run ``in_progress``, PATCH the annotations 50 at a time, complete it). GitHub's rules
(reference/github-platform.md, sections 4 and 5) shape every choice here:

- ``neutral`` and ``skipped`` pass a required check, so a blocking result, or an analysis that
  could not finish, is always ``failure``; anything else is ``success``.
- ``output.summary`` is limited to 65,535 characters (possibly bytes): it is kept under
  ``SUMMARY_LIMIT`` UTF-8 bytes, findings are listed most important first while they fit, and
  the summary says what it left out. Nothing is ever cut inside a UTF-8 sequence.
- At most 50 annotations per request; each PATCH appends. ``batches`` and
  ``CheckRunOutput.payloads`` slice them. Annotations are ranked (blocking, then severity, then
  path and line) before ``max_annotations`` cuts, and the summary counts what was cut.
- ``start_column``/``end_column`` only when ``start_line == end_line``; ``message`` and
  ``raw_details`` at most 64 KB, ``title`` (the rule id) at most 255 characters.

Findings without a path (``internal/analyzer-error``) cannot be annotations: they are listed in
the summary first. A finding with a path but no line annotates line 1 of its file.

Messages reach this module already redacted (a secret's value never enters a ``Finding``); the
renderer adds only rule ids, paths, positions, resources and help URLs, never file content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

from bot.core.finding import Category, Finding, Severity
from bot.core.pipeline import Report
from bot.reporters.marks import blocking_mark

Conclusion = Literal["success", "failure"]
AnnotationLevel = Literal["notice", "warning", "failure"]

ANNOTATIONS_PER_REQUEST = 50
"""GitHub accepts at most 50 annotations in one create or update request."""
DEFAULT_MAX_ANNOTATIONS = 1000
"""Annotations beyond this are left out (a PR page with many annotations becomes slow)."""
GITHUB_TEXT_LIMIT = 65_535
"""GitHub's limit for ``output.summary`` and ``output.text`` (characters; maybe bytes)."""
SUMMARY_LIMIT = 60_000
"""The summary's budget in UTF-8 bytes: under GitHub's limit whether it counts characters or
bytes, with room to spare."""
ANNOTATION_TEXT_LIMIT = 65_536
"""``message`` and ``raw_details``: 64 KB each."""
_ANNOTATION_TEXT_BUDGET = 60_000  # bytes, room to spare under 64 KB
ANNOTATION_TITLE_LIMIT = 255
TITLE_LIMIT = 255
_SUMMARY_MESSAGE_CHARS = 500  # one finding's message in the summary list
_SUMMARY_LISTED_MAX = 200  # the annotations show the rest inline
_REASON_CHARS = 2_000
_TAIL_RESERVE = 3_000  # bytes kept for the "omitted" section after the list
_TRUNCATED = "… (truncated)"

_LEVEL: dict[Severity, AnnotationLevel] = {
    Severity.ERROR: "failure",
    Severity.WARNING: "warning",
    Severity.NOTICE: "notice",
}


class Annotation(TypedDict):
    """One item of ``output.annotations``, with GitHub's field names."""

    path: str
    start_line: int
    end_line: int
    annotation_level: AnnotationLevel
    message: str
    title: str
    start_column: NotRequired[int]
    end_column: NotRequired[int]
    raw_details: NotRequired[str]


@dataclass(frozen=True, slots=True)
class CheckRunOutput:
    """What the publisher sends: ``conclusion`` on the final PATCH, ``title`` and ``summary`` in
    every ``output``, ``annotations`` in slices of at most 50 (``payloads``)."""

    conclusion: Conclusion
    title: str
    summary: str
    annotations: list[Annotation] = field(default_factory=list)
    omitted_annotations: int = 0
    """Findings with a location that were not annotated because of ``max_annotations``."""

    def output(self, annotations: Sequence[Annotation] = ()) -> dict[str, Any]:
        """One request's ``output`` object (``annotations`` only when there are some)."""
        payload: dict[str, Any] = {"title": self.title, "summary": self.summary}
        if annotations:
            payload["annotations"] = [dict(a) for a in annotations]
        return payload

    def payloads(self, size: int = ANNOTATIONS_PER_REQUEST) -> list[dict[str, Any]]:
        """The successive ``output`` objects for the create request and the updates: one per
        slice of annotations, and always at least one (title and summary with no annotation).
        GitHub appends the annotations of each request to the run's."""
        chunks = batches(self.annotations, size)
        return [self.output(chunk) for chunk in chunks] or [self.output()]


def batches(
    annotations: Sequence[Annotation], size: int = ANNOTATIONS_PER_REQUEST
) -> list[list[Annotation]]:
    """Consecutive slices of at most ``size`` (≤ 50) annotations, in order; none for none."""
    if not 1 <= size <= ANNOTATIONS_PER_REQUEST:
        raise ValueError(f"batch size must be between 1 and {ANNOTATIONS_PER_REQUEST}: {size}")
    return [list(annotations[i : i + size]) for i in range(0, len(annotations), size)]


def render(
    report: Report,
    *,
    max_annotations: int = DEFAULT_MAX_ANNOTATIONS,
    incomplete: str | None = None,
) -> CheckRunOutput:
    """The check run output for ``report``.

    ``incomplete`` is the reason the analysis could not finish (a deadline, GitHub's file limit,
    an unreachable engine): the run then concludes ``failure`` whatever the findings say, and the
    summary starts with the reason. ``max_annotations`` caps the annotations (0 for none).
    """
    if max_annotations < 0:
        raise ValueError(f"max_annotations must not be negative: {max_annotations}")
    pairs = list(zip(report.findings, report.blocking, strict=True))
    conclusion: Conclusion = (
        "failure" if incomplete is not None or any(report.blocking) else "success"
    )
    located = sorted(
        (pair for pair in pairs if pair[0].path), key=lambda pair: _annotation_key(*pair)
    )
    kept = located[:max_annotations]
    annotations = [annotation(finding, blocking) for finding, blocking in kept]
    omitted = len(located) - len(kept)
    return CheckRunOutput(
        conclusion=conclusion,
        title=_title(report, incomplete),
        summary=_summary(report, pairs, conclusion, incomplete, omitted, max_annotations),
        annotations=annotations,
        omitted_annotations=omitted,
    )


# -- annotations ---------------------------------------------------------------------------


def annotation(finding: Finding, blocking: bool = False) -> Annotation:
    """The annotation for one finding with a path (line 1 when the finding has no line)."""
    if not finding.path:
        raise ValueError(f"a finding without a path is not an annotation: {finding.rule_id}")
    start = finding.line if finding.line and finding.line > 0 else 1
    end = (
        finding.end_line
        if finding.line and finding.end_line and finding.end_line > start
        else start
    )
    message = (finding.message.strip() or finding.rule_id) + blocking_mark(finding, blocking)
    item: Annotation = {
        "path": _valid(finding.path),
        "start_line": start,
        "end_line": end,
        "annotation_level": _LEVEL[finding.severity],
        "message": truncate_utf8(message, _ANNOTATION_TEXT_BUDGET),
        "title": _truncate_chars(finding.rule_id or finding.category.value, ANNOTATION_TITLE_LIMIT),
    }
    if start == end and finding.line and finding.column and finding.column > 0:
        item["start_column"] = finding.column
        item["end_column"] = finding.column
    details = _raw_details(finding)
    if details:
        item["raw_details"] = truncate_utf8(details, _ANNOTATION_TEXT_BUDGET)
    return item


def _annotation_key(finding: Finding, blocking: bool) -> tuple[int, int, str, int, int, str, str]:
    """Blocking first (an environment's blocking warning outranks a warning elsewhere), then
    severity, then path and position."""
    return (
        0 if blocking else 1,
        -finding.severity.rank,
        finding.path,
        finding.line or 0,
        finding.column or 0,
        finding.rule_id,
        finding.message,
    )


def _raw_details(finding: Finding) -> str:
    lines: list[str] = []
    if finding.resource is not None:
        r = finding.resource
        where = f"{r.namespace}/{r.name}" if r.namespace else (r.name or "?")
        lines.append(f"Resource: {r.api_version or '?'} {r.kind or '?'} {where}")
    source = finding.source
    if source.policy or source.rule:
        parts = [p for p in (source.policy, source.rule) if p]
        lines.append(f"Source: {source.engine} {'/'.join(parts)}")
    if finding.help_url:
        lines.append(f"Help: {finding.help_url}")
    return "\n".join(lines)


# -- title and summary ---------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _counts(report: Report) -> str:
    parts = [_plural(report.count(s), s.value) for s in Severity if report.count(s)]
    return ", ".join(parts)


def _title(report: Report, incomplete: str | None) -> str:
    counts = _counts(report) or "no problems found"
    blocking = sum(report.blocking)
    if blocking != report.count(Severity.ERROR):
        counts += f" ({blocking} blocking)"
    title = f"Analysis could not finish: {counts}" if incomplete is not None else counts
    return _truncate_chars(title[:1].upper() + title[1:], TITLE_LIMIT)


def _summary(
    report: Report,
    pairs: list[tuple[Finding, bool]],
    conclusion: Conclusion,
    incomplete: str | None,
    omitted_annotations: int,
    max_annotations: int,
) -> str:
    head = _summary_head(report, pairs, conclusion, incomplete)
    ranked = sorted(pairs, key=lambda pair: _summary_key(*pair))
    budget = SUMMARY_LIMIT - _TAIL_RESERVE - _size(head)
    listed: list[str] = []
    for finding, blocking in ranked[:_SUMMARY_LISTED_MAX]:
        line = _summary_line(finding, blocking) + "\n"
        cost = _size(line)
        if cost > budget:
            break
        listed.append(line)
        budget -= cost
    unlisted = len(ranked) - len(listed)
    unlocated_unlisted = sum(1 for f, _ in ranked[len(listed) :] if not f.path)
    parts = [head]
    if ranked:
        heading = "Findings" if not unlisted else "Most important findings"
        parts.append(f"### {heading}\n\n" + "".join(listed))
    omissions: list[str] = []
    if unlisted:
        reason = (
            "to keep the summary under GitHub's size limit"
            if len(listed) < _SUMMARY_LISTED_MAX
            else f"the summary lists at most {_SUMMARY_LISTED_MAX}"
        )
        omissions.append(
            f"- {_plural(unlisted, 'finding')} not listed above ({reason}); "
            + (
                f"{unlocated_unlisted} of them have no file and are not shown anywhere else. "
                if unlocated_unlisted
                else "they are shown as annotations where the annotation cap allows. "
            )
            + "Run `gitops-gate check` locally for the full report."
        )
    if omitted_annotations:
        omissions.append(
            f"- {_plural(omitted_annotations, 'finding')} not annotated: at most "
            f"{max_annotations} annotations are shown (the most important first)."
        )
    unlocated = sum(1 for f, _ in pairs if not f.path)
    if unlocated:
        omissions.append(
            f"- {_plural(unlocated, 'finding')} without a file cannot be annotations; "
            "they are listed in this summary."
        )
    if omissions:
        parts.append("### Omitted\n\n" + "\n".join(omissions) + "\n")
    parts.extend(_allowed(report))
    summary = "\n".join(parts)
    if _size(summary) > SUMMARY_LIMIT:  # only if the reserve was not enough; cut safely
        note = "\n\n_(This summary was truncated to fit GitHub's size limit.)_\n"
        summary = truncate_utf8(summary, SUMMARY_LIMIT - _size(note), suffix="") + note
    return summary


_ALLOWANCES_LISTED_MAX = 50


def _allowed(report: Report) -> list[str]:
    """Allowed findings and pre-existing secrets are said in the summary, never hidden."""
    parts: list[str] = []
    if report.allowances:
        lines = [
            f"- {_code(a.path + (f':{a.line}' if a.line else ''))} {_code(a.rule_id)}: "
            f"{_inline(a.how)}, {_inline(a.reason)}\n"
            for a in report.allowances[:_ALLOWANCES_LISTED_MAX]
        ]
        more = len(report.allowances) - len(lines)
        if more > 0:
            lines.append(f"- and {more} more\n")
        parts.append(f"### Allowed on purpose ({len(report.allowances)})\n\n" + "".join(lines))
    if report.pre_existing_secrets:
        parts.append(
            f"_{_plural(report.pre_existing_secrets, 'secret')} already on the base branch "
            "(not findings: only lines this change adds can fail it)._\n"
        )
    return parts


def _summary_head(
    report: Report,
    pairs: list[tuple[Finding, bool]],
    conclusion: Conclusion,
    incomplete: str | None,
) -> str:
    lines: list[str] = []
    verdict = "❌ Failed" if conclusion == "failure" else "✅ Passed"
    lines.append(f"## gitops-gate: {verdict}\n")
    if incomplete is not None:
        reason = _inline(_truncate_chars(incomplete.strip() or "unknown reason", _REASON_CHARS))
        lines.append(
            f"> **The analysis could not finish:** {reason}\n>\n"
            "> Not every file or rule could be checked, so this run fails rather than pass "
            "unverified changes.\n"
        )
    blocking = sum(report.blocking)
    counts = _counts(report) or "no problems found"
    lines.append(
        f"Checked {_plural(report.files, 'file')} ({_plural(report.documents, 'document')}): "
        f"{counts}; {blocking} blocking.\n"
    )
    if blocking and blocking != report.count(Severity.ERROR):
        lines.append(
            "Blocking follows each environment's `fail_on` setting, not only the severity.\n"
        )
    if pairs:
        lines.append(_table(report))
    return "\n".join(lines)


def _table(report: Report) -> str:
    rows = ["| Category | Errors | Warnings | Notices | Blocking |", "|---|---:|---:|---:|---:|"]
    for category in Category:
        found = [
            (f, b)
            for f, b in zip(report.findings, report.blocking, strict=True)
            if f.category is category
        ]
        if not found:
            continue
        by = [sum(1 for f, _ in found if f.severity is s) for s in Severity]
        blocking = sum(1 for _, b in found if b)
        rows.append(f"| {category.value} | {by[0]} | {by[1]} | {by[2]} | {blocking} |")
    totals = [report.count(s) for s in Severity]
    rows.append(
        f"| **total** | **{totals[0]}** | **{totals[1]}** | **{totals[2]}** "
        f"| **{sum(report.blocking)}** |"
    )
    return "\n".join(rows) + "\n"


def _summary_key(finding: Finding, blocking: bool) -> tuple[int, int, int, str, int, int, str]:
    """Blocking first, then severity; within a severity, findings without a file first (the
    summary is the only place they appear), then path and position."""
    return (
        0 if blocking else 1,
        -finding.severity.rank,
        1 if finding.path else 0,
        finding.path,
        finding.line or 0,
        finding.column or 0,
        finding.rule_id,
    )


def _summary_line(finding: Finding, blocking: bool) -> str:
    if finding.path:
        where = finding.path + (f":{finding.line}" if finding.line else "")
        if finding.line and finding.column:
            where += f":{finding.column}"
    else:
        where = "(no file)"
    message = _inline(_truncate_chars(finding.message.strip() or "-", _SUMMARY_MESSAGE_CHARS))
    mark = blocking_mark(finding, blocking).strip()
    mark = f" _{mark}_" if mark else ""
    return (
        f"- **{finding.severity.value}** {_code(where)} {message} ({_code(finding.rule_id)}){mark}"
    )


# -- text helpers --------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~!])")
_MENTION = re.compile(r"(^|\s)@(?=\w)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _inline(text: str) -> str:
    """``text`` as one Markdown line that renders literally: control characters and newlines
    become spaces, Markdown punctuation is escaped and ``@name`` does not mention anyone."""
    text = _CONTROL.sub(" ", _valid(text))
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return _MENTION.sub("\\1@\u200b", text)


def _code(text: str) -> str:
    """``text`` as an inline code span whose fence is longer than any backtick run in it."""
    text = _CONTROL.sub(" ", _valid(text))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _valid(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes) replaced: encodable as UTF-8 and JSON."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _size(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


def _truncate_chars(text: str, limit: int, suffix: str = _TRUNCATED) -> str:
    text = _valid(text)
    if len(text) <= limit:
        return text
    if len(suffix) > limit:
        return text[:limit]
    return text[: limit - len(suffix)] + suffix


def truncate_utf8(text: str, limit: int, suffix: str = _TRUNCATED) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (``suffix`` included when cut), on a
    character boundary: never inside a multi-byte sequence."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return data.decode("utf-8")
    tail = suffix.encode("utf-8")
    if len(tail) > limit:  # no room for the marker itself
        tail, suffix = b"", ""
    # A cut inside a multi-byte sequence leaves an incomplete one at the end: dropped.
    return data[: limit - len(tail)].decode("utf-8", errors="ignore") + suffix
