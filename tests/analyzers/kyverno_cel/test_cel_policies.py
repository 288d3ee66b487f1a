"""Real expressions from Kyverno's public policy library, evaluated on realistic objects.

Expressions are copied verbatim (YAML folding aside) from github.com/kyverno/policies
(Apache-2.0): ValidatingPolicies under pod-security-vpol/, best-practices-vpol/ and
other-vpol/, and validate.cel rules under pod-security-cel/. Each case names its file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.analyzers.kyverno.cel import (
    AutogenTarget,
    CelUnavailableError,
    Environment,
    autogen,
)
from tests.analyzers.kyverno_cel.cel_helpers import deployment, evaluate, pod, runtime

ALL_CONTAINERS = (
    "object.spec.containers + object.spec.?initContainers.orValue([]) + "
    "object.spec.?ephemeralContainers.orValue([])"
)


def _pod_with(container_changes: dict[str, Any], index: int = 0, **spec: Any) -> dict[str, Any]:
    value = pod()
    value["spec"]["containers"][index].update(container_changes)
    value["spec"].update(spec)
    return value


def _security(**context: Any) -> dict[str, Any]:
    return _pod_with({"securityContext": context})


GOOD = pod()
PRIVILEGED_CAPS = _security(capabilities={"add": ["SYS_ADMIN"], "drop": ["ALL"]})
HOST_PORT = _pod_with({"ports": [{"containerPort": 80, "hostPort": 80}]})
SELINUX_TYPE = _security(seLinuxOptions={"type": "spc_t"})
SELINUX_USER = _security(seLinuxOptions={"user": "root"})
PROC_MOUNT = _security(procMount="Unmasked")
LATEST = _pod_with({"image": "nginx:latest"})
NO_TAG = _pod_with({"image": "nginx"})
NO_LIMITS = _pod_with({"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}})
NO_PROBES = _pod_with({}, index=1)
del NO_PROBES["spec"]["containers"][1]["livenessProbe"]
DOCKER_SOCK = pod()
DOCKER_SOCK["spec"]["volumes"] = [{"name": "s", "hostPath": {"path": "/var/run/docker.sock"}}]
NO_VOLUMES = pod()
del NO_VOLUMES["spec"]["volumes"]
UNCONFINED = _security(seccompProfile={"type": "Unconfined"})
HOST_PATH = DOCKER_SOCK
ROOT = pod()
for _container in ROOT["spec"]["containers"]:
    _container["securityContext"].pop("runAsNonRoot")
NO_DROP_ALL = _security(capabilities={"drop": ["NET_RAW"]})
HOST_NETWORK = pod()
HOST_NETWORK["spec"]["hostNetwork"] = True
FLUX_PIG = pod()
FLUX_PIG["metadata"]["annotations"] = {"fluxcd.io/pig": "oink"}
OWNED = pod()
OWNED["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "web-1"}]
INIT_BAD_CAPS = pod()
INIT_BAD_CAPS["spec"]["initContainers"] = [
    {"name": "init", "image": "busybox:1", "securityContext": {"capabilities": {"add": ["BPF"]}}}
]
INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "web"},
    "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": []}}]},
}
INGRESS_NO_HOST = {**INGRESS, "spec": {"rules": [{"http": {"paths": []}}]}}
OLD_CRONJOB = {"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "x"}}


@dataclass(frozen=True)
class Case:
    source: str
    expression: str
    checks: tuple[tuple[dict[str, Any], Any], ...]  # (object, expected result)
    variables: dict[str, str] = field(default_factory=dict)
    environment: Environment = Environment.VALIDATING_POLICY
    bindings: dict[str, Any] = field(default_factory=dict)


CAPABILITIES_VARIABLES = {
    "allowedCapabilities": (
        "['AUDIT_WRITE','CHOWN','DAC_OVERRIDE','FOWNER','FSETID','KILL','MKNOD',"
        "'NET_BIND_SERVICE','SETFCAP','SETGID','SETPCAP','SETUID','SYS_CHROOT']"
    ),
    "allContainers": (
        "(object.spec.containers + \nobject.spec.?initContainers.orValue([]) + \n"
        "object.spec.?ephemeralContainers.orValue([]))"
    ),
}
SELINUX_VARIABLES = {
    "allContainerTypes": ALL_CONTAINERS,
    "seLinuxTypes": "['container_t', 'container_init_t', 'container_kvm_t']",
    "hasValidSELinuxType": (
        "object.spec.?securityContext.?seLinuxOptions.?type.orValue('') == '' || \n"
        "variables.seLinuxTypes.exists(type, type == "
        "object.spec.securityContext.seLinuxOptions.type)"
    ),
    "hasValidSELinuxUserRole": (
        "object.spec.?securityContext.?seLinuxOptions.?user.orValue('') == '' &&\n"
        "object.spec.?securityContext.?seLinuxOptions.?role.orValue('') == ''"
    ),
}
CRI_VARIABLES = {
    "hasVolumes": "!has(object.spec.volumes)",
    "volumes": "object.spec.volumes",
    "volumesWithHostPath": "variables.volumes.filter(volume, has(volume.hostPath))",
}
PROBES_VARIABLES = {
    "podSpec": "has(object.spec.containers) ?\n  object.spec :\n  object.spec.template.spec",
    "allContainers": (
        "variables.podSpec.containers +\nvariables.podSpec.?initContainers.orValue([])"
        '.filter(container, container.?restartPolicy.orValue("") == "Always")'
    ),
}
REPOS_VARIABLES = {
    "allContainers": ALL_CONTAINERS,
    "allowedRepos": '["myknownimage", "kyverno"]',
}
REGISTRY_VARIABLES = {
    "cm": 'resource.Get("v1", "configmaps", "default", "clusterregistries")',
    "allContainers": ALL_CONTAINERS,
    "nsregistries": (
        "namespaceObject.metadata.?annotations[?'corp.com/allowed-registries'].orValue(' ')"
    ),
    "registriesData": "variables.cm.data[?'registries'].orValue(' ')",
}
CAPS_CEL = (
    "['AUDIT_WRITE','CHOWN','DAC_OVERRIDE','FOWNER','FSETID','KILL','MKNOD','NET_BIND_SERVICE',"
    "'SETFCAP','SETGID','SETPCAP','SETUID','SYS_CHROOT'].exists(secureCapability, "
    "secureCapability == capability)"
)

CASES = [
    Case(
        "pod-security-vpol/baseline/disallow-capabilities",
        "variables.allContainers.all(container, \ncontainer.?securityContext.?capabilities"
        ".?add.orValue([]).all(capability, capability == '' ||\n"
        "capability in variables.allowedCapabilities))",
        ((GOOD, True), (PRIVILEGED_CAPS, False), (INIT_BAD_CAPS, False)),
        CAPABILITIES_VARIABLES,
    ),
    Case(
        "pod-security-vpol/baseline/disallow-host-ports",
        "variables.allContainers.all(container, \n"
        "container.?ports.orValue([]).all(port, port.?hostPort.orValue(0) == 0))",
        ((GOOD, True), (HOST_PORT, False)),
        {"allContainers": ALL_CONTAINERS},
    ),
    Case(
        "pod-security-vpol/baseline/disallow-selinux (validation 1)",
        "variables.hasValidSELinuxType &&\nvariables.allContainerTypes.all(container, \n"
        "container.?securityContext.?seLinuxOptions.?type.orValue('') == '' || \n"
        "variables.seLinuxTypes.exists(type, type == "
        "container.securityContext.seLinuxOptions.type))",
        ((GOOD, True), (SELINUX_TYPE, False), (SELINUX_USER, True)),
        SELINUX_VARIABLES,
    ),
    Case(
        "pod-security-vpol/baseline/disallow-selinux (validation 2)",
        "variables.hasValidSELinuxUserRole &&\nvariables.allContainerTypes.all(container,\n"
        "container.?securityContext.?seLinuxOptions.?user.orValue('') == '' &&\n"
        "container.?securityContext.?seLinuxOptions.?role.orValue('') == '')",
        ((GOOD, True), (SELINUX_USER, False)),
        SELINUX_VARIABLES,
    ),
    Case(
        "pod-security-vpol/baseline/disallow-proc-mount",
        "variables.allContainers.all(container, "
        "container.?securityContext.?procMount.orValue('Default') == 'Default')",
        ((GOOD, True), (PROC_MOUNT, False)),
        {"allContainers": ALL_CONTAINERS},
    ),
    Case(
        "best-practices-vpol/disallow-latest-tag (validation 1)",
        "variables.allContainers.all(container, container.image.contains(':'))",
        ((GOOD, True), (NO_TAG, False)),
        {"allContainers": ALL_CONTAINERS},
    ),
    Case(
        "best-practices-vpol/disallow-latest-tag (validation 2)",
        "variables.allContainers.all(container, !container.image.endsWith(':latest'))",
        ((GOOD, True), (LATEST, False)),
        {"allContainers": ALL_CONTAINERS},
    ),
    Case(
        "best-practices-vpol/require-pod-requests-limits",
        "object.spec.containers.all(container,\nhas(container.resources) &&\n"
        "has(container.resources.requests) &&\nhas(container.resources.requests.memory) &&\n"
        "has(container.resources.requests.cpu) &&\nhas(container.resources.limits) &&\n"
        "has(container.resources.limits.memory))",
        ((GOOD, True), (NO_LIMITS, False)),
    ),
    Case(
        "best-practices-vpol/require-probes",
        "variables.allContainers.all(container, \n  has(container.livenessProbe) || "
        "has(container.readinessProbe) || has(container.startupProbe)\n)",
        ((GOOD, True), (NO_PROBES, False), (deployment(NO_PROBES), False)),
        PROBES_VARIABLES,
    ),
    Case(
        "best-practices-vpol/require-probes (messageExpression)",
        "'All containers must have at least one probe (livenessProbe, readinessProbe, or "
        "startupProbe) defined. Missing probes in containers: ' + \n"
        "variables.allContainers.filter(container, \n  !(has(container.livenessProbe) || "
        "has(container.readinessProbe) || has(container.startupProbe))\n"
        ").map(container, container.name).join(', ')",
        (
            (
                NO_PROBES,
                "All containers must have at least one probe (livenessProbe, readinessProbe,"
                " or startupProbe) defined. Missing probes in containers: sidecar",
            ),
        ),
        PROBES_VARIABLES,
    ),
    *(
        Case(
            f"best-practices-vpol/disallow-cri-sock-mount ({socket})",
            "variables.hasVolumes || \nvariables.volumesWithHostPath.all(volume, "
            f"!volume.hostPath.path.matches('{socket}'))",
            ((GOOD, True), (NO_VOLUMES, True), (DOCKER_SOCK, socket != "/var/run/docker.sock")),
            CRI_VARIABLES,
        )
        for socket in (
            "/var/run/docker.sock",
            "/var/run/containerd/containerd.sock",
            "/var/run/crio/crio.sock",
            "/var/run/cri-dockerd.sock",
        )
    ),
    Case(
        "pod-security-vpol/restricted/restrict-seccomp-strict",
        "object.spec.?securityContext.?seccompProfile.?type.orValue('RuntimeDefault') in "
        "['RuntimeDefault', 'Localhost']\n&& variables.allContainers.all(container, \n"
        "container.?securityContext.?seccompProfile.?type.orValue('RuntimeDefault') in "
        "['RuntimeDefault', 'Localhost'])",
        ((GOOD, True), (UNCONFINED, False)),
        {"allContainers": ALL_CONTAINERS},
    ),
    Case(
        "pod-security-vpol/restricted/restrict-volume-types",
        "!has(object.spec.volumes) ||\nobject.spec.volumes.all(vol, has(vol.configMap) ||\n"
        "has(vol.csi) ||\nhas(vol.downwardAPI) ||\nhas(vol.emptyDir) ||\nhas(vol.ephemeral) ||\n"
        "has(vol.image) ||\nhas(vol.persistentVolumeClaim) ||\nhas(vol.projected) ||\n"
        "has(vol.secret))",
        ((GOOD, True), (HOST_PATH, False), (NO_VOLUMES, True)),
    ),
    Case(
        "pod-security-vpol/restricted/require-run-as-nonroot",
        "(object.spec.?securityContext.?runAsNonRoot.orValue(false) == true\n"
        "  && variables.ctnrs.all(c, c.?securityContext.?runAsNonRoot.orValue(true) == true))\n"
        "  || variables.ctnrs.all(c, c.?securityContext.?runAsNonRoot.orValue(false) == true)",
        ((GOOD, True), (ROOT, False)),
        {"ctnrs": ALL_CONTAINERS},
    ),
    Case(
        "pod-security-vpol/restricted/disallow-capabilities-strict",
        "object.spec.containers.all(container, \n  has(container.securityContext) &&\n"
        "  has(container.securityContext.capabilities) &&\n"
        "  has(container.securityContext.capabilities.drop) &&\n"
        "  container.securityContext.capabilities.drop.exists_one(capability, "
        "capability == 'ALL')\n) &&\nobject.spec.containers.all(container, \n"
        "  !has(container.securityContext.capabilities.add) ||\n"
        "  (size(container.securityContext.capabilities.add) == 1 && "
        "container.securityContext.capabilities.add[0] == 'NET_BIND_SERVICE')\n) &&\n"
        "(!has(object.spec.initContainers) || \n  object.spec.initContainers.all(container, \n"
        "    has(container.securityContext) &&\n"
        "    has(container.securityContext.capabilities) &&\n"
        "    has(container.securityContext.capabilities.drop) &&\n"
        "    container.securityContext.capabilities.drop.exists_one(capability, "
        "capability == 'ALL')\n  ) &&\n  object.spec.initContainers.all(container, \n"
        "    !has(container.securityContext.capabilities.add) ||\n"
        "    (size(container.securityContext.capabilities.add) == 1 && "
        "container.securityContext.capabilities.add[0] == 'NET_BIND_SERVICE')\n  )\n)",
        ((GOOD, True), (PRIVILEGED_CAPS, False), (NO_DROP_ALL, False)),
    ),
    Case(
        "best-practices-vpol/check-deprecated-apis (matchCondition)",
        "object.apiVersion in [\n  'batch/v1beta1',\n  'discovery.k8s.io/v1beta1',\n"
        "  'events.k8s.io/v1beta1',\n  'policy/v1beta1',\n  'node.k8s.io/v1beta1',\n"
        "  'flowcontrol.apiserver.k8s.io/v1beta1',\n  'flowcontrol.apiserver.k8s.io/v1beta2',\n"
        "  'autoscaling/v2beta2',\n  'storage.k8s.io/v1beta1'\n]",
        ((GOOD, False), (OLD_CRONJOB, True)),
    ),
    Case(
        "best-practices-vpol/check-deprecated-apis (messageExpression)",
        "string(object.apiVersion) + '/' + string(object.kind) + ' is deprecated and will be "
        "removed in a future Kubernetes version. See: "
        "https://kubernetes.io/docs/reference/using-api/deprecation-guide/'",
        (
            (
                OLD_CRONJOB,
                "batch/v1beta1/CronJob is deprecated and will be removed in a future Kubernetes"
                " version. See: https://kubernetes.io/docs/reference/using-api/deprecation-guide/",
            ),
        ),
    ),
    Case(
        "best-practices-vpol/disallow-default-namespace",
        "namespaceObject.metadata.name != 'default'",
        ((GOOD, False),),
    ),
    Case(
        "best-practices-vpol/require-drop-all",
        "variables.allContainers.all(container, \ncontainer.?securityContext.?capabilities"
        ".?drop.orValue([]).exists(capability, capability.upperAscii() == 'ALL'))",
        ((GOOD, True), (NO_DROP_ALL, False)),
        {"allContainers": ALL_CONTAINERS},
    ),
    Case(
        "best-practices-vpol/disallow-empty-ingress-host",
        "object.spec.?rules.orValue([]).all(rule, has(rule.host) && has(rule.http))",
        ((INGRESS, True), (INGRESS_NO_HOST, False)),
    ),
    Case(
        "other-vpol/allowed-annotations",
        "object.metadata.?annotations.orValue([]).all(annotation, "
        "!annotation.contains('fluxcd.io/') || annotation in ['fluxcd.io/cow', 'fluxcd.io/dog'])",
        ((GOOD, True), (FLUX_PIG, False)),
    ),
    Case(
        "other-vpol/block-bare-pods",
        "has(object.metadata.ownerReferences) && size(object.metadata.ownerReferences) > 0",
        ((GOOD, False), (OWNED, True)),
    ),
    Case(
        "other-vpol/block-bare-pods (messageExpression)",
        "'Bare Pods are not allowed. Pods must be created by workload controllers (Deployment,"
        " ReplicaSet, Job, etc.). Pod name: ' + object.metadata.name",
        (
            (
                GOOD,
                "Bare Pods are not allowed. Pods must be created by workload controllers "
                "(Deployment, ReplicaSet, Job, etc.). Pod name: web",
            ),
        ),
    ),
    Case(
        "other-vpol/allowed-image-repos",
        "variables.allContainers.all(container, variables.allowedRepos.exists(repo, "
        "(container.image.contains('/') ? container.image.split('/')[container.image"
        ".split('/').size() - 1].split(':')[0] : container.image.split(':')[0]) == repo))",
        (
            (_pod_with({"image": "kyverno"}, index=0, containers=[{"image": "kyverno:1"}]), True),
            (GOOD, False),
        ),
        REPOS_VARIABLES,
    ),
    Case(
        "other-vpol/allowed-image-repos (messageExpression)",
        "'All images in this Pod must come from an authorized repository. Allowed "
        "repositories: ' + variables.allowedRepos.join(', ') + '. Found unauthorized images: '"
        " + variables.allContainers.filter(container, !variables.allowedRepos.exists(repo, "
        "(container.image.contains('/') ? container.image.split('/')[container.image"
        ".split('/').size() - 1].split(':')[0] : container.image.split(':')[0]) == repo))"
        ".map(container, container.image).join(', ')",
        (
            (
                _pod_with({}, containers=[{"image": "kyverno:1"}, {"image": "evil/x:2"}]),
                "All images in this Pod must come from an authorized repository. Allowed "
                "repositories: myknownimage, kyverno. Found unauthorized images: evil/x:2",
            ),
        ),
        REPOS_VARIABLES,
    ),
    Case(
        "other-vpol/advanced-restrict-image-registries (namespace annotation suffices)",
        "variables.allContainers.all(container, container.image.startsWith("
        "variables.nsregistries) || container.image.startsWith(variables.registriesData))",
        (
            (
                _pod_with({}, containers=[{"image": "registry.example.com/a:1"}]),
                True,
            ),
        ),
        REGISTRY_VARIABLES,
        bindings={
            "namespaceObject": {
                "metadata": {
                    "name": "shop",
                    "annotations": {"corp.com/allowed-registries": "registry.example.com/"},
                }
            }
        },
    ),
    Case(
        "other-vpol/advanced-restrict-image-registries (needs the cluster ConfigMap)",
        "variables.allContainers.all(container, container.image.startsWith("
        "variables.nsregistries) || container.image.startsWith(variables.registriesData))",
        ((GOOD, CelUnavailableError),),
        REGISTRY_VARIABLES,
    ),
    Case(
        "pod-security-cel/baseline/disallow-host-path",
        "!has(object.spec.volumes) || object.spec.volumes.all(volume, !has(volume.hostPath))",
        ((GOOD, True), (HOST_PATH, False)),
        environment=Environment.VALIDATE_CEL,
    ),
    Case(
        "pod-security-cel/baseline/disallow-capabilities (containers)",
        "object.spec.containers.all(container,\n!has(container.securityContext) ||\n"
        "!has(container.securityContext.capabilities) ||\n"
        "!has(container.securityContext.capabilities.add) ||\n"
        f"container.securityContext.capabilities.add.all(capability,\n{CAPS_CEL}))",
        ((GOOD, True), (PRIVILEGED_CAPS, False)),
        environment=Environment.VALIDATE_CEL,
    ),
    Case(
        "pod-security-cel/baseline/disallow-capabilities (initContainers)",
        "!has(object.spec.initContainers) || \n"
        "object.spec.initContainers.all(container, !has(container.securityContext) || \n"
        "!has(container.securityContext.capabilities) || \n"
        "!has(container.securityContext.capabilities.add) || \n"
        f"container.securityContext.capabilities.add.all(capability, \n{CAPS_CEL}))",
        ((GOOD, True), (INIT_BAD_CAPS, False)),
        environment=Environment.VALIDATE_CEL,
    ),
    Case(
        "pod-security-cel/baseline/disallow-capabilities (ephemeralContainers)",
        "!has(object.spec.ephemeralContainers) ||\n"
        "object.spec.ephemeralContainers.all(container, !has(container.securityContext) ||\n"
        "!has(container.securityContext.capabilities) ||\n"
        "!has(container.securityContext.capabilities.add) ||\n"
        f"container.securityContext.capabilities.add.all(capability,\n{CAPS_CEL}))",
        ((GOOD, True),),
        environment=Environment.VALIDATE_CEL,
    ),
    Case(
        "pod-security-cel/baseline/disallow-host-namespaces",
        "(!has(object.spec.hostNetwork) || object.spec.hostNetwork == false) &&\n"
        "(!has(object.spec.hostIPC) || object.spec.hostIPC == false) &&\n"
        "(!has(object.spec.hostPID) || object.spec.hostPID == false)",
        ((GOOD, True), (HOST_NETWORK, False)),
        environment=Environment.VALIDATE_CEL,
    ),
]


def test_at_least_thirty_real_expressions() -> None:
    assert len({case.expression for case in CASES}) >= 30


@pytest.mark.parametrize("case", CASES, ids=[case.source for case in CASES])
def test_real_policy_expression(case: Case) -> None:
    rt = runtime(case.environment)
    for variable in case.variables.values():  # the policy layer compiles each variable too
        rt.compile(variable)
    compiled = rt.compile(case.expression, lazy_variables=case.variables)
    for obj, expected in case.checks:
        bindings = {
            "object": obj,
            "namespaceObject": {"metadata": {"name": "default"}},
            "variables": {},
            **case.bindings,
        }
        if isinstance(expected, type) and issubclass(expected, Exception):
            with pytest.raises(expected):
                evaluate(case.expression, bindings, case.environment, case.variables)
        else:
            assert compiled.evaluate(bindings) == expected


def test_autogen_of_a_real_rule_evaluates_on_controllers() -> None:
    # pod-security-cel/baseline/disallow-host-path, as Kyverno autogens it for Deployments.
    expression = (
        "!has(object.spec.volumes) || object.spec.volumes.all(volume, !has(volume.hostPath))"
    )
    generated = autogen(expression, AutogenTarget.POD_CONTROLLER)
    assert evaluate(generated, {"object": deployment()}, Environment.VALIDATE_CEL) is True
    assert evaluate(generated, {"object": deployment(HOST_PATH)}, Environment.VALIDATE_CEL) is False
