"""What CEL policies see: the synthesized request, object/oldObject per operation,
namespaceObject, and the bindings an offline run does not have (admission user, RBAC,
cluster and network libraries), which give a skip with the reason, never a pass."""

from __future__ import annotations

import pytest

from bot.analyzers.kyverno.cel.context import FakeContext
from bot.analyzers.kyverno.cel_bindings import (
    BindingMode,
    CelInputs,
    RequestFacts,
    admission_request,
    namespace_object,
)
from bot.analyzers.kyverno.cel_resources import api_resource, guess_plural
from bot.analyzers.kyverno.cel_source import Need, existing_path, needs, object_paths
from bot.analyzers.kyverno.engine import Status
from bot.analyzers.kyverno.match import RequestInfo
from tests.analyzers.kyverno.cel_policies import config_map, one, pod, vpol


def _facts(resource: dict, operation: str = "CREATE", **kwargs: object) -> RequestFacts:
    values = {"old": None, "user": None, "namespace_labels": None, "inputs": CelInputs()}
    values.update(kwargs)
    return RequestFacts(resource=resource, operation=operation, **values)  # type: ignore[arg-type]


def test_the_request_is_synthesized_from_the_manifest() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
    }
    request = admission_request(_facts(deployment))
    assert request["kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert request["resource"] == {"group": "apps", "version": "v1", "resource": "deployments"}
    assert (request["name"], request["namespace"], request["operation"]) == (
        "web",
        "default",  # a namespaced resource without a namespace is in "default"
        "CREATE",
    )
    assert request["dryRun"] is False and request["oldObject"] is None
    assert "userInfo" not in request


def test_object_and_old_object_follow_the_operation() -> None:
    head, base = config_map(mode="new"), config_map(mode="old")
    update = _facts(head, "UPDATE", old=base)
    assert (update.object, update.old_object) == (head, base)
    assert _facts(head, "UPDATE").old_object is head  # kyverno test: the object itself
    delete = _facts(base, "DELETE")
    assert (delete.object, delete.old_object) == (None, base)
    text = vpol(
        "  - expression: \"request.operation != 'UPDATE' || "
        'oldObject.data.mode == object.data.mode"\n'
    )
    assert one(text, head, operation="UPDATE", old_resource=base).status is Status.FAIL
    deleted = vpol("  - expression: \"object == null && oldObject.data.mode == 'old'\"\n")
    assert one(deleted, base, operation="DELETE").status is Status.PASS


def test_namespace_object_is_the_manifest_or_a_stand_in() -> None:
    assert namespace_object(_facts({"apiVersion": "v1", "kind": "Node"})).value is None
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert namespace_object(_facts(namespace)).value is None
    stub = namespace_object(_facts(config_map()))
    assert stub.value == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    assert not stub.known
    real = {"metadata": {"name": "shop", "labels": {"tier": "gold"}}}
    found = namespace_object(_facts(config_map(), inputs=CelInputs(namespaces={"shop": real})))
    assert found.known and found.value == real
    cli = CelInputs(mode=BindingMode.CLI)
    labelled = namespace_object(_facts(config_map(), namespace_labels={"a": "b"}, inputs=cli))
    assert labelled.known and labelled.value["metadata"]["labels"] == {"a": "b"}  # type: ignore[index]


NAMESPACE_LABEL = vpol(
    "  - expression: \"namespaceObject.metadata.?labels[?'tier'].orValue('') == 'gold'\"\n"
)


def test_namespace_labels_without_a_namespace_manifest_skip_in_the_gate() -> None:
    result = one(NAMESPACE_LABEL, config_map())
    assert result.status is Status.SKIP and result.unsupported
    assert 'namespace "shop"' in result.message
    gold = {"metadata": {"name": "shop", "labels": {"tier": "gold"}}}
    assert one(NAMESPACE_LABEL, config_map(), cel=CelInputs(namespaces={"shop": gold})).status is (
        Status.PASS
    )
    # The name alone is known from the resource.
    name_only = vpol("  - expression: \"namespaceObject.metadata.name == 'shop'\"\n")
    assert one(name_only, config_map()).status is Status.PASS
    # kyverno test binds what the Kyverno CLI binds and evaluates it.
    cli = CelInputs(mode=BindingMode.CLI)
    assert one(NAMESPACE_LABEL, config_map(), cel=cli).status is Status.FAIL


USER = vpol("  - expression: \"request.userInfo.username != 'admin'\"\n")


def test_user_info_is_skipped_unless_a_user_is_known() -> None:
    result = one(USER, config_map())
    assert result.status is Status.SKIP and "request.userInfo" in result.message
    admin = RequestInfo(username="admin", groups=("system:masters",))
    assert one(USER, config_map(), user_info=admin).status is Status.FAIL
    dev = RequestInfo(username="dev")
    assert one(USER, config_map(), user_info=dev).status is Status.PASS


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("authorizer.group('').resource('pods').check('create').allowed()", "RBAC"),
        ("resource.Get('v1', 'configmaps', 'default', 'x').data.a == 'b'", "cluster"),
        ("resource.List('v1', 'pods', 'default').items.size() < 5", "cluster"),
        ("http.Get('https://example.com').ok == true", "HTTP"),
        ("globalContext.Get('entry', 'path') != null", "global context"),
        ("image.GetMetadata('nginx:1').config != null", "registry"),
    ],
)
def test_what_needs_a_cluster_rbac_a_registry_or_http_is_skipped(
    expression: str, reason: str
) -> None:
    result = one(vpol(f'  - expression: "{expression}"\n'), config_map())
    assert result.status is Status.SKIP and result.unsupported
    assert reason in result.message


def test_a_kyverno_test_context_supplies_cluster_resources() -> None:
    limits = config_map("limits", "platform", max="3")
    context = CelInputs(mode=BindingMode.CLI, context=FakeContext({("v1", "configmaps"): [limits]}))
    found = vpol(
        "  - expression: \"resource.Get('v1', 'configmaps', 'platform', 'limits')"
        ".data.max == '3'\"\n"
    )
    assert one(found, config_map(), cel=context).status is Status.PASS
    missing = found.replace("'limits'", "'other'")
    result = one(missing, config_map(), cel=context)
    assert result.status is Status.ERROR and "not found in the test context" in result.message
    assert one(found, config_map()).status is Status.SKIP  # the gate has no context


def test_a_skip_in_a_variable_is_found_where_the_variable_is_used() -> None:
    text = vpol(
        "  - expression: \"has(object.data) || variables.cm.data.mode == 'x'\"\n",
        extra="  variables:\n  - name: cm\n"
        "    expression: \"resource.Get('v1', 'configmaps', 'default', 'x')\"\n",
    )
    assert one(text, config_map(mode="a")).status is Status.PASS  # lazy: never evaluated
    assert one(text, config_map()).status is Status.SKIP


def test_needs_reads_the_source_after_inlining() -> None:
    assert needs("request.userInfo.username == 'x'") == {Need.USER_INFO}
    assert needs("has(request.?userInfo.groups)") == {Need.USER_INFO}
    assert needs("request.operation == 'CREATE'") == frozenset()
    assert needs("namespaceObject.metadata.name == 'x'") == frozenset()
    assert needs("namespaceObject.metadata.labels.a == 'x'") == {Need.NAMESPACE}
    assert needs("authorizer.serviceAccount('a', 'b')") == {Need.AUTHORIZER}
    assert needs("'request.userInfo' == object.metadata.name") == frozenset()  # a string


def test_object_paths_and_the_deepest_existing_field() -> None:
    source = "!has(object.spec.hostNetwork) || object.?spec.?containers.orValue([]).size() > 0"
    assert object_paths(source) == [("spec", "hostNetwork"), ("spec", "containers")]
    resource = pod()
    assert existing_path(object_paths(source), resource) == ("spec", "containers")
    assert existing_path([("metadata", "labels", "team")], resource) == ("metadata", "labels")
    assert existing_path([("status", "phase")], resource) is None


def test_kinds_map_to_resources() -> None:
    assert api_resource("networking.k8s.io/v1", "Ingress").resource == "ingresses"
    assert api_resource("v1", "Endpoints").resource == "endpoints"
    assert not api_resource("rbac.authorization.k8s.io/v1", "ClusterRole").namespaced
    custom = api_resource("example.io/v1", "Widget")
    assert (custom.resource, custom.known, custom.namespaced) == ("widgets", False, True)
    assert [guess_plural(k) for k in ("Policy", "Gateway", "Mesh", "Box")] == [
        "policies",
        "gateways",
        "meshes",
        "boxes",
    ]
