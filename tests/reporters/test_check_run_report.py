"""The check run output: conclusion rules, title, Markdown summary within GitHub's limits, and
annotations as GitHub accepts them (validated against GitHub's published request schema), 50 per
request and capped."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from bot.config import FailOn
from bot.core.finding import Category, Finding, Severity, Source
from bot.core.pipeline import Report
from bot.reporters import check_run
from bot.reporters.check_run import (
    ANNOTATIONS_PER_REQUEST,
    GITHUB_TEXT_LIMIT,
    SUMMARY_LIMIT,
    Annotation,
    batches,
    render,
    truncate_utf8,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from githubkit_schemas.latest.models import (
        ReposOwnerRepoCheckRunsCheckRunIdPatchBodyPropOutput as PatchOutput,
    )
    from githubkit_schemas.latest.models import (
        ReposOwnerRepoCheckRunsPostBodyPropOutput as PostOutput,
    )

CheckFixture = Callable[..., Report]

MANY_DOCS = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\nimmutable: yes\n"


def assert_github_accepts(payload: Mapping[str, Any], *, create: bool = False) -> None:
    """What GitHub (and the emulator) checks of one request's ``output``: the published schema
    plus the documented limits the schema does not express."""
    model = PostOutput if create else PatchOutput
    model.model_validate(payload)
    assert len(payload["summary"]) <= GITHUB_TEXT_LIMIT
    assert len(payload["summary"].encode("utf-8")) <= GITHUB_TEXT_LIMIT
    annotations = payload.get("annotations", [])
    assert len(annotations) <= ANNOTATIONS_PER_REQUEST
    for item in annotations:
        assert item["start_line"] >= 1 and item["end_line"] >= item["start_line"]
        if "start_column" in item or "end_column" in item:
            assert item["start_line"] == item["end_line"]
            assert item["start_column"] >= 1 and item["end_column"] >= item["start_column"]
        assert item["annotation_level"] in ("notice", "warning", "failure")
        assert 0 < len(item["message"].encode("utf-8")) <= 64 * 1024
        assert len(item["title"]) <= 255
        assert len(item.get("raw_details", "").encode("utf-8")) <= 64 * 1024


def finding(
    index: int,
    severity: Severity = Severity.WARNING,
    *,
    path: str | None = None,
    line: int | None = None,
    message: str | None = None,
    category: Category = Category.SCHEMA,
) -> Finding:
    return Finding(
        rule_id=f"schema/rule-{index % 7}",
        category=category,
        severity=severity,
        message=message if message is not None else f"Problem number {index}.",
        path=path if path is not None else f"apps/file-{index % 13:02d}.yaml",
        line=line if line is not None else index + 1,
        column=3,
        end_line=line if line is not None else index + 1,
        source=Source("test"),
        locator=f"n{index}",
    )


def report_of(findings: list[Finding], blocking: list[bool] | None = None) -> Report:
    if blocking is None:
        blocking = [f.severity is Severity.ERROR for f in findings]
    return Report(tuple(findings), tuple(blocking), files=13, documents=len(findings))


def many(count: int) -> Report:
    severities = [Severity.ERROR, Severity.WARNING, Severity.NOTICE]
    return report_of([finding(i, severities[i % 3]) for i in range(count)])


# -- real reports from the pipeline ----------------------------------------------------------


def test_mixed_tree(mixed_report: Report) -> None:
    out = render(mixed_report)
    assert out.conclusion == "failure"
    assert out.title == "2 errors, 2 warnings"
    assert [
        (a["path"], a["start_line"], a["annotation_level"], a["title"]) for a in out.annotations
    ] == [
        ("apps/web/deployment.yaml", 7, "failure", "schema/wrong-type"),
        ("apps/web/deployment.yaml", 9, "failure", "schema/unknown-field"),
        ("apps/crd/widget.yaml", 1, "warning", "schema/missing-schema"),
        ("apps/web/deployment.yaml", 8, "warning", "syntax/truthy"),
    ]
    wrong_type = out.annotations[0]
    assert wrong_type["end_line"] == 7
    assert (wrong_type["start_column"], wrong_type["end_column"]) == (13, 13)
    assert wrong_type["raw_details"] == "Resource: apps/v1 Deployment prod/web"
    missing = out.annotations[2]  # spans the document: no columns
    assert missing["end_line"] > missing["start_line"]
    assert "start_column" not in missing and "end_column" not in missing
    summary = out.summary
    assert summary.startswith("## gitops-gate: ❌ Failed\n")
    assert "Checked 3 files (3 documents): 2 errors, 2 warnings; 2 blocking." in summary
    assert "| schema | 2 | 1 | 0 | 2 |" in summary and "| syntax | 0 | 1 | 0 | 0 |" in summary
    assert "| **total** | **2** | **2** | **0** | **2** |" in summary
    assert "- **error** `apps/web/deployment.yaml:7:13` spec.replicas" in summary
    assert summary.index("schema/wrong-type") < summary.index("syntax/truthy")
    assert "### Omitted" not in summary
    assert out.omitted_annotations == 0
    [payload] = out.payloads()
    assert_github_accepts(payload, create=True)


def test_clean_tree_is_success_with_one_payload(clean_report: Report) -> None:
    out = render(clean_report)
    assert out.conclusion == "success"
    assert out.title == "No problems found"
    assert out.annotations == []
    assert out.payloads() == [{"title": "No problems found", "summary": out.summary}]
    assert "✅ Passed" in out.summary and "Checked 1 file (1 document)" in out.summary
    assert "| Category" not in out.summary
    assert_github_accepts(out.payloads()[0])


def test_environment_blocking_warning_fails(environment_report: Report) -> None:
    out = render(environment_report)
    assert environment_report.count(Severity.ERROR) == 0
    assert out.conclusion == "failure"
    assert out.title == "2 warnings (1 blocking)"
    assert [(a["path"], a["annotation_level"]) for a in out.annotations] == [
        ("prod/settings.yaml", "warning"),  # the blocking one ranks first
        ("dev/settings.yaml", "warning"),
    ]
    assert out.annotations[0]["message"].endswith(" (blocking)")
    assert not out.annotations[1]["message"].endswith(" (blocking)")
    assert "`prod/settings.yaml:7:12`" in out.summary
    assert "fail_on" in out.summary
    lines = out.summary.splitlines()
    prod = next(i for i, line in enumerate(lines) if "prod/settings.yaml" in line)
    dev = next(i for i, line in enumerate(lines) if "dev/settings.yaml" in line)
    assert prod < dev and lines[prod].endswith("_(blocking)_")


def test_errors_that_do_not_block_pass(never_report: Report) -> None:
    out = render(never_report)
    assert out.conclusion == "success"
    assert out.title == "2 errors, 2 warnings (0 blocking)"
    failures = [a for a in out.annotations if a["annotation_level"] == "failure"]
    assert len(failures) == 2 and all(a["message"].endswith("(not blocking)") for a in failures)


def test_fail_on_warning_with_the_check_fixture(check: CheckFixture) -> None:
    from bot.core.pipeline import Options

    report = check(
        {"apps/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\nimmutable: yes\n"},
        options=Options(fail_on=FailOn.WARNING),
    )
    out = render(report)
    assert out.conclusion == "failure" and out.title == "1 warning (1 blocking)"


def test_broken_yaml(broken_yaml_report: Report) -> None:
    out = render(broken_yaml_report)
    assert out.conclusion == "failure"
    assert any(a["path"] == "apps/broken.yaml" for a in out.annotations)
    for payload in out.payloads():
        assert_github_accepts(payload)


def test_internal_error_without_a_path_goes_to_the_summary(internal_error_report: Report) -> None:
    out = render(internal_error_report)
    unlocated = [f for f in internal_error_report.findings if not f.path]
    assert unlocated and unlocated[0].rule_id == "internal/analyzer-error"
    assert out.conclusion == "failure"
    assert all(a["title"] != "internal/analyzer-error" for a in out.annotations)
    assert "`(no file)`" in out.summary and "`internal/analyzer-error`" in out.summary
    assert "without a file cannot be annotations; they are listed in this summary" in out.summary
    # Listed before the located findings of the same severity.
    assert out.summary.index("(no file)") < out.summary.index("apps/")


def test_every_category(category_report: Report) -> None:
    out = render(category_report)
    assert out.title == "2 errors, 2 warnings, 1 notice"
    for name in ("config", "image", "policy", "secret"):
        assert f"| {name} |" in out.summary
    # The located notice without a line annotates line 1 of its file.
    notice = next(a for a in out.annotations if a["annotation_level"] == "notice")
    assert (notice["path"], notice["start_line"], notice["end_line"]) == (
        "clusters/prod/settings.yaml",
        1,
        1,
    )
    assert "start_column" not in notice
    kyverno = next(a for a in out.annotations if a["title"].startswith("kyverno/"))
    assert kyverno["raw_details"] == (
        "Resource: apps/v1 Deployment prod/web\n"
        "Source: kyverno disallow-latest-tag/validate-image-tag\n"
        "Help: https://kyverno.io/policies/best-practices/disallow-latest-tag/"
    )
    # Only the redacted forms of secrets appear; locators (node paths) are not output.
    everything = repr(out)
    assert "AKIA…(redacted)" in everything and "pa…(redacted)" in everything
    assert "metadata.annotations.pw" not in everything and "data.key" not in everything


def test_700_findings_from_the_pipeline_make_14_requests(check: CheckFixture) -> None:
    text = "---\n".join(MANY_DOCS.format(i=i) for i in range(700))
    report = check({"apps/many.yaml": text})
    assert len(report.findings) == 700
    out = render(report)
    chunks = batches(out.annotations)
    assert [len(chunk) for chunk in chunks] == [50] * 14
    payloads = out.payloads()
    assert len(payloads) == 14
    assert [a for p in payloads for a in p["annotations"]] == out.annotations
    for index, payload in enumerate(payloads):
        assert payload["title"] == out.title and payload["summary"] == out.summary
        assert_github_accepts(payload, create=index == 0)
    assert out.conclusion == "success"  # warnings only, nothing blocking


# -- hand-built reports: counts, caps, limits -------------------------------------------------


def test_700_findings_are_14_batches_of_50() -> None:
    out = render(many(700))
    assert len(out.annotations) == 700
    chunks = batches(out.annotations, size=50)
    assert len(chunks) == 14 and all(len(chunk) == 50 for chunk in chunks)
    assert [a for chunk in chunks for a in chunk] == out.annotations
    for payload in out.payloads():
        assert_github_accepts(payload)


def test_batches_sizes() -> None:
    items = render(many(120)).annotations
    assert [len(c) for c in batches(items)] == [50, 50, 20]
    assert [len(c) for c in batches(items, size=7)][-1] == 1
    assert batches([]) == []
    for size in (0, 51):
        with pytest.raises(ValueError, match="between 1 and 50"):
            batches(items, size=size)


def test_cap_is_honoured_and_reported() -> None:
    report = many(700)
    out = render(report, max_annotations=120)
    assert len(out.annotations) == 120
    assert out.omitted_annotations == 580
    assert [len(p.get("annotations", [])) for p in out.payloads()] == [50, 50, 20]
    assert (
        "- 580 findings not annotated: at most 120 annotations are shown "
        "(the most important first)." in out.summary
    )
    # Ranked before the cut: all 234 errors outrank the warnings and notices, so the 120 kept
    # are errors.
    assert {a["annotation_level"] for a in out.annotations} == {"failure"}


def test_cap_keeps_blocking_warnings_before_other_warnings() -> None:
    findings = [finding(i, Severity.WARNING, path=f"dev/{i:03d}.yaml") for i in range(10)]
    findings += [finding(100, Severity.WARNING, path="prod/z.yaml")]
    blocking = [False] * 10 + [True]
    out = render(report_of(findings, blocking), max_annotations=3)
    assert out.annotations[0]["path"] == "prod/z.yaml"
    assert out.conclusion == "failure"


def test_default_cap_is_1000() -> None:
    out = render(many(1_500))
    assert len(out.annotations) == check_run.DEFAULT_MAX_ANNOTATIONS == 1000
    assert out.omitted_annotations == 500
    assert len(out.payloads()) == 20
    assert "500 findings not annotated: at most 1000 annotations" in out.summary


def test_zero_cap_means_no_annotations() -> None:
    out = render(many(10), max_annotations=0)
    assert out.annotations == [] and out.omitted_annotations == 10
    assert len(out.payloads()) == 1
    with pytest.raises(ValueError, match="negative"):
        render(many(1), max_annotations=-1)


def test_annotations_sorted_by_severity_then_path_and_line() -> None:
    findings = [
        finding(1, Severity.NOTICE, path="a.yaml", line=1),
        finding(2, Severity.WARNING, path="b.yaml", line=9),
        finding(3, Severity.ERROR, path="z.yaml", line=5),
        finding(4, Severity.WARNING, path="b.yaml", line=2),
        finding(5, Severity.ERROR, path="c.yaml", line=40),
        finding(6, Severity.WARNING, path="a.yaml", line=30),
    ]
    out = render(report_of(findings))
    assert [(a["annotation_level"], a["path"], a["start_line"]) for a in out.annotations] == [
        ("failure", "c.yaml", 40),
        ("failure", "z.yaml", 5),
        ("warning", "a.yaml", 30),
        ("warning", "b.yaml", 2),
        ("warning", "b.yaml", 9),
        ("notice", "a.yaml", 1),
    ]


def test_summary_stays_under_the_limit_with_10000_long_findings() -> None:
    long = "Überlänge ✓ 🚀 " * 400  # multi-byte characters, about 7 KB a message
    findings = [
        finding(i, Severity.ERROR if i % 2 else Severity.WARNING, message=f"{i}: {long}")
        for i in range(10_000)
    ]
    out = render(report_of(findings))
    size = len(out.summary.encode("utf-8"))
    assert size <= SUMMARY_LIMIT < GITHUB_TEXT_LIMIT
    assert len(out.summary) <= GITHUB_TEXT_LIMIT
    assert "Most important findings" in out.summary
    listed = out.summary.count("\n- **")
    assert 0 < listed < 200
    assert (
        f"- {10_000 - listed} findings not listed above "
        "(to keep the summary under GitHub's size limit)" in out.summary
    )
    assert "- 9000 findings not annotated: at most 1000 annotations" in out.summary
    # Errors first; each message cut short in the summary, on a character boundary.
    assert "- **error**" in out.summary and "- **warning**" not in out.summary
    assert "… (truncated)" in out.summary
    out.summary.encode("utf-8")  # valid text, no lone surrogates
    for payload in out.payloads()[:2]:
        assert_github_accepts(payload)


def test_summary_lists_at_most_200_findings() -> None:
    out = render(many(300))
    assert out.summary.count("\n- **") == 200
    assert "- 100 findings not listed above (the summary lists at most 200)" in out.summary


def test_huge_messages_and_titles_are_cut_within_githubs_limits() -> None:
    big = Finding(
        rule_id="policy/" + "r" * 400,
        category=Category.POLICY,
        severity=Severity.ERROR,
        message="é" * 70_000,  # 140,000 bytes
        path="apps/a.yaml",
        line=3,
        help_url="https://example.com/" + "h" * 70_000,
        source=Source("rego", "p"),
    )
    out = render(report_of([big]))
    [item] = out.annotations
    assert len(item["message"].encode()) <= 64 * 1024 and item["message"].endswith("(truncated)")
    assert len(item["title"]) == 255 and item["title"].endswith("(truncated)")
    assert len(item["raw_details"].encode()) <= 64 * 1024
    assert_github_accepts(out.payloads()[0], create=True)
    assert len(out.summary.encode()) <= SUMMARY_LIMIT


def test_columns_only_on_single_line_annotations() -> None:
    def one(**kwargs: Any) -> Annotation:
        base: dict[str, Any] = {
            "rule_id": "schema/x",
            "category": Category.SCHEMA,
            "severity": Severity.ERROR,
            "message": "m",
            "path": "a.yaml",
        }
        return check_run.annotation(Finding(**(base | kwargs)))

    single = one(line=4, column=7, end_line=4)
    assert (single["start_line"], single["end_line"]) == (4, 4)
    assert (single["start_column"], single["end_column"]) == (7, 7)
    no_end = one(line=4, column=7)
    assert (no_end["end_line"], no_end["start_column"]) == (4, 7)
    multi = one(line=4, column=7, end_line=9)
    assert (multi["start_line"], multi["end_line"]) == (4, 9)
    assert "start_column" not in multi and "end_column" not in multi
    no_column = one(line=4, end_line=4)
    assert "start_column" not in no_column and "end_column" not in no_column
    no_line = one(column=7)  # a column without a line means nothing
    assert (no_line["start_line"], no_line["end_line"]) == (1, 1)
    assert "start_column" not in no_line
    backwards = one(line=9, end_line=4, column=2)  # a bad range collapses to its start
    assert (backwards["start_line"], backwards["end_line"]) == (9, 9)
    with pytest.raises(ValueError, match="without a path"):
        one(path="", line=1)


def test_severity_to_annotation_level() -> None:
    levels = {
        s: render(report_of([finding(1, s)])).annotations[0]["annotation_level"] for s in Severity
    }
    assert levels == {
        Severity.ERROR: "failure",
        Severity.WARNING: "warning",
        Severity.NOTICE: "notice",
    }


# -- conclusion rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severities", "blocking", "conclusion"),
    [
        ([], [], "success"),
        ([Severity.NOTICE, Severity.WARNING], [False, False], "success"),
        ([Severity.ERROR], [True], "failure"),
        ([Severity.ERROR], [False], "success"),  # --fail-on never
        ([Severity.WARNING, Severity.WARNING], [True, False], "failure"),  # environment fail_on
        ([Severity.NOTICE], [True], "failure"),
    ],
)
def test_conclusion_follows_blocking(
    severities: list[Severity], blocking: list[bool], conclusion: str
) -> None:
    out = render(report_of([finding(i, s) for i, s in enumerate(severities)], blocking))
    assert out.conclusion == conclusion
    assert out.conclusion not in ("neutral", "skipped")


def test_could_not_finish_always_fails(clean_report: Report) -> None:
    reason = "the job deadline of 600 s passed while fetching files"
    out = render(clean_report, incomplete=reason)
    assert out.conclusion == "failure"
    assert out.title == "Analysis could not finish: no problems found"
    assert f"> **The analysis could not finish:** {reason}" in out.summary
    assert "❌ Failed" in out.summary
    empty_reason = render(report_of([]), incomplete="")
    assert empty_reason.conclusion == "failure"
    assert "unknown reason" in empty_reason.summary


def test_could_not_finish_with_findings(mixed_report: Report) -> None:
    out = render(mixed_report, incomplete="GitHub lists at most 3,000 files; this PR has 4,120")
    assert out.conclusion == "failure"
    assert out.title == "Analysis could not finish: 2 errors, 2 warnings"
    assert "at most 3,000 files" in out.summary
    assert len(out.annotations) == 4


def test_long_reason_is_cut_and_kept_on_one_quote_line() -> None:
    out = render(report_of([]), incomplete="line one\nline two " + "x" * 10_000)
    quoted = [line for line in out.summary.splitlines() if "could not finish" in line]
    assert len(quoted) == 1 and "line one line two" in quoted[0]
    assert len(quoted[0]) < 2_200
    assert len(out.title) <= 255


# -- Markdown safety and truncation -------------------------------------------------------------


def test_markdown_in_messages_renders_literally() -> None:
    message = "@octocat see <img src=x> | **bold** [link](http://e.x)\n# heading `tick`"
    tricky = finding(1, Severity.ERROR, message=message, path="apps/we`ird|.yaml", line=2)
    out = render(report_of([tricky]))
    line = next(line for line in out.summary.splitlines() if line.startswith("- **error**"))
    assert "@\u200boctocat" in line  # no mention
    assert "\\<img src=x\\>" in line and "\\|" in line and "\\*\\*bold\\*\\*" in line
    assert "\\[link\\]" in line and "\\# heading" in line and "\\`tick\\`" in line
    assert "``apps/we`ird|.yaml:2:3``" in line
    assert "\n# heading" not in out.summary
    # Annotations are plain text: the message is kept as written.
    assert out.annotations[0]["message"] == message
    assert "nginx@sha256" in check_run._inline("nginx@sha256:abc")


@pytest.mark.parametrize(
    ("text", "limit"),
    [("a" * 100, 10), ("é" * 100, 11), ("🚀" * 50, 23), ("ab🚀cd", 20), ("x🚀", 2)],
)
def test_truncate_utf8_never_cuts_a_character(text: str, limit: int) -> None:
    cut = truncate_utf8(text, limit, suffix="…")
    data = cut.encode("utf-8")
    assert len(data) <= limit
    assert data.decode("utf-8") == cut
    if len(text.encode()) > limit and limit >= 3:
        assert cut.endswith("…") and text.startswith(cut[:-1])
    elif len(text.encode()) > limit:  # no room for the marker
        assert text.startswith(cut)
    else:
        assert cut == text


def test_truncate_utf8_replaces_lone_surrogates() -> None:
    assert truncate_utf8("bad \udcff byte", 100) == "bad ? byte"


def test_allowances_and_pre_existing_secrets_are_in_the_summary() -> None:
    from bot.core.allowance import Allowance

    report = Report(
        findings=(),
        blocking=(),
        files=2,
        documents=2,
        allowances=(
            Allowance("secret/jwt", "apps/a.yaml", 7, "ab12", "inline comment", "test fixture"),
        ),
        pre_existing_secrets=3,
    )
    out = render(report)
    assert out.conclusion == "success"
    assert "### Allowed on purpose (1)" in out.summary
    assert "`apps/a.yaml:7` `secret/jwt`: inline comment, test fixture" in out.summary
    assert "3 secrets already on the base branch" in out.summary
