"""Parameter resources of ``validate.cel`` rules (``paramKind`` / ``paramRef``), found among
the repository's manifests (or a kyverno test file's ``paramResources``) instead of the
cluster.

``paramKind`` names the apiVersion and kind; ``paramRef`` a ``name`` or a label ``selector``,
and a ``namespace`` (for a namespaced parameter kind an empty namespace means the request's
own). Every matching object is a parameter set: the rule is checked against each and the first
failure decides (Kubernetes' ValidatingAdmissionPolicy). When none is found the rule is skipped
with the reason: what the cluster holds is not known here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.analyzers.kyverno.cel_match import ConstraintError, Selector, compile_selector
from bot.analyzers.kyverno.cel_resources import api_resource


class ParamError(ValueError):
    def __init__(self, message: str, where: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.where = where


@dataclass(frozen=True, slots=True)
class ParamSpec:
    api_version: str
    kind: str
    name: str = ""
    namespace: str = ""
    selector: Selector | None = None

    def describe(self) -> str:
        what = f"{self.kind} ({self.api_version})"
        if self.name:
            where = f"{self.namespace}/{self.name}" if self.namespace else self.name
            return f"{what} {where}"
        return what

    def find(
        self, manifests: Sequence[Mapping[str, Any]], request_namespace: str
    ) -> list[Mapping[str, Any]]:
        namespaced = api_resource(self.api_version, self.kind).namespaced
        namespace = self.namespace or (request_namespace if namespaced else "")
        found = []
        for manifest in manifests:
            if manifest.get("apiVersion") != self.api_version or manifest.get("kind") != self.kind:
                continue
            metadata = manifest.get("metadata")
            meta: Mapping[str, Any] = metadata if isinstance(metadata, dict) else {}
            if namespaced and namespace and str(meta.get("namespace") or "default") != namespace:
                continue
            if self.name and meta.get("name") != self.name:
                continue
            if self.selector is not None:
                labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
                assert isinstance(labels, dict)
                if not self.selector.matches({str(k): str(v) for k, v in labels.items()}):
                    continue
            found.append(manifest)
        return found


def read_params(kind: Any, ref: Any) -> ParamSpec | None:
    """The parameter spec of ``validate.cel.paramKind`` / ``paramRef``; None without them."""
    if kind is None:
        return None
    if not isinstance(kind, dict) or not kind.get("kind") or not kind.get("apiVersion"):
        raise ParamError("paramKind needs apiVersion and kind", ("paramKind",))
    spec = ParamSpec(str(kind["apiVersion"]), str(kind["kind"]))
    if ref is None:
        return spec
    if not isinstance(ref, dict):
        raise ParamError("paramRef must be a mapping", ("paramRef",))
    selector = None
    if ref.get("selector") is not None:
        try:
            selector = compile_selector(ref["selector"], ("paramRef", "selector"))
        except ConstraintError as exc:
            raise ParamError(f"paramRef.selector: {exc}", exc.where) from None
    return ParamSpec(
        spec.api_version,
        spec.kind,
        name=str(ref.get("name") or ""),
        namespace=str(ref.get("namespace") or ""),
        selector=selector,
    )
