"""The JSON report is a public contract: every report validates against the shipped schema
(bot/schemas/report-v1.schema.json), and the schema rejects what the contract excludes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import bot
from bot.core.finding import Category, Severity
from bot.core.pipeline import Report
from bot.reporters import json as json_reporter

SCHEMA_FILE = Path(bot.__file__).resolve().parent / "schemas" / "report-v1.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_reporter.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def errors(validator: jsonschema.Draft202012Validator, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def test_schema_ships_as_package_data() -> None:
    resource = resources.files("bot").joinpath(json_reporter.SCHEMA_RESOURCE)
    assert resource.is_file()
    assert json.loads(resource.read_text(encoding="utf-8")) == json.loads(
        SCHEMA_FILE.read_text(encoding="utf-8")
    )
    schema = json_reporter.schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["version"] == {
        "description": "The report format version.",
        "const": json_reporter.REPORT_VERSION,
    }
    # A fresh copy each time: callers cannot corrupt the cached text.
    schema["properties"].clear()
    assert json_reporter.schema()["properties"]


def test_schema_enums_match_the_finding_model() -> None:
    finding = json_reporter.schema()["$defs"]["finding"]["properties"]
    assert finding["category"]["enum"] == [c.value for c in Category]
    assert finding["severity"]["enum"] == [s.value for s in Severity]
    # Every key Finding.to_dict writes is declared, and all are required.
    assert set(json_reporter.schema()["$defs"]["finding"]["required"]) == set(finding)


@pytest.mark.parametrize(
    "fixture",
    [
        "mixed_report",
        "clean_report",
        "never_report",
        "environment_report",
        "broken_yaml_report",
        "internal_error_report",
        "category_report",
    ],
)
def test_every_report_validates(
    fixture: str,
    request: pytest.FixtureRequest,
    validator: jsonschema.Draft202012Validator,
) -> None:
    report: Report = request.getfixturevalue(fixture)
    rendered = json.loads(json_reporter.render(report))
    assert errors(validator, rendered) == []
    assert rendered == json_reporter.to_dict(report)
    summary = rendered["summary"]
    for severity in Severity:
        assert summary[severity.value] == sum(
            1 for f in rendered["findings"] if f["severity"] == severity.value
        )
    assert summary["conclusion"] == ("failure" if any(report.blocking) else "success")
    assert [f["fingerprint"] for f in rendered["findings"]] == [
        f.fingerprint for f in report.findings
    ]


def test_mixed_report_content(mixed_report: Report) -> None:
    rendered = json_reporter.to_dict(mixed_report)
    assert rendered["version"] == 1
    assert rendered["tool"] == {"name": "gitops-gate", "version": bot.__version__}
    assert rendered["summary"] == {
        "files": 3,
        "documents": 3,
        "error": 2,
        "warning": 2,
        "notice": 0,
        "conclusion": "failure",
    }
    by_rule = {f["rule_id"]: f for f in rendered["findings"]}
    assert set(by_rule) == {
        "schema/wrong-type",
        "schema/unknown-field",
        "syntax/truthy",
        "schema/missing-schema",
    }
    wrong = by_rule["schema/wrong-type"]
    assert (wrong["path"], wrong["line"], wrong["column"], wrong["end_line"]) == (
        "apps/web/deployment.yaml",
        7,
        13,
        7,
    )
    assert wrong["category"] == "schema"
    assert wrong["severity"] == "error"
    assert wrong["resource"] == {
        "api_version": "apps/v1",
        "kind": "Deployment",
        "namespace": "prod",
        "name": "web",
    }
    assert by_rule["syntax/truthy"]["source"] == {
        "engine": "yamllint",
        "policy": None,
        "rule": "truthy",
    }
    assert by_rule["schema/unknown-field"]["line"] == 9
    assert by_rule["schema/missing-schema"]["path"] == "apps/crd/widget.yaml"
    assert by_rule["schema/missing-schema"]["resource"]["name"] == "gadget"
    assert "apps/clean.yaml" not in {f["path"] for f in rendered["findings"]}


def test_clean_report_content(clean_report: Report) -> None:
    rendered = json_reporter.to_dict(clean_report)
    assert rendered["findings"] == []
    assert rendered["summary"] == {
        "files": 1,
        "documents": 1,
        "error": 0,
        "warning": 0,
        "notice": 0,
        "conclusion": "success",
    }


def test_render_is_utf8_json_with_trailing_newline(category_report: Report) -> None:
    text = json_reporter.render(category_report)
    assert text.endswith("}\n")
    assert "AKIA…(redacted)" in text  # not \u2026-escaped
    assert json.loads(text)["findings"][0]["path"] == ".github/gitops-gate.yml"


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _drop(path: tuple[str | int, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


BROKEN: dict[str, Callable[[dict[str, Any]], None]] = {
    "version 2": _set(("version",), 2),
    "version as string": _set(("version",), "1"),
    "extra top-level key": _set(("generated_at",), "2024-01-01"),
    "other tool": _set(("tool", "name"), "kubeconform"),
    "summary without files": _drop(("summary", "files")),
    "negative count": _set(("summary", "error"), -1),
    "neutral conclusion": _set(("summary", "conclusion"), "neutral"),
    "extra summary key": _set(("summary", "skipped"), 0),
    "unknown category": _set(("findings", 0, "category"), "style"),
    "unknown severity": _set(("findings", 0, "severity"), "info"),
    "rule id without namespace": _set(("findings", 0, "rule_id"), "wrong-type"),
    "rule id with upper case namespace": _set(("findings", 0, "rule_id"), "Schema/wrong-type"),
    "line zero": _set(("findings", 0, "line"), 0),
    "line as string": _set(("findings", 0, "line"), "7"),
    "column float": _set(("findings", 0, "column"), 1.5),
    "missing end_line": _drop(("findings", 0, "end_line")),
    "resource without name": _drop(("findings", 0, "resource", "name")),
    "resource extra key": _set(("findings", 0, "resource", "uid"), "x"),
    "resource as string": _set(("findings", 0, "resource"), "apps/v1/Deployment"),
    "source without engine": _drop(("findings", 0, "source", "engine")),
    "source extra key": _set(("findings", 0, "source", "version"), "1"),
    "fingerprint not hex": _set(("findings", 0, "fingerprint"), "not-a-hash"),
    "help_url number": _set(("findings", 0, "help_url"), 3),
    "extra finding key": _set(("findings", 0, "locator"), "spec.replicas"),
    "empty message": _set(("findings", 0, "message"), ""),
    "findings as object": _set(("findings",), {}),
}


@pytest.mark.parametrize("mutation", sorted(BROKEN))
def test_schema_rejects_broken_report(
    mutation: str, mixed_report: Report, validator: jsonschema.Draft202012Validator
) -> None:
    document = copy.deepcopy(json_reporter.to_dict(mixed_report))
    assert errors(validator, document) == []
    BROKEN[mutation](document)
    assert errors(validator, document), f"schema accepted a report with {mutation}"
