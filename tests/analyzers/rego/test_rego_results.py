"""conftest's stdout and JSON output (output/standard_test.go, output/json_test.go)."""

from __future__ import annotations

from bot.analyzers.rego.results import (
    CheckResult,
    Result,
    exit_code,
    render_json,
    render_stdout,
)


def _result(filename: str = "foo.yaml", **kwargs: object) -> CheckResult:
    return CheckResult(filename, "namespace", **kwargs)  # type: ignore[arg-type]


def test_standard_output_cases() -> None:
    both = _result(warnings=[Result("first warning")], failures=[Result("first failure")])
    assert render_stdout([both]) == (
        "WARN - foo.yaml - namespace - first warning\n"
        "FAIL - foo.yaml - namespace - first failure\n"
        "\n"
        "2 tests, 0 passed, 1 warning, 1 failure, 0 exceptions\n"
    )
    stdin = _result("-", warnings=[Result("first warning")], failures=[Result("first failure")])
    assert render_stdout([stdin]).startswith("WARN - - namespace - first warning\n")
    skipped = _result(
        warnings=[Result("first warning")],
        failures=[Result("first failure")],
        skipped=[Result("first skipped")],
    )
    assert render_stdout([skipped], show_skipped=True).endswith(
        "\n3 tests, 0 passed, 1 warning, 1 failure, 0 exceptions, 1 skipped\n"
    )


def test_exceptions_and_no_policies_lines() -> None:
    result = _result(exceptions=[Result('data.main.exception[_][_] == "x"')], successes=1)
    assert render_stdout([result]) == (
        'EXCP - foo.yaml - namespace - data.main.exception[_][_] == "x"\n'
        "\n"
        "2 tests, 1 passed, 0 warnings, 0 failures, 1 exception\n"
    )
    assert render_stdout([result], suppress_exceptions=True) == (
        "\n2 tests, 1 passed, 0 warnings, 0 failures, 1 exception\n"
    )
    assert render_stdout([_result()]) == (
        "? - foo.yaml - namespace - no policies found\n\n"
        "0 tests, 0 passed, 0 warnings, 0 failures, 0 exceptions\n"
    )


def test_colour_follows_the_outcome() -> None:
    text = render_stdout([_result(failures=[Result("f")])], colour=True)
    assert "\x1b[31mFAIL\x1b[0m - foo.yaml" in text
    assert text.endswith("\x1b[31m1 test, 0 passed, 0 warnings, 1 failure, 0 exceptions\x1b[0m\n")


def test_json_output_cases() -> None:
    service = "examples/kubernetes/service.yaml"
    assert render_json([_result(service)]) == (
        "[\n\t{\n"
        f'\t\t"filename": "{service}",\n'
        '\t\t"namespace": "namespace",\n'
        '\t\t"successes": 0\n'
        "\t}\n]\n"
    )
    assert render_json([_result("-", failures=[Result("first failure")])]) == (
        "[\n\t{\n"
        '\t\t"filename": "",\n'
        '\t\t"namespace": "namespace",\n'
        '\t\t"successes": 0,\n'
        '\t\t"failures": [\n'
        "\t\t\t{\n"
        '\t\t\t\t"msg": "first failure"\n'
        "\t\t\t}\n"
        "\t\t]\n"
        "\t}\n]\n"
    )
    ordered = render_json(
        [
            _result(
                warnings=[Result("w")],
                failures=[Result("f")],
                skipped=[Result("s")],
                exceptions=[Result("e")],
            )
        ]
    )
    keys = [line.strip().split(":")[0] for line in ordered.splitlines() if line.startswith('\t\t"')]
    assert keys == [
        '"filename"',
        '"namespace"',
        '"successes"',
        '"skipped"',
        '"warnings"',
        '"failures"',
        '"exceptions"',
    ]


def test_json_escapes_like_go_and_sorts_metadata() -> None:
    item = Result(
        "a <b> & c\u2028",
        metadata={"z": 1, "a": {"y": True, "b": None}, "query": "data.main.deny"},
        loc={"file": "deploy.yaml", "line": 12},
    )
    text = render_json([_result(failures=[item])])
    assert '"msg": "a \\u003cb\\u003e \\u0026 c\\u2028"' in text
    assert text.index('"loc"') < text.index('"metadata"')
    assert text.index('"a": {') < text.index('"query"') < text.index('"z"')
    assert text.index('"b": null') < text.index('"y": true')
    assert render_json([]) == "null\n"


def test_exit_codes() -> None:
    clean = _result(successes=1)
    warned = _result(warnings=[Result("w")])
    failed = _result(failures=[Result("f")])
    assert [exit_code([r]) for r in (clean, warned, failed)] == [0, 0, 1]
    assert [exit_code([r], fail_on_warn=True) for r in (clean, warned, failed)] == [0, 1, 2]
    assert exit_code([warned, failed], fail_on_warn=True) == 2
