"""The yamllint-based style rules: defaults, positions, and the size guard."""

from __future__ import annotations

from bot.core.limits import Limits
from bot.core.pipeline import Options

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n"


def test_default_rules_report_with_line_and_column(check) -> None:  # type: ignore[no-untyped-def]
    report = check({"cm.yaml": CM + "  a: 'b'  \n  enabled: 'on'\nimmutable: on"})
    got = {(f.rule_id, f.line, f.column, f.severity.value) for f in report.findings}
    assert got == {
        ("syntax/trailing-spaces", 6, 9, "notice"),
        ("syntax/truthy", 8, 12, "warning"),
        ("syntax/new-line-at-end-of-file", 8, 14, "notice"),
    }


def test_duplicate_keys_are_reported_once_by_the_loader(check) -> None:  # type: ignore[no-untyped-def]
    report = check({"cm.yaml": CM + "  a: b\n  a: c\n"})
    assert [(f.rule_id, f.line, f.source.engine) for f in report.findings] == [
        ("syntax/duplicate-key", 7, "yaml")
    ]


def test_helm_templates_and_json_are_not_style_checked(check) -> None:  # type: ignore[no-untyped-def]
    report = check(
        {
            "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 1.0.0\n",
            "chart/templates/cm.yaml": "data:\n  a: {{ .Values.a }}   \n",
            "data.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}',
        }
    )
    assert report.findings == ()


def test_large_files_skip_style_rules_but_are_still_validated(check) -> None:  # type: ignore[no-untyped-def]
    text = CM + "".join(f"  key{i}: value   \n" for i in range(200)) + "  bad: 1\n"
    report = check({"cm.yaml": text}, options=Options(limits=Limits(max_lint_chars=1000)))
    got = {(f.rule_id, f.line) for f in report.findings}
    assert got == {("syntax/style-skipped", None), ("schema/wrong-type", 206)}
