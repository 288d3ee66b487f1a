"""match / exclude (reference §10), including the answers a gate cannot give: a
namespaceSelector without the namespace's labels is UNKNOWN, with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from bot.analyzers.kyverno.match import (
    Decision,
    MatchError,
    RequestInfo,
    Target,
    applies,
    compile_block,
    request_info,
)


def pod(name: str = "web", namespace: str = "prod", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **meta},
    }


def decide(
    match: Any,
    resource: dict[str, Any],
    exclude: Any = None,
    *,
    operation: str = "CREATE",
    user: RequestInfo | None = None,
    labels: dict[str, str] | None = None,
    policy_namespace: str | None = None,
) -> Decision:
    target = Target.of(resource, operation=operation, user_info=user, namespace_labels=labels)
    block = compile_block(exclude) if exclude is not None else None
    return applies(compile_block(match), block, target, policy_namespace).decision


def kinds(*names: str) -> dict[str, Any]:
    return {"any": [{"resources": {"kinds": list(names)}}]}


@pytest.mark.parametrize(
    ("selector", "resource", "expected"),
    [
        ("Pod", pod(), Decision.YES),
        ("v1/Pod", pod(), Decision.YES),
        ("*/Pod", pod(), Decision.YES),
        ("P?d", pod(), Decision.YES),
        ("*", pod(), Decision.YES),
        ("Pod/exec", pod(), Decision.NO),  # subresources never arrive from a repository
        ("apps/v1/Deployment", {"apiVersion": "apps/v1", "kind": "Deployment"}, Decision.YES),
        ("apps/*/Deployment", {"apiVersion": "apps/v1beta1", "kind": "Deployment"}, Decision.YES),
        ("batch/*/Deployment", {"apiVersion": "apps/v1", "kind": "Deployment"}, Decision.NO),
        ("v2/Pod", pod(), Decision.NO),
        (
            "networking.k8s.io/v1/Ingress",
            {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"},
            Decision.YES,
        ),
    ],
)
def test_kind_forms(selector: str, resource: dict[str, Any], expected: Decision) -> None:
    assert decide(kinds(selector), resource) is expected


def test_names_namespaces_and_generate_name() -> None:
    match = {"any": [{"resources": {"kinds": ["Pod"], "names": ["web-*", "api"]}}]}
    assert decide(match, pod("web-1")) is Decision.YES
    assert decide(match, pod("db")) is Decision.NO
    generated = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"}}
    assert decide(match, generated) is Decision.YES
    single = {"resources": {"kinds": ["Pod"], "name": "w?b"}}
    assert decide(single, pod("web")) is Decision.YES
    namespaced = {"any": [{"resources": {"namespaces": ["prod-*"]}}]}
    assert decide(namespaced, pod(namespace="prod-eu")) is Decision.YES
    assert decide(namespaced, pod(namespace="dev")) is Decision.NO
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod-us"}}
    assert decide(namespaced, namespace) is Decision.YES  # a Namespace is its own namespace


def test_annotations_and_selector_with_wildcards() -> None:
    annotated = {"any": [{"resources": {"annotations": {"team.*/owner": "a*"}}}]}
    assert decide(annotated, pod(annotations={"team.io/owner": "alpha"})) is Decision.YES
    assert decide(annotated, pod(annotations={"team.io/owner": "beta"})) is Decision.NO
    assert decide(annotated, pod()) is Decision.NO
    selector = {
        "any": [
            {
                "resources": {
                    "selector": {
                        "matchLabels": {"app": "web*"},
                        "matchExpressions": [
                            {"key": "tier", "operator": "NotIn", "values": ["db"]},
                            {"key": "legacy", "operator": "DoesNotExist"},
                        ],
                    }
                }
            }
        ]
    }
    assert decide(selector, pod(labels={"app": "web-a"})) is Decision.YES
    assert decide(selector, pod(labels={"app": "web", "tier": "db"})) is Decision.NO
    assert decide(selector, pod(labels={"app": "web", "legacy": "1"})) is Decision.NO
    assert decide(selector, pod(labels={"app": "api"})) is Decision.NO


def test_any_all_and_legacy_blocks() -> None:
    both = {"all": [{"resources": {"kinds": ["Pod"]}}, {"resources": {"namespaces": ["prod"]}}]}
    assert decide(both, pod()) is Decision.YES
    assert decide(both, pod(namespace="dev")) is Decision.NO
    either = {"any": [{"resources": {"kinds": ["Secret"]}}, {"resources": {"names": ["web"]}}]}
    assert decide(either, pod()) is Decision.YES
    legacy = {"resources": {"kinds": ["Pod"], "namespaces": ["dev"]}}
    assert decide(legacy, pod()) is Decision.NO
    assert decide({"any": [{}]}, pod()) is Decision.NO  # an empty filter matches nothing


def test_exclude_any_and_all() -> None:
    match = kinds("Pod")
    exclude_any = {
        "any": [{"resources": {"namespaces": ["kube-*"]}}, {"resources": {"names": ["x"]}}]
    }
    assert decide(match, pod(namespace="kube-system"), exclude_any) is Decision.NO
    assert decide(match, pod(), exclude_any) is Decision.YES
    exclude_all = {
        "all": [{"resources": {"namespaces": ["prod"]}}, {"resources": {"names": ["web"]}}]
    }
    assert decide(match, pod(), exclude_all) is Decision.NO
    assert decide(match, pod("api"), exclude_all) is Decision.YES
    legacy_exclude = {"resources": {"names": ["web"]}}
    assert decide(match, pod(), legacy_exclude) is Decision.NO


def test_operations_are_checked_first() -> None:
    match = {"any": [{"resources": {"kinds": ["Pod"], "operations": ["UPDATE", "DELETE"]}}]}
    assert decide(match, pod(), operation="CREATE") is Decision.NO
    assert decide(match, pod(), operation="DELETE") is Decision.YES


def test_namespace_selector_unknown_when_labels_are_not_known() -> None:
    match = {
        "any": [
            {"resources": {"kinds": ["Pod"], "namespaceSelector": {"matchLabels": {"env": "prod"}}}}
        ]
    }
    target = Target.of(pod(), namespace_labels=None)
    outcome = applies(compile_block(match), None, target)
    assert outcome.decision is Decision.UNKNOWN
    assert 'labels of namespace "prod"' in outcome.reason
    assert decide(match, pod(), labels={"env": "prod"}) is Decision.YES
    assert decide(match, pod(), labels={}) is Decision.NO
    # A filter that is ruled out anyway does not ask for the labels.
    assert decide(match, {"apiVersion": "v1", "kind": "Secret"}, labels=None) is Decision.NO
    # Never applies to a Namespace itself.
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}
    namespaced = {"any": [{"resources": {"namespaceSelector": {"matchLabels": {"a": "b"}}}}]}
    assert decide(namespaced, namespace, labels={"a": "b"}) is Decision.NO


def test_exclude_that_depends_on_unknown_labels_is_unknown() -> None:
    exclude = {"any": [{"resources": {"namespaceSelector": {"matchLabels": {"tier": "system"}}}}]}
    assert decide(kinds("Pod"), pod(), exclude) is Decision.UNKNOWN
    assert decide(kinds("Pod"), pod(), exclude, labels={"tier": "system"}) is Decision.NO
    assert decide(kinds("Pod"), pod(), exclude, labels={"tier": "apps"}) is Decision.YES


def test_user_info_follows_the_kyverno_cli_without_user_info() -> None:
    with_subject = {
        "any": [{"resources": {"kinds": ["Pod"]}, "subjects": [{"kind": "User", "name": "bob"}]}]
    }
    # Match: user-info fields are ignored; exclude: they never exclude.
    assert decide(with_subject, pod()) is Decision.YES
    assert decide(kinds("Pod"), pod(), {"any": [{"clusterRoles": ["admin"]}]}) is Decision.YES
    only_subject = {"any": [{"subjects": [{"kind": "User", "name": "bob"}]}]}
    assert decide(only_subject, pod()) is Decision.NO  # nothing left to match on


def test_user_info_matches_when_supplied() -> None:
    user = request_info(
        {
            "roles": ["ns:dev"],
            "clusterRoles": ["view"],
            "userInfo": {"username": "system:serviceaccount:ci:deployer", "groups": ["ops"]},
        }
    )
    service_account = {
        "any": [
            {
                "resources": {"kinds": ["Pod"]},
                "subjects": [{"kind": "ServiceAccount", "name": "deploy*", "namespace": "ci"}],
            }
        ]
    }
    assert decide(service_account, pod(), user=user) is Decision.YES
    group = {
        "any": [{"resources": {"kinds": ["Pod"]}, "subjects": [{"kind": "Group", "name": "o*"}]}]
    }
    assert decide(group, pod(), user=user) is Decision.YES
    roles = {"any": [{"resources": {"kinds": ["Pod"]}, "roles": ["ns:admin"]}]}
    assert decide(roles, pod(), user=user) is Decision.NO
    exclude = {"any": [{"clusterRoles": ["view"]}]}
    assert decide(kinds("Pod"), pod(), exclude, user=user) is Decision.NO


def test_namespaced_policy_applies_to_its_namespace_only() -> None:
    assert decide(kinds("Pod"), pod(), policy_namespace="prod") is Decision.YES
    assert decide(kinds("Pod"), pod(namespace="dev"), policy_namespace="prod") is Decision.NO


@pytest.mark.parametrize(
    ("block", "message", "where"),
    [
        ("just text", "must be a mapping", ()),
        ({"any": {"resources": {}}}, "any must be a list", ("any",)),
        (
            {"any": [{"resources": {"operations": ["PATCH"]}}]},
            'unknown operation "PATCH"',
            ("any", 0, "resources", "operations", 0),
        ),
        (
            {"resources": {"selector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}}},
            'unknown selector operator "Is"',
            ("resources", "selector", "matchExpressions", 0, "operator"),
        ),
        ({"resources": {"kinds": "Pod"}}, "must be a list of strings", ("resources", "kinds")),
    ],
)
def test_malformed_blocks_say_where(block: Any, message: str, where: tuple[Any, ...]) -> None:
    with pytest.raises(MatchError, match=message) as caught:
        compile_block(block)
    assert caught.value.where == where


def test_kind_index_for_fast_rejection() -> None:
    assert compile_block(kinds("Pod", "v1/ConfigMap")).kind_names() == {"Pod", "ConfigMap"}
    assert compile_block(kinds("Config*")).kind_names() is None
    assert compile_block({"any": [{"resources": {"names": ["x"]}}]}).kind_names() is None
    both = {"all": [{"resources": {"names": ["x"]}}, {"resources": {"kinds": ["Pod"]}}]}
    assert compile_block(both).kind_names() == {"Pod"}
