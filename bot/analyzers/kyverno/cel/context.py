"""Stand-in cluster data for Kyverno's cluster and registry libraries, as ``kyverno test``
gives it with a ``context`` file (``cli.kyverno.io/v1alpha1`` ``Context``: ``spec.resources``
and ``spec.images``).

While a context is in use (``using(context)``), ``resource.Get`` / ``resource.List`` read its
resources and ``image.GetMetadata`` its images; without one they fail as unavailable, which
the policy layer turns into a skip with the reason. ``gitops-gate check`` never sets one: what
the cluster holds is not known there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FakeContext:
    # (apiVersion, plural resource) -> the objects of that resource
    resources: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    images: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by reference

    def get(self, api_version: str, resource: str, namespace: str, name: str) -> Any:
        for item in self.resources.get((api_version, resource), ()):
            metadata = item.get("metadata")
            meta = metadata if isinstance(metadata, dict) else {}
            if meta.get("name") == name and str(meta.get("namespace") or "") == namespace:
                return dict(item)
        return None

    def list(self, api_version: str, resource: str, namespace: str) -> list[Any]:
        out = []
        for item in self.resources.get((api_version, resource), ()):
            metadata = item.get("metadata")
            meta = metadata if isinstance(metadata, dict) else {}
            if not namespace or str(meta.get("namespace") or "") == namespace:
                out.append(dict(item))
        return out


_CURRENT: ContextVar[FakeContext | None] = ContextVar("kyverno_cel_context", default=None)


def current() -> FakeContext | None:
    return _CURRENT.get()


@contextmanager
def using(context: FakeContext | None) -> Iterator[None]:
    token = _CURRENT.set(context)
    try:
        yield
    finally:
        _CURRENT.reset(token)
