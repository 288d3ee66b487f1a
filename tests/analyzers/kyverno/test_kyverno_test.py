"""kyverno-test.yaml suites run through the runner: one case per semantic suite
(tests/data/kyverno/<topic>/) and per policy of the public Kyverno library
(tests/data/kyverno-library/, see its README), plus the runner's own behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.analyzers.kyverno.kyverno_test import discover, run_test_file, run_tests
from bot.analyzers.kyverno.results import CheckedRow, Outcome, render_table

DATA = Path(__file__).resolve().parents[2] / "data"
SUITES = discover([DATA / "kyverno"])
LIBRARY = discover([DATA / "kyverno-library"])
# Suites whose rows may be reported as not checked (they are about exactly that).
MAY_SKIP = {"skip-reasons"}


def _failures(rows: list[CheckedRow]) -> str:
    return render_table([r for r in rows if r.outcome is Outcome.FAIL])


def _id(path: Path) -> str:
    parts = path.relative_to(DATA).parts
    return "/".join(p for p in parts[1:-1] if p != ".kyverno-test")


@pytest.mark.parametrize("path", SUITES, ids=[_id(p) for p in SUITES])
def test_semantic_suite(path: Path) -> None:
    suite = run_test_file(path)
    assert suite.error is None, suite.error
    assert suite.problems == []
    assert suite.rows, "a suite must check something"
    assert not any(r.outcome is Outcome.FAIL for r in suite.rows), _failures(suite.rows)
    if path.parent.name not in MAY_SKIP:
        skipped = [r for r in suite.rows if r.outcome is Outcome.SKIP]
        assert skipped == [], render_table(skipped)


@pytest.mark.parametrize("path", LIBRARY, ids=[_id(p) for p in LIBRARY])
def test_library_policy(path: Path) -> None:
    suite = run_test_file(path)
    assert suite.error is None, suite.error
    assert suite.problems == []
    assert suite.rows
    assert not any(r.outcome is Outcome.FAIL for r in suite.rows), _failures(suite.rows)
    for row in suite.rows:
        if row.outcome is Outcome.SKIP:
            assert row.reason.startswith("not checked: "), row


def test_library_covers_the_three_areas() -> None:
    areas = {p.relative_to(DATA / "kyverno-library").parts[0] for p in LIBRARY}
    assert areas == {"best-practices", "pod-security", "other"}
    assert len(LIBRARY) >= 25


def test_suites_cover_every_topic_of_the_issue() -> None:
    topics = {p.parent.name for p in SUITES}
    assert {
        "anchors",
        "pattern-operators",
        "quantities-durations",
        "condition-operators",
        "autogen",
        "foreach",
        "preconditions",
        "match-exclude",
        "match-userinfo",
        "variables",
        "skip-reasons",
    } <= topics


def test_skip_reasons_name_what_is_not_supported() -> None:
    suite = run_test_file(DATA / "kyverno" / "skip-reasons" / "kyverno-test.yaml")
    by_rule = {(r.policy, r.rule): r for r in suite.rows}
    assert by_rule[("unsupported-forms", "add-label")].outcome is Outcome.SKIP
    assert "mutate" in by_rule[("unsupported-forms", "add-label")].reason
    # validate.cel rules and ValidatingPolicies are evaluated (see the cel-* suites).
    assert by_rule[("unsupported-forms", "cel-check")].outcome is Outcome.PASS
    api_call = by_rule[("unsupported-forms", "api-call")]
    assert api_call.outcome is Outcome.SKIP
    assert "needs cluster context" in api_call.reason and "apiCall" in api_call.reason
    assert by_rule[("cel-policy", "")].outcome is Outcome.PASS
    # A configMap entry the values file supplies is evaluated, not skipped.
    supplied = by_rule[("unsupported-forms", "config-map-with-values")]
    assert (supplied.outcome, supplied.actual) == (Outcome.PASS, "fail")


def test_engine_rows_name_base_rules_and_carry_messages() -> None:
    suite = run_test_file(DATA / "kyverno" / "autogen" / "kyverno-test.yaml")
    rows = {
        (r.policy, r.rule, r.kind, r.resource): r
        for r in suite.engine_rows
        if r.policy == "autogen-all"
    }
    cron = rows[("autogen-all", "pattern-no-latest", "CronJob", "bad-cronjob")]
    assert cron.result == "fail"
    # The message was rewritten to the pod template's metadata (which has no name here).
    assert "autogen-cronjob-pattern-no-latest" in cron.message
    pod = rows[("autogen-all", "pattern-no-latest", "Pod", "bad-pod")]
    assert pod.message.startswith("validation error: bad-pod uses a latest image.")
    assert pod.namespace == "default"


# -- the runner's own verdicts -------------------------------------------------------------

POLICY = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team
spec:
  rules:
  - name: team-label
    match:
      any:
      - resources:
          kinds: [ConfigMap]
    validate:
      message: team label required
      pattern:
        metadata:
          labels:
            team: "?*"
"""
RESOURCES = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: labelled
  labels: {team: a}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: bare
"""


def _suite(tmp_path: Path, results: str, policy: str = POLICY) -> Path:
    (tmp_path / "policy.yaml").write_text(policy)
    (tmp_path / "resources.yaml").write_text(RESOURCES)
    test = tmp_path / "kyverno-test.yaml"
    test.write_text(
        "name: t\npolicies: [policy.yaml]\nresources: [resources.yaml]\nresults:\n" + results
    )
    return test


def test_mismatch_is_a_failure_with_want_and_got(tmp_path: Path) -> None:
    path = _suite(
        tmp_path,
        "- {policy: require-team, rule: team-label, kind: ConfigMap, resources: [bare],"
        " result: pass}\n",
    )
    suite = run_test_file(path)
    (row,) = suite.rows
    assert (row.outcome, row.reason, row.actual) == (Outcome.FAIL, "Want pass, got fail", "fail")
    assert suite.failed


def test_unknown_resource_or_kind_is_not_found(tmp_path: Path) -> None:
    path = _suite(
        tmp_path,
        "- {policy: require-team, rule: team-label, kind: ConfigMap, resources: [nope],"
        " result: pass}\n"
        "- {policy: require-team, rule: team-label, kind: Secret, resources: [bare],"
        " result: fail}\n",
    )
    rows = run_test_file(path).rows
    assert [(r.outcome, r.reason) for r in rows] == [(Outcome.FAIL, "Not found")] * 2


def test_rule_without_response_is_excluded(tmp_path: Path) -> None:
    path = _suite(
        tmp_path,
        "- {policy: require-team, rule: no-such-rule, kind: ConfigMap, resources: [bare],"
        " result: fail}\n",
    )
    (row,) = run_test_file(path).rows
    assert (row.outcome, row.reason) == (Outcome.PASS, "Excluded")


def test_namespaced_resource_names_match_with_and_without_namespace(tmp_path: Path) -> None:
    path = _suite(
        tmp_path,
        "- {policy: require-team, rule: team-label, kind: ConfigMap,"
        " resources: [default/bare, labelled], result: fail}\n",
    )
    rows = run_test_file(path).rows
    assert [(r.resource, r.outcome) for r in rows] == [
        ("ConfigMap/default/bare", Outcome.PASS),
        ("ConfigMap/labelled", Outcome.FAIL),
    ]


def test_broken_policy_is_reported_with_its_line(tmp_path: Path) -> None:
    broken = POLICY.replace(
        'team: "?*"',
        'team: "?*"\n    preconditions:\n    - {key: a, operator: Sometimes, value: b}',
    )
    path = _suite(
        tmp_path,
        "- {policy: require-team, rule: team-label, kind: ConfigMap, resources: [bare],"
        " result: fail}\n",
        policy=broken,
    )
    suite = run_test_file(path)
    (problem,) = suite.problems
    assert 'unknown condition operator "Sometimes"' in problem.message
    assert problem.line == 19  # the line of the bad operator
    (row,) = suite.rows
    assert row.outcome is Outcome.FAIL and row.reason.startswith("policy error:")


def test_missing_file_and_remote_policy_are_test_errors(tmp_path: Path) -> None:
    (tmp_path / "kyverno-test.yaml").write_text(
        "name: t\npolicies: [missing.yaml]\nresources: []\nresults: []\n"
    )
    assert "missing.yaml: no such file" in (
        run_test_file(tmp_path / "kyverno-test.yaml").error or ""
    )
    (tmp_path / "kyverno-test.yaml").write_text(
        "name: t\npolicies: [https://example.com/p.yaml]\nresources: []\nresults: []\n"
    )
    error = run_test_file(tmp_path / "kyverno-test.yaml").error or ""
    assert "remote files are not supported" in error


def test_discovery_walks_folders_and_takes_files_as_given(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "kyverno-test.yaml").write_text("results: []\n")
    (tmp_path / "a" / "other.yaml").write_text("results: []\n")
    assert discover([tmp_path]) == [tmp_path / "a" / "b" / "kyverno-test.yaml"]
    assert discover([tmp_path / "a" / "other.yaml"]) == [tmp_path / "a" / "other.yaml"]
    assert len(run_tests([tmp_path])) == 1
