"""The CEL kyverno-test suites (tests/data/kyverno/cel-*): each one passes as a whole (also
run by test_kyverno_test's semantic suites), and together they expect every result kind
Kyverno gives for CEL policies. Engine rows of a ValidatingPolicy name no rule."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.analyzers.kyverno.kyverno_test import discover, run_test_file
from bot.analyzers.kyverno.results import Outcome, render_table

DATA = Path(__file__).resolve().parents[2] / "data" / "kyverno"
SUITES = [p for p in discover([DATA]) if p.parent.name.startswith("cel-")]


@pytest.mark.parametrize("path", SUITES, ids=[p.parent.name for p in SUITES])
def test_cel_suite_gives_kyvernos_results(path: Path) -> None:
    suite = run_test_file(path)
    assert suite.error is None and suite.problems == []
    wrong = [r for r in suite.rows if r.outcome is not Outcome.PASS]
    assert wrong == [], render_table(wrong)
    assert all(r.reason == "Ok" for r in suite.rows)  # a verdict, never "excluded"


def test_suites_expect_every_result_kind() -> None:
    assert {p.parent.name for p in SUITES} >= {
        "cel-validate",
        "cel-validating-policy",
        "cel-autogen",
        "cel-exceptions",
        "cel-context",
    }
    expected = Counter(r.expected for path in SUITES for r in run_test_file(path).rows)
    assert set(expected) == {"pass", "fail", "skip", "error", "warn"}


def test_validating_policy_rows_name_no_rule() -> None:
    suite = run_test_file(DATA / "cel-validating-policy" / "kyverno-test.yaml")
    vp_rows = [r for r in suite.engine_rows if r.policy == "vp-match"]
    assert {(r.rule, r.kind, r.resource, r.result) for r in vp_rows} == {
        ("", "Deployment", "deploy-two", "pass"),
        ("", "Deployment", "deploy-one", "fail"),
    }


def _suite(tmp_path: Path, test: str) -> Path:
    source = DATA / "cel-context"
    for name in ("policy.yaml", "resources.yaml"):
        (tmp_path / name).write_text((source / name).read_text())
    (tmp_path / "kyverno-test.yaml").write_text(test)
    return tmp_path / "kyverno-test.yaml"


def test_rows_without_the_policy_kind_flag_are_matched_by_rule_name(tmp_path: Path) -> None:
    # kyverno test looks such a row up by its (empty) rule name; a ValidatingPolicy's result
    # is named "validation", so the row is reported as excluded, whatever it expects.
    path = _suite(
        tmp_path,
        "policies: [policy.yaml]\nresources: [resources.yaml]\n"
        "results:\n- {policy: quota-per-namespace, kind: ConfigMap, "
        "resources: [team-b/settings], result: pass}\n",
    )
    (row,) = run_test_file(path).rows
    assert (row.outcome, row.actual, row.reason) == (Outcome.PASS, "excluded", "Excluded")


def test_a_missing_context_file_is_a_note_and_its_data_unknown(tmp_path: Path) -> None:
    path = _suite(
        tmp_path,
        "policies: [policy.yaml]\nresources: [resources.yaml]\ncontext: context.yaml\n"
        "results:\n- {isValidatingPolicy: true, policy: quota-per-namespace, kind: ConfigMap, "
        "resources: [team-b/settings], result: fail}\n",
    )
    suite = run_test_file(path)
    assert suite.error is None
    assert suite.notes == [
        "context: context.yaml: no such file; the cluster data it holds is treated as unknown"
    ]
    (row,) = suite.rows
    assert row.outcome is Outcome.SKIP and "resource.List()" in row.reason
