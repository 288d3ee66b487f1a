"""conftest's counting rules (policy/engine.go check/query) on rule values, engine-free."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.rego.conftest import (
    MessageError,
    RuleIndex,
    check,
    combined_input,
    count_exceptions,
    exception_query,
    exception_suffix,
    file_info,
    go_path_match,
    resolve_namespaces,
    rule_results,
)
from bot.engines.policy_engine import RuleHead


def heads(*rules: str, package: str = "main") -> list[RuleHead]:
    return [RuleHead(package, name, f"{package}.rego", line) for line, name in enumerate(rules, 1)]


def test_rule_names_follow_conftest_patterns() -> None:
    index = RuleIndex.from_heads(
        heads(
            "deny",
            "deny_x",
            "violation_a_b",
            "warn",
            "warn_1",
            "denyall",
            "allow",
            "deny_",
            "test_x",
        )
    )
    assert index.rules["main"] == ("deny", "deny_x", "violation_a_b", "warn", "warn_1")
    assert index.definitions["main"] == 5


def test_definitions_count_every_body() -> None:
    # conftest's acceptance: 5 definitions; deny empty (1 success), violation undefined,
    # one warning -> "5 tests, 4 passed, 1 warning".
    index = RuleIndex.from_heads(heads("deny", "deny", "deny", "violation", "warn"))
    result = check(index, "main", {"data.main.deny": [], "data.main.warn": ["w"]}, "f.yaml")
    assert (result.successes, len(result.warnings), len(result.failures)) == (4, 1, 0)


def test_set_items_strings_and_objects() -> None:
    values = [
        "plain",
        "",
        {"msg": "with metadata", "details": {"b": 1, "a": 2}},
        {"msg": "located", "_loc": {"file": "deploy.yaml", "line": 12}, "id": "X-1"},
        42,  # ignored, as conftest's type switch has no default
    ]
    results = rule_results(values, "main", "deny")
    assert [r.msg for r in results] == ["plain", "", "with metadata", "located"]
    assert results[0].metadata == {"query": "data.main.deny"}
    assert results[2].metadata == {"details": {"b": 1, "a": 2}, "query": "data.main.deny"}
    assert results[3].loc == {"file": "deploy.yaml", "line": 12}
    assert results[3].metadata == {"id": "X-1", "query": "data.main.deny"}
    index = RuleIndex.from_heads(heads("deny"))
    result = check(index, "main", {"data.main.deny": values}, "f.yaml")
    assert len(result.failures) == 3 and result.successes == 1  # "" is a success


@pytest.mark.parametrize("value", [True, False, "text", {"msg": "an object value"}, 3, None])
def test_non_collection_values_are_one_success(value: Any) -> None:
    index = RuleIndex.from_heads(heads("deny"))
    result = check(index, "main", {"data.main.deny": value}, "f.yaml")
    assert result.successes == 1 and not result.failures


def test_undefined_rule_is_topped_up_to_the_definition_count() -> None:
    index = RuleIndex.from_heads(heads("deny", "deny"))
    result = check(index, "main", {}, "f.yaml")
    assert result.successes == 2


@pytest.mark.parametrize(
    ("item", "problem"),
    [({"details": 1}, "is missing"), ({"msg": 3}, "is not a string"), ({"msg": None}, "is not")],
)
def test_object_without_string_msg_stops_the_run(item: dict[str, Any], problem: str) -> None:
    with pytest.raises(MessageError, match=problem) as caught:
        rule_results([item], "main", "violation_x")
    assert caught.value.rule == "violation_x" and caught.value.namespace == "main"


def test_malformed_loc_stays_metadata() -> None:
    (result,) = rule_results([{"msg": "m", "_loc": {"file": "x", "line": "7"}}], "main", "deny")
    assert result.loc is None
    assert result.metadata == {"_loc": {"file": "x", "line": "7"}, "query": "data.main.deny"}


@pytest.mark.parametrize(
    ("rule", "suffix"),
    [
        ("deny", ""),
        ("warn", ""),
        ("violation", ""),
        ("deny_run_as_root", "run_as_root"),
        ("warn_latest", "latest"),
        ("violation_deny_x", "x"),  # conftest trims violation_, then deny_, then warn_
    ],
)
def test_exception_suffix(rule: str, suffix: str) -> None:
    assert exception_suffix(rule) == suffix


def test_exception_drops_all_results_of_that_rule_only() -> None:
    index = RuleIndex.from_heads(heads("deny_run_as_root", "deny_other", "exception"))
    values = {
        "data.main.exception": [["run_as_root"]],
        "data.main.deny_run_as_root": ["root!", "root again"],
        "data.main.deny_other": ["other"],
    }
    result = check(index, "main", values, "deployments.yaml")
    assert [e.msg for e in result.exceptions] == [exception_query("main", "deny_run_as_root")]
    assert result.exceptions[0].msg == 'data.main.exception[_][_] == "run_as_root"'
    assert [f.msg for f in result.failures] == ["other"]
    assert result.successes == 0  # 2 definitions, 2 results (1 failure + 1 exception)


def test_exceptions_apply_to_warn_rules_and_count_every_solution() -> None:
    assert count_exceptions([["latest", "x"], ["latest"]], "latest") == 2
    assert count_exceptions({"a": ["latest"]}, "latest") == 1
    assert count_exceptions(["latest"], "latest") == 0  # strings are not collections in Rego
    index = RuleIndex.from_heads(heads("warn_latest", "exception"))
    values = {"data.main.exception": [["latest"]], "data.main.warn_latest": ["w"]}
    result = check(index, "main", values, "f.yaml")
    assert not result.warnings and len(result.exceptions) == 1


def test_bare_rules_are_exempted_by_the_empty_string() -> None:
    index = RuleIndex.from_heads(heads("deny", "exception"))
    result = check(index, "main", {"data.main.exception": [[""]], "data.main.deny": ["d"]}, "f")
    assert not result.failures and len(result.exceptions) == 1


def test_refs_query_each_rule_by_full_path_and_exception_only_when_defined() -> None:
    index = RuleIndex.from_heads(heads("deny", "warn", "exception") + heads("deny", package="b.c"))
    assert index.refs(["main", "b.c", "missing"]) == [
        "data.main.exception",
        "data.main.deny",
        "data.main.warn",
        "data.b.c.deny",
    ]


def test_namespaces_literal_glob_and_all() -> None:
    packages = ["main", "main.gke", "k8s.simple.pod", "k8s.combined.pod", "group1", "group2"]
    assert resolve_namespaces(["main", "notpresent"], packages) == ["main", "notpresent"]
    assert resolve_namespaces(["main.*"], packages) == ["main.gke"]
    assert resolve_namespaces(["k8s.*.pod"], packages) == ["k8s.combined.pod", "k8s.simple.pod"]
    assert resolve_namespaces(["group[12]", "*.simple.*"], packages) == [
        "group1",
        "group2",
        "k8s.simple.pod",
    ]
    assert resolve_namespaces(["group?"], packages) == ["group1", "group2"]
    assert resolve_namespaces(["group[^1]"], packages) == ["group2"]
    assert resolve_namespaces(["*"], packages) == sorted(packages)
    assert resolve_namespaces(["x"], packages, all_namespaces=True) == sorted(packages)


@pytest.mark.parametrize("pattern", ["[", "a[", "[]", "[z-a]", "a\\"])
def test_bad_glob_is_an_error(pattern: str) -> None:
    with pytest.raises(ValueError, match="bad pattern"):
        go_path_match(pattern)


def test_dot_is_literal_in_globs() -> None:
    assert go_path_match("main.*").fullmatch("main.gke")
    assert not go_path_match("main.*").fullmatch("mainxgke")


def test_combined_input_sorted_by_path_keeping_document_order() -> None:
    combined = combined_input([("b.yaml", 1), ("a.yaml", 2), ("b.yaml", 3)])
    assert combined == [
        {"path": "a.yaml", "contents": 2},
        {"path": "b.yaml", "contents": 1},
        {"path": "b.yaml", "contents": 3},
    ]


def test_file_info_absolute_and_relative() -> None:
    info = file_info("examples/kubernetes/service.yaml")
    assert info["name"] == "service.yaml" and info["dir"].endswith("/examples/kubernetes")
    assert info["dir"].startswith("/")
    assert file_info("apps/web/deploy.yaml", absolute=False) == {
        "name": "deploy.yaml",
        "dir": "apps/web",
    }
