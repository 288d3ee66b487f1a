"""GitHub Actions workflow commands: escaping as GitHub's runner parses it, relative files."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from bot.core.finding import Category, Finding, Severity, Source
from bot.core.pipeline import Report
from bot.reporters import github_actions

COMMAND = re.compile(r"^::(error|warning|notice) ([^:]*)::(.*)$")


def unescape_data(text: str) -> str:
    """What the Actions runner does to a command's message (``%25`` last)."""
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(text: str) -> str:
    return (
        text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def parse(line: str) -> tuple[str, dict[str, str], str]:
    """Parse one workflow command the way the runner does: properties split on ``,``, each on
    its first ``=``; the message is everything after the second ``::``."""
    match = COMMAND.match(line)
    assert match, line
    props = {}
    for pair in match.group(2).split(","):
        key, _, value = pair.partition("=")
        props[key] = unescape_property(value)
    return match.group(1), props, unescape_data(match.group(3))


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain text", "plain text"),
        ("100% sure", "100%25 sure"),
        ("line one\nline two", "line one%0Aline two"),
        ("crlf\r\nend", "crlf%0D%0Aend"),
        ("literal %0A stays", "literal %250A stays"),
        ("a: b, c", "a: b, c"),  # ':' and ',' are fine in the message
    ],
)
def test_escape_data(raw: str, escaped: str) -> None:
    assert github_actions.escape_data(raw) == escaped
    assert unescape_data(escaped) == raw


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("apps/web.yaml", "apps/web.yaml"),
        ("apps/a:b.yaml", "apps/a%3Ab.yaml"),
        ("apps/a,b.yaml", "apps/a%2Cb.yaml"),
        ("50%,x:y\r\n", "50%25%2Cx%3Ay%0D%0A"),
        ("%3A", "%253A"),
    ],
)
def test_escape_property(raw: str, escaped: str) -> None:
    assert github_actions.escape_property(raw) == escaped
    assert unescape_property(escaped) == raw


def test_commands_for_the_mixed_tree(mixed_report: Report) -> None:
    lines = github_actions.render(mixed_report).splitlines()
    assert lines[-1] == "gitops-gate: failure: 2 errors, 2 warnings, 0 notices"
    parsed = [parse(line) for line in lines[:-1]]
    assert [(kind, props["file"], props["line"], props["title"]) for kind, props, _ in parsed] == [
        ("warning", "apps/crd/widget.yaml", "1", "schema/missing-schema"),
        ("error", "apps/web/deployment.yaml", "7", "schema/wrong-type"),
        ("warning", "apps/web/deployment.yaml", "8", "syntax/truthy"),
        ("error", "apps/web/deployment.yaml", "9", "schema/unknown-field"),
    ]
    wrong = parsed[1]
    assert wrong[1] == {
        "file": "apps/web/deployment.yaml",
        "line": "7",
        "endLine": "7",
        "col": "13",
        "title": "schema/wrong-type",
    }
    assert wrong[2] == "spec.replicas: expected integer, got string '3'."
    assert lines[1] == (
        "::error file=apps/web/deployment.yaml,line=7,endLine=7,col=13,"
        "title=schema/wrong-type::spec.replicas: expected integer, got string '3'."
    )


def test_file_is_relative_to_the_checked_root(mixed_report: Report) -> None:
    for line in github_actions.render(mixed_report).splitlines()[:-1]:
        file = parse(line)[1]["file"]
        assert not file.startswith("/") and "\\" not in file
        assert file.startswith("apps/")


def test_special_characters_survive_the_runner(run_check: Callable[..., Report]) -> None:
    """A real run: a file name with ':' and ',', a field name with '%', ':' and ',', and a YAML
    error in another file."""
    report = run_check(
        {
            "apps/a:b,c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
            '"50%: off, on": 1\n',
            "apps/broken.yaml": "kind: [oops\n",
        }
    )
    rendered = github_actions.render(report)
    lines = rendered.splitlines()
    # One line per finding plus the summary: no message could start a line of its own.
    assert len(lines) == len(report.findings) + 1
    assert all(line.startswith("::") for line in lines[:-1])
    for line, finding in zip(lines, report.findings, strict=False):
        kind, props, message = parse(line)
        assert kind == finding.severity.value
        assert props["file"] == finding.path
        assert props["title"] == finding.rule_id
        assert message == finding.message
    unknown = next(f for f in report.findings if f.rule_id == "schema/unknown-field")
    assert "50%: off, on" in unknown.message
    assert "file=apps/a%3Ab%2Cc.yaml," in rendered
    assert "50%25: off, on" in rendered
    assert "syntax/parse-error" in {f.rule_id for f in report.findings}


def test_carriage_return_and_run_level_findings() -> None:
    findings = (
        Finding(
            "internal/analyzer-error",
            Category.INTERNAL,
            Severity.ERROR,
            "The schema analyzer failed:\r\nboom",
            "",
            source=Source("schema"),
        ),
        Finding(
            "syntax/truthy",
            Category.SYNTAX,
            Severity.NOTICE,
            "Truthy value",
            "x.yaml",
            None,
            4,
            None,
        ),
    )
    report = Report(findings=findings, blocking=(True, False), files=1, documents=1)
    lines = github_actions.render(report).splitlines()
    assert lines == [
        "::error title=internal/analyzer-error::The schema analyzer failed:%0D%0Aboom",
        "::notice file=x.yaml,title=syntax/truthy::Truthy value",  # no col without a line
        "gitops-gate: failure: 1 error, 0 warnings, 1 notice",
    ]
