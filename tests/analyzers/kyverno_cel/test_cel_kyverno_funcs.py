"""Kyverno's pure functions (parseServiceAccount) in the ValidatingPolicy environment."""

from __future__ import annotations

import pytest

from tests.analyzers.kyverno_cel.cel_helpers import evaluate


@pytest.mark.parametrize(
    ("username", "namespace", "name"),
    [
        ("system:serviceaccount:foo:bar", "foo", "bar"),
        ("system:serviceaccount:foo:bar:baz", "foo", "bar:baz"),
        ("something-else:123", "", ""),
        ("alice@example.com", "", ""),
    ],
)
def test_parse_service_account(username: str, namespace: str, name: str) -> None:
    result = evaluate(f"parseServiceAccount('{username}')")
    assert (result["namespace"], result["name"]) == (namespace, name)
    assert (result["Namespace"], result["Name"]) == (namespace, name)


def test_parse_service_account_on_the_request_user() -> None:
    request = {"userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"}}
    expression = "parseServiceAccount(request.userInfo.username).namespace == 'kube-system'"
    assert evaluate(expression, {"request": request}) is True
