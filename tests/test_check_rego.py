"""Rego policies in ``gitops-gate check``: from the config (the merge base's with ``--base``)
and ``--policy``, findings at the offending line, and a broken policy never passing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from tests.conftest import write_tree

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  containers:
    - name: web
      image: nginx:1.27@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31
      securityContext:
        privileged: true
"""

POLICY = """\
package main

deny contains msg if {
    some c in input.spec.containers
    c.securityContext.privileged
    msg := sprintf("container %q must not be privileged", [c.name])
}

warn contains msg if {
    input.kind == "Pod"
    not input.spec.serviceAccountName
    msg := {"msg": "pods should set a service account", "id": "acme.sa", "severity": "notice"}
}
"""

CONFIG = "policies:\n  rego:\n    paths: [policy/]\n"


def _check(root: Path, *args: str) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(main, ["check", str(root), "--format", "json", *args])
    report = json.loads(result.output)
    return result.exit_code, report["findings"]


def test_config_policy_findings_at_the_offending_line(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {".github/gitops-gate.yml": CONFIG, "policy/pod.rego": POLICY, "pod.yaml": POD},
    )
    code, findings = _check(tmp_path)
    assert code == 1
    by_rule = {f["rule_id"]: f for f in findings}
    deny = by_rule["rego/main/deny"]
    assert deny["severity"] == "error"
    assert deny["message"] == 'container "web" must not be privileged'
    assert deny["path"] == "pod.yaml"
    assert deny["line"] == 7  # the container the message names
    notice = by_rule["acme.sa"]  # the policy's metadata names the id and the severity
    assert notice["severity"] == "notice" and notice["line"] == 1


def test_policy_flag_adds_paths(tmp_path: Path) -> None:
    write_tree(tmp_path / "repo", {"pod.yaml": POD})
    write_tree(tmp_path / "mine", {"pod.rego": POLICY})
    code, findings = _check(tmp_path / "repo", "--policy", str(tmp_path / "mine"))
    assert code == 1
    assert "rego/main/deny" in {f["rule_id"] for f in findings}


def test_broken_policy_blocks_and_names_its_line(tmp_path: Path) -> None:
    broken = "package main\n\ndeny contains msg if {\n    msg := \n}\n"
    write_tree(
        tmp_path,
        {".github/gitops-gate.yml": CONFIG, "policy/bad.rego": broken, "pod.yaml": POD},
    )
    code, findings = _check(tmp_path, "--only", "policy")
    assert code == 2  # a policy that cannot load is a config error, never a pass
    errors = [f for f in findings if f["rule_id"] == "config/policy-error"]
    assert len(errors) == 1
    assert errors[0]["path"] == "policy/bad.rego" and errors[0]["line"] in (4, 5)


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root), *args],
        check=True,
        capture_output=True,
    )


def test_with_base_the_policy_comes_from_the_merge_base(tmp_path: Path) -> None:
    """A change that rewrites the policy to allow everything is still judged by the base's."""
    repo = tmp_path / "repo"
    write_tree(repo, {".github/gitops-gate.yml": CONFIG, "policy/pod.rego": POLICY})
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "feature")
    write_tree(repo, {"policy/pod.rego": "package main\n", "pod.yaml": POD})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "relax the policy")
    code, findings = _check(repo, "--base", "main")
    assert code == 1
    assert "rego/main/deny" in {f["rule_id"] for f in findings}
