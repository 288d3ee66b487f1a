"""Kyverno ``validate.podSecurity``: every Pod Security control at the levels it applies to, the
version gates, exclusions, pod controllers and the failure message.

Ported expectations come from kyverno/kyverno ``pkg/pss/evaluate_test.go``,
``evaluate_userns_test.go`` and ``hostprobes_test.go``, and from the kyverno/policies library
(``pod-security/subrule/...`` ``.kyverno-test`` and ``.chainsaw-test`` resources).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.analyzers.kyverno.podsecurity import (
    CHECK_IDS,
    CONTROL_IDS,
    CONTROL_OF_CHECK,
    PodSecurityResult,
    evaluate_pod_security,
    pod_spec_of,
    validate_pod_security,
)

DATA = Path(__file__).parents[2] / "data" / "kyverno" / "podsecurity"

PathElem = str | int


def restricted_pod() -> dict[str, Any]:
    """A pod that passes the restricted level at every version."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "app",
                    "image": "registry.example/app:1.0",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def with_fields(resource: dict[str, Any], *assignments: tuple[Sequence[PathElem], Any]) -> dict:
    """A copy of ``resource`` with each (path, value) set, creating maps on the way."""
    out = copy.deepcopy(resource)
    for path, value in assignments:
        node: Any = out
        for key in path[:-1]:
            if isinstance(key, str) and key not in node:
                node[key] = {}
            node = node[key]
        if isinstance(node, list) and path[-1] == len(node):
            node.append(value)
        else:
            node[path[-1]] = value
    return out


def controls(result: PodSecurityResult) -> set[str]:
    return {violation.control for violation in result.violations}


def check_ids(result: PodSecurityResult) -> list[str]:
    return sorted(violation.check_id for violation in result.violations)


CONTAINER = ("spec", "containers", 0)
CONTAINER_SC = (*CONTAINER, "securityContext")
POD_SC = ("spec", "securityContext")


# ---------------------------------------------------------------------------------------------
# Every control, failing and passing, at each level it applies to


@dataclass(frozen=True)
class ControlCase:
    id: str
    bad: tuple[tuple[Sequence[PathElem], Any], ...]
    good: tuple[tuple[Sequence[PathElem], Any], ...]
    baseline: set[str]  # controls failing at baseline (empty: the bad pod passes baseline)
    restricted: set[str]
    offending: tuple[PathElem, ...] | None = None  # a field path the result must point at
    extra: dict[str, Any] = field(default_factory=dict)


CONTROL_CASES = [
    ControlCase(
        "host-network",
        ((("spec", "hostNetwork"), True),),
        ((("spec", "hostNetwork"), False),),
        {"Host Namespaces"},
        {"Host Namespaces"},
        ("spec", "hostNetwork"),
    ),
    ControlCase(
        "host-pid",
        ((("spec", "hostPID"), True),),
        ((("spec", "hostPID"), False),),
        {"Host Namespaces"},
        {"Host Namespaces"},
        ("spec", "hostPID"),
    ),
    ControlCase(
        "host-ipc",
        ((("spec", "hostIPC"), True),),
        ((("spec", "hostIPC"), False),),
        {"Host Namespaces"},
        {"Host Namespaces"},
        ("spec", "hostIPC"),
    ),
    ControlCase(
        "privileged",
        (((*CONTAINER_SC, "privileged"), True),),
        (((*CONTAINER_SC, "privileged"), False),),
        {"Privileged Containers"},
        {"Privileged Containers"},
        (*CONTAINER_SC, "privileged"),
    ),
    ControlCase(
        "capabilities-add",
        (((*CONTAINER_SC, "capabilities", "add"), ["NET_RAW"]),),
        (((*CONTAINER_SC, "capabilities", "add"), ["NET_BIND_SERVICE"]),),
        {"Capabilities"},
        {"Capabilities"},
        (*CONTAINER_SC, "capabilities", "add"),
    ),
    ControlCase(
        "hostpath-volume",
        ((("spec", "volumes"), [{"name": "run", "hostPath": {"path": "/var/run"}}]),),
        ((("spec", "volumes"), [{"name": "run", "emptyDir": {}}]),),
        {"HostPath Volumes"},
        {"HostPath Volumes", "Volume Types"},
        ("spec", "volumes", 0, "hostPath"),
    ),
    ControlCase(
        "host-port",
        (((*CONTAINER, "ports"), [{"containerPort": 80, "hostPort": 8080}]),),
        (((*CONTAINER, "ports"), [{"containerPort": 80, "hostPort": 0}]),),
        {"Host Ports"},
        {"Host Ports"},
        (*CONTAINER, "ports", 0, "hostPort"),
    ),
    ControlCase(
        "apparmor-annotation",
        (
            (
                ("metadata", "annotations"),
                {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"},
            ),
        ),
        (
            (
                ("metadata", "annotations"),
                {"container.apparmor.security.beta.kubernetes.io/app": "localhost/profile"},
            ),
        ),
        {"AppArmor"},
        {"AppArmor"},
        ("metadata", "annotations", "container.apparmor.security.beta.kubernetes.io/app"),
    ),
    ControlCase(
        "apparmor-field",
        (((*CONTAINER_SC, "appArmorProfile"), {"type": "Unconfined"}),),
        (((*CONTAINER_SC, "appArmorProfile"), {"type": "RuntimeDefault"}),),
        {"AppArmor"},
        {"AppArmor"},
        (*CONTAINER_SC, "appArmorProfile", "type"),
    ),
    ControlCase(
        "selinux-type",
        (((*CONTAINER_SC, "seLinuxOptions"), {"type": "spc_t"}),),
        (((*CONTAINER_SC, "seLinuxOptions"), {"type": "container_t", "level": "s0:c1"}),),
        {"SELinux"},
        {"SELinux"},
        (*CONTAINER_SC, "seLinuxOptions", "type"),
    ),
    ControlCase(
        "selinux-user",
        (((*POD_SC, "seLinuxOptions"), {"user": "system_u"}),),
        (((*POD_SC, "seLinuxOptions"), {"type": "container_init_t"}),),
        {"SELinux"},
        {"SELinux"},
        (*POD_SC, "seLinuxOptions", "user"),
    ),
    ControlCase(
        "proc-mount",
        (((*CONTAINER_SC, "procMount"), "Unmasked"),),
        (((*CONTAINER_SC, "procMount"), "Default"),),
        {"/proc Mount Type"},
        {"/proc Mount Type"},
        (*CONTAINER_SC, "procMount"),
    ),
    ControlCase(
        "seccomp-unconfined",
        (((*POD_SC, "seccompProfile"), {"type": "Unconfined"}),),
        (((*POD_SC, "seccompProfile"), {"type": "Localhost", "localhostProfile": "p.json"}),),
        {"Seccomp"},
        {"Seccomp"},
        (*POD_SC, "seccompProfile", "type"),
    ),
    ControlCase(
        "sysctl",
        (((*POD_SC, "sysctls"), [{"name": "kernel.msgmax", "value": "65536"}]),),
        (((*POD_SC, "sysctls"), [{"name": "kernel.shm_rmid_forced", "value": "1"}]),),
        {"Sysctls"},
        {"Sysctls"},
        (*POD_SC, "sysctls", 0, "name"),
    ),
    ControlCase(
        "host-process",
        (((*CONTAINER_SC, "windowsOptions"), {"hostProcess": True}),),
        (((*CONTAINER_SC, "windowsOptions"), {"hostProcess": False}),),
        {"HostProcess"},
        {"HostProcess"},
        (*CONTAINER_SC, "windowsOptions", "hostProcess"),
    ),
    ControlCase(
        "probe-host",
        (((*CONTAINER, "livenessProbe"), {"httpGet": {"host": "10.0.0.1", "port": 8080}}),),
        (((*CONTAINER, "livenessProbe"), {"httpGet": {"path": "/healthz", "port": 8080}}),),
        {"Host Probes / Lifecycle Hooks"},
        {"Host Probes / Lifecycle Hooks"},
        (*CONTAINER, "livenessProbe", "httpGet", "host"),
    ),
    ControlCase(
        "lifecycle-host",
        (((*CONTAINER, "lifecycle"), {"preStop": {"tcpSocket": {"host": "db", "port": 5432}}}),),
        (((*CONTAINER, "lifecycle"), {"preStop": {"tcpSocket": {"port": 5432}}}),),
        {"Host Probes / Lifecycle Hooks"},
        {"Host Probes / Lifecycle Hooks"},
        (*CONTAINER, "lifecycle", "preStop", "tcpSocket", "host"),
    ),
    # Restricted only: the bad pod passes baseline.
    ControlCase(
        "volume-type",
        ((("spec", "volumes"), [{"name": "data", "nfs": {"server": "nfs", "path": "/"}}]),),
        ((("spec", "volumes"), [{"name": "data", "image": {"reference": "data:1"}}]),),
        set(),
        {"Volume Types"},
        ("spec", "volumes", 0, "nfs"),
    ),
    ControlCase(
        "privilege-escalation",
        (((*CONTAINER_SC, "allowPrivilegeEscalation"), True),),
        (((*CONTAINER_SC, "allowPrivilegeEscalation"), False),),
        set(),
        {"Privilege Escalation"},
        (*CONTAINER_SC, "allowPrivilegeEscalation"),
    ),
    ControlCase(
        "run-as-non-root",
        (((*POD_SC, "runAsNonRoot"), False),),
        (((*CONTAINER_SC, "runAsNonRoot"), True),),
        set(),
        {"Running as Non-root"},
        (*POD_SC, "runAsNonRoot"),
    ),
    ControlCase(
        "run-as-user",
        (((*CONTAINER_SC, "runAsUser"), 0),),
        (((*CONTAINER_SC, "runAsUser"), 1000),),
        set(),
        {"Running as Non-root user"},
        (*CONTAINER_SC, "runAsUser"),
    ),
    ControlCase(
        "seccomp-required",
        (((*POD_SC, "seccompProfile"), None),),
        (
            ((*POD_SC, "seccompProfile"), None),
            ((*CONTAINER_SC, "seccompProfile"), {"type": "RuntimeDefault"}),
        ),
        set(),
        {"Seccomp"},
        (*CONTAINER_SC, "seccompProfile", "type"),
    ),
    ControlCase(
        "capabilities-drop",
        (((*CONTAINER_SC, "capabilities"), {"drop": ["NET_RAW"]}),),
        (((*CONTAINER_SC, "capabilities"), {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),),
        set(),
        {"Capabilities"},
        (*CONTAINER_SC, "capabilities", "drop"),
    ),
    ControlCase(
        "capabilities-add-restricted",
        (((*CONTAINER_SC, "capabilities"), {"drop": ["ALL"], "add": ["CHOWN"]}),),
        (((*CONTAINER_SC, "capabilities"), {"drop": ["ALL"]}),),
        set(),
        {"Capabilities"},
        (*CONTAINER_SC, "capabilities", "add"),
    ),
    ControlCase(
        # In a user namespace baseline allows any procMount (policy 1.35); restricted does not.
        "proc-mount-user-namespace",
        ((("spec", "hostUsers"), False), ((*CONTAINER_SC, "procMount"), "Unmasked")),
        ((("spec", "hostUsers"), False), ((*CONTAINER_SC, "procMount"), "Default")),
        set(),
        {"/proc Mount Type"},
        (*CONTAINER_SC, "procMount"),
    ),
]


@pytest.mark.parametrize("case", CONTROL_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_control_fails_and_passes(case: ControlCase, level: str) -> None:
    bad = with_fields(restricted_pod(), *case.bad)
    good = with_fields(restricted_pod(), *case.good)
    expected = case.baseline if level == "baseline" else case.restricted

    bad_result = evaluate_pod_security(bad, level, "latest", [])
    good_result = evaluate_pod_security(good, level, "latest", [])

    assert good_result.status == "pass", good_result.message
    if not expected:
        assert bad_result.status == "pass", bad_result.message
        return
    assert bad_result.status == "fail"
    assert controls(bad_result) == expected, bad_result.message
    assert case.offending in bad_result.field_paths


def test_every_check_has_a_control_and_every_control_a_check() -> None:
    # Kyverno's Test_AllPodSecurityChecksHaveAControlName: an unmapped check could not be
    # excluded by name.
    assert set(CONTROL_OF_CHECK) == set(CHECK_IDS)
    assert {check for ids in CONTROL_IDS.values() for check in ids} == set(CHECK_IDS)


def test_container_without_security_context_fails_restricted_with_required_fields() -> None:
    pod = with_fields(restricted_pod(), ((*CONTAINER, "securityContext"), None))
    result = evaluate_pod_security(pod, "restricted", "latest", [])
    assert controls(result) == {"Privilege Escalation", "Capabilities"}
    assert [e.type for v in result.violations for e in v.errors] == ["Required", "Required"]


def test_privileged_level_runs_every_check_like_kyverno() -> None:
    # pkg/pss/evaluate.go only filters checks for "baseline"; "privileged" is not special-cased.
    pod = with_fields(restricted_pod(), ((*CONTAINER_SC, "allowPrivilegeEscalation"), True))
    assert evaluate_pod_security(pod, "privileged", "latest", []).status == "fail"
    assert evaluate_pod_security(pod, "baseline", "latest", []).status == "pass"


def test_windows_pods_are_exempt_from_linux_only_checks_at_latest() -> None:
    pod = with_fields(
        restricted_pod(),
        (("spec", "os"), {"name": "windows"}),
        ((*POD_SC, "seccompProfile"), None),
        ((*CONTAINER, "securityContext"), None),
    )
    assert evaluate_pod_security(pod, "restricted", "latest", []).status == "pass"
    # A pinned version also runs the 1.8/1.19/1.22 revisions, which know no exemption.
    pinned = evaluate_pod_security(pod, "restricted", "v1.25", [])
    assert controls(pinned) == {"Privilege Escalation", "Capabilities", "Seccomp"}


# ---------------------------------------------------------------------------------------------
# Version gates


def _version_results(pod: dict[str, Any], level: str, versions: list[str]) -> list[str]:
    return [evaluate_pod_security(pod, level, v, []).status for v in versions]


def test_seccomp_annotations_are_checked_by_pinned_versions_only() -> None:
    annotated = with_fields(
        restricted_pod(),
        (("metadata", "annotations"), {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}),
    )
    # latest runs the 1.19 field check only; pinned versions also run the 1.0 annotation check.
    assert _version_results(annotated, "baseline", ["latest", "v1.18", "v1.24"]) == [
        "pass",
        "fail",
        "fail",
    ]
    unconfined_field = with_fields(
        restricted_pod(), ((*POD_SC, "seccompProfile"), {"type": "Unconfined"})
    )
    assert _version_results(unconfined_field, "baseline", ["v1.0", "v1.18", "v1.19"]) == [
        "pass",
        "pass",
        "fail",
    ]


@pytest.mark.parametrize(
    ("assignment", "older", "gate"),
    [
        (((*CONTAINER_SC, "runAsUser"), 0), "v1.22", "v1.23"),
        (((*CONTAINER_SC, "allowPrivilegeEscalation"), True), "v1.7", "v1.8"),
        (((*CONTAINER_SC, "capabilities"), {"drop": ["NET_RAW"]}), "v1.21", "v1.22"),
        (((*POD_SC, "seccompProfile"), None), "v1.18", "v1.19"),
    ],
    ids=["runAsUser-1.23", "allowPrivilegeEscalation-1.8", "capabilities-1.22", "seccomp-1.19"],
)
def test_restricted_checks_start_at_their_policy_version(
    assignment: tuple[Sequence[PathElem], Any], older: str, gate: str
) -> None:
    pod = with_fields(restricted_pod(), assignment)
    assert _version_results(pod, "restricted", [older, gate, "latest"]) == ["pass", "fail", "fail"]


@pytest.mark.parametrize(
    ("sysctl", "allowed_from", "failing_revisions"),
    [
        ("net.ipv4.ip_local_reserved_ports", "v1.27", 1),
        ("net.ipv4.tcp_keepalive_time", "v1.29", 2),
        ("net.ipv4.tcp_rmem", "v1.32", 3),
    ],
)
def test_newer_safe_sysctls_pass_latest_but_not_a_pinned_version(
    sysctl: str, allowed_from: str, failing_revisions: int
) -> None:
    pod = with_fields(restricted_pod(), ((*POD_SC, "sysctls"), [{"name": sysctl, "value": "1"}]))
    assert evaluate_pod_security(pod, "baseline", "latest", []).status == "pass"
    # Kyverno runs every revision at or below a pinned version, so the 1.0 list still applies.
    pinned = evaluate_pod_security(pod, "baseline", allowed_from, [])
    assert pinned.status == "fail"
    assert all(v.check_id == "sysctls" for v in pinned.violations)
    # One result per failing revision (1.0, 1.27, 1.29), as Kyverno reports them.
    assert len(pinned.violations) == failing_revisions


def test_container_engine_t_selinux_type_is_allowed_from_1_31_at_latest() -> None:
    pod = with_fields(
        restricted_pod(), ((*CONTAINER_SC, "seLinuxOptions"), {"type": "container_engine_t"})
    )
    assert _version_results(pod, "baseline", ["latest", "v1.30", "v1.31"]) == [
        "pass",
        "fail",
        "fail",
    ]


@pytest.mark.parametrize(
    ("version", "allowed"),
    [
        ("", False),
        ("latest", False),
        ("v1.35", False),
        ("v1.34", False),
        ("v1.33", True),
        ("v1.29", True),
    ],
)
def test_host_probes_version_gating(version: str, allowed: bool) -> None:
    # kyverno pkg/pss/hostprobes_test.go Test_HostProbes_VersionGating.
    pod = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "eks-pod-identity-agent", "namespace": "kube-system"},
        "spec": {
            "containers": [
                {
                    "name": "eks-pod-identity-agent",
                    "image": "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/"
                    "eks-pod-identity-agent:0.1.0",
                    "livenessProbe": {
                        "httpGet": {"host": "localhost", "path": "/healthz", "port": 2703}
                    },
                }
            ]
        },
    }
    result = evaluate_pod_security(pod, "baseline", version, None)
    assert (result.status == "pass") is allowed, result.message


def _userns_pod(host_users: bool | None, context: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "nginx", "image": "nginx", "securityContext": context}],
    }
    if host_users is not None:
        spec["hostUsers"] = host_users
    return {"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def _restricted_context(**changes: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    for key, value in changes.items():
        if value is None:
            context.pop(key, None)
        else:
            context[key] = value
    return context


UNMASKED = _restricted_context(procMount="Unmasked")
ROOT = _restricted_context(runAsNonRoot=None, runAsUser=0)
NONROOT_FALSE = _restricted_context(runAsNonRoot=False)
PRIVILEGED = _restricted_context(privileged=True)
EXCLUDE_PROC_MOUNT = [{"controlName": "/proc Mount Type", "images": ["nginx"]}]
EXCLUDE_UNMASKED = [
    {
        "controlName": "/proc Mount Type",
        "images": ["nginx"],
        "restrictedField": "spec.containers[*].securityContext.procMount",
        "values": ["Unmasked"],
    }
]
B, R, LATEST = "baseline", "restricted", "latest"
PM, PMR, RNR, RU = "procMount", "procMount_restricted", "runAsNonRoot", "runAsUser"

# kyverno pkg/pss/evaluate_userns_test.go Test_EvaluatePod_UserNamespaces, row for row:
# (name, level, version, hostUsers, container securityContext, excludes, failed check IDs).
USERNS_CASES = [
    ("baseline latest, userns, unmasked", B, LATEST, False, UNMASKED, None, []),
    ("baseline latest, no userns, unmasked", B, LATEST, True, UNMASKED, None, [PM]),
    ("baseline latest, hostUsers unset, unmasked", B, LATEST, None, UNMASKED, None, [PM]),
    ("baseline v1.32, userns, unmasked", B, "v1.32", False, UNMASKED, None, [PM]),
    ("restricted latest, userns, unmasked", R, LATEST, False, UNMASKED, None, [PMR]),
    ("restricted latest, no userns, unmasked", R, LATEST, True, UNMASKED, None, [PM, PMR]),
    ("restricted v1.32, userns, unmasked", R, "v1.32", False, UNMASKED, None, [PM, PMR]),
    ("restricted latest, userns, runAsUser 0", R, LATEST, False, ROOT, None, []),
    ("restricted latest, no userns, runAsUser 0", R, LATEST, True, ROOT, None, [RNR, RU]),
    ("restricted latest, hostUsers unset, runAsUser 0", R, LATEST, None, ROOT, None, [RNR, RU]),
    ("restricted v1.32, userns, runAsUser 0", R, "v1.32", False, ROOT, None, [RNR, RU]),
    ("restricted latest, userns, runAsNonRoot false", R, LATEST, False, NONROOT_FALSE, None, []),
    ("restricted v1.32, userns, runAsNonRoot false", R, "v1.32", False, NONROOT_FALSE, None, [RNR]),
    ("restricted latest, userns, privileged", R, LATEST, False, PRIVILEGED, None, ["privileged"]),
    (
        "restricted latest, userns, unmasked, control excluded",
        R, LATEST, False, UNMASKED, EXCLUDE_PROC_MOUNT, [],
    ),
    (
        "restricted v1.32, no userns, unmasked, control excluded",
        R, "v1.32", True, UNMASKED, EXCLUDE_PROC_MOUNT, [],
    ),
    (
        "restricted latest, userns, unmasked, value excluded",
        R, LATEST, False, UNMASKED, EXCLUDE_UNMASKED, [],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("level", "version", "host_users", "context", "excludes", "failed"),
    [case[1:] for case in USERNS_CASES],
    ids=[case[0] for case in USERNS_CASES],
)
def test_user_namespace_relaxations(
    level: str,
    version: str,
    host_users: bool | None,
    context: dict[str, Any],
    excludes: list[dict[str, Any]] | None,
    failed: list[str],
) -> None:
    result = evaluate_pod_security(_userns_pod(host_users, context), level, version, excludes)
    assert (result.status == "pass") is (not failed)
    assert check_ids(result) == failed


# ---------------------------------------------------------------------------------------------
# Exclusions: Kyverno's own unit cases, the public policy library, and targeted cases


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


EVALUATE_CASES = _load_yaml(DATA / "evaluate_test_cases.yaml")


@pytest.mark.parametrize("case", EVALUATE_CASES, ids=[c["name"] for c in EVALUATE_CASES])
def test_kyverno_evaluate_test_cases(case: dict[str, Any]) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test"}, **case["pod"]}
    rule = case["rule"]
    result = evaluate_pod_security(pod, rule["level"], rule["version"], rule.get("exclude"))
    assert result.status != "error", result.message
    assert (result.status == "pass") is case["allowed"], result.message


LIBRARY = DATA / "library"
LIBRARY_CASES = _load_yaml(LIBRARY / "expected.yaml")


@pytest.mark.parametrize(
    "case", LIBRARY_CASES, ids=[f"{c['policy'].split('/')[0]}-{c['name']}" for c in LIBRARY_CASES]
)
def test_kyverno_policy_library(case: dict[str, Any]) -> None:
    rule = _load_yaml(LIBRARY / case["policy"])["spec"]["rules"][0]
    block = rule["validate"]["podSecurity"]
    assert validate_pod_security(block) == []
    documents = yaml.safe_load_all((LIBRARY / case["resources"]).read_text(encoding="utf-8"))
    resource = next(d for d in documents if d["metadata"]["name"] == case["name"])
    result = evaluate_pod_security(
        resource, block["level"], block.get("version", ""), block.get("exclude"), rule_name="r"
    )
    assert result.status == case["result"], result.message


def _hostport_pod(image: str, port: int) -> dict[str, Any]:
    return with_fields(
        restricted_pod(),
        ((*CONTAINER, "image"), image),
        ((*CONTAINER, "ports"), [{"containerPort": port, "hostPort": port}]),
    )


@pytest.mark.parametrize(
    ("images", "image", "excluded"),
    [
        (["nginx"], "nginx", True),
        (["nginx"], "nginx:1.25", False),  # no implicit tag matching
        (["nginx:*"], "nginx:1.25", True),
        (["ngin?:1.25"], "nginx:1.25", True),
        (["*/app:*"], "registry.example/app:1.0", True),
        (["registry.example/*", "redis*"], "docker.io/redis:7", False),
        (["*"], "anything", True),
    ],
)
def test_exclusion_images_are_wildcards(images: list[str], image: str, excluded: bool) -> None:
    result = evaluate_pod_security(
        _hostport_pod(image, 8080),
        "baseline",
        "latest",
        [{"controlName": "Host Ports", "images": images}],
    )
    assert (result.status == "pass") is excluded


@pytest.mark.parametrize(
    ("values", "excluded"),
    [(["8080"], True), (["80*"], True), (["443"], False), (["8080", "443"], True)],
)
def test_restricted_field_values_are_wildcards_on_the_bad_value(
    values: list[str], excluded: bool
) -> None:
    exclude = {
        "controlName": "Host Ports",
        "images": ["*"],
        "restrictedField": "spec.containers[*].ports[*].hostPort",
        "values": values,
    }
    result = evaluate_pod_security(_hostport_pod("app", 8080), "baseline", "latest", [exclude])
    assert (result.status == "pass") is excluded


def test_restricted_field_must_name_the_field_exactly() -> None:
    exclude = {
        "controlName": "Host Ports",
        "images": ["*"],
        "restrictedField": "spec.initContainers[*].ports[*].hostPort",
        "values": ["8080"],
    }
    result = evaluate_pod_security(_hostport_pod("app", 8080), "baseline", "latest", [exclude])
    assert result.status == "fail"


def test_exclusion_only_removes_its_own_control() -> None:
    pod = with_fields(
        restricted_pod(),
        ((*CONTAINER_SC, "privileged"), True),
        (("spec", "hostNetwork"), True),
    )
    result = evaluate_pod_security(pod, "baseline", "latest", [{"controlName": "Host Namespaces"}])
    assert controls(result) == {"Privileged Containers"}


def test_unknown_control_name_excludes_nothing_but_is_reported_by_validation() -> None:
    pod = with_fields(restricted_pod(), ((*CONTAINER_SC, "privileged"), True))
    excludes = [{"controlName": "Privileged", "images": ["*"]}]
    assert evaluate_pod_security(pod, "baseline", "latest", excludes).status == "fail"
    problems = validate_pod_security({"level": "baseline", "exclude": excludes})
    assert [(p.path, p.message.split(";")[0]) for p in problems] == [
        (("exclude", 0, "controlName"), "unknown control 'Privileged'")
    ]


def test_pod_level_exclusion_removes_one_error_per_error_of_the_fake_pod() -> None:
    # An exclusion without images is evaluated on the pod with one container named "fake";
    # its single runAsNonRoot error removes one of the two containers' errors (evaluate.go
    # exemptExclusions breaks after the first match).
    second = copy.deepcopy(restricted_pod()["spec"]["containers"][0]) | {"name": "sidecar"}
    pod = with_fields(
        restricted_pod(),
        ((*POD_SC, "runAsNonRoot"), None),
        (("spec", "containers", 1), second),
    )
    result = evaluate_pod_security(
        pod, "restricted", "latest", [{"controlName": "Running as Non-root"}]
    )
    assert check_ids(result) == ["runAsNonRoot"]
    assert len(result.violations[0].errors) == 1


def test_pod_level_exclusion_does_not_reach_explicit_container_settings() -> None:
    # evaluate_test.go restricted_runAsNonRoot_defines_all_violate_spec_false_container_true_*.
    pod = with_fields(restricted_pod(), ((*CONTAINER_SC, "runAsNonRoot"), False))
    excludes = [{"controlName": "Running as Non-root"}]
    assert evaluate_pod_security(pod, "restricted", "latest", excludes).status == "fail"
    excludes = [{"controlName": "Running as Non-root", "images": ["registry.example/*"]}]
    assert evaluate_pod_security(pod, "restricted", "latest", excludes).status == "pass"


# ---------------------------------------------------------------------------------------------
# Failure message and field paths


def test_failure_message_matches_kyverno() -> None:
    pod = with_fields(restricted_pod(), ((*CONTAINER_SC, "privileged"), True))
    result = evaluate_pod_security(pod, "baseline", "latest", [], rule_name="baseline")
    assert result.message == (
        "Validation rule 'baseline' failed. It violates PodSecurity \"baseline:latest\": "
        "(Forbidden reason: privileged, field error list: "
        "[spec.containers[0].securityContext.privileged is forbidden, "
        "forbidden values found: true])"
    )
    violation = result.violations[0]
    assert violation.detail == 'container "app" must not set securityContext.privileged=true'
    assert violation.images == ("registry.example/app:1.0",)
    assert evaluate_pod_security(
        restricted_pod(), "baseline", "latest", [], rule_name="x"
    ).message == ("Validation rule 'x' passed.")


def test_failure_message_formats_each_kind_of_field_error() -> None:
    pod = with_fields(
        restricted_pod(),
        ((*CONTAINER_SC, "capabilities"), {"add": ["SYS_ADMIN", "NET_RAW"]}),
        ((*POD_SC, "seccompProfile"), {}),
        (("spec", "volumes"), [{"name": "git", "gitRepo": {"repository": "r"}}]),
    )
    result = evaluate_pod_security(pod, "restricted", "", [], rule_name="r")
    assert result.message.startswith(
        "Validation rule 'r' failed. It violates PodSecurity \"restricted:\": "
    )
    assert (
        "(Forbidden reason: non-default capabilities, field error list: "
        "[spec.containers[0].securityContext.capabilities.add is forbidden, "
        "forbidden values found: [NET_RAW SYS_ADMIN]])"
    ) in result.message
    # A Required error, an error with an empty bad value, one with no bad value at all:
    assert "spec.containers[0].securityContext.capabilities.drop: Required value" in result.message
    assert "spec.securityContext.seccompProfile.type: Forbidden" in result.message
    assert "spec.volumes[0].gitRepo is forbidden, forbidden values found: <nil>" in result.message


def test_deployment_fields_are_renamed_and_paths_point_into_the_template() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": restricted_pod()["spec"]}
        },
    }
    deployment = with_fields(
        deployment, (("spec", "template", "spec", "containers", 0, "ports"), [{"hostPort": 8080}])
    )
    result = evaluate_pod_security(deployment, "baseline", "latest", [])
    error = result.violations[0].errors[0]
    assert error.field == "spec.template.spec.containers[0].ports[0].hostPort"
    assert error.path == ("spec", "template", "spec", "containers", 0, "ports", 0, "hostPort")
    assert "spec.template.spec.containers[0].ports[0].hostPort is forbidden" in result.message


def test_pod_metadata_fields_are_renamed_like_kyverno_does() -> None:
    # validate_pss.go convertChecks replaces "metadata" for every kind, a Pod included.
    pod = with_fields(
        restricted_pod(),
        (("metadata", "annotations"), {"container.apparmor.security.beta.kubernetes.io/app": "x"}),
    )
    error = evaluate_pod_security(pod, "baseline", "latest", []).violations[0].errors[0]
    assert error.field == (
        "spec.template.metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]"
    )
    assert error.path == (
        "metadata",
        "annotations",
        "container.apparmor.security.beta.kubernetes.io/app",
    )


# ---------------------------------------------------------------------------------------------
# Pod controllers


def _template(kind: str, pod_spec: dict[str, Any]) -> dict[str, Any]:
    template = {"metadata": {"labels": {"app": "x"}}, "spec": pod_spec}
    if kind == "CronJob":
        spec: dict[str, Any] = {
            "schedule": "* * * * *",
            "jobTemplate": {"spec": {"template": template}},
        }
    else:
        spec = {"template": template}
    return {"kind": kind, "metadata": {"name": "x"}, "spec": spec}


CONTROLLERS = [
    ("Deployment", ("spec", "template")),
    ("StatefulSet", ("spec", "template")),
    ("DaemonSet", ("spec", "template")),
    ("ReplicaSet", ("spec", "template")),
    ("ReplicationController", ("spec", "template")),
    ("Job", ("spec", "template")),
    ("CronJob", ("spec", "jobTemplate", "spec", "template")),
]


@pytest.mark.parametrize(("kind", "prefix"), CONTROLLERS)
def test_pod_controllers_are_checked_through_their_template(
    kind: str, prefix: tuple[str, ...]
) -> None:
    bad_spec = with_fields(restricted_pod(), ((*CONTAINER_SC, "privileged"), True))["spec"]
    resource = _template(kind, bad_spec)
    template = pod_spec_of(resource)
    assert template is not None and template.path_prefix == prefix
    assert template.spec == bad_spec
    result = evaluate_pod_security(resource, "restricted", "latest", [])
    assert controls(result) == {"Privileged Containers"}
    assert result.field_paths == (
        (*prefix, "spec", "containers", 0, "securityContext", "privileged"),
    )
    good = evaluate_pod_security(
        _template(kind, restricted_pod()["spec"]), "restricted", "latest", []
    )
    assert good.status == "pass"


def test_cronjob_pod_metadata_is_read_from_the_job_template() -> None:
    # validate_pss.go getSpec takes a CronJob's metadata from spec.jobTemplate.metadata.
    annotation = {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}
    cronjob = _template("CronJob", restricted_pod()["spec"])
    in_template = with_fields(
        cronjob,
        (("spec", "jobTemplate", "spec", "template", "metadata", "annotations"), annotation),
    )
    assert evaluate_pod_security(in_template, "baseline", "latest", []).status == "pass"
    in_job_template = with_fields(
        cronjob, (("spec", "jobTemplate", "metadata"), {"annotations": annotation})
    )
    result = evaluate_pod_security(in_job_template, "baseline", "latest", [])
    assert controls(result) == {"AppArmor"}
    assert result.field_paths == (
        (
            "spec",
            "jobTemplate",
            "metadata",
            "annotations",
            "container.apparmor.security.beta.kubernetes.io/app",
        ),
    )


def test_other_kinds_are_an_error_and_have_no_pod() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}}
    assert pod_spec_of(service) is None
    result = evaluate_pod_security(service, "baseline", "latest", [])
    assert result.status == "error"
    assert (
        result.message == "Error while getting new resource: could not find correct resource type"
    )


def test_controller_without_template_is_an_empty_pod() -> None:
    result = evaluate_pod_security({"kind": "Deployment", "spec": {}}, "restricted", "latest", [])
    assert result.status == "pass"


# ---------------------------------------------------------------------------------------------
# Bad input


def test_wrongly_typed_field_is_an_error_naming_the_field() -> None:
    pod = with_fields(restricted_pod(), ((*CONTAINER_SC, "privileged"), "true"))
    result = evaluate_pod_security(pod, "baseline", "latest", [])
    assert result.status == "error"
    assert result.message == (
        "Error while getting new resource: spec.containers[0].securityContext.privileged: "
        "expected a boolean, got string"
    )
    not_a_list = with_fields(restricted_pod(), (("spec", "containers"), {"name": "app"}))
    assert (
        "spec.containers: expected a list"
        in evaluate_pod_security(not_a_list, "baseline", "latest", []).message
    )


@pytest.mark.parametrize("version", ["v1.29.1", "1.29", "v2.0", "v1.05", "latest "])
def test_bad_version_is_an_error(version: str) -> None:
    result = evaluate_pod_security(restricted_pod(), "baseline", version, [])
    assert result.status == "error"
    assert result.message == 'failed to parse pod security api version: must be "latest" or "v1.x"'


def test_bad_level_and_malformed_excludes_are_errors() -> None:
    assert evaluate_pod_security(restricted_pod(), "Baseline", "latest", []).status == "error"
    result = evaluate_pod_security(
        restricted_pod(), "baseline", "latest", [{"controlName": "Seccomp", "images": "nginx"}]
    )
    assert result.status == "error"
    assert result.message == "invalid podSecurity.exclude.0.images: must be a list of strings"


# ---------------------------------------------------------------------------------------------
# Policy validation (what Kyverno rejects when the policy is created)


def test_valid_pod_security_block_has_no_problems() -> None:
    block = {
        "level": "restricted",
        "version": "v1.29",
        "exclude": [
            {"controlName": "Capabilities", "images": ["ghcr.io/*"]},
            {"controlName": "Host Namespaces"},
            {
                "controlName": "Seccomp",
                "restrictedField": "spec.securityContext.seccompProfile.type",
                "values": ["Unconfined"],
            },
        ],
    }
    assert validate_pod_security(block) == []


@pytest.mark.parametrize(
    ("block", "path", "message"),
    [
        (
            {
                "level": "baseline",
                "exclude": [{"controlName": "Running as Non-root", "images": ["a"]}],
            },
            ("exclude", 0, "controlName"),
            "Invalid control name defined at the given level",
        ),
        (
            {"level": "restricted", "exclude": [{"controlName": "Privileged Containers"}]},
            ("exclude", 0, "controlName"),
            "exclude.images must be specified for the container level control",
        ),
        (
            {"level": "restricted", "exclude": [{"controlName": "Sysctls", "images": ["a"]}]},
            ("exclude", 0, "controlName"),
            "exclude.images must not be specified for the pod level control",
        ),
        (
            {
                "level": "restricted",
                "exclude": [{"controlName": "SELinux", "restrictedField": "x"}],
            },
            ("exclude", 0, "values"),
            "values is required",
        ),
        (
            {"level": "restricted", "exclude": [{"controlName": "SELinux", "values": ["x"]}]},
            ("exclude", 0, "restrictedField"),
            "restrictedField is required",
        ),
        (
            {"level": "strict"},
            ("level",),
            "must be one of privileged, baseline, restricted, got 'strict'",
        ),
        (
            {"level": "baseline", "version": "v1.29.0"},
            ("version",),
            'must be "latest" or "v1.x", got \'v1.29.0\'',
        ),
        (
            {"level": "baseline", "exclude": {"controlName": "Seccomp"}},
            ("exclude",),
            "must be a list",
        ),
        (
            {"level": "baseline", "exclude": [{"controlName": "Seccomp", "image": ["a"]}]},
            ("exclude", 0, "image"),
            "unknown field",
        ),
    ],
)
def test_policy_mistakes_are_reported_at_their_field(
    block: dict[str, Any], path: tuple[PathElem, ...], message: str
) -> None:
    problems = validate_pod_security(block)
    assert [(p.path, p.message) for p in problems] == [(path, message)]


def test_baseline_may_exclude_seccomp_and_capabilities() -> None:
    block = {
        "level": "baseline",
        "exclude": [
            {"controlName": "Seccomp", "images": ["a"]},
            {"controlName": "Capabilities", "images": ["a"]},
        ],
    }
    assert validate_pod_security(block) == []
