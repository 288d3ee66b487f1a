"""The validate pattern walk and its anchors (Kyverno's pkg/engine/validate)."""

# The tables ported from Kyverno keep one case per line, as in the Go source.
# ruff: noqa: E501

import json
from typing import Any

import pytest

from bot.analyzers.kyverno.context import Context
from bot.analyzers.kyverno.pattern import (
    CompiledPattern,
    PatternResult,
    compile_pattern,
    parse_anchor,
    validate_pattern,
)


def check(resource: Any, pattern: Any) -> PatternResult:
    return validate_pattern(resource, pattern)


def pod(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


# --- plain keys, missing fields, paths --------------------------------------------------------


def test_failing_path_and_message_are_kyvernos() -> None:
    resource = pod(
        containers=[{"name": "a", "image": "nginx:1"}, {"name": "b", "image": "x:latest"}]
    )
    result = check(resource, {"spec": {"containers": [{"image": "!*:latest"}]}})
    assert result.status == "fail"
    assert result.path == "/spec/containers/1/image/"
    assert result.message == (
        "resource value 'x:latest' does not match '!*:latest' at path /spec/containers/1/image/"
    )


def test_passing_pattern() -> None:
    resource = pod(containers=[{"name": "a", "image": "nginx:1"}])
    assert check(resource, {"spec": {"containers": [{"image": "!*:latest"}]}}).status == "pass"


@pytest.mark.parametrize(
    ("pattern", "status"),
    [
        ("*", "fail"),
        ("?*", "fail"),
        ({"x": 1}, "fail"),
        (["x"], "fail"),
        (None, "pass"),
        ("", "fail"),
        ("!x", "fail"),
        ("<=2Gi", "pass"),  # quantity comparison: the absent value counts as 0
        (">=2", "fail"),
    ],
)
def test_missing_field(pattern: Any, status: str) -> None:
    assert check(pod(), {"spec": {"missing": pattern}}).status == status


def test_star_needs_a_non_null_value_and_reports_the_parent_path() -> None:
    result = check(pod(hostNetwork=None), {"spec": {"hostNetwork": "*"}})
    assert result.status == "fail"
    assert result.path == "/spec/"
    assert result.message == "/spec//hostNetwork not found"
    assert check(pod(hostNetwork=False), {"spec": {"hostNetwork": "*"}}).status == "pass"


def test_structure_mismatch_messages() -> None:
    result = check(pod(containers="oops"), {"spec": {"containers": [{"name": "*"}]}})
    assert result.status == "fail"
    assert result.message == (
        "validation rule failed at path /spec/containers/, resource does not satisfy the "
        "expected overlay pattern"
    )
    result = check(pod(securityContext="x"), {"spec": {"securityContext": {"runAsNonRoot": True}}})
    assert result.message == (
        "pattern and resource have different structures. Path: /spec/securityContext/. "
        "Expected map[string]interface {}, found string"
    )


# --- anchors ----------------------------------------------------------------------------------


def test_parse_anchor() -> None:
    assert parse_anchor("(name)") is not None
    anchor = parse_anchor("X(hostPath)")
    assert anchor is not None and (anchor.modifier, anchor.key) == ("X", "hostPath")
    assert parse_anchor("name") is None
    assert parse_anchor("()") is None


CONDITIONAL = {"spec": {"containers": [{"(name)": "web", "image": "!*:latest"}]}}


def test_conditional_anchor_applies_then() -> None:
    resource = pod(containers=[{"name": "web", "image": "nginx:latest"}])
    result = check(resource, CONDITIONAL)
    assert (result.status, result.path) == ("fail", "/spec/containers/0/image/")


def test_conditional_anchor_mismatch_skips() -> None:
    resource = pod(containers=[{"name": "other", "image": "nginx:latest"}])
    result = check(resource, CONDITIONAL)
    assert result.status == "skip"
    assert result.message.startswith("conditional anchor mismatch: ")


def test_conditional_anchor_key_absent_skips() -> None:
    resource = pod(containers=[{"image": "nginx:latest"}])
    result = check(resource, CONDITIONAL)
    assert result.status == "skip"
    assert "conditional anchor key doesn't exist in the resource" in result.message


def test_conditional_skip_of_one_element_does_not_skip_the_list() -> None:
    resource = pod(
        containers=[{"name": "other", "image": "a:latest"}, {"name": "web", "image": "b:1"}]
    )
    assert check(resource, CONDITIONAL).status == "pass"


def test_equality_anchor() -> None:
    pattern = {"spec": {"=(hostNetwork)": False}}
    assert check(pod(), pattern).status == "pass"
    assert check(pod(hostNetwork=False), pattern).status == "pass"
    result = check(pod(hostNetwork=True), pattern)
    assert (result.status, result.path) == ("fail", "/spec/hostNetwork/")


def test_existence_anchor() -> None:
    pattern = {"spec": {"^(containers)": [{"image": "nginx*"}]}}
    assert check(pod(containers=[{"image": "busybox"}, {"image": "nginx:1"}]), pattern).status == (
        "pass"
    )
    result = check(pod(containers=[{"image": "busybox"}]), pattern)
    assert result.status == "fail"
    assert result.message == "existence anchor validation failed at path /spec/containers/"
    assert check(pod(), pattern).status == "pass"  # key absent: not checked
    result = check(pod(containers={"image": "x"}), pattern)
    assert result.status == "fail"
    assert "Existence ^ () anchor can be used only on list/array type resource" in result.message


def test_existence_anchor_needs_every_pattern_element() -> None:
    pattern = {"spec": {"^(containers)": [{"image": "nginx*"}, {"image": "redis*"}]}}
    assert check(pod(containers=[{"image": "nginx"}, {"image": "redis"}]), pattern).status == "pass"
    assert check(pod(containers=[{"image": "nginx"}]), pattern).status == "fail"


def test_negation_anchor() -> None:
    pattern = {"spec": {"volumes": [{"X(hostPath)": "null"}]}}
    assert check(pod(volumes=[{"name": "v", "emptyDir": {}}]), pattern).status == "pass"
    result = check(pod(volumes=[{"name": "v", "hostPath": {"path": "/"}}]), pattern)
    assert (result.status, result.path) == ("fail", "/spec/volumes/0/hostPath/")
    assert result.message == (
        "negation anchor matched in resource: /spec/volumes/0/hostPath/ is not allowed"
    )


def test_global_anchor() -> None:
    pattern = {
        "spec": {"<(hostNetwork)": True, "containers": [{"image": "registry.corp/*"}]},
    }
    assert check(pod(hostNetwork=False, containers=[{"image": "x"}]), pattern).status == "skip"
    assert check(pod(hostNetwork=True, containers=[{"image": "x"}]), pattern).status == "fail"
    assert check(pod(containers=[{"image": "x"}]), pattern).status == "fail"  # absent: applies


def test_add_anchor_is_a_literal_key_in_validate() -> None:
    result = check(pod(dnsPolicy="None"), {"spec": {"+(dnsPolicy)": "None"}})
    assert (result.status, result.path) == ("fail", "/spec/+(dnsPolicy)/")


def test_anchor_key_never_found_turns_a_failure_into_an_error() -> None:
    # a (key)/^(key) anchor key never found in the resource makes a plain failure an error,
    # without a path (anchormap.go KeysAreMissing)
    pattern = {"spec": {"^(volumes)": [{"name": "data"}], "dnsPolicy": "None"}}
    result = check(pod(dnsPolicy="Default"), pattern)
    assert result.status == "error"
    assert result.path == ""
    assert check(pod(dnsPolicy="None"), pattern).status == "pass"


def test_failed_condition_wins_over_other_anchors_of_the_map() -> None:
    pattern = {
        "spec": {"containers": [{"(name)": "web", "=(image)": "nginx*", "X(ports)": "null"}]}
    }
    resource = pod(containers=[{"name": "db", "image": "postgres", "ports": [{"port": 1}]}])
    assert check(resource, pattern).status == "skip"


def test_nested_skip_does_not_hide_an_applied_sibling_anchor() -> None:
    # every initContainer skipped by its condition, containers checked: the rule passes or fails
    pattern = {
        "spec": {
            "=(initContainers)": [
                {"(name)": "!istio-init", "=(securityContext)": {"=(runAsUser)": ">0"}}
            ],
            "=(containers)": [{"=(securityContext)": {"=(runAsUser)": ">0"}}],
        }
    }
    ok = {"spec": {"initContainers": [{"name": "istio-init"}], "containers": [{"name": "a"}]}}
    assert check(ok, pattern).status == "pass"
    only_skipped = {"spec": {"initContainers": [{"name": "istio-init"}]}}
    assert (
        check(
            only_skipped, {"spec": {"=(initContainers)": pattern["spec"]["=(initContainers)"]}}
        ).status
        == "skip"
    )


def test_negated_keys_never_count_as_missing() -> None:
    pattern = {"spec": {"X(hostIPC)": "null", "dnsPolicy": "None"}}
    result = check(pod(dnsPolicy="Default"), pattern)
    assert (result.status, result.path) == ("fail", "/spec/dnsPolicy/")


# --- lists ------------------------------------------------------------------------------------


def test_only_the_first_map_element_of_a_pattern_list_is_used() -> None:
    pattern = {"spec": {"containers": [{"image": "a*"}, {"image": "b*"}]}}
    assert check(pod(containers=[{"image": "a1"}, {"image": "a2"}]), pattern).status == "pass"


def test_scalar_list_pattern_applies_to_every_element() -> None:
    pattern = {"spec": {"args": ["--safe*"]}}
    assert check(pod(args=["--safe", "--safer"]), pattern).status == "pass"
    result = check(pod(args=["--safe", "--unsafe"]), pattern)
    assert (result.status, result.path) == ("fail", "/spec/args/")


def test_scalar_pattern_against_a_list() -> None:
    assert check(pod(args=["a", "b"]), {"spec": {"args": "?"}}).status == "pass"
    assert check(pod(args=["a", "bc"]), {"spec": {"args": "?"}}).status == "fail"


def test_list_of_lists_by_index() -> None:
    pattern = {"spec": {"matrix": [["a"], ["b"]]}}
    assert check(pod(matrix=[["a"], ["b"], ["c"]]), pattern).status == "pass"
    result = check(pod(matrix=[["a"]]), pattern)
    assert result.status == "error"  # Kyverno reports the length mismatch without a path
    assert "array length mismatch" in result.message


def test_empty_pattern_list_fails() -> None:
    assert check(pod(containers=[{"name": "a"}]), {"spec": {"containers": []}}).status == "fail"


def test_empty_resource_list_passes() -> None:
    assert check(pod(containers=[]), {"spec": {"containers": [{"image": "x"}]}}).status == "pass"


# --- wildcard keys in metadata -----------------------------------------------------------------

# ported: kyverno pkg/engine/validate/validate_test.go (TestValidateMapWildcardKeys)
WILDCARD_KEY_CASES = [
    ({"metadata": {"annotations": {"test/*": "value1"}}}, {"metadata": {"annotations": {"test/bar": "value1"}}}, ""),
    ({"metadata": {"annotations": {"test/b??": "v*"}}}, {"metadata": {"annotations": {"test/bar": "value1"}}}, ""),
    ({}, {"metadata": {"annotations": {"test/bar": "value1"}}}, ""),
    ({"metadata": {"annotations": {"test/b??": "v*"}}}, {"metadata": {"labels": {"test/bar": "value1"}}}, "/metadata/annotations/"),
    ({"metadata": {"labels": {"*/test": "foo"}}}, {"metadata": {"labels": {"foo/test": "foo"}}}, ""),
    ({"metadata": {"labels": {"foo/a*": "bar"}}}, {"metadata": {"labels": {"foo/aa?": "bar", "foo/789": "bar"}}}, ""),
    ({"metadata": {"labels": {"foo/ABC*": "bar"}}}, {"metadata": {"labels": {"foo/AB?": "bar", "foo/ABC": "bar2"}}}, "/metadata/labels/foo/ABC/"),
    ({"=(metadata)": {"=(labels)": {"foo/P*": "bar", "foo/Q*": "bar2"}}}, {"metadata": {"labels": {"foo/PQR": "bar", "foo/QR": "bar2"}}}, ""),
    ({"metadata": {"labels": {"foo/1*": "bar"}}}, {"metadata": {"labels": {"foo/123": "bar222"}}}, "/metadata/labels/foo/123/"),
    ({"metadata": {"labels": {"foo/X*": "bar", "foo/A*": "bar2"}}}, {"metadata": {"labels": {"foo/XYZ": "bar"}}}, "/metadata/labels/foo/A*/"),
    ({"=(metadata)": {"=(labels)": {"foo/1*": "bar", "foo/4*": "bar2"}}}, {"metadata": {"labels": {"foo/123": "bar"}}}, "/metadata/labels/foo/4*/"),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "resource", "path"), WILDCARD_KEY_CASES)
def test_wildcard_keys_in_metadata(pattern: Any, resource: Any, path: str) -> None:
    result = check(resource, pattern)
    assert result.path == path
    assert result.status == ("pass" if not path else "fail")


def test_wildcard_keys_elsewhere_are_literal() -> None:
    result = check(pod(nodeSelector={"zone": "a"}), {"spec": {"nodeSelector": {"z*": "a"}}})
    assert result.status == "fail"


def test_the_pattern_is_not_changed_by_wildcard_expansion() -> None:
    pattern = {"metadata": {"labels": {"app*": "?*"}}}
    check({"metadata": {"labels": {"app.kubernetes.io/name": "x"}}}, pattern)
    assert pattern == {"metadata": {"labels": {"app*": "?*"}}}


# --- ported: TestValidateMapElement_* and TestValidateMap_* -------------------------------------


def test_existence_with_conditional_elements_one_pass() -> None:
    pattern = {
        "^(list)": [{"(name)": "nirmata-*", "object": [{"(key1)": "value*", "key2": "value*"}]}]
    }
    resource = {
        "list": [
            {"name": "nirmata-1", "object": [{"key1": "value1", "key2": "value2"}]},
            {"name": "nirmata-1", "object": [{"key1": "not_value", "key2": "not_value"}]},
        ]
    }
    assert check(resource, pattern).status == "pass"


def test_one_element_in_array_not_pass_path() -> None:
    pattern = [{"(name)": "nirmata-*", "object": [{"(key1)": "value*", "key2": "value*"}]}]
    resource = [{"name": "nirmata-1", "object": [{"key1": "value5", "key2": "1value1"}]}]
    result = check(resource, pattern)
    assert (result.status, result.path) == ("fail", "/0/object/0/key2/")


def test_asterisk_field_missing_path() -> None:
    pattern = {
        "spec": {"template": {"spec": {"containers": [{"name": "*", "livenessProbe": "*"}]}}}
    }
    resource = {
        "spec": {"template": {"spec": {"containers": [{"name": "n", "livenessProbe": None}]}}}
    }
    result = check(resource, pattern)
    assert (result.status, result.path) == ("fail", "/spec/template/spec/containers/0/")


def test_null_pattern_accepts_missing_and_null() -> None:
    pattern = {"spec": {"containers": [{"name": "*", "livenessProbe": None}]}}
    assert check({"spec": {"containers": [{"name": "n"}]}}, pattern).status == "pass"
    assert check(
        {"spec": {"containers": [{"name": "n", "livenessProbe": None}]}}, pattern
    ).status == ("pass")


def test_references_resolved_by_the_caller() -> None:
    # ported: TestValidateMap_AbsolutePathToMetadata_fail (references are substituted first)
    pattern = {
        "metadata": {"labels": {"app": "nirmata*"}},
        "spec": {"containers": [{"(name)": "$(/metadata/labels/app)", "image": "nirmata.io*"}]},
    }
    resource = {
        "metadata": {"labels": {"app": "nirmata*"}},
        "spec": {"containers": [{"name": "nirmata", "image": "nginx"}]},
    }
    result = validate_pattern(resource, pattern, Context({}))
    assert (result.status, result.path) == ("fail", "/spec/containers/0/image/")


# ported: TestConditionalAnchorWithMultiplePatterns and Test_global_anchor. Kyverno's helper only
# checks "pass" and "skip" rows; "fail" rows are checked here as "not pass".
P1 = {
    "spec": {
        "containers": [{"name": "*", "(image)": "*:latest | !*:*", "imagePullPolicy": "!Always"}]
    }
}
P2 = {
    "spec": {
        "containers": [{"name": "*", "(image)": "!*:* | *:latest", "imagePullPolicy": "!Always"}]
    }
}
P3 = {"spec": {"containers": [{"name": "*", "<(image)": "*:latest", "imagePullPolicy": "!Always"}]}}
P4 = {
    "spec": {
        "containers": [
            {
                "name": "*",
                "<(image)": "nginx",
                "env": [{"<(name)": "foo", "<(value)": "bar"}],
                "imagePullPolicy": "!Always",
            }
        ]
    }
}
P5 = {
    "spec": {
        "containers": [
            {
                "name": "*",
                "env": [{"<(name)": "foo", "<(value)": "bar"}],
                "imagePullPolicy": "!Always",
            }
        ]
    }
}
P6 = {"metadata": {"<(name)": "nginx"}, "spec": {"imagePullSecrets": [{"name": "regcred"}]}}
P7 = {
    "metadata": {"labels": {"<(foo)": "bar"}},
    "spec": {"containers": [{"name": "nginx", "image": "!*:latest"}]},
}
P8 = {
    "spec": {
        "containers": [{"name": "*", "<(image)": "nginx"}],
        "imagePullSecrets": [{"name": "my-registry-secret"}],
    }
}
P9 = {
    "metadata": {"labels": {"allow-docker": "true"}},
    "(spec)": {"(volumes)": [{"(hostPath)": {"path": "/var/run/docker.sock"}}]},
}
P10 = {"spec": {"=(volumes)": [{"(name)": "!cache-volume", "=(emptyDir)": {"sizeLimit": "?*"}}]}}
P11 = {
    "spec": {
        "=(initContainers)": [
            {"(name)": "!istio-init", "=(securityContext)": {"=(runAsUser)": ">0"}}
        ],
        "=(containers)": [{"=(securityContext)": {"=(runAsUser)": ">0"}}],
    }
}
P12 = {
    "spec": {
        "=(volumes)": [
            {
                "(name)": "!credential-socket&!istio-data&!istio-envoy&!workload-certs&!workload-socket",
                "=(emptyDir)": {"sizeLimit": "?*"},
            }
        ]
    }
}


def c(name: str, image: str, policy: str) -> dict[str, Any]:
    return {"name": name, "image": image, "imagePullPolicy": policy}


def pods(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"containers": list(containers)}}


MULTIPLE_PATTERN_CASES = [
    ("test-1", P1, pods(c("nginx", "nginx:1.2.3", "Always")), "skip"),
    ("test-2", P1, pods(c("nginx", "nginx:latest", "Always")), "fail"),
    ("test-3", P1, pods(c("nginx", "nginx", "Always")), "fail"),
    ("test-4", P1, pods(c("nginx", "nginx", "Never")), "pass"),
    ("test-5", P1, pods(c("nginx", "nginx:latest", "Never")), "pass"),
    ("test-6", P1, pods(c("nginx", "nginx:1.2.3", "Never")), "skip"),
    ("test-7", P1, pods(c("nginx", "nginx", "Always"), c("busybox", "busybox:1.28", "Always")), "fail"),
    ("test-8", P1, pods(c("nginx", "nginx:latest", "Always"), c("busybox", "busybox:1.28", "Always")), "fail"),
    ("test-9", P1, pods(c("nginx", "nginx:1.2.3", "Always"), c("busybox", "busybox:1.28", "Always")), "skip"),
    ("test-10", P1, pods(c("nginx", "nginx", "Never"), c("busybox", "busybox:1.28", "Always")), "pass"),
    ("test-11", P1, pods(c("nginx", "nginx:latest", "Never"), c("busybox", "busybox:1.28", "Always")), "pass"),
    ("test-12", P1, pods(c("nginx", "nginx:1.2.3", "Never"), c("busybox", "busybox:1.28", "Always")), "skip"),
    ("test-13", P1, pods(c("busybox", "busybox:1.28", "Always"), c("nginx", "nginx", "Always")), "fail"),
    ("test-14", P1, pods(c("busybox", "busybox:1.28", "Always"), c("nginx", "nginx:latest", "Always")), "fail"),
    ("test-15", P1, pods(c("busybox", "busybox:1.28", "Always"), c("nginx", "nginx:1.2.3", "Always")), "skip"),
    ("test-16", P1, pods(c("busybox", "busybox:1.28", "Always"), c("nginx", "nginx", "Never")), "pass"),
    ("test-17", P1, pods(c("busybox", "busybox:1.28", "Always"), c("nginx", "nginx:latest", "Never")), "pass"),
    ("test-18", P1, pods(c("busybox", "busybox:1.28", "Always"), c("nginx", "nginx:1.2.3", "Never")), "skip"),
    ("test-19", P1, pods(c("busybox", "busybox", "Always"), c("nginx", "nginx", "Always")), "fail"),
    ("test-20", P1, pods(c("busybox", "busybox:latest", "Always"), c("nginx", "nginx:latest", "Always")), "fail"),
    ("test-21", P1, pods(c("busybox", "busybox:1.2.3", "Always"), c("nginx", "nginx:latest", "IfNotPresent")), "pass"),
    ("test-22", P2, pods(c("nginx", "nginx:latest", "Always")), "fail"),
    ("test-23", P3, pods(c("nginx", "nginx", "Always")), "fail"),
    ("test-24", P3, pods(c("nginx", "nginx:latest", "Always")), "fail"),
    ("test-25", P4, {"spec": {"containers": [{"name": "nginx", "image": "nginx", "env": [{"name": "foo1", "value": "bar"}], "imagePullPolicy": "Always"}]}}, "fail"),
    ("test-26", P4, {"spec": {"containers": [{"name": "nginx", "image": "nginx", "env": [{"name": "foo", "value": "bar"}], "imagePullPolicy": "Always"}]}}, "fail"),
    ("test-27", P5, {"spec": {"containers": [{"name": "nginx", "image": "nginx", "env": [{"name": "foo1", "value": "bar"}], "imagePullPolicy": "Always"}]}}, "fail"),
    ("test-28", P5, {"spec": {"containers": [{"name": "nginx", "image": "nginx", "env": [{"name": "foo", "value": "bar"}], "imagePullPolicy": "IfNotpresent"}]}}, "pass"),
    ("test-29", P5, {"spec": {"containers": [{"name": "nginx", "image": "nginx", "env": [{"name": "foo", "value": "bar"}], "imagePullPolicy": "Always"}]}}, "fail"),
    ("test-30", P6, {"metadata": {"name": "somename"}, "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}], "imagePullSecrets": [{"name": "cred"}]}}, "fail"),
    ("test-31", P6, {"metadata": {"name": "nginx"}, "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}], "imagePullSecrets": [{"name": "cred"}]}}, "fail"),
    ("test-32", P7, {"metadata": {"name": "nginx", "labels": {"foo": "bar"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}, "pass"),
    ("test-33", P7, {"metadata": {"name": "nginx", "labels": {"foo": "bar"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]}}, "fail"),
    ("test-34", P8, {"spec": {"containers": [{"name": "nginx", "image": "nginx"}], "imagePullSecrets": [{"name": "cred"}]}}, "fail"),
    ("test-35", P8, {"spec": {"containers": [{"name": "nginx", "image": "somepod"}], "imagePullSecrets": [{"name": "cred"}]}}, "fail"),
    ("test-36", P8, {"spec": {"containers": [{"name": "nginx", "image": "nginx"}], "imagePullSecrets": [{"name": "my-registry-secret"}]}}, "pass"),
    ("test-37", P9, {"metadata": {"labels": {"run": "nginx"}, "name": "nginx"}, "spec": {"containers": [{"image": "nginx", "name": "nginx"}]}}, "skip"),
    ("test-38", P9, {"metadata": {"labels": {"run": "nginx"}, "name": "nginx"}, "spec": {"containers": [{"image": "nginx", "name": "nginx"}], "volumes": [{"hostPath": {"path": "/var/run/docker.sock"}}]}}, "fail"),
    ("test-39", P9, {"metadata": {"labels": {"run": "nginx"}, "name": "nginx"}, "spec": {"containers": [{"image": "nginx", "name": "nginx"}], "volumes": [{"hostPath": {"path": "/randome/value"}}]}}, "skip"),
    ("test-40", P9, {"metadata": {"labels": {"run": "nginx", "allow-docker": "true"}, "name": "nginx"}, "spec": {"containers": [{"image": "nginx", "name": "nginx"}], "volumes": [{"hostPath": {"path": "/var/run/docker.sock"}}]}}, "pass"),
    ("test-41", P9, {"metadata": {"labels": {"run": "nginx", "allow-docker": "false"}, "name": "nginx"}, "spec": {"containers": [{"image": "nginx", "name": "nginx"}], "volumes": [{"hostPath": {"path": "/var/run/docker.sock"}}]}}, "fail"),
    ("test-43", P10, {"spec": {"volumes": [{"name": "cache-volume", "emptyDir": {}}]}}, "skip"),
    ("test-44", P11, {"spec": {"initContainers": [{"name": "nginx", "securityContext": {"runAsUser": 1000}}], "containers": [{"name": "nginx", "image": "nginx"}]}}, "pass"),
    ("test-45", P11, {"spec": {"initContainers": [{"name": "nginx", "securityContext": {"runAsUser": 0}}], "containers": [{"name": "nginx", "image": "nginx"}]}}, "fail"),
    ("test-46", P11, {"spec": {"initContainers": [{"name": "istio-init", "securityContext": {"runAsUser": 0}}], "containers": [{"securityContext": {"runAsUser": 1000}}]}}, "pass"),
    ("test-47", P11, {"spec": {"initContainers": [{"name": "istio-init", "securityContext": {"runAsUser": 1000}}], "containers": [{"securityContext": {"runAsUser": 0}}]}}, "fail"),
    ("test-48", P11, {"spec": {"containers": [{"securityContext": {"runAsUser": 1000}}]}}, "pass"),
    ("test-49", P11, {"spec": {"containers": [{"securityContext": {"runAsUser": 0}}]}}, "fail"),
    ("test-50", P11, {"spec": {"initContainers": [{"name": "istio-init", "securityContext": {"runAsUser": 0}}], "containers": [{"name": "nginx", "image": "nginx"}]}}, "pass"),
    ("test-51", P12, {"spec": {"volumes": [{"name": "credential-socket", "emptyDir": {"sizeLimit": "1Gi"}}]}}, "skip"),
    ("test-52", P12, {"spec": {"volumes": [{"name": "cache-volume", "emptyDir": {"sizeLimit": "1Gi"}}]}}, "pass"),
    ("test-53", P12, {"spec": {"volumes": [{"name": "cache-volume"}]}}, "pass"),
    ("test-54", P12, {"spec": {"volumes": [{"name": "cache-volume", "emptyDir": {}}]}}, "fail"),
    ("check_global_anchor_skip", P3, pods(c("nginx", "nginx:v1", "Always")), "skip"),
    ("check_global_anchor_fail", P3, pods(c("nginx", "nginx:latest", "Always")), "fail"),
    ("check_global_anchor_pass", P3, pods(c("nginx", "nginx:latest", "IfNotPresent")), "pass"),
    ("check_global_anchor_mixed", P3, pods(c("nginx", "nginx:latest", "IfNotPresent"), c("nginx", "nginx:v2", "IfNotPresent")), "pass"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "resource", "status"),
    [case[1:] for case in MULTIPLE_PATTERN_CASES],
    ids=[case[0] for case in MULTIPLE_PATTERN_CASES],
)
def test_kyverno_match_pattern_table(pattern: Any, resource: Any, status: str) -> None:
    result = check(resource, pattern)
    if status == "fail":
        assert result.status != "pass", result
    else:
        assert result.status == status, result


def test_fail_rows_of_the_table_that_are_plain_failures() -> None:
    for name, pattern, resource, _ in MULTIPLE_PATTERN_CASES:
        if name in {"test-2", "test-3", "test-7", "test-19", "test-22", "test-33", "test-45"}:
            assert check(resource, pattern).status == "fail", name


# --- compiled patterns and caching -------------------------------------------------------------


def test_compiled_patterns_give_the_same_results() -> None:
    compiled = compile_pattern(P1)
    assert isinstance(compiled, CompiledPattern)
    for _, pattern, resource, _ in MULTIPLE_PATTERN_CASES:
        if pattern is P1:
            assert compiled.validate(resource) == check(resource, P1)


def test_pattern_with_variables_is_substituted_with_a_context() -> None:
    ctx = Context({"request": {"object": pod(), "namespace": "prod"}, "allowed": "prod"})
    pattern = {"metadata": {"=(namespace)": "{{allowed}}"}}
    assert validate_pattern({"metadata": {"namespace": "prod"}}, pattern, ctx).status == "pass"
    assert validate_pattern({"metadata": {"namespace": "dev"}}, pattern, ctx).status == "fail"
    broken = {"metadata": {"name": "{{missing.key}}"}}
    result = validate_pattern({"metadata": {"name": "x"}}, broken, ctx)
    assert result.status == "error"
    assert "missing.key" in result.message


def test_json_round_trip_patterns_behave_the_same() -> None:
    pattern = json.loads(json.dumps(P12))
    resource = {"spec": {"volumes": [{"name": "cache-volume", "emptyDir": {}}]}}
    assert check(resource, pattern).status == "fail"
