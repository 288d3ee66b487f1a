"""SARIF output: valid against Microsoft's SARIF 2.1.0 schema (tests/data, see its README) and
shaped the way GitHub code scanning requires (rules, relative URIs, fingerprints, limits)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

import bot
from bot.core.finding import Category, Finding, Severity, Source
from bot.core.pipeline import Report
from bot.reporters import json as json_reporter
from bot.reporters import sarif

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "data" / "sarif-2.1.0-rtm.5.json"
PRECISIONS = {"very-high", "high", "medium", "low"}
PROBLEM_SEVERITIES = {"error", "warning", "recommendation"}
REPORTS = [
    "mixed_report",
    "clean_report",
    "never_report",
    "environment_report",
    "broken_yaml_report",
    "internal_error_report",
    "category_report",
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


def errors(validator: jsonschema.Draft4Validator, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def the_run(log: dict[str, Any]) -> dict[str, Any]:
    assert len(log["runs"]) == 1
    run: dict[str, Any] = log["runs"][0]
    return run


def assert_github_shape(log: dict[str, Any], report: Report) -> None:
    """GitHub code scanning's requirements, from its "SARIF support" docs."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")  # the final 2.1.0 schema
    run = the_run(log)
    driver = run["tool"]["driver"]
    assert driver["name"] == "gitops-gate"
    assert driver["version"] == bot.__version__
    rules = driver["rules"]
    assert len(rules) <= 25_000
    assert len({rule["id"] for rule in rules}) == len(rules)
    for rule in rules:
        assert rule["shortDescription"]["text"].strip()
        assert rule["fullDescription"]["text"].strip()
        assert rule["help"]["text"].strip()
        assert re.fullmatch(r"[A-Za-z0-9]+", rule["name"])
        props = rule["properties"]
        assert 1 <= len(props["tags"]) <= 20
        assert props["precision"] in PRECISIONS
        assert props["problem.severity"] in PROBLEM_SEVERITIES
        if "security-severity" in props:
            assert "security" in props["tags"]
            assert 0.0 < float(props["security-severity"]) <= 10.0
    results = run["results"]
    assert len(results) <= sarif.MAX_RESULTS
    for result in results:
        rule = rules[result["ruleIndex"]]
        assert result["ruleId"] == rule["id"]
        assert result["message"]["text"].strip()
        assert result["level"] in {"error", "warning", "note"}
        assert len(result["locations"]) == 1
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        parts = urlsplit(uri)
        assert parts.scheme == "" and parts.netloc == "", uri  # relative reference
        assert not uri.startswith("/") and ".." not in uri.split("/")
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        region = physical["region"]
        assert region["startLine"] >= 1
        assert region.get("endLine", region["startLine"]) >= region["startLine"]
        fingerprint = result["partialFingerprints"][sarif.FINGERPRINT_KEY]
        assert re.fullmatch(r"[0-9a-f]{32}", fingerprint)
    # Every finding with a file is a result, every other one a notification.
    located = [f for f in report.findings if f.path]
    assert len(results) == len(located)
    notifications = run["invocations"][0].get("toolExecutionNotifications", [])
    assert len(notifications) == len(report.findings) - len(located)


@pytest.mark.parametrize("fixture", REPORTS)
def test_output_validates_against_sarif_schema(
    fixture: str, request: pytest.FixtureRequest, validator: jsonschema.Draft4Validator
) -> None:
    report: Report = request.getfixturevalue(fixture)
    log = json.loads(sarif.render(report))
    assert errors(validator, log) == []
    assert_github_shape(log, report)


def test_schema_catches_an_invalid_log(
    mixed_report: Report, validator: jsonschema.Draft4Validator
) -> None:
    """The vendored schema is strict enough to matter."""
    log = sarif.to_dict(mixed_report)
    log["runs"][0]["results"][0]["level"] = "fatal"
    log["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    log["runs"][0]["tool"]["driver"]["rules"][0]["shortDescription"] = "text"
    found = errors(validator, log)
    assert any("fatal" in e for e in found)
    assert any(e.startswith("runs/0/results/1/locations/0") for e in found)
    assert any(e.startswith("runs/0/tool/driver/rules/0/shortDescription") for e in found)


def test_results_match_the_findings(mixed_report: Report) -> None:
    run = the_run(sarif.to_dict(mixed_report))
    findings = json_reporter.to_dict(mixed_report)["findings"]
    got = [
        (
            r["ruleId"],
            unquote(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]),
            r["locations"][0]["physicalLocation"]["region"],
            r["level"],
            r["message"]["text"],
            r["partialFingerprints"][sarif.FINGERPRINT_KEY],
        )
        for r in run["results"]
    ]
    level = {"error": "error", "warning": "warning", "notice": "note"}
    want = [
        (
            f["rule_id"],
            f["path"],
            {"startLine": f["line"], "startColumn": f["column"], "endLine": f["end_line"]},
            level[f["severity"]],
            f["message"],
            f["fingerprint"],
        )
        for f in findings
    ]
    assert got == want
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == sorted({f[0] for f in want})
    wrong = next(r for r in run["results"] if r["ruleId"] == "schema/wrong-type")
    assert wrong["properties"] == {
        "category": "schema",
        "blocking": True,
        "source": {"engine": "schema", "policy": None, "rule": None},
        "resource": {
            "api_version": "apps/v1",
            "kind": "Deployment",
            "namespace": "prod",
            "name": "web",
        },
    }
    assert run["properties"]["summary"]["conclusion"] == "failure"
    assert run["invocations"] == [{"executionSuccessful": True}]


def test_rules_describe_the_built_in_checks(mixed_report: Report) -> None:
    rules = {r["id"]: r for r in the_run(sarif.to_dict(mixed_report))["tool"]["driver"]["rules"]}
    truthy = rules["syntax/truthy"]
    assert truthy["name"] == "SyntaxTruthy"
    assert truthy["shortDescription"]["text"] == "Ambiguous truthy value"
    assert "write true or false" in truthy["fullDescription"]["text"]
    assert truthy["defaultConfiguration"] == {"level": "warning"}
    assert truthy["properties"] == {
        "tags": ["gitops-gate", "syntax"],
        "precision": "very-high",
        "problem.severity": "warning",
    }
    assert rules["schema/unknown-field"]["defaultConfiguration"] == {"level": "error"}
    assert "helpUri" not in rules["schema/unknown-field"]


def test_secret_rules_carry_github_security_properties(category_report: Report) -> None:
    run = the_run(sarif.to_dict(category_report))
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    aws = rules["secret/aws-access-key"]["properties"]
    assert aws["tags"] == ["gitops-gate", "secret", "security"]
    assert aws["security-severity"] == "8.0"  # GitHub: 7.0-8.9 is "high"
    assert aws["precision"] == "high"
    password = rules["secret/generic-password"]["properties"]
    assert float(password["security-severity"]) < 4.0  # a notice is "low"
    for rule_id in ("image/unpinned", "config/unknown-key", rules_policy(rules)):
        assert "security-severity" not in rules[rule_id]["properties"]
        assert "security" not in rules[rule_id]["properties"]["tags"]
    policy = rules[rules_policy(rules)]
    assert policy["helpUri"] == "https://kyverno.io/policies/best-practices/disallow-latest-tag/"
    assert policy["shortDescription"]["text"] == "disallow-latest-tag: validate-image-tag"
    assert "kyverno.io" in policy["help"]["text"]
    assert policy["properties"]["precision"] == "high"
    # A finding without a line still gets the region GitHub requires.
    no_line = next(r for r in run["results"] if r["ruleId"] == "secret/generic-password")
    assert no_line["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}


def rules_policy(rules: dict[str, Any]) -> str:
    return next(rule_id for rule_id in rules if rule_id.startswith("kyverno/"))


def test_findings_without_a_file_become_notifications(internal_error_report: Report) -> None:
    run = the_run(sarif.to_dict(internal_error_report))
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["descriptor"] == {"id": "internal/analyzer-error"}
    assert note["level"] == "error"
    assert "schema store unreadable" in note["message"]["text"]
    assert note["properties"]["blocking"] is True
    assert "internal/analyzer-error" not in {r["ruleId"] for r in run["results"]}
    # The syntax analyzer still ran and its finding is a result.
    assert {r["ruleId"] for r in run["results"]} == {"syntax/truthy"}


def synthetic(count: int) -> Report:
    """``count`` findings cycling through notice, warning and error."""
    severities = [Severity.NOTICE, Severity.WARNING, Severity.ERROR]
    findings = tuple(
        Finding(
            rule_id=f"syntax/rule-{i % 4}",
            category=Category.SYNTAX,
            severity=severities[i % 3],
            message=f"problem {i}",
            path=f"f{i // 100}.yaml",
            line=i % 100 + 1,
            source=Source("yamllint"),
            locator=str(i),
        )
        for i in range(count)
    )
    return Report(
        findings=findings,
        blocking=tuple(f.severity is Severity.ERROR for f in findings),
        files=count // 100 + 1,
        documents=count // 100 + 1,
    )


def test_results_are_capped_keeping_the_most_severe(validator: jsonschema.Draft4Validator) -> None:
    report = synthetic(30)
    log = sarif.to_dict(report, max_results=12)
    assert errors(validator, log) == []
    run = the_run(log)
    results = run["results"]
    assert len(results) == 12
    # All 10 errors, then the first 2 warnings, in report order.
    assert [r["message"]["text"] for r in results] == [
        f"problem {i}" for i in sorted([*range(2, 30, 3), 1, 4])
    ]
    kept_rules = {r["ruleId"] for r in results}
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == kept_rules
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning"
    assert note["message"]["text"].startswith("18 of 30 results were left out")
    assert run["invocations"][0]["executionSuccessful"] is True


def test_github_result_limit_is_applied_by_default() -> None:
    assert sarif.MAX_RESULTS == 25_000
    run = the_run(sarif.to_dict(synthetic(25_001)))
    assert len(run["results"]) == 25_000
    # The one left out is the last notice (index 24999), not an error or a warning.
    kept = {r["message"]["text"] for r in run["results"]}
    assert "problem 24999" not in kept and {"problem 25000", "problem 24998"} <= kept
    assert (
        "1 of 25001 results"
        in run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"]
    )
    under = the_run(sarif.to_dict(synthetic(25_000)))
    assert len(under["results"]) == 25_000
    assert "toolExecutionNotifications" not in under["invocations"][0]


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("apps/web/deployment.yaml", "apps/web/deployment.yaml"),
        ("apps/my app/deploy.yaml", "apps/my%20app/deploy.yaml"),
        ("a:b.yaml", "a%3Ab.yaml"),  # would read as scheme "a" unescaped
        ("apps/100%.yaml", "apps/100%25.yaml"),
        ("apps/café/x#1.yaml", "apps/caf%C3%A9/x%231.yaml"),
        ("/abs/outside root.yaml", "file:///abs/outside%20root.yaml"),
    ],
)
def test_artifact_uri(path: str, uri: str) -> None:
    assert sarif.artifact_uri(path) == uri
    if not path.startswith("/"):
        assert unquote(uri) == path


def test_unusual_file_names_stay_relative(
    run_check: Any, validator: jsonschema.Draft4Validator
) -> None:
    report = run_check({"apps/my app/a:b,c.yaml": "apiVersion: v1\nkind: ConfigMap\nflag: yes\n"})
    log = sarif.to_dict(report)
    assert errors(validator, log) == []
    assert_github_shape(log, report)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in the_run(log)["results"]
    }
    assert uris == {"apps/my%20app/a%3Ab%2Cc.yaml"}


def test_render_is_deterministic(mixed_report: Report) -> None:
    first = sarif.render(mixed_report)
    assert first == sarif.render(mixed_report)
    assert json.loads(first) == sarif.to_dict(mixed_report)
    assert first.endswith("\n")
