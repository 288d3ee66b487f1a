"""Every image a change deploys, with the field that names it.

Where images are:
- Workloads of the Kubernetes API: Pod (``spec``), PodTemplate (``template.spec``), Deployment,
  StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job (``spec.template.spec``) and
  CronJob (``spec.jobTemplate.spec.template.spec``); their ``containers``,
  ``initContainers`` and ``ephemeralContainers``.
- Pod templates inside other kinds (Argo Rollouts, Knative Services, OpenKruise CloneSets,
  KEDA ScaledJobs...): any ``template.spec`` found by a bounded walk whose ``containers`` is a
  non-empty list of mappings that all have a string ``name`` and ``image``. A custom resource
  that merely has a ``template`` key (an email template, a Helm-like values tree) does not
  qualify, so unknown kinds yield no false positives.
- Kustomization ``images:`` overrides (``name``, ``newName``, ``newTag``, ``digest``,
  ``tagSuffix``). An override rewrites the images of every resource the kustomization
  builds; what is checked here is the override itself: the reference it produces
  (``newName:newTag@digest``, as kustomize's image updater writes it). An override that only
  renames (or only adds a ``tagSuffix``) keeps the resources' own tags, so only its registry
  is judged. The resources' own ``image:`` fields are checked where they are written, even
  when an overlay pins them later (kustomize is not run here).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeGuard

from bot.core.document import Document, FieldPath, LoadedFile
from bot.core.filekind import FileKind

__all__ = ["CONTAINER_LISTS", "ImageUse", "images_in", "images_of"]

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
_CONTAINER_WORDS = {
    "containers": "container",
    "initContainers": "init container",
    "ephemeralContainers": "ephemeral container",
}
# (API group, kind) -> where the pod spec is. Group "" is the core group; "extensions" is
# the long-gone beta home of the apps kinds, still found in old repositories.
_POD_SPEC: dict[tuple[str, str], FieldPath] = {
    ("", "Pod"): ("spec",),
    ("", "PodTemplate"): ("template", "spec"),
    ("", "ReplicationController"): ("spec", "template", "spec"),
    **{
        (group, kind): ("spec", "template", "spec")
        for group in ("apps", "extensions")
        for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
    },
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
# Kinds of the Kubernetes API that never hold pod templates: not walked, which keeps large
# ConfigMaps and CRD schemas cheap. (Group-qualified: Knative's Service does hold one.)
_NO_TEMPLATES = frozenset(
    {
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Service"),
        ("", "Namespace"),
        ("", "ServiceAccount"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("networking.k8s.io", "Ingress"),
        ("networking.k8s.io", "NetworkPolicy"),
    }
)
_WALK_DEPTH = 10  # pod templates of known CRDs are 2-6 levels down
_WALK_NODES = 5_000  # mappings and lists visited per document, at most
_SKIPPED_KEYS = frozenset({"metadata", "status", "labels", "annotations"})
_OVERRIDE_FIELDS = ("name", "newName", "newTag", "digest", "tagSuffix")


@dataclass(frozen=True, slots=True)
class ImageUse:
    """One image reference to check, and where to report on it."""

    doc: Document
    text: str  # as written; for a kustomize override, the reference it produces
    path: FieldPath  # the field findings point at and their locator names
    context: str  # for messages: 'container "web"', 'kustomization image "nginx"'
    # The tag and digest are known here (False: a kustomize override that keeps the
    # resources' tags, so pinning and signatures are judged where the resources are).
    pinning_known: bool = True
    # For a kustomize override: the field that sets the name, and the one that sets the
    # tag or digest, so a finding lands on the line a change is likely to have touched.
    name_path: FieldPath | None = None
    pin_path: FieldPath | None = None
    # Known wrong before parsing (a kustomize field that is not a string).
    problem: str | None = None


def images_in(files: Iterable[LoadedFile]) -> Iterator[ImageUse]:
    """The images of every manifest and kustomization, file by file, in document order."""
    for loaded in files:
        if loaded.kind is FileKind.MANIFEST:
            for doc in loaded.documents:
                yield from images_of(doc)
        elif loaded.kind is FileKind.KUSTOMIZATION:
            for doc in loaded.documents:
                yield from _overrides(doc)


def images_of(doc: Document) -> Iterator[ImageUse]:
    """The container images of one manifest document."""
    data = doc.data
    if not isinstance(data, dict):
        return
    kind = (_group(doc.api_version), doc.kind or "")
    spec_path = _POD_SPEC.get(kind)
    if spec_path is not None:
        spec = _at(data, spec_path)
        if isinstance(spec, dict):
            yield from _containers(doc, spec, spec_path)
        return
    if kind in _NO_TEMPLATES:
        return
    for spec_path, spec in _templates(data):
        yield from _containers(doc, spec, spec_path)


def _group(api_version: str | None) -> str:
    if not api_version or "/" not in api_version:
        return ""
    return api_version.split("/", 1)[0]


def _at(data: Any, path: FieldPath) -> Any:
    for elem in path:
        if not isinstance(data, dict):
            return None
        data = data.get(elem)
    return data


def _containers(doc: Document, spec: dict[str, Any], spec_path: FieldPath) -> Iterator[ImageUse]:
    for list_name in CONTAINER_LISTS:
        items = spec.get(list_name)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            image = item.get("image")
            # A missing or non-string image is the schema check's to report. An empty one is
            # allowed in templates (config management fills it in later).
            if not isinstance(image, str) or not image:
                continue
            name = item.get("name")
            word = _CONTAINER_WORDS[list_name]
            yield ImageUse(
                doc=doc,
                text=image,
                path=(*spec_path, list_name, index, "image"),
                context=f'{word} "{name}"' if isinstance(name, str) else f"{word} {index}",
            )


def _templates(data: dict[str, Any]) -> Iterator[tuple[FieldPath, dict[str, Any]]]:
    """Pod specs under any ``template.spec`` of an unknown kind, breadth-first and bounded."""
    queue: deque[tuple[FieldPath, Any]] = deque([((), data)])
    visited = 0
    while queue:
        path, node = queue.popleft()
        visited += 1
        if visited > _WALK_NODES:
            return
        children: Iterable[tuple[str | int, Any]]
        if isinstance(node, dict):
            template = node.get("template")
            spec = template.get("spec") if isinstance(template, dict) else None
            found = False
            if _is_pod_spec(spec):
                found = True
                yield (*path, "template", "spec"), spec
            children = (
                (key, value)
                for key, value in node.items()
                if key not in _SKIPPED_KEYS and not (found and key == "template")
            )
        else:
            children = enumerate(node)
        if len(path) < _WALK_DEPTH:
            queue.extend(
                ((*path, key), value) for key, value in children if isinstance(value, (dict, list))
            )


def _is_pod_spec(spec: Any) -> TypeGuard[dict[str, Any]]:
    if not isinstance(spec, dict):
        return False
    containers = spec.get("containers")
    return (
        isinstance(containers, list)
        and bool(containers)
        and all(
            isinstance(c, dict)
            and isinstance(c.get("name"), str)
            and isinstance(c.get("image"), str)
            for c in containers
        )
    )


def _overrides(doc: Document) -> Iterator[ImageUse]:
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        return
    for index, entry in enumerate(data["images"]):
        if isinstance(entry, dict):
            use = _override(doc, index, entry)
            if use is not None:
                yield use


def _override(doc: Document, index: int, entry: dict[str, Any]) -> ImageUse | None:
    where: FieldPath = ("images", index)
    label = entry.get("name") if isinstance(entry.get("name"), str) else f"images[{index}]"
    context = f'kustomization image "{label}"'
    for key in _OVERRIDE_FIELDS:
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            return ImageUse(
                doc,
                str(value),
                (*where, key),
                context,
                problem=(
                    f"{key} is a {_yaml_type(value)} in YAML ({value!r}), and kustomize stops "
                    f'with "cannot unmarshal {_yaml_type(value)} into Go struct field '
                    f'Image.images.{key} of type string"; quote it: {key}: "{value}"'
                ),
            )
    name, new_name = entry.get("name") or "", entry.get("newName") or ""
    new_tag, digest = entry.get("newTag") or "", entry.get("digest") or ""
    target = new_name or name
    if not target or not (new_name or new_tag or digest):
        return None  # nothing is rewritten: the resources' images are checked where they are
    name_path = (*where, "newName") if new_name else (*where, "name")
    pin_path = (*where, "newTag") if new_tag else (*where, "digest") if digest else None
    if not (new_tag or digest):
        return ImageUse(doc, target, name_path, context, pinning_known=False, name_path=name_path)
    # kustomize's image updater: a new tag or digest replaces both of the original ones.
    text = target + (f":{new_tag}" if new_tag else "") + (f"@{digest}" if digest else "")
    return ImageUse(doc, text, where, context, name_path=name_path, pin_path=pin_path)


def _yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
