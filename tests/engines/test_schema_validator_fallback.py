"""The pure-Python fallback validator gives the same findings as jsonschema-rs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.engines import schema_store
from tests.conftest import WIDGET_CRD, check_tree

CASES = {
    "deploy.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: "3"
  bogus: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - image: nginx:1.27@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31
          resources:
            limits: {cpu: 1GB, memory: 128Mi}
""",
    "crd.yaml": WIDGET_CRD,
    "widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
    "spec:\n  size: big\n  colour: red\n",
}


def _findings(root: Path) -> set[tuple[str, int | None, str, str]]:
    schema_store.embedded.cache_clear()  # validators are cached per process
    report = check_tree(root, CASES)
    return {(f.path, f.line, f.rule_id, f.message) for f in report.findings}


def test_fallback_matches_rust_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _findings(tmp_path / "rs")
    monkeypatch.setenv("GITOPS_GATE_SCHEMA_BACKEND", "jsonschema")
    slow = _findings(tmp_path / "py")
    schema_store.embedded.cache_clear()
    assert {(p, line, rule) for p, line, rule, _ in fast} == {
        ("deploy.yaml", 6, "schema/wrong-type"),
        ("deploy.yaml", 7, "schema/unknown-field"),
        ("deploy.yaml", 15, "schema/missing-field"),
        ("deploy.yaml", 17, "schema/invalid-value"),
        ("widget.yaml", 5, "schema/wrong-type"),
        ("widget.yaml", 6, "schema/unknown-field"),
    }
    assert {(p, line, rule) for p, line, rule, _ in slow} == {
        (p, line, rule) for p, line, rule, _ in fast
    }
