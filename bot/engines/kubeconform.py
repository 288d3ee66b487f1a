"""The kubeconform binary as an optional schema backend (see reference/kubeconform.md)."""

from __future__ import annotations

import shutil

from bot.core.pipeline import SchemaBackend


def find_kubeconform() -> SchemaBackend | None:
    """The kubeconform backend when the binary is on PATH, else None."""
    if shutil.which("kubeconform") is None:
        return None
    return None  # TODO(kubeconform backend): subprocess wrapper not written yet
