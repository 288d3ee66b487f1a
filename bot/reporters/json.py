"""The JSON report: a public, versioned contract (schema: bot/schemas/report-v1.schema.json)."""

from __future__ import annotations

import json
from typing import Any

from bot.core.finding import Severity
from bot.core.pipeline import Report

REPORT_VERSION = 1


def to_dict(report: Report) -> dict[str, Any]:
    return {
        "version": REPORT_VERSION,
        "tool": {"name": "gitops-gate", "version": report.tool_version},
        "summary": {
            "files": report.files,
            "documents": report.documents,
            "error": report.count(Severity.ERROR),
            "warning": report.count(Severity.WARNING),
            "notice": report.count(Severity.NOTICE),
            "conclusion": report.conclusion,
        },
        "findings": [finding.to_dict() for finding in report.findings],
    }


def render(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"
