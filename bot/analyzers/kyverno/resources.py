"""Resources as Kyverno sees them: the Kyverno CLI's input preparation (reference §11).

Namespaced resources without ``metadata.namespace`` land in ``default`` (kinds this list does
not know are taken as namespaced, as the CLI does); ``null`` labels and annotations become
``{}``. The CLI also turns every number into a float64 (which changes how numbers print in
wildcard matching); ``kyverno test`` does that, the gate does not: admission requests carry
integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterCleanupPolicy",
        "ClusterImagePolicy",
        "ClusterIssuer",
        "ClusterPolicy",
        "ClusterPolicyReport",
        "ClusterRole",
        "ClusterRoleBinding",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)


def prepare_resource(data: Mapping[str, Any], *, float_numbers: bool = False) -> dict[str, Any]:
    """A copy of ``data`` prepared as the Kyverno CLI prepares a resource file (only the top
    level and ``metadata`` are copied unless numbers change: the engine never writes to a
    resource)."""
    resource: dict[str, Any] = _copy(data, float_numbers) if float_numbers else dict(data)
    metadata = resource.get("metadata")
    metadata = resource["metadata"] = dict(metadata) if isinstance(metadata, dict) else {}
    for key in ("labels", "annotations"):
        if key in metadata and metadata[key] is None:
            metadata[key] = {}
    if resource.get("kind") not in CLUSTER_SCOPED and not metadata.get("namespace"):
        metadata["namespace"] = "default"
    return resource


def _copy(value: Any, float_numbers: bool) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v, float_numbers) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v, float_numbers) for v in value]
    if float_numbers and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value
