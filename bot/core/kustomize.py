"""What kustomization files say about other files, read as data (kustomize is never run here).

Patch files are partial objects: a strategic-merge patch of a Deployment names only the fields
it changes, so "required field missing" is not an error for it, while a wrong type or an
unknown field still is.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from typing import Any

from bot.core.document import LoadedFile
from bot.core.filekind import FileKind


def patch_paths(files: Iterable[LoadedFile]) -> frozenset[str]:
    """Paths (relative to the checked root) of the patch files that kustomizations name."""
    found: set[str] = set()
    for loaded in files:
        if loaded.kind is not FileKind.KUSTOMIZATION:
            continue
        folder = posixpath.dirname(loaded.path)
        for doc in loaded.documents:
            if isinstance(doc.data, dict):
                found.update(_resolve(folder, p) for p in _patch_refs(doc.data))
    return frozenset(found)


def _patch_refs(data: dict[str, Any]) -> Iterable[str]:
    for entry in _list(data.get("patchesStrategicMerge")):
        # Inline patches are YAML text, not paths.
        if isinstance(entry, str) and "\n" not in entry:
            yield entry
    for key in ("patches", "patchesJson6902"):
        for entry in _list(data.get(key)):
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                yield entry["path"]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _resolve(folder: str, ref: str) -> str:
    return posixpath.normpath(posixpath.join(folder, ref))
