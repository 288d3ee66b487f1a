"""The JSON report: a public, versioned contract (schema: bot/schemas/report-v1.schema.json).

The schema ships as package data; :func:`schema` loads it through ``importlib.resources`` so it
works the same from a wheel, a zip or an editable install.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from bot.core.pipeline import Report

REPORT_VERSION = 1
SCHEMA_RESOURCE = "schemas/report-v1.schema.json"


def to_dict(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": REPORT_VERSION,
        "tool": {"name": "gitops-gate", "version": report.tool_version},
        "summary": report.summary(),
        "findings": [finding.to_dict() for finding in report.findings],
    }
    # Additive fields of contract version 1: present only when they say something.
    if report.pre_existing_secrets:
        out["summary"]["pre_existing_secrets"] = report.pre_existing_secrets
    if report.allowances:
        out["allowances"] = [allowance.to_dict() for allowance in report.allowances]
    return out


def render(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


@cache
def _schema_text() -> str:
    return resources.files("bot").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report this module renders (a fresh copy)."""
    loaded: dict[str, Any] = json.loads(_schema_text())
    return loaded
