"""The ``images`` variable: ``images.containers.<name>.{registry, path, name, tag, digest,
reference, referenceWithTag}`` (reference/kyverno-semantics.md §6; kyverno
``pkg/utils/image/infos.go``, ``pkg/utils/api/image.go``).

Kyverno's own normalisation, not Docker's: ``docker.io`` is added when the first path element
is not a registry, but the path stays as written (``nginx``, not ``library/nginx``), and the
tag is ``latest`` when neither a tag nor a digest is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_REGISTRY = "docker.io"
_GROUPS = ("containers", "initContainers", "ephemeralContainers")
_CONTROLLERS = frozenset(
    ("DaemonSet", "Deployment", "Job", "StatefulSet", "ReplicaSet", "ReplicationController")
)


def image_infos(resource: Mapping[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """``{"containers": {name: info}, ...}`` for a Pod, pod controller or CronJob; {} else."""
    spec = pod_spec(resource)
    if spec is None:
        return {}
    out: dict[str, dict[str, dict[str, str]]] = {}
    for group in _GROUPS:
        containers = spec.get(group)
        if not isinstance(containers, list):
            continue
        infos = {}
        for container in containers:
            if not isinstance(container, dict):
                continue
            name, image = container.get("name"), container.get("image")
            if isinstance(name, str) and isinstance(image, str):
                info = image_info(image)
                if info is not None:
                    infos[name] = info
        if infos:
            out[group] = infos
    return out


def pod_spec(resource: Mapping[str, Any]) -> Mapping[str, Any] | None:
    kind = resource.get("kind")
    path: tuple[str, ...]
    if kind == "Pod":
        path = ("spec",)
    elif kind in _CONTROLLERS:
        path = ("spec", "template", "spec")
    elif kind == "CronJob":
        path = ("spec", "jobTemplate", "spec", "template", "spec")
    else:
        return None
    node: Any = resource
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, dict) else None


def image_info(image: str) -> dict[str, str] | None:
    full = _with_default_registry(image)
    rest, at, digest = full.partition("@")
    slash, colon = rest.rfind("/"), rest.rfind(":")
    name, tag = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, "")
    registry, _, path = name.partition("/")
    if not registry or not path or (at and not digest):
        return None
    if not digest and not tag:
        tag = "latest"
    base = f"{registry}/{path}"
    info = {"registry": registry, "path": path, "name": path.rsplit("/", 1)[-1]}
    if tag:
        info["tag"] = tag
    if digest:
        info["digest"] = digest
    info["reference"] = f"{base}@{digest}" if digest else f"{base}:{tag}"
    info["referenceWithTag"] = f"{base}:{tag}"
    return info


def _with_default_registry(image: str) -> str:
    first, slash, _ = image.partition("/")
    if not slash or (
        not any(ch in first for ch in ".:") and first != "localhost" and first.lower() == first
    ):
        return f"{DEFAULT_REGISTRY}/{image}"
    return image
