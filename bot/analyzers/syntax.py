"""Syntax analyzer: YAML style rules through yamllint, used as a library.

Parse errors and duplicate keys are reported by the document loader (with the exact line and
as errors), so yamllint's own syntax check and ``key-duplicates`` rule stay off here to avoid
saying the same thing twice. Our defaults are a small set that matters for Kubernetes YAML:
``truthy`` (``yes``/``on`` become booleans in YAML 1.1, which Kubernetes uses), indentation,
trailing spaces and the final newline.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from yamllint import linter
from yamllint.config import YamlLintConfig, YamlLintConfigError

from bot.core.document import LoadedFile
from bot.core.filekind import FileKind
from bot.core.finding import Category, Finding, Severity, Source
from bot.core.limits import DEFAULT_LIMITS, Limits

_SOURCE = Source(engine="yamllint")

DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "truthy": {"severity": "warning", "allowed-values": ["true", "false"], "check-keys": False},
    "indentation": {"severity": "notice", "spaces": "consistent", "indent-sequences": "whatever"},
    "trailing-spaces": {"severity": "notice"},
    "new-line-at-end-of-file": {"severity": "notice"},
}
# Reported by the document loader instead (see the module docstring).
_RESERVED = {"key-duplicates"}


@dataclass(frozen=True, slots=True)
class SyntaxRules:
    conf: YamlLintConfig | None
    severities: Mapping[str, Severity]


def build_rules(overrides: Mapping[str, Mapping[str, Any]]) -> tuple[SyntaxRules, list[str]]:
    """yamllint configuration from our defaults and the config's ``syntax.rules``.

    Returns the rules and the problems found in the overrides (unknown rules, bad options).
    """
    merged = copy.deepcopy(DEFAULT_RULES)
    problems: list[str] = []
    for name, options in overrides.items():
        if name in _RESERVED:
            problems.append(
                f'yamllint rule "{name}" is always on: duplicate keys are reported as '
                "syntax/duplicate-key errors."
            )
            continue
        base = merged.get(name, {"severity": "warning"})
        merged[name] = {**base, **options}
    severities: dict[str, Severity] = {}
    rules: dict[str, Any] = {}
    for name, options in merged.items():
        severity = options.get("severity", "warning")
        if severity == "off":
            rules[name] = "disable"
            continue
        severities[name] = Severity(severity)
        rules[name] = {k: v for k, v in options.items() if k != "severity"} | {"level": "warning"}
    rules.setdefault("key-duplicates", "disable")
    try:
        conf = YamlLintConfig(content=_dump({"rules": rules}))
    except YamlLintConfigError as exc:
        problems.append(f"invalid yamllint settings: {exc}")
        conf = YamlLintConfig(content=_dump({"rules": _defaults_only()}))
        severities = {n: Severity(o["severity"]) for n, o in DEFAULT_RULES.items()}
    return SyntaxRules(conf, severities), problems


def _defaults_only() -> dict[str, Any]:
    return {
        name: {k: v for k, v in opts.items() if k != "severity"} | {"level": "warning"}
        for name, opts in DEFAULT_RULES.items()
    } | {"key-duplicates": "disable"}


def _dump(data: Any) -> str:
    import yaml

    return yaml.safe_dump(data)


_LINTED = {
    FileKind.MANIFEST,
    FileKind.KUSTOMIZATION,
    FileKind.HELM_VALUES,
    FileKind.HELM_CHART,
    FileKind.GATE_CONFIG,
}


@dataclass(frozen=True, slots=True)
class LintJob:
    """What linting one file needs; small, so it can be sent to a worker process."""

    path: str
    text: str


def jobs_for(files: Iterable[LoadedFile]) -> list[LintJob]:
    """The files style rules apply to: YAML text we could read, of a kind that is linted."""
    return [
        LintJob(loaded.path, loaded.text)
        for loaded in files
        if loaded.text is not None
        and loaded.kind in _LINTED
        # JSON is YAML to the parser, but YAML style rules do not apply to it.
        and not loaded.path.lower().endswith(".json")
    ]


def run_job(job: LintJob, rules: SyntaxRules, limits: Limits = DEFAULT_LIMITS) -> list[Finding]:
    if len(job.text) > limits.max_lint_chars:
        return [_too_large_to_lint(job.path, len(job.text), limits)]
    return lint(job.path, job.text, rules)


def run_job_with_overrides(job: LintJob, overrides: str, limits: Limits) -> list[Finding]:
    """``run_job`` for a worker process: rules are rebuilt (once per process) from the JSON
    of the config's ``syntax.rules``, since yamllint's config object is not sent across."""
    return run_job(job, _rules_from_json(overrides), limits)


@functools.lru_cache(maxsize=8)
def _rules_from_json(overrides: str) -> SyntaxRules:
    return build_rules(json.loads(overrides))[0]


def analyze(
    files: Iterable[LoadedFile], rules: SyntaxRules, limits: Limits = DEFAULT_LIMITS
) -> list[Finding]:
    return [finding for job in jobs_for(files) for finding in run_job(job, rules, limits)]


def _too_large_to_lint(path: str, size: int, limits: Limits) -> Finding:
    return Finding(
        rule_id="syntax/style-skipped",
        category=Category.SYNTAX,
        severity=Severity.NOTICE,
        message=f"File has {size:,} characters, over {limits.max_lint_chars:,}: it was parsed "
        "and validated, but style rules were skipped.",
        path=path,
        source=_SOURCE,
        locator="style-skipped",
    )


def lint(path: str, text: str, rules: SyntaxRules) -> list[Finding]:
    if rules.conf is None:
        return []
    out: list[Finding] = []
    lines = text.splitlines()
    for problem in linter.run(text, rules.conf, path):
        if problem.rule is None:
            continue  # a syntax error: the loader reports it with more context
        severity = rules.severities.get(problem.rule, Severity.WARNING)
        message = problem.desc
        if message.endswith(f"({problem.rule})"):
            message = message[: -len(problem.rule) - 2].rstrip()
        out.append(
            Finding(
                rule_id=f"syntax/{problem.rule}",
                category=Category.SYNTAX,
                severity=severity,
                message=message[:1].upper() + message[1:],
                path=path,
                line=problem.line,
                column=problem.column,
                end_line=problem.line,
                source=Source(engine="yamllint", rule=problem.rule),
                # The line's text, not its number, so the fingerprint survives edits above it.
                locator=f"{problem.rule}:{_line_text(lines, problem.line)}",
            )
        )
    return out


def _line_text(lines: list[str], line: int) -> str:
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""
