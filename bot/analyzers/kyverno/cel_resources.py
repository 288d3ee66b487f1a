"""The API resource of a manifest: its plural resource name and whether it is namespaced.

CEL policies match on ``resourceRules`` (``apiGroups``, ``apiVersions``, ``resources: [pods]``)
and bind ``request.resource``; a manifest only says ``apiVersion`` and ``kind``. The Kyverno CLI
maps one to the other with a built-in discovery dump; this table holds the Kubernetes kinds a
repository commonly carries. For a kind it does not know (a custom resource) the plural is
guessed the way Kubernetes' ``UnsafeGuessKindToResource`` does (lower case, ``y`` -> ``ies``,
``s``/``x``/``ch``/``sh`` -> ``es``, else ``s``), and ``matches_resource`` also accepts any rule
resource that starts with the lower-case kind, as the Kyverno CLI's ``resolveResource`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.analyzers.kyverno.resources import CLUSTER_SCOPED

# kind -> plural (the group comes from the manifest's apiVersion)
_PLURALS = {
    "APIService": "apiservices",
    "Binding": "bindings",
    "CSIDriver": "csidrivers",
    "CSINode": "csinodes",
    "CSIStorageCapacity": "csistoragecapacities",
    "CertificateSigningRequest": "certificatesigningrequests",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "ComponentStatus": "componentstatuses",
    "ConfigMap": "configmaps",
    "ControllerRevision": "controllerrevisions",
    "CronJob": "cronjobs",
    "CustomResourceDefinition": "customresourcedefinitions",
    "DaemonSet": "daemonsets",
    "Deployment": "deployments",
    "EndpointSlice": "endpointslices",
    "Endpoints": "endpoints",
    "Event": "events",
    "FlowSchema": "flowschemas",
    "Gateway": "gateways",
    "GatewayClass": "gatewayclasses",
    "GRPCRoute": "grpcroutes",
    "HTTPRoute": "httproutes",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
    "Ingress": "ingresses",
    "IngressClass": "ingressclasses",
    "Job": "jobs",
    "Lease": "leases",
    "LimitRange": "limitranges",
    "MutatingAdmissionPolicy": "mutatingadmissionpolicies",
    "MutatingAdmissionPolicyBinding": "mutatingadmissionpolicybindings",
    "MutatingWebhookConfiguration": "mutatingwebhookconfigurations",
    "Namespace": "namespaces",
    "NetworkPolicy": "networkpolicies",
    "Node": "nodes",
    "PersistentVolume": "persistentvolumes",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "Pod": "pods",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "PodSecurityPolicy": "podsecuritypolicies",
    "PodTemplate": "podtemplates",
    "PriorityClass": "priorityclasses",
    "PriorityLevelConfiguration": "prioritylevelconfigurations",
    "ReferenceGrant": "referencegrants",
    "ReplicaSet": "replicasets",
    "ReplicationController": "replicationcontrollers",
    "ResourceQuota": "resourcequotas",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "RuntimeClass": "runtimeclasses",
    "Secret": "secrets",
    "Service": "services",
    "ServiceAccount": "serviceaccounts",
    "StatefulSet": "statefulsets",
    "StorageClass": "storageclasses",
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
    "ValidatingWebhookConfiguration": "validatingwebhookconfigurations",
    "VolumeAttachment": "volumeattachments",
    "VolumeSnapshot": "volumesnapshots",
    "VolumeSnapshotClass": "volumesnapshotclasses",
    "VolumeSnapshotContent": "volumesnapshotcontents",
}
_CLUSTER_SCOPED_EXTRA = frozenset(
    {"GatewayClass", "VolumeSnapshotClass", "VolumeSnapshotContent", "CSIDriver", "CSINode"}
)


@dataclass(frozen=True, slots=True)
class ApiResource:
    group: str
    version: str
    resource: str  # the plural, e.g. "deployments"
    kind: str
    namespaced: bool
    known: bool  # False: the plural is a guess (a kind this table does not hold)


@lru_cache(maxsize=1024)
def api_resource(api_version: str, kind: str) -> ApiResource:
    """The resource of a manifest with this ``apiVersion`` and ``kind``."""
    group, _, version = api_version.rpartition("/")
    plural = _PLURALS.get(kind)
    namespaced = kind not in CLUSTER_SCOPED and kind not in _CLUSTER_SCOPED_EXTRA
    return ApiResource(group, version, plural or guess_plural(kind), kind, namespaced, bool(plural))


def guess_plural(kind: str) -> str:
    """Kubernetes' ``UnsafeGuessKindToResource``."""
    lower = kind.lower()
    if not lower:
        return ""
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def kinds_of(resource: str) -> frozenset[str] | None:
    """The kinds whose plural is ``resource`` (``pods`` -> {Pod}); None when not known."""
    found = _KINDS_BY_PLURAL.get(resource)
    return frozenset(found) if found else None


def matches_resource(pattern: str, target: ApiResource) -> bool:
    """A ``resources`` entry of a resource rule (``pods``, ``*``, ``*/*``, ``pods/*``,
    ``*/scale``) against a request for the main resource (never a subresource here)."""
    resource, _, sub = pattern.partition("/")
    if sub and sub != "*":
        return False  # a subresource rule never matches the resource itself
    if resource == "*":
        return True
    if resource == target.resource:
        return True
    # The Kyverno CLI resolves a kind it does not know by the rule's resource names.
    return not target.known and resource.lower().startswith(target.kind.lower())


_KINDS_BY_PLURAL: dict[str, set[str]] = {}
for _kind, _plural in _PLURALS.items():
    _KINDS_BY_PLURAL.setdefault(_plural, set()).add(_kind)
