"""The built-in Rego library in ``gitops-gate check`` (``policies.builtin``), through the CLI:
off unless configured, quiet on well-written manifests, each rule at the offending line,
disable/enable, unknown names as config findings at their line, the production set limited
to its paths, the cross-document PodDisruptionBudget rule at the workload, kustomize patches,
and the library's own Rego tests through ``gitops-gate rego verify``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.analyzers.rego import LIBRARY_ENV
from bot.cli import main
from bot.config import parse_config
from bot.core.finding import Category
from bot.core.pipeline import Options, run
from bot.github.app import app_engines
from bot.workspace import from_paths
from tests.conftest import write_tree

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "policies" / "rego"
GOOD = sorted((ROOT / "tests" / "policies" / "fixtures" / "good").glob("*.yaml"))
CONFIG = ".github/gitops-gate.yml"

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      hostNetwork: true
      containers:
        - name: app
          image: ghcr.io/acme/shop:latest
          securityContext:
            privileged: true
          resources:
            requests: {cpu: 100m, memory: 64Mi}
"""
# line 5: namespace; 7: replicas; 16: hostNetwork; 18: the container; 19: image;
# 21: privileged; 22: resources


def _check(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[Any]]:
    result = CliRunner().invoke(
        main, ["check", str(root), "--format", "json", "--only", "policy", *args], env=env
    )
    assert result.exit_code in (0, 1, 2), result.output
    return result.exit_code, json.loads(result.output)["findings"]


def _at(findings: list[Any]) -> set[tuple[str, int, str]]:
    return {(f["path"], f["line"], f["rule_id"]) for f in findings}


def _repo(tmp_path: Path, config: str, files: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    write_tree(root, {CONFIG: config, **files})
    return root


def test_off_unless_configured(tmp_path: Path) -> None:
    root = _repo(tmp_path, "kubernetes_version: '1.33'\n", {"shop.yaml": DEPLOYMENT})
    assert _check(root) == (0, [])


def test_default_sets_report_each_rule_at_its_line(tmp_path: Path) -> None:
    root = _repo(tmp_path, "policies:\n  builtin: {}\n", {"shop.yaml": DEPLOYMENT})
    code, findings = _check(root)
    assert code == 1
    assert _at(findings) == {
        ("shop.yaml", 5, "bp.default-namespace"),
        ("shop.yaml", 16, "pss.baseline.host-namespaces"),
        ("shop.yaml", 19, "bp.image-latest-tag"),
        ("shop.yaml", 21, "pss.baseline.privileged"),
        ("shop.yaml", 22, "bp.memory-limit"),
    }
    by_rule = {f["rule_id"]: f for f in findings}
    privileged = by_rule["pss.baseline.privileged"]
    assert privileged["severity"] == "error"
    assert privileged["column"] == 13  # the key "privileged"
    assert privileged["source"] == {
        "engine": "rego",
        "policy": "pss-baseline",
        "rule": "pss.baseline.privileged",
    }
    assert privileged["help_url"].endswith("pod-security-standards/#baseline")
    assert privileged["message"].startswith(
        'Deployment "shop": container "app" sets securityContext.privileged=true. Remove'
    )
    assert privileged["resource"]["name"] == "shop"
    assert by_rule["bp.memory-limit"]["severity"] == "warning"


def test_default_sets_are_quiet_on_well_written_manifests(tmp_path: Path) -> None:
    files = {f"deploy/{p.name}": p.read_text("utf-8") for p in GOOD}
    everything = (
        "policies:\n  builtin:\n"
        "    sets: [pss-restricted, best-practices, production]\n"
        "    enable: [pss-restricted, best-practices, production]\n"
    )
    for config in ("policies:\n  builtin: {}\n", everything):
        root = _repo(tmp_path, config, files)
        assert _check(root) == (0, []), config


def test_disable_and_enable(tmp_path: Path) -> None:
    config = """\
policies:
  builtin:
    sets: [pss-baseline]
    disable: [pss.baseline.host-namespaces]
    enable: [bp.liveness-probe]
"""
    root = _repo(tmp_path, config, {"shop.yaml": DEPLOYMENT})
    _, findings = _check(root)
    # best-practices is not a chosen set: only the rule enabled by id runs from it.
    assert _at(findings) == {
        ("shop.yaml", 18, "bp.liveness-probe"),
        ("shop.yaml", 21, "pss.baseline.privileged"),
    }
    assert {f["rule_id"]: f["severity"] for f in findings}["bp.liveness-probe"] == "notice"

    whole_set = "policies:\n  builtin:\n    enable: [best-practices]\n    disable: [pss-baseline]\n"
    root = _repo(tmp_path, whole_set, {"shop.yaml": DEPLOYMENT})
    _, findings = _check(root)
    rules = {f["rule_id"] for f in findings}
    assert not any(r.startswith("pss.") for r in rules)
    assert {"bp.cpu-limit", "bp.readiness-probe", "bp.host-network"} <= rules  # default-off ones


def test_severity_overrides_apply_to_builtin_rules(tmp_path: Path) -> None:
    config = (
        "policies:\n  builtin: {}\nseverity:\n  'bp.*': 'off'\n  pss.baseline.privileged: notice\n"
    )
    root = _repo(tmp_path, config, {"shop.yaml": DEPLOYMENT})
    _, findings = _check(root)
    assert {(f["rule_id"], f["severity"]) for f in findings} == {
        ("pss.baseline.host-namespaces", "error"),
        ("pss.baseline.privileged", "notice"),
    }


def test_unknown_set_or_rule_id_is_a_config_finding_at_its_line(tmp_path: Path) -> None:
    config = """\
policies:
  builtin:
    sets: [pss-baseline, pss-restricted-v2]
    disable:
      - bp.memory-limits
"""
    root = _repo(tmp_path, config, {"shop.yaml": DEPLOYMENT})
    code, findings = _check(root)
    assert code == 2  # a config error
    problems = [f for f in findings if f["rule_id"] == "config/invalid-value"]
    assert [(f["path"], f["line"]) for f in problems] == [(CONFIG, 3), (CONFIG, 5)]
    assert "Did you mean pss-restricted?" in problems[0]["message"]
    assert "Did you mean bp.memory-limit?" in problems[1]["message"]
    # The rest of the config still applies: pss-baseline runs, the misspelt set does not.
    assert {f["rule_id"] for f in findings if f["source"]["engine"] == "rego"} == {
        "pss.baseline.privileged",
        "pss.baseline.host-namespaces",
    }


def test_production_set_only_where_its_paths_say(tmp_path: Path) -> None:
    config = """\
policies:
  builtin:
    sets: [production]
    paths:
      production: ["clusters/prod/**"]
"""
    root = _repo(
        tmp_path,
        config,
        {"clusters/prod/shop.yaml": DEPLOYMENT, "clusters/dev/shop.yaml": DEPLOYMENT},
    )
    _, findings = _check(root)
    assert _at(findings) == {("clusters/prod/shop.yaml", 7, "prod.replicas")}
    assert findings[0]["source"]["policy"] == "production"


WORKLOAD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.0.0
"""

PDB = """\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: api
  namespace: shop
spec:
  minAvailable: 2
  selector:
    matchLabels:
      app: api
"""


def test_combined_pdb_rule_is_reported_at_the_workload(tmp_path: Path) -> None:
    config = "policies:\n  builtin:\n    sets: [production]\n"
    root = _repo(tmp_path, config, {"a/readme.yaml": "kind: Note\n", "b/api.yaml": WORKLOAD})
    _, findings = _check(root)
    # At the pod template's labels (the field a PodDisruptionBudget's selector would match).
    assert _at(findings) == {("b/api.yaml", 13, "prod.pdb")}
    assert findings[0]["resource"]["kind"] == "Deployment"
    assert "runs at least 3 replicas" in findings[0]["message"]
    # A PodDisruptionBudget in another file of the run covers it.
    write_tree(root, {"c/pdb.yaml": PDB})
    assert _check(root) == (0, [])


def test_kustomize_patches_report_only_values_they_set(tmp_path: Path) -> None:
    patch = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: api
          securityContext:
            privileged: true
"""
    kustomization = "resources: [../base]\npatches:\n  - path: patch.yaml\n"
    config = "policies:\n  builtin:\n    sets: [pss-baseline, best-practices, production]\n"
    root = _repo(
        tmp_path,
        config,
        {
            "base/api.yaml": WORKLOAD,
            "base/pdb.yaml": PDB,
            "prod/kustomization.yaml": kustomization,
            "prod/patch.yaml": patch,
        },
    )
    _, findings = _check(root)
    # The patch sets privileged and a single replica: reported. Its container has no resources,
    # but the base's may: not reported on the patch (the base's own container is reported).
    assert _at(findings) == {
        ("prod/patch.yaml", 6, "prod.replicas"),
        ("prod/patch.yaml", 12, "pss.baseline.privileged"),
        ("base/api.yaml", 17, "bp.resources-requests"),
        ("base/api.yaml", 17, "bp.memory-limit"),
    }


def test_user_policies_and_the_library_run_together(tmp_path: Path) -> None:
    policy = """\
package main

deny contains msg if {
    input.kind == "Deployment"
    not input.metadata.labels.team
    msg := "field metadata.labels.team: every Deployment names its team"
}
"""
    reserved = 'package gitops_gate.best_practices\n\ndeny contains "nothing" if { false }\n'
    config = "policies:\n  rego:\n    paths: [policy/]\n  builtin: {}\n"
    root = _repo(tmp_path, config, {"policy/team.rego": policy, "shop.yaml": DEPLOYMENT})
    _, findings = _check(root)
    rules = {f["rule_id"] for f in findings}
    assert {"rego/main/deny", "pss.baseline.privileged"} <= rules

    # A user package under the library's root is refused at its package line; the library
    # still runs.
    write_tree(root, {"policy/hijack.rego": reserved})
    code, findings = _check(root)
    assert code == 2
    errors = [f for f in findings if f["rule_id"] == "config/policy-error"]
    assert [(f["path"], f["line"]) for f in errors] == [("policy/hijack.rego", 1)]
    assert "reserved for gitops-gate's built-in policy library" in errors[0]["message"]
    assert "pss.baseline.privileged" in {f["rule_id"] for f in findings}


def test_library_location_from_the_environment(tmp_path: Path) -> None:
    root = _repo(tmp_path, "policies:\n  builtin:\n    sets: [pss-baseline]\n", {})
    write_tree(root, {"shop.yaml": DEPLOYMENT})
    copy = tmp_path / "library"
    shutil.copytree(LIBRARY, copy)
    _, findings = _check(root, env={LIBRARY_ENV: str(copy)})
    assert "pss.baseline.privileged" in {f["rule_id"] for f in findings}

    missing = tmp_path / "nowhere"
    code, findings = _check(root, env={LIBRARY_ENV: str(missing)})
    assert code == 2  # never a silent pass
    assert [f["rule_id"] for f in findings] == ["config/policy-error"]
    message = findings[0]["message"]
    assert f"built-in policy library not found at {missing}" in message
    assert LIBRARY_ENV in message


def test_the_app_engines_run_the_library(tmp_path: Path) -> None:
    """The App runs the same pipeline with its own engines (Regorus unless it has an OPA
    server): the library is found and reported the same way."""
    root = _repo(tmp_path, "policies:\n  builtin: {}\n", {"shop.yaml": DEPLOYMENT})
    changeset = from_paths(root, [root], None)
    config, problems = parse_config(changeset.config_text, CONFIG)
    options = Options(only=frozenset({Category.POLICY}))
    report = run(changeset, config, options, app_engines(tmp_path / "cache"), problems)
    assert {f.rule_id for f in report.findings} == {
        "bp.default-namespace",
        "pss.baseline.host-namespaces",
        "bp.image-latest-tag",
        "pss.baseline.privileged",
        "bp.memory-limit",
    }


def test_rego_verify_passes_every_library_test() -> None:
    """The issue's acceptance: the library's *_test.rego all pass through rego verify."""
    result = CliRunner().invoke(main, ["rego", "verify", "--policy", str(LIBRARY)])
    assert result.exit_code == 0, result.output
    summary = result.output.strip().splitlines()[-1]
    match = re.fullmatch(r"(\d+) tests, (\d+) passed, 0 warnings, 0 failures, .*", summary)
    assert match is not None, summary
    assert match.group(1) == match.group(2) and int(match.group(1)) >= 150
