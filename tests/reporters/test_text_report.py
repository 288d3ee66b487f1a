"""Text output: golden files, blocking marks, colours, and escaping of what the files contain.

Golden files live in tests/reporters/golden/*.txt and are compared byte for byte. After an
intended change of the output, regenerate them with

    GITOPS_GATE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/reporters/test_text_report.py

and review the diff before committing. Without that variable a missing or different golden file
fails the test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.finding import Category, Finding, Severity
from bot.core.pipeline import Report
from bot.reporters import text

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("GITOPS_GATE_UPDATE_GOLDEN") == "1"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        return
    assert path.is_file(), f"{path} is missing; run with GITOPS_GATE_UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes().decode("utf-8")
    assert actual == expected


@pytest.mark.parametrize(
    ("fixture", "golden"),
    [
        ("mixed_report", "mixed"),
        ("clean_report", "clean"),
        ("never_report", "fail-on-never"),
        ("environment_report", "environment-fail-on-warning"),
        ("broken_yaml_report", "broken-yaml"),
        ("internal_error_report", "internal-error"),
        ("category_report", "every-category"),
    ],
)
def test_golden(fixture: str, golden: str, request: pytest.FixtureRequest) -> None:
    report: Report = request.getfixturevalue(fixture)
    rendered = text.render(report)
    assert "\x1b" not in rendered  # no colours unless asked
    assert_golden(golden, rendered)


def test_blocking_marks(environment_report: Report, never_report: Report) -> None:
    lines = text.render(environment_report).splitlines()
    prod = lines.index("prod/settings.yaml")
    dev = lines.index("dev/settings.yaml")
    assert lines[prod + 1].endswith("[syntax/truthy] (blocking)")
    assert lines[dev + 1].endswith("[syntax/truthy]")
    assert lines[-1].startswith("FAIL: 0 errors, 2 warnings, 0 notices")

    never = text.render(never_report)
    errors = [line for line in never.splitlines() if "  error  " in line]
    assert len(errors) == 2
    assert all(line.endswith(" (not blocking)") for line in errors)
    assert "(blocking)" not in never.replace("(not blocking)", "")
    assert never.splitlines()[-1].startswith("PASS: 2 errors, 2 warnings")


def test_blocking_errors_and_non_blocking_warnings_are_unmarked(mixed_report: Report) -> None:
    rendered = text.render(mixed_report)
    assert "blocking)" not in rendered


def test_colour(mixed_report: Report, clean_report: Report) -> None:
    coloured = text.render(mixed_report, colour=True)
    assert "\x1b[1mapps/web/deployment.yaml\x1b[0m" in coloured
    assert "\x1b[31merror  \x1b[0m" in coloured
    assert "\x1b[33mwarning\x1b[0m" in coloured
    assert "\x1b[2m[schema/wrong-type]\x1b[0m" in coloured
    assert coloured.splitlines()[-1].startswith("\x1b[1;31mFAIL\x1b[0m: ")
    assert text.render(clean_report, colour=True).startswith("\x1b[1;32mPASS\x1b[0m: ")
    # Stripped of its colours it is exactly the plain output.
    assert ANSI.sub("", coloured) == text.render(mixed_report)
    assert "\x1b" not in text.render(mixed_report, colour=False)


def test_control_characters_from_files_are_escaped(run_check: Callable[..., Report]) -> None:
    # A double-quoted YAML key can hold an ESC: it must not reach the terminal raw.
    report = run_check(
        {
            "apps/evil.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
            '"\\e[2J\\rgotcha": 1\n'
        }
    )
    for colour in (False, True):
        rendered = text.render(report, colour=colour)
        line = next(x for x in rendered.splitlines() if "schema/unknown-field" in x)
        assert "\\x1b[2J\\x0dgotcha" in line
        assert "\r" not in rendered
        assert "\x1b[2J" not in rendered


def test_multi_line_message_is_indented() -> None:
    finding = Finding(
        "syntax/parse-error",
        Category.SYNTAX,
        Severity.ERROR,
        "YAML error: mapping values are not allowed here\r\n  in line 4, column 9\n",
        "apps/broken.yaml",
        4,
        9,
    )
    report = Report(findings=(finding,), blocking=(True,), files=1, documents=0)
    assert text.render(report).splitlines() == [
        "apps/broken.yaml",
        "       4:9  error    YAML error: mapping values are not allowed here"
        "  [syntax/parse-error]",
        "                       in line 4, column 9",
        "",
        "FAIL: 1 error, 0 warnings, 0 notices in 1 file, 0 documents",
    ]
