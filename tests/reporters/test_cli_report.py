"""`gitops-gate check DIR --format json|sarif --output FILE` and the exit codes, through click."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.reporters import json as json_reporter

SARIF_SCHEMA = Path(__file__).resolve().parent.parent / "data" / "sarif-2.1.0-rtm.5.json"
K8S = "1.31"

WriteTree = Callable[[Mapping[str, str]], Path]


def check(root: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["check", str(root), "--kubernetes-version", K8S, *args], catch_exceptions=False
    )


def test_json_output_file_is_schema_valid(
    write_tree: WriteTree, trees: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    root = write_tree(trees["mixed"])
    out = tmp_path / "report.json"
    result = check(root, "--format", "json", "--output", str(out))
    assert result.exit_code == 1, result.output
    assert result.output == ""  # the report went to the file
    report = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(json_reporter.schema()).validate(report)
    assert report["summary"]["conclusion"] == "failure"
    assert {f["rule_id"] for f in report["findings"]} == {
        "schema/wrong-type",
        "schema/unknown-field",
        "syntax/truthy",
        "schema/missing-schema",
    }
    assert {f["path"] for f in report["findings"]} == {
        "apps/web/deployment.yaml",
        "apps/crd/widget.yaml",
    }


def test_sarif_output_file_is_schema_valid(
    write_tree: WriteTree, trees: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    root = write_tree(trees["mixed"])
    out = tmp_path / "report.sarif"
    result = check(root, "--format", "sarif", "--output", str(out))
    assert result.exit_code == 1, result.output
    log = json.loads(out.read_text(encoding="utf-8"))
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert uris == {"apps/web/deployment.yaml", "apps/crd/widget.yaml"}


@pytest.mark.parametrize(
    ("tree", "args", "code", "conclusion"),
    [
        ("clean", (), 0, "success"),
        ("mixed", (), 1, "failure"),
        ("mixed", ("--fail-on", "never"), 0, "success"),
        ("mixed", ("--fail-on", "warning"), 1, "failure"),
        ("environment", (), 1, "failure"),  # prod/ fails on its truthy warning
        ("environment", ("--fail-on", "never"), 1, "failure"),  # the environment decides
    ],
)
def test_exit_codes(
    tree: str,
    args: tuple[str, ...],
    code: int,
    conclusion: str,
    write_tree: WriteTree,
    trees: dict[str, dict[str, str]],
) -> None:
    root = write_tree(trees[tree])
    result = check(root, "--format", "json", *args)
    assert result.exit_code == code, result.output
    assert json.loads(result.output)["summary"]["conclusion"] == conclusion


def test_text_to_a_file_has_no_colours(
    write_tree: WriteTree, trees: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    root = write_tree(trees["mixed"])
    out = tmp_path / "report.txt"
    result = check(root, "--output", str(out))
    assert result.exit_code == 1
    rendered = out.read_text(encoding="utf-8")
    assert "\x1b" not in rendered
    assert rendered.splitlines()[-1].startswith("FAIL: 2 errors, 2 warnings, 0 notices")
