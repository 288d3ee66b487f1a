"""Autogen rules for pod controllers (reference §9; kyverno pkg/autogen/v1)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.analyzers.kyverno.autogen import (
    ANNOTATION,
    autogen_names,
    base_rule_name,
    compute_rules,
)

CONTROLLERS = [
    "DaemonSet",
    "Deployment",
    "Job",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
]


def pod_rule(**validate: Any) -> dict[str, Any]:
    return {
        "name": "check",
        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": validate
        or {
            "message": "pod {{ request.object.metadata.name }}",
            "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}},
        },
    }


def names(rules: list[dict[str, Any]], annotations: dict[str, str] | None = None) -> list[str]:
    return [r.raw["name"] for r in compute_rules(rules, annotations or {})]


def test_pattern_rule_gets_controller_and_cronjob_rules() -> None:
    computed = compute_rules([pod_rule()], {})
    assert [r.raw["name"] for r in computed] == ["check", "autogen-check", "autogen-cronjob-check"]
    assert [r.base_name for r in computed] == ["check"] * 3
    assert [r.autogen for r in computed] == [False, True, True]
    controllers, cron = computed[1].raw, computed[2].raw
    assert controllers["match"]["any"][0]["resources"]["kinds"] == CONTROLLERS
    assert controllers["validate"]["pattern"] == {
        "spec": {"template": {"spec": {"containers": [{"image": "!*:latest"}]}}}
    }
    assert (
        controllers["validate"]["message"] == "pod {{ request.object.spec.template.metadata.name }}"
    )
    assert cron["match"]["any"][0]["resources"]["kinds"] == ["CronJob"]
    assert cron["validate"]["pattern"] == {
        "spec": {
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"image": "!*:latest"}]}}}
            }
        }
    }
    assert cron["validate"]["message"] == (
        "pod {{ request.object.spec.jobTemplate.spec.template.metadata.name }}"
    )


def test_deny_and_foreach_are_copied_and_rewritten_as_text() -> None:
    deny = pod_rule(
        deny={
            "conditions": {
                "any": [
                    {
                        "key": "{{ request.object.spec.hostPID }}",
                        "operator": "Equals",
                        "value": True,
                    }
                ]
            }
        }
    )
    deny["preconditions"] = {
        "all": [
            {"key": "{{ request.oldObject.metadata.name }}", "operator": "Equals", "value": "x"}
        ]
    }
    controllers = compute_rules([deny], {})[1].raw
    assert controllers["validate"]["deny"]["conditions"]["any"][0]["key"] == (
        "{{ request.object.spec.template.spec.hostPID }}"
    )
    assert controllers["preconditions"]["all"][0]["key"] == (
        "{{ request.oldObject.spec.template.metadata.name }}"
    )
    foreach = pod_rule(
        foreach=[{"list": "request.object.spec.containers", "pattern": {"image": "*:*"}}]
    )
    cron = compute_rules([foreach], {})[2].raw
    assert cron["validate"]["foreach"][0]["list"] == (
        "request.object.spec.jobTemplate.spec.template.spec.containers"
    )
    assert cron["validate"]["foreach"][0]["pattern"] == {"image": "*:*"}


def test_any_pattern_elements_are_wrapped() -> None:
    rule = pod_rule(anyPattern=[{"spec": {"a": 1}}, {"spec": {"b": 2}}])
    controllers = compute_rules([rule], {})[1].raw
    assert controllers["validate"]["anyPattern"] == [
        {"spec": {"template": {"spec": {"a": 1}}}},
        {"spec": {"template": {"spec": {"b": 2}}}},
    ]


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("none", ["check"]),
        ("Deployment", ["check", "autogen-check"]),
        ("CronJob", ["check", "autogen-cronjob-check"]),
        ("Deployment,CronJob", ["check", "autogen-check", "autogen-cronjob-check"]),
        ("DaemonSet,Deployment,StatefulSet", ["check", "autogen-check"]),
    ],
)
def test_annotation_restricts_controllers(annotation: str, expected: list[str]) -> None:
    assert names([pod_rule()], {ANNOTATION: annotation}) == expected


def test_annotation_sets_the_generated_kinds() -> None:
    computed = compute_rules([pod_rule()], {ANNOTATION: "StatefulSet,Deployment"})
    assert computed[1].raw["match"]["any"][0]["resources"]["kinds"] == ["Deployment", "StatefulSet"]


@pytest.mark.parametrize(
    "resources",
    [
        {"kinds": ["Pod"], "names": ["web"]},
        {"kinds": ["Pod"], "name": "web"},
        {"kinds": ["Pod"], "selector": {"matchLabels": {"a": "b"}}},
        {"kinds": ["Pod"], "annotations": {"a": "b"}},
        {"kinds": ["Pod", "Deployment"]},
        {"kinds": ["ConfigMap"]},
    ],
)
def test_no_autogen_when_filters_may_not_hold(resources: dict[str, Any]) -> None:
    rule = pod_rule()
    rule["match"] = {"any": [{"resources": resources}]}
    assert names([rule]) == ["check"]


def test_one_unsupported_rule_disables_autogen_for_the_policy() -> None:
    other = copy.deepcopy(pod_rule())
    other["name"] = "named"
    other["match"]["any"][0]["resources"]["names"] = ["x"]
    assert names([pod_rule(), other]) == ["check", "named"]
    generate = {"name": "gen", "match": pod_rule()["match"], "generate": {"kind": "ConfigMap"}}
    assert names([pod_rule(), generate]) == ["check", "gen"]


def test_exclude_kinds_are_replaced_and_exclude_without_pod_stops_autogen() -> None:
    rule = pod_rule()
    rule["exclude"] = {"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["kube-system"]}}]}
    controllers = compute_rules([rule], {})[1].raw
    assert controllers["exclude"]["any"][0]["resources"]["kinds"] == CONTROLLERS
    assert controllers["exclude"]["any"][0]["resources"]["namespaces"] == ["kube-system"]
    rule["exclude"] = {"resources": {"kinds": ["Secret"]}}
    assert names([rule]) == ["check"]


def test_legacy_match_and_long_names() -> None:
    rule = pod_rule()
    rule["match"] = {"resources": {"kinds": ["Pod"]}}
    rule["name"] = "x" * 60
    computed = compute_rules([rule], {})
    assert computed[1].raw["match"]["resources"]["kinds"] == CONTROLLERS
    assert computed[1].raw["name"] == ("autogen-" + "x" * 60)[:63]
    assert len(computed[2].raw["name"]) == 63


def test_existing_autogen_rules_are_replaced() -> None:
    stale = {**pod_rule(), "name": "autogen-check"}
    assert names([pod_rule(), stale]) == ["check", "autogen-check", "autogen-cronjob-check"]


def test_name_helpers() -> None:
    assert autogen_names("x") == ("x", "autogen-x", "autogen-cronjob-x")
    assert base_rule_name("autogen-cronjob-x") == "x"
    assert base_rule_name("autogen-x") == "x"
    assert base_rule_name("x") == "x"
