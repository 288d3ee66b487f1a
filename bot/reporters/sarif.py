"""SARIF 2.1.0, as GitHub code scanning accepts it.

What GitHub needs beyond the OASIS schema (docs: "SARIF support for code scanning" and
"SARIF results exceed limit"; Microsoft's sarif-sdk GH* validation rules):

- one run; every rule in ``tool.driver.rules`` with ``shortDescription``, ``fullDescription``
  and ``help.text``; ``properties.tags`` (at most 20), ``properties.precision`` and
  ``properties.problem.severity``; security rules (secrets) also carry the ``security`` tag and a
  numeric ``properties.security-severity``;
- every result with ``ruleId``, ``message.text``, exactly one location with a repository-relative
  ``artifactLocation.uri`` and ``region.startLine``, and ``partialFingerprints`` (ours do not
  depend on the line, so an alert follows its node when lines move);
- at most 25,000 results per run (a hard limit: larger runs are rejected), so the least severe
  results are left out and a notification says how many.

Findings without a file (an analyzer that crashed, a command-line problem) cannot be results:
GitHub rejects a result without a location. They become tool execution notifications of the run.

A pure function of the Report: no clock, no environment, no file system.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.core.finding import Category, Finding, Severity
from bot.core.pipeline import Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
# GitHub code scanning rejects a run with more results than this (only 5,000 are displayed).
MAX_RESULTS = 25_000
# partialFingerprints key: "<name>/v<version>", as SARIF §3.27.17 recommends.
FINGERPRINT_KEY = "gitopsGate/v1"
SRCROOT = "%SRCROOT%"

_INFO_URI = "https://github.com/gitops-gate/gitops-gate"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "note"}
# GitHub's non-security severities: error | warning | recommendation.
_PROBLEM_SEVERITY = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.NOTICE: "recommendation",
}
# GitHub's precision: very-high | high | medium | low. Parsers and schemas are exact; secret
# detection is pattern-based and can misfire; policies are as precise as their authors.
_PRECISION = {
    Category.SYNTAX: "very-high",
    Category.SCHEMA: "very-high",
    Category.CONFIG: "very-high",
    Category.INTERNAL: "very-high",
    Category.IMAGE: "very-high",
    Category.POLICY: "high",
    Category.SECRET: "high",
}
# GitHub maps security-severity scores to labels: over 9.0 critical, 7.0-8.9 high, 4.0-6.9
# medium, 0.1-3.9 low. A plaintext secret is high at error, medium at warning, low at notice.
_SECURITY_SEVERITY = {Severity.ERROR: "8.0", Severity.WARNING: "5.5", Severity.NOTICE: "2.0"}
_SECURITY_CATEGORIES = frozenset({Category.SECRET})

# Descriptions of the built-in rules. Rules not listed (policies, extra yamllint rules) get a
# description built from their category and source.
_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "syntax/parse-error": (
        "YAML does not parse",
        "The file is not valid YAML, so none of its documents can be checked.",
    ),
    "syntax/duplicate-key": (
        "Duplicate mapping key",
        "A mapping repeats a key. YAML parsers disagree on which value wins, so Kubernetes may "
        "apply a different value than the one a reviewer reads.",
    ),
    "syntax/file-too-large": (
        "File too large",
        "The file is larger than the configured limit and was not parsed.",
    ),
    "syntax/binary-file": (
        "Binary file",
        "The file looks binary, not like a YAML manifest, and was not parsed.",
    ),
    "syntax/encoding": (
        "Not UTF-8",
        "The file is not valid UTF-8 text and was not parsed.",
    ),
    "syntax/too-many-documents": (
        "Too many documents",
        "The file holds more YAML documents than the configured limit; the rest were skipped.",
    ),
    "syntax/too-many-nodes": (
        "Too many YAML nodes",
        "A document expands to more nodes than the limit (for example through aliases, a "
        "'billion laughs' YAML bomb) and was not checked.",
    ),
    "syntax/too-deep": (
        "Nesting too deep",
        "A document nests deeper than the configured limit and was not checked.",
    ),
    "syntax/truthy": (
        "Ambiguous truthy value",
        "A YAML 1.1 boolean such as yes, no, on or off. Parsers differ on whether it is a "
        "boolean or a string; write true or false, or quote the string.",
    ),
    "syntax/indentation": (
        "Inconsistent indentation",
        "The indentation is not consistent within the file.",
    ),
    "syntax/trailing-spaces": (
        "Trailing spaces",
        "A line ends with whitespace.",
    ),
    "syntax/new-line-at-end-of-file": (
        "No newline at end of file",
        "The file does not end with a newline character.",
    ),
    "schema/missing-schema": (
        "No schema for this kind",
        "No schema was found for the apiVersion and kind (built-in Kubernetes kinds, CRDs in the "
        "tree and configured schema locations), so the object was not validated.",
    ),
    "schema/location-error": (
        "Schema location unusable",
        "A configured schema location could not be read or did not hold a valid schema.",
    ),
    "schema/missing-api-version": (
        "Missing apiVersion",
        "The object has no apiVersion, so Kubernetes cannot accept it and it cannot be validated.",
    ),
    "schema/missing-kind": (
        "Missing kind",
        "The object has no kind, so Kubernetes cannot accept it and it cannot be validated.",
    ),
    "schema/unknown-field": (
        "Unknown field",
        "The field is not part of the schema of this kind. Kubernetes drops or rejects unknown "
        "fields, so the setting would not take effect.",
    ),
    "schema/wrong-type": (
        "Wrong value type",
        "The value does not have the type the schema requires (for example a quoted number).",
    ),
    "schema/missing-field": (
        "Missing required field",
        "A field the schema requires is missing.",
    ),
    "schema/invalid-value": (
        "Invalid value",
        "The value is not allowed by the schema (enumeration, pattern, format or constant).",
    ),
    "schema/invalid": (
        "Schema violation",
        "The object does not satisfy its schema.",
    ),
    "config/invalid-value": (
        "Invalid configuration value",
        "A value in the gitops-gate configuration is not valid; the default was used instead.",
    ),
    "config/unknown-key": (
        "Unknown configuration key",
        "The gitops-gate configuration has a key that gitops-gate does not know; it is ignored.",
    ),
    "config/not-supported": (
        "Configuration not supported",
        "The gitops-gate configuration asks for something this version does not support.",
    ),
    "internal/analyzer-error": (
        "Analyzer failed",
        "An analyzer failed on this run; its checks did not run, so the result is incomplete.",
    ),
}
_CATEGORY_NOUN = {
    Category.SYNTAX: "YAML syntax or style",
    Category.SCHEMA: "schema validation",
    Category.POLICY: "policy",
    Category.SECRET: "secret scanning",
    Category.IMAGE: "container image",
    Category.CONFIG: "configuration",
    Category.INTERNAL: "internal",
}


@dataclass(frozen=True, slots=True)
class _Entry:
    finding: Finding
    blocking: bool


def to_dict(report: Report, *, max_results: int = MAX_RESULTS) -> dict[str, Any]:
    entries = [_Entry(f, b) for f, b in zip(report.findings, report.blocking, strict=True)]
    located = [e for e in entries if e.finding.path]
    unlocated = [e for e in entries if not e.finding.path]
    kept = _keep(located, max_results)
    rule_ids = sorted({e.finding.rule_id for e in kept})
    index = {rule: i for i, rule in enumerate(rule_ids)}
    by_rule: dict[str, list[Finding]] = {rule: [] for rule in rule_ids}
    for entry in kept:
        by_rule[entry.finding.rule_id].append(entry.finding)

    notifications = [_notification(e) for e in unlocated]
    left_out = len(located) - len(kept)
    if left_out:
        notifications.append(
            {
                "level": "warning",
                "message": {
                    "text": f"{left_out} of {len(located)} results were left out: GitHub code "
                    f"scanning accepts at most {max_results} results per run. The least severe "
                    "were dropped; run gitops-gate locally to see them all."
                },
                "descriptor": {"id": "internal/results-truncated"},
            }
        )

    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "gitops-gate",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "informationUri": _INFO_URI,
                "rules": [_rule(rule, by_rule[rule]) for rule in rule_ids],
            }
        },
        "originalUriBaseIds": {SRCROOT: {"description": {"text": "The checked root."}}},
        "invocations": [_invocation(entries, notifications)],
        "results": [_result(e, index[e.finding.rule_id]) for e in kept],
        "columnKind": "unicodeCodePoints",
        "properties": {"summary": report.summary()},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render(report: Report, *, max_results: int = MAX_RESULTS) -> str:
    return json.dumps(to_dict(report, max_results=max_results), indent=2, ensure_ascii=False) + "\n"


def artifact_uri(path: str) -> str:
    """A repository-relative path as a relative URI reference (RFC 3986).

    Percent-encodes everything but unreserved characters and ``/``, so a space or a colon in
    the first segment (which would read as a URI scheme) cannot change the meaning. A path that
    is absolute (a file outside the checked root) becomes a ``file:`` URI.
    """
    if path.startswith("/"):
        return "file://" + quote(path, safe="/")
    if re.match(r"^[A-Za-z]:/", path):
        return "file:///" + path[:2] + quote(path[2:], safe="/")
    return quote(path, safe="/")


def _keep(entries: Sequence[_Entry], limit: int) -> list[_Entry]:
    """At most ``limit`` entries, the most severe (blocking first) kept, in report order."""
    if len(entries) <= limit:
        return list(entries)
    ranked = sorted(
        range(len(entries)),
        key=lambda i: (-entries[i].finding.severity.rank, not entries[i].blocking, i),
    )
    return [entries[i] for i in sorted(ranked[: max(limit, 0)])]


def _rule(rule_id: str, findings: Sequence[Finding]) -> dict[str, Any]:
    sample = findings[0]
    highest = max((f.severity for f in findings), key=lambda s: s.rank)
    short, full = _describe(sample)
    help_url = next((f.help_url for f in findings if f.help_url), None)
    help_text = full if help_url is None else f"{full} See {help_url}"
    help_markdown = f"**{short}**\n\n{full}" + (
        "" if help_url is None else f"\n\n[Documentation]({help_url})"
    )
    security = sample.category in _SECURITY_CATEGORIES
    tags = ["gitops-gate", sample.category.value, *(["security"] if security else [])]
    properties: dict[str, Any] = {
        "tags": tags,
        "precision": _PRECISION[sample.category],
        "problem.severity": _PROBLEM_SEVERITY[highest],
    }
    if security:
        properties["security-severity"] = _SECURITY_SEVERITY[highest]
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": _pascal(rule_id),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": help_text, "markdown": help_markdown},
        "defaultConfiguration": {"level": _LEVEL[highest]},
        "properties": properties,
    }
    if help_url:
        rule["helpUri"] = help_url
    return rule


def _describe(finding: Finding) -> tuple[str, str]:
    known = _DESCRIPTIONS.get(finding.rule_id)
    if known is not None:
        return known
    source = finding.source
    name = finding.rule_id.split("/", 1)[-1]
    noun = _CATEGORY_NOUN[finding.category]
    if source.policy and source.rule:
        short = f"{source.policy}: {source.rule}"
        full = f"Rule {source.rule} of the {source.engine} policy {source.policy} ({noun} check)."
    elif source.policy:
        short = source.policy
        full = f"The {source.engine} policy {source.policy} ({noun} check)."
    else:
        short = name
        full = f"The {noun} check {finding.rule_id}, reported by the {source.engine} engine."
    return short, full


def _pascal(rule_id: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", rule_id)
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def _result(entry: _Entry, rule_index: int) -> dict[str, Any]:
    finding = entry.finding
    region: dict[str, Any] = {"startLine": finding.line or 1}
    if finding.line and finding.column:
        region["startColumn"] = finding.column
    if finding.line and finding.end_line and finding.end_line >= finding.line:
        region["endLine"] = finding.end_line
    artifact: dict[str, Any] = {"uri": artifact_uri(finding.path)}
    if not artifact["uri"].startswith("file:"):
        artifact["uriBaseId"] = SRCROOT
    properties: dict[str, Any] = {
        "category": finding.category.value,
        "blocking": entry.blocking,
        "source": finding.source.to_dict(),
    }
    if finding.resource:
        properties["resource"] = finding.resource.to_dict()
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": {"artifactLocation": artifact, "region": region}}],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": properties,
    }


def _notification(entry: _Entry) -> dict[str, Any]:
    finding = entry.finding
    return {
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "descriptor": {"id": finding.rule_id},
        "properties": {
            "category": finding.category.value,
            "blocking": entry.blocking,
            "fingerprint": finding.fingerprint,
        },
    }


def _invocation(entries: Sequence[_Entry], notifications: list[dict[str, Any]]) -> dict[str, Any]:
    """An analyzer that failed (``internal`` error) means the run did not complete."""
    failed = any(
        e.finding.category is Category.INTERNAL and e.finding.severity is Severity.ERROR
        for e in entries
    )
    invocation: dict[str, Any] = {"executionSuccessful": not failed}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    return invocation
