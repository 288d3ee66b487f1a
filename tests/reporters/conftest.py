"""Reports for the reporter tests, built by running the real pipeline on small trees.

``run_check`` writes the files under a fresh temporary root and runs the whole pipeline on it as
the CLI does. The Kubernetes version is pinned so that messages (and the
golden files) do not change when kubernetes-validate ships a newer version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.config import FailOn, parse_config
from bot.core.finding import Category, Finding, ResourceRef, Severity, Source
from bot.core.pipeline import Options, Report, run
from bot.engines.local import local_engines
from bot.engines.schema_store import shipped_versions
from bot.workspace import from_paths

K8S = "1.31"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  replicas: "3"
  paused: yes
  bogus: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:1.27@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31
"""
WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: gadget
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
"""
# A wrong type, an unknown field, a truthy value, a missing schema, and a clean file.
MIXED_TREE: dict[str, str] = {
    "apps/web/deployment.yaml": DEPLOYMENT,
    "apps/crd/widget.yaml": WIDGET,
    "apps/clean.yaml": CONFIGMAP,
}
CLEAN_TREE: dict[str, str] = {"apps/clean.yaml": CONFIGMAP}
# prod/ fails on warnings: its truthy warning blocks, the one in dev/ does not.
ENVIRONMENT_TREE: dict[str, str] = {
    ".github/gitops-gate.yml": """\
environments:
  prod:
    paths: ["prod/**"]
    fail_on: warning
""",
    "prod/settings.yaml": CONFIGMAP + "immutable: yes\n",
    "dev/settings.yaml": CONFIGMAP + "immutable: yes\n",
}
BROKEN_YAML_TREE: dict[str, str] = {
    "apps/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n",
    "apps/clean.yaml": CONFIGMAP,
}


@pytest.fixture
def run_check(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Report]:
    """Run the pipeline on ``files`` with the pinned Kubernetes version (and ``fail_on``), as
    ``check_tree`` in tests/conftest.py does, but in a fresh directory per call so that several
    reports can be built in one test."""

    def _run(files: Mapping[str, str | bytes], fail_on: FailOn = FailOn.ERROR) -> Report:
        root = tmp_path_factory.mktemp("repo")
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        changeset = from_paths(root, [root], None)
        config, config_findings = parse_config(
            changeset.config_text,
            changeset.config_path or ".github/gitops-gate.yml",
            supported_versions=shipped_versions(),
        )
        engines = local_engines(root, root / ".schema-cache")
        options = Options(kubernetes_version=K8S, fail_on=fail_on)
        return run(changeset, config, options, engines, config_findings)

    return _run


@pytest.fixture
def mixed_report(run_check: Callable[..., Report]) -> Report:
    return run_check(MIXED_TREE)


@pytest.fixture
def clean_report(run_check: Callable[..., Report]) -> Report:
    return run_check(CLEAN_TREE)


@pytest.fixture
def never_report(run_check: Callable[..., Report]) -> Report:
    """The mixed tree with ``--fail-on never``: errors that do not block."""
    return run_check(MIXED_TREE, FailOn.NEVER)


@pytest.fixture
def environment_report(run_check: Callable[..., Report]) -> Report:
    return run_check(ENVIRONMENT_TREE)


@pytest.fixture
def broken_yaml_report(run_check: Callable[..., Report]) -> Report:
    return run_check(BROKEN_YAML_TREE)


@pytest.fixture
def internal_error_report(
    run_check: Callable[..., Report], monkeypatch: pytest.MonkeyPatch
) -> Report:
    """The schema analyzer crashes: one ``internal/analyzer-error`` finding without a path."""

    def boom(*_args: Any, **_kwargs: Any) -> list[Finding]:
        raise RuntimeError("schema store unreadable")

    monkeypatch.setattr("bot.analyzers.schema.analyze", boom)
    return run_check(MIXED_TREE)


@pytest.fixture
def category_report() -> Report:
    """One finding per category, for the categories the pipeline cannot produce yet (policies,
    secrets, images): the reporters must handle them all the same."""
    resource = ResourceRef("apps/v1", "Deployment", "prod", "web")
    findings = (
        Finding(
            "config/unknown-key",
            Category.CONFIG,
            Severity.WARNING,
            'Unknown key "colour".',
            ".github/gitops-gate.yml",
            3,
            1,
            3,
            source=Source("config"),
            locator="colour",
        ),
        Finding(
            "image/unpinned",
            Category.IMAGE,
            Severity.WARNING,
            "Image nginx:1.27 is not pinned by digest.",
            "clusters/prod/web.yaml",
            21,
            18,
            21,
            resource,
            Source("images"),
            locator="spec.template.spec.containers[0].image",
        ),
        Finding(
            "kyverno/disallow-latest-tag/validate-image-tag",
            Category.POLICY,
            Severity.ERROR,
            "An image tag is required and must not be 'latest'.",
            "clusters/prod/web.yaml",
            21,
            18,
            21,
            resource,
            Source("kyverno", "disallow-latest-tag", "validate-image-tag"),
            help_url="https://kyverno.io/policies/best-practices/disallow-latest-tag/",
            locator="spec.template.spec.containers[0].image",
        ),
        Finding(
            "secret/aws-access-key",
            Category.SECRET,
            Severity.ERROR,
            "Plaintext AWS access key AKIA…(redacted) in a ConfigMap.",
            "clusters/prod/settings.yaml",
            7,
            9,
            7,
            ResourceRef("v1", "ConfigMap", "prod", "settings"),
            Source("secrets", rule="aws-access-key"),
            locator="data.key",
        ),
        Finding(
            "secret/generic-password",
            Category.SECRET,
            Severity.NOTICE,
            "Possible password pa…(redacted) in an annotation.",
            "clusters/prod/settings.yaml",
            None,
            None,
            None,
            None,
            Source("secrets", rule="generic-password"),
            locator="metadata.annotations.pw",
        ),
    )
    return Report(
        findings=findings, blocking=(False, False, True, True, False), files=2, documents=2
    )


@pytest.fixture
def write_tree(tmp_path: Path) -> Callable[[Mapping[str, str]], Path]:
    """Write files under a fresh directory and return it (for CLI tests)."""

    def _write(files: Mapping[str, str]) -> Path:
        root = tmp_path / "tree"
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        return root

    return _write


@pytest.fixture
def trees() -> dict[str, dict[str, str]]:
    return {"mixed": MIXED_TREE, "clean": CLEAN_TREE, "environment": ENVIRONMENT_TREE}
