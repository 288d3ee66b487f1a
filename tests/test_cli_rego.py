"""``gitops-gate rego test|verify`` against conftest's own examples and acceptance tests.

Each expectation cites its source in conftest (tests/data/conftest/README.md lists the copied
files and commits): ``acceptance.bats`` (commit 10f5a38e), ``tests/<case>/test.bats``,
``docs/options.md``, ``output/*_test.go``. The engine is the real one (RegorusEngine in its
worker process); the tests run inside ``tests/data/conftest`` so paths print as conftest's do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli_rego import rego

ROOT = Path(__file__).resolve().parent.parent
CONFTEST = ROOT / "tests" / "data" / "conftest"
K8S = "examples/kubernetes"
DEPLOYMENT_FAILURES = [
    "Containers must not run as root in Deployment hello-kubernetes",
    "Deployment hello-kubernetes must provide app/release labels for pod selectors",
    "hello-kubernetes must include Kubernetes recommended labels: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/#labels",
    "Found deployment hello-kubernetes but deployments are not allowed",
]


@pytest.fixture(autouse=True)
def _in_conftest_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CONFTEST)


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(rego, list(args), input=stdin)


def lines(result: Result) -> list[str]:
    """Non-empty stdout lines, as bats' ``${lines[@]}`` counts them."""
    return [line for line in result.stdout.splitlines() if line]


# --- acceptance.bats: examples/kubernetes ---------------------------------------------------


def test_service_with_a_warning_passes_with_accurate_counts() -> None:
    result = run("test", "-p", f"{K8S}/policy", f"{K8S}/service.yaml", "--no-color")
    assert result.exit_code == 0
    assert lines(result) == [
        f"WARN - {K8S}/service.yaml - main - Found service hello-kubernetes but services are "
        "not allowed",
        "5 tests, 4 passed, 1 warning, 0 failures, 0 exceptions",
    ]
    assert result.stdout.endswith("\n\n5 tests, 4 passed, 1 warning, 0 failures, 0 exceptions\n")


def test_deployment_with_root_containers_fails_once_per_message() -> None:
    result = run("test", "-p", f"{K8S}/policy", f"{K8S}/deployment.yaml")
    assert result.exit_code == 1
    assert lines(result) == [
        *(f"FAIL - {K8S}/deployment.yaml - main - {message}" for message in DEPLOYMENT_FAILURES),
        "5 tests, 1 passed, 0 warnings, 4 failures, 0 exceptions",  # docs/options.md
    ]


def test_json_output_of_the_deployment() -> None:
    result = run("test", "-o", "json", "-p", f"{K8S}/policy", f"{K8S}/deployment.yaml")
    assert result.exit_code == 1
    assert result.stdout.startswith('[\n\t{\n\t\t"filename": "examples/kubernetes/deployment.yaml"')
    (entry,) = json.loads(result.stdout)
    assert entry["namespace"] == "main" and entry["successes"] == 1
    assert "warnings" not in entry and "exceptions" not in entry
    assert [f["msg"] for f in entry["failures"]] == DEPLOYMENT_FAILURES
    assert entry["failures"][0]["metadata"] == {"query": "data.main.deny"}
    assert entry["failures"][3]["metadata"] == {"details": {}, "query": "data.main.violation"}


def test_blank_filename_is_skipped_and_multi_file_runs_fail_on_any_file() -> None:
    assert run("test", "-p", f"{K8S}/policy", f"{K8S}/service.yaml", "").exit_code == 0
    both = run("test", "-p", f"{K8S}/policy", f"{K8S}/deployment.yaml", f"{K8S}/service.yaml")
    assert both.exit_code == 1
    assert lines(both)[-1] == "10 tests, 5 passed, 1 warning, 4 failures, 0 exceptions"


def test_multi_document_file_sums_its_documents() -> None:
    result = run("test", "-p", f"{K8S}/policy", f"{K8S}/deployment+service.yaml")
    assert result.exit_code == 1
    assert lines(result)[-1] == "10 tests, 5 passed, 1 warning, 4 failures, 0 exceptions"
    assert all("deployment+service.yaml - main - " in line for line in lines(result)[:-1])


def test_empty_documents_are_evaluated_as_null(tmp_path: Path) -> None:
    # parser/yaml: an empty chunk is a null document and still counts (5 rules each).
    empty, multi = tmp_path / "empty.yaml", tmp_path / "multi.yaml"
    empty.write_text("")
    multi.write_text("kind: Service\nmetadata: {name: a}\n---\n\n---\nkind: Service\n")
    result = run("test", "-p", f"{K8S}/policy", str(empty), str(multi))
    assert result.exit_code == 0
    # 4 documents x 5 rules; the nameless Service gets no warning (its message is undefined).
    assert lines(result)[-1] == "20 tests, 19 passed, 1 warning, 0 failures, 0 exceptions"


def test_fail_on_warn_and_no_fail() -> None:
    service, deployment = f"{K8S}/service.yaml", f"{K8S}/deployment.yaml"
    assert run("test", "--fail-on-warn", "-p", f"{K8S}/policy", service).exit_code == 1
    assert run("test", "--fail-on-warn", "-p", f"{K8S}/policy", deployment).exit_code == 2
    assert run("test", "--no-fail", "-p", f"{K8S}/policy", deployment).exit_code == 0


def test_blank_namespace_passes() -> None:
    result = run(
        "test", "--namespace", "notpresent", "-p", f"{K8S}/policy", f"{K8S}/deployment.yaml"
    )
    assert result.exit_code == 0
    assert lines(result) == [
        f"? - {K8S}/deployment.yaml - notpresent - no policies found",
        "0 tests, 0 passed, 0 warnings, 0 failures, 0 exceptions",
    ]


def test_stdin_is_yaml_by_default() -> None:
    service = (CONFTEST / K8S / "service.yaml").read_text()
    for extra in ([], ["--parser", "yaml"]):
        result = run("test", *extra, "-p", f"{K8S}/policy", "-", stdin=service)
        assert result.exit_code == 0
        assert lines(result)[0].startswith("WARN - - main - Found service hello-kubernetes")
    as_json = run("test", "-o", "json", "-p", f"{K8S}/policy", "-", stdin=service)
    assert json.loads(as_json.stdout)[0]["filename"] == ""


def test_no_policies_is_an_error_with_nothing_on_stdout() -> None:
    result = run("test", "-p", "examples/data/exclusions", f"{K8S}/deployment.yaml")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "Error: no policies found in [examples/data/exclusions]\n"
    missing = run("verify", "-p", "internal/")
    assert missing.exit_code == 1 and missing.stdout == ""
    assert 'policy path "internal/" does not exist' in missing.stderr


def test_verify_runs_the_policy_unit_tests() -> None:
    result = run("verify", "--policy", f"./{K8S}/policy", "--no-color")
    assert result.exit_code == 0
    assert lines(result) == ["4 tests, 4 passed, 0 warnings, 0 failures, 0 exceptions, 0 skipped"]
    as_json = json.loads(run("verify", "-p", f"{K8S}/policy", "-o", "json").stdout)
    test_file = {"filename": f"{K8S}/policy/base_test.rego", "namespace": "", "successes": 1}
    assert as_json == [test_file] * 4
    nothing = run("verify", "-p", f"{K8S}/policy", "--namespace", "doesnotexist")
    assert nothing.exit_code == 0
    assert lines(nothing) == ["0 tests, 0 passed, 0 warnings, 0 failures, 0 exceptions, 0 skipped"]


# --- acceptance.bats: exceptions, data, combine ---------------------------------------------


def test_exceptions_reported_and_suppressed() -> None:
    args = ("test", "-p", "examples/exceptions/policy", "examples/exceptions/deployments.yaml")
    result = run(*args, "--no-color")
    assert result.exit_code == 1
    assert lines(result) == [
        "FAIL - examples/exceptions/deployments.yaml - main - Containers must not run as root "
        "in Deployment cannot-run-as-root",
        "EXCP - examples/exceptions/deployments.yaml - main - "
        'data.main.exception[_][_] == "run_as_root"',
        "2 tests, 0 passed, 0 warnings, 1 failure, 1 exception",
    ]
    suppressed = run(*args, "--no-color", "--suppress-exceptions")
    assert lines(suppressed)[1] == "2 tests, 0 passed, 0 warnings, 1 failure, 1 exception"
    (entry,) = json.loads(run(*args, "-o", "json").stdout)
    assert entry["exceptions"] == [{"msg": 'data.main.exception[_][_] == "run_as_root"'}]


def test_data_along_with_policies_and_in_unit_tests() -> None:
    result = run(
        "test",
        "-p",
        "examples/data/policy",
        "-d",
        "examples/data/exclusions",
        "examples/data/service.yaml",
    )
    assert result.exit_code == 1
    assert "Cannot expose port 22 on LoadBalancer. Denied ports: [22, 21]" in result.stdout
    verified = run(
        "verify",
        "-p",
        "examples/data/policy",
        "-d",
        "examples/data/exclusions",
        "examples/data/service.yaml",
    )
    assert verified.exit_code == 0
    assert "1 test, 1 passed, 0 warnings, 0 failures" in verified.stdout


def test_combine_kubernetes_example() -> None:
    policy = "examples/kubernetes/combine/combine.rego"
    for files in (
        ["examples/kubernetes/combine/combine.yaml"],
        ["examples/kubernetes/combine/deployment.yaml", f"{K8S}/service.yaml"],
    ):
        result = run("test", "--combine", "-p", policy, *files)
        assert result.exit_code == 1
        assert lines(result) == [
            "FAIL - Combined - main - Deployment 'goodbye-kubernetes' has no matching service",
            "1 test, 0 passed, 0 warnings, 1 failure, 0 exceptions",
        ]


def test_combine_users_example_is_refused_by_regorus() -> None:
    # conftest (OPA) passes this policy ("2 tests, 1 passed, 0 warnings, 1 failure"); Regorus
    # rejects `name := ...` after `name` was used in the same comprehension. The run must say
    # so at the line, never pass.
    result = run(
        "test",
        "-p",
        "examples/combine/policy",
        "examples/combine/team.yaml",
        "examples/combine/users.yaml",
        "--combine",
    )
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: examples/combine/policy/duplicate.rego:7:")


# --- tests/*/test.bats ----------------------------------------------------------------------


def test_nested_namespaces_literal_glob_and_all() -> None:
    args = ("-p", "tests/nested/policy", "tests/nested/data.json")
    assert run("test", "--namespace", "group1", *args).exit_code == 1
    assert run("test", "--namespace", "group2", *args).exit_code == 1
    for flags in (
        ["--namespace", "group1", "--namespace", "group2"],
        ["-n", "group*"],
        ["-n", "group1,group2"],
        ["--all-namespaces"],
    ):
        result = run("test", *flags, *args)
        assert result.exit_code == 1
        assert lines(result) == [
            "FAIL - tests/nested/data.json - group1 - nested json group1 failed",
            "FAIL - tests/nested/data.json - group2 - nested json group2 failed",
            "2 tests, 0 passed, 0 warnings, 2 failures, 0 exceptions",
        ], flags
    bad = run("test", "-n", "group[", *args)
    assert bad.exit_code == 1 and "bad pattern" in bad.stderr


def test_multiple_policy_flags() -> None:
    result = run(
        "test",
        "--policy",
        "tests/multidir/org",
        "--policy",
        "tests/multidir/team",
        "tests/multidir/data.json",
    )
    assert result.exit_code == 1
    assert "2 tests, 0 passed, 0 warnings, 2 failures" in result.stdout


@pytest.mark.parametrize(
    ("policy", "version", "code"),
    [
        ("v0.rego", "v0", 0),
        ("v0.rego", "v1", 1),
        ("v1.rego", "v0", 1),
        ("v1.rego", "v1", 0),
        ("v1.rego", "V1", 0),
    ],
)
def test_rego_version(policy: str, version: str, code: int) -> None:
    path = f"--policy=tests/rego-version/policy/{policy}"
    tested = run("test", path, f"--rego-version={version}", "tests/rego-version/data.yaml")
    assert tested.exit_code == code
    verified = run("verify", path, f"--rego-version={version}")
    assert verified.exit_code == code
    if code:
        assert tested.stdout == "" and tested.stderr.startswith(
            f"Error: tests/rego-version/policy/{policy}:"
        )
    if (policy, version) == ("v0.rego", "v1"):
        assert "run with --rego-version v0" in tested.stderr
    invalid = run("test", path, "--rego-version=v2", "tests/rego-version/data.yaml")
    assert invalid.exit_code == 1 and "invalid Rego version: v2" in invalid.stderr


def test_problematic_if() -> None:
    data = "tests/problematic-if/data.yaml"
    valid = run("test", "--policy=tests/problematic-if/policy/valid.rego", data)
    assert valid.exit_code == 1
    assert "1 test, 0 passed, 0 warnings, 1 failure, 0 exceptions" in valid.stdout
    bare = run("test", "--policy=tests/problematic-if/policy/valid_bare_deny.rego", data)
    assert bare.exit_code == 0
    assert "1 test, 1 passed, 0 warnings, 0 failures, 0 exceptions" in bare.stdout
    invalid = run("test", "--policy=tests/problematic-if/policy/invalid.rego", data)
    assert invalid.exit_code == 1 and invalid.stdout == ""
    assert "'if' keyword without 'contains' keyword" in invalid.stderr
    assert invalid.stderr.startswith("Error: tests/problematic-if/policy/invalid.rego:5:")


def test_source_location_in_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CONFTEST / "tests" / "source-location")  # the default --policy is ./policy
    result = run("test", "-o", "json", "-d", "loc_different_file.yaml", "data.yaml")
    assert result.exit_code == 1
    (entry,) = json.loads(result.stdout)
    (failure,) = entry["failures"]
    assert failure["loc"] == {"file": "test.txt", "line": 123}
    assert failure["metadata"] == {"other": "metadata", "query": "data.main.deny"}
    assert '"file": "test.txt"' in result.stdout and '"line": 123' in result.stdout


def test_return_multiple_failures() -> None:
    result = run(
        "test", "-p", "tests/return-multiple-failures/policy.rego", "tests/nested/data.json"
    )
    assert result.exit_code == 1
    assert [line.rsplit(" - ", 1)[1] for line in lines(result)[:-1]] == ["one", "three", "two"]
    assert lines(result)[-1] == "3 tests, 0 passed, 0 warnings, 3 failures, 0 exceptions"


# --- errors, flags, data.conftest.file ------------------------------------------------------


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_errors_name_the_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        {
            "policy/ok.rego": 'package main\n\ndeny contains "x" if {\n  input.x\n}\n',
            "policy/nomsg/bad.rego": (
                'package nomsg\n\nviolation contains {"details": 1} if {\n  input.x\n}\n'
            ),
            "broken/syntax.rego": "package main\n\ndeny contains msg if {\n  msg := \n}\n",
            "good.yaml": "x: 1\n",
            "bad.yaml": "x: 1\n---\ny: [\n",
        },
    )
    syntax = run("test", "-p", "broken", "good.yaml")
    assert syntax.exit_code == 1 and syntax.stdout == ""
    assert syntax.stderr.startswith("Error: broken/syntax.rego:4:")
    parse = run("test", "bad.yaml")
    assert (parse.exit_code, parse.stdout) == (1, "")
    assert parse.stderr.startswith("Error: bad.yaml:4: YAML syntax error")
    no_msg = run("test", "-n", "nomsg", "good.yaml")
    assert no_msg.exit_code == 1 and no_msg.stdout == ""
    assert no_msg.stderr.startswith("Error: policy/nomsg/bad.rego:3: data.nomsg.violation:")
    assert '"msg" field is missing' in no_msg.stderr
    missing = run("test", "nothing.yaml")
    assert missing.exit_code == 1 and '"nothing.yaml": no such file' in missing.stderr
    assert run("test").stderr == "Error: missing required arguments: the files to test\n"


def test_flag_mistakes_exit_1_like_cobra() -> None:
    unknown = run("test", "--frobnicate", f"{K8S}/service.yaml")
    assert unknown.exit_code == 1 and unknown.stderr.startswith("Error: No such option")
    tap = run("test", "-o", "tap", "-p", f"{K8S}/policy", f"{K8S}/service.yaml")
    assert tap.exit_code == 1 and "--output tap is not supported" in tap.stderr
    fallback = run("test", "-o", "nonsense", "-p", f"{K8S}/policy", f"{K8S}/service.yaml")
    assert fallback.exit_code == 0 and fallback.stdout.startswith("WARN - ")  # conftest's default


def test_conftest_file_data_is_set_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        {
            "policy/file.rego": (
                "package main\n\nwarn contains msg if {\n"
                "  file := data.conftest.file\n"
                '  msg := sprintf("%s in %s", [file.name, file.dir])\n}\n'
            ),
            "a/one.yaml": "x: 1\n",
            "b/two.json": "{}",
        },
    )
    result = run("test", "a/one.yaml", "b/two.json", "--combine")
    assert lines(result)[0] == f"WARN - Combined - main - Combined in {tmp_path}"
    result = run("test", "a/one.yaml", "b/two.json")
    assert lines(result)[:2] == [
        f"WARN - a/one.yaml - main - one.yaml in {tmp_path / 'a'}",
        f"WARN - b/two.json - main - two.json in {tmp_path / 'b'}",
    ]


def test_real_process_exit_codes_and_streams() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", "from bot.cli_rego import rego; rego()", *args],
            cwd=CONFTEST,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=False,
        )

    done = run("test", "-p", f"{K8S}/policy", f"{K8S}/deployment.yaml")
    assert done.returncode == 1 and done.stderr == ""
    assert done.stdout.count("FAIL - ") == 4
    broken = run("verify", "-p", "tests/rego-version/policy/v0.rego")
    assert broken.returncode == 1 and broken.stdout == ""
    assert broken.stderr.startswith("Error: tests/rego-version/policy/v0.rego:3:")


def test_print_output_is_shown_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        {
            "policy/p.rego": 'package main\n\ndeny contains "pod" if {\n'
            '  print("kind is", input.kind)\n  input.kind == "Pod"\n}\n',
            "pod.yaml": "kind: Pod\n",
        },
    )
    result = run("test", "pod.yaml")
    assert result.exit_code == 1
    assert lines(result) == [
        "PRNT - pod.yaml - main - policy/p.rego:4: kind is Pod",
        "FAIL - pod.yaml - main - pod",
        "1 test, 0 passed, 0 warnings, 1 failure, 0 exceptions",
    ]
