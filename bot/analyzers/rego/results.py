"""conftest's result types and its two text forms: the stdout report and ``--output json``.

Both are byte-for-byte what conftest prints (``output/standard.go``, ``output/json.go``,
``output/result.go``): ``WARN|FAIL|EXCP - <file> - <namespace> - <msg>`` lines, a blank line and
``N tests, N passed, N warnings, N failures, N exceptions`` (singular for 1); JSON indented with
tabs, ``<``, ``>`` and ``&`` escaped as Go escapes them, empty lists omitted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STDIN = "-"

_RESET = "\x1b[0m"
_COLOURS = {"red": "\x1b[31m", "yellow": "\x1b[33m", "cyan": "\x1b[36m", "green": "\x1b[32m"}
_COLOURS |= {"white": "\x1b[37m", "blue": "\x1b[34m"}
# Go's encoding/json escapes these even inside strings, so output can be embedded in HTML.
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028"}
_GO_ESCAPES["\u2029"] = "\\u2029"


@dataclass(frozen=True, slots=True)
class Result:
    """One message of one rule: ``msg``, optional ``loc`` ({file, line}) and ``metadata``.

    ``rule`` and ``namespace`` name where it came from; they are not part of conftest's output.
    """

    msg: str
    metadata: Mapping[str, Any] | None = None
    loc: Mapping[str, Any] | None = None
    rule: str = ""
    namespace: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"msg": self.msg}
        if self.loc:
            out["loc"] = dict(self.loc)
        if self.metadata:
            out["metadata"] = _go_map(self.metadata)
        return out


@dataclass(slots=True)
class CheckResult:
    """The results of one namespace on one file (all its documents), or of one verify test."""

    filename: str
    namespace: str
    successes: int = 0
    skipped: list[Result] = field(default_factory=list)
    warnings: list[Result] = field(default_factory=list)
    failures: list[Result] = field(default_factory=list)
    exceptions: list[Result] = field(default_factory=list)
    prints: list[str] = field(default_factory=list)  # print() output, in evaluation order

    @property
    def total(self) -> int:
        return (
            self.successes
            + len(self.warnings)
            + len(self.failures)
            + len(self.exceptions)
            + len(self.skipped)
        )

    def add(self, other: CheckResult) -> None:
        self.successes += other.successes
        self.skipped.extend(other.skipped)
        self.warnings.extend(other.warnings)
        self.failures.extend(other.failures)
        self.exceptions.extend(other.exceptions)
        self.prints.extend(other.prints)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "filename": "" if self.filename == STDIN else self.filename,
            "namespace": self.namespace,
            "successes": self.successes,
        }
        for key, items in (
            ("skipped", self.skipped),
            ("warnings", self.warnings),
            ("failures", self.failures),
            ("exceptions", self.exceptions),
        ):
            if items:
                out[key] = [item.to_json() for item in items]
        return out


def _go_map(value: Any) -> Any:
    """Go marshals a map with its keys sorted (structs keep their field order)."""
    if isinstance(value, Mapping):
        return {key: _go_map(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_go_map(item) for item in value]
    return value


def exit_code(results: Sequence[CheckResult], *, fail_on_warn: bool = False) -> int:
    """conftest's codes: 1 for failures; with --fail-on-warn 2 for failures, 1 for warnings."""
    failures = any(r.failures for r in results)
    if not fail_on_warn:
        return 1 if failures else 0
    if failures:
        return 2
    return 1 if any(r.warnings for r in results) else 0


def render_json(results: Sequence[CheckResult]) -> str:
    """``--output json``: a tab-indented array, escaped as Go's encoder escapes, newline-ended."""
    # Go marshals a nil slice (no namespace matched, so no result at all) as null.
    text = json.dumps([r.to_json() for r in results], indent="\t", ensure_ascii=False)
    if not results:
        text = "null"
    for raw, escaped in _GO_ESCAPES.items():
        text = text.replace(raw, escaped)
    return text + "\n"


def render_stdout(
    results: Sequence[CheckResult],
    *,
    colour: bool = False,
    suppress_exceptions: bool = False,
    show_skipped: bool = False,
) -> str:
    lines: list[str] = []
    failures = warnings = exceptions = successes = skipped = 0
    for result in results:
        indicator = "-" if result.filename == STDIN else f"- {result.filename}"
        namespace = "-" if result.namespace == "-" else f"- {result.namespace} -"
        prefix = f"{indicator} {namespace}"
        for printed in result.prints:
            lines.append(f"{_paint('PRNT', 'blue', colour)} {prefix} {printed}")
        if result.total == 0:
            lines.append(f"{_paint('?', 'white', colour)} {prefix} no policies found")
            continue
        for warning in result.warnings:
            lines.append(f"{_paint('WARN', 'yellow', colour)} {prefix} {warning.msg}")
        for failure in result.failures:
            lines.append(f"{_paint('FAIL', 'red', colour)} {prefix} {failure.msg}")
        if not suppress_exceptions:
            for exception in result.exceptions:
                lines.append(f"{_paint('EXCP', 'cyan', colour)} {prefix} {exception.msg}")
        failures += len(result.failures)
        warnings += len(result.warnings)
        exceptions += len(result.exceptions)
        successes += result.successes
        skipped += len(result.skipped)
    total = failures + warnings + exceptions + successes + skipped
    summary = (
        f"{total} test{_plural(total)}, {successes} passed, "
        f"{warnings} warning{_plural(warnings)}, {failures} failure{_plural(failures)}, "
        f"{exceptions} exception{_plural(exceptions)}"
    )
    if show_skipped:
        summary += f", {skipped} skipped"
    if failures:
        tone = "red"
    elif warnings:
        tone = "yellow"
    elif exceptions:
        tone = "cyan"
    else:
        tone = "green"
    lines.append("")
    lines.append(_paint(summary, tone, colour))
    return "\n".join(lines) + "\n"


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def _paint(text: str, colour_name: str, enabled: bool) -> str:
    return f"{_COLOURS[colour_name]}{text}{_RESET}" if enabled else text
