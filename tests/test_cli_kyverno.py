"""``gitops-gate kyverno test``: the table, the JSON result rows and the exit status."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from bot.cli_kyverno import kyverno

DATA = Path(__file__).resolve().parent / "data"
SUITE = DATA / "kyverno" / "anchors"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(kyverno, ["test", *args])
    return result.exit_code, result.stdout, result.stderr


def test_table_and_summary_on_success() -> None:
    code, out, _ = run(str(SUITE))
    assert code == 0
    assert f"Loading test anchors ( {SUITE / 'kyverno-test.yaml'} ) ..." in out
    header = next(line for line in out.splitlines() if "POLICY" in line)
    assert [c.strip() for c in header.strip("│").split("│")] == [
        "ID",
        "POLICY",
        "RULE",
        "RESOURCE",
        "RESULT",
        "REASON",
    ]
    assert "│ 1  │ anchors │ conditional" in out
    assert "Test Summary: 21 tests passed and 0 tests failed" in out


def test_json_rows_for_every_evaluated_rule() -> None:
    code, out, _ = run(str(SUITE), "--output", "json")
    assert code == 0
    rows = json.loads(out)
    assert all(
        set(row) == {"policy", "rule", "resource", "kind", "namespace", "result", "message"}
        for row in rows
    )
    row = next(r for r in rows if (r["rule"], r["resource"]) == ("negation", "hostpath"))
    assert row == {
        "policy": "anchors",
        "rule": "negation",
        "resource": "hostpath",
        "kind": "Pod",
        "namespace": "default",
        "result": "fail",
        "message": "validation error: hostPath volumes are forbidden. rule negation failed at "
        "path /spec/volumes/1/hostPath/",
    }
    # One row per (policy, rule, resource) that the engine evaluated: 6 rules x 6 pods.
    assert len(rows) == 36


def test_mismatch_exits_one_and_fail_only_shows_it(tmp_path: Path) -> None:
    suite = tmp_path / "anchors"
    shutil.copytree(SUITE, suite)
    test = suite / "kyverno-test.yaml"
    test.write_text(
        test.read_text().replace(
            "resources: [hostpath]\n  result: fail", "resources: [hostpath]\n  result: pass"
        )
    )
    code, out, _ = run(str(tmp_path), "--fail-only")
    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith("│ ") and "POLICY" not in line]
    assert len(lines) == 1
    assert "negation" in lines[0] and "Want pass, got fail" in lines[0]
    assert "Test Summary: 1 out of 21 tests failed" in out


def test_unsupported_rows_are_listed_and_do_not_fail() -> None:
    code, out, _ = run(str(DATA / "kyverno" / "skip-reasons"))
    assert code == 0
    assert "not checked: mutate rules" in out
    assert "(2 not checked: not supported by this engine)" in out


def test_broken_test_file_exits_one(tmp_path: Path) -> None:
    (tmp_path / "kyverno-test.yaml").write_text(
        "policies: [nope.yaml]\nresources: []\nresults: []\n"
    )
    code, out, _ = run(str(tmp_path))
    assert code == 1
    assert "Error: policies: nope.yaml: no such file" in out
    assert "1 test file(s) could not be run" in out


def test_no_test_files(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path))
    assert code == 0
    assert "No kyverno-test.yaml files found" in err


def test_custom_file_name(tmp_path: Path) -> None:
    suite = tmp_path / "s"
    shutil.copytree(SUITE, suite)
    (suite / "kyverno-test.yaml").rename(suite / "my-test.yaml")
    code, out, _ = run(str(tmp_path), "--file-name", "my-test.yaml")
    assert code == 0 and "21 tests passed" in out
