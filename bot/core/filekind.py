"""Which kind of file a path is, decided from its name and place (never by executing it)."""

from __future__ import annotations

import posixpath
from collections.abc import Collection
from enum import StrEnum

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)
CONFIG_PATHS = (".github/gitops-gate.yml", ".github/gitops-gate.yaml")
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


class FileKind(StrEnum):
    MANIFEST = "manifest"  # may hold Kubernetes resources; other documents are plain data
    KUSTOMIZATION = "kustomization"
    HELM_TEMPLATE = "helm-template"  # Go templates: not YAML until rendered
    HELM_VALUES = "helm-values"
    HELM_CHART = "helm-chart"
    GATE_CONFIG = "gate-config"  # our own .github/gitops-gate.yml
    WORKFLOW = "ci-workflow"  # .github/workflows/*: YAML, never Kubernetes
    TEXT = "text"  # any other text file (.env, .tf, .properties...): scanned for secrets only


def is_candidate(path: str) -> bool:
    """Files the analysis reads: YAML and JSON (as kubeconform: by suffix, case-insensitive)."""
    lower = path.lower()
    return lower.endswith(YAML_SUFFIXES + JSON_SUFFIXES) or posixpath.basename(path) in (
        "Kustomization",
    )


def chart_roots(paths: Collection[str]) -> frozenset[str]:
    """Directories that hold a Helm chart (a ``Chart.yaml``)."""
    return frozenset(
        posixpath.dirname(p) for p in paths if posixpath.basename(p) in ("Chart.yaml", "Chart.yml")
    )


def classify(path: str, charts: Collection[str] = ()) -> FileKind:
    base = posixpath.basename(path)
    if path in CONFIG_PATHS or path.endswith(tuple("/" + c for c in CONFIG_PATHS)):
        return FileKind.GATE_CONFIG
    if "/.github/workflows/" in "/" + path:
        return FileKind.WORKFLOW
    if base in KUSTOMIZATION_NAMES:
        return FileKind.KUSTOMIZATION
    chart = _owning_chart(path, charts)
    if chart is not None:
        rel = path[len(chart) + 1 :] if chart else path
        if base in ("Chart.yaml", "Chart.yml"):
            return FileKind.HELM_CHART
        if rel.startswith("templates/"):
            return FileKind.HELM_TEMPLATE
        if rel.startswith("values") and "/" not in rel:
            return FileKind.HELM_VALUES
    return FileKind.MANIFEST


def _owning_chart(path: str, charts: Collection[str]) -> str | None:
    best: str | None = None
    for root in charts:
        prefix = root + "/" if root else ""
        if path.startswith(prefix) and (best is None or len(root) > len(best)):
            best = root
    return best
