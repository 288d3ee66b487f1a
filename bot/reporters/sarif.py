"""SARIF 2.1.0, as GitHub code scanning accepts it (one run, rules in the driver, relative
URIs, partial fingerprints)."""

from __future__ import annotations

import json
from typing import Any

from bot.core.finding import Finding, Severity
from bot.core.pipeline import Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "note"}
_INFO_URI = "https://github.com/gitops-gate/gitops-gate"


def to_dict(report: Report) -> dict[str, Any]:
    rule_ids = sorted({f.rule_id for f in report.findings})
    index = {rule: i for i, rule in enumerate(rule_ids)}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gitops-gate",
                        "version": report.tool_version,
                        "informationUri": _INFO_URI,
                        "rules": [_rule(rule, report.findings) for rule in rule_ids],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The checked root."}}},
                "results": [_result(f, index[f.rule_id]) for f in report.findings],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def _rule(rule_id: str, findings: tuple[Finding, ...]) -> dict[str, Any]:
    sample = next(f for f in findings if f.rule_id == rule_id)
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": rule_id.replace("/", "-"),
        "shortDescription": {"text": rule_id},
        "defaultConfiguration": {"level": _LEVEL[sample.severity]},
        "properties": {"tags": [sample.category.value]},
    }
    if sample.help_url:
        rule["helpUri"] = sample.help_url
    return rule


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "partialFingerprints": {"gitopsGate/v1": finding.fingerprint},
    }
    if finding.path:
        location: dict[str, Any] = {
            "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"}
        }
        if finding.line:
            region: dict[str, Any] = {"startLine": finding.line}
            if finding.column:
                region["startColumn"] = finding.column
            if finding.end_line and finding.end_line >= finding.line:
                region["endLine"] = finding.end_line
            location["region"] = region
        result["locations"] = [{"physicalLocation": location}]
    if finding.resource:
        result["properties"] = {"resource": finding.resource.to_dict()}
    return result


def render(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"
