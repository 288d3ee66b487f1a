"""Shared helpers: run the real pipeline on files written to a temporary tree."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.core.pipeline import Options, Report, run
from bot.engines.local import local_engines
from bot.engines.schema_store import shipped_versions
from bot.workspace import from_paths

# A real registry (Debian's docker-registry) on loopback, started only when a test asks for it.
pytest_plugins = ["tests.registry.plugin"]

# A small CRD several tests validate custom resources against: Widget, spec.size an integer.
WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
"""


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def check_tree(
    root: Path,
    files: Mapping[str, str | bytes] | None = None,
    *,
    options: Options | None = None,
    cache_dir: Path | None = None,
) -> Report:
    """Write ``files`` under ``root`` and run the whole pipeline on it, as the CLI does."""
    if files:
        write_tree(root, files)
    changeset = from_paths(root, [root], None)
    config, config_findings = parse_config(
        changeset.config_text,
        changeset.config_path or ".github/gitops-gate.yml",
        supported_versions=shipped_versions(),
    )
    engines = local_engines(root, cache_dir or root / ".schema-cache")
    return run(changeset, config, options or Options(), engines, config_findings)


def rules_at(report: Report) -> set[tuple[str, int | None, str]]:
    """(path, line, rule_id) of every finding: the shape most assertions compare."""
    return {(f.path, f.line, f.rule_id) for f in report.findings}


@pytest.fixture
def check(tmp_path: Path):  # type: ignore[no-untyped-def]
    def _check(files: Mapping[str, str | bytes], **kwargs) -> Report:  # type: ignore[no-untyped-def]
        return check_tree(tmp_path / "repo", files, **kwargs)

    return _check
