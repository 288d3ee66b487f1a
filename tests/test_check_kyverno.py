"""Kyverno policies in ``gitops-gate check``: from the config (the merge base's with
``--base``) and ``--policy``; Enforce blocks, Audit warns; findings at the failing field; a
modified file is an UPDATE against its base version; a broken policy never passes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from tests.conftest import write_tree

DIGEST = "sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"


def _pod(name: str, image: str, extra: str = "") -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: apps
spec:
  containers:
    - name: app
      image: {image}
{extra}"""


def _policy(action: str) -> str:
    return f"""\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-run-as-non-root
spec:
  validationFailureAction: {action}
  rules:
    - name: check-containers
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: "Containers must set runAsNonRoot: true."
        pattern:
          spec:
            containers:
              - securityContext:
                  runAsNonRoot: true
"""


NO_SCALE_DOWN = """\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: no-replica-decrease
spec:
  validationFailureAction: Enforce
  rules:
    - name: replicas-only-grow
      match:
        any:
          - resources:
              kinds: [Deployment]
              operations: [UPDATE]
      validate:
        message: >-
          replicas may not go down ({{request.oldObject.spec.replicas}} ->
          {{request.object.spec.replicas}})
        deny:
          conditions:
            any:
              - key: "{{request.object.spec.replicas}}"
                operator: LessThan
                value: "{{request.oldObject.spec.replicas}}"
"""

CONFIG = "policies:\n  kyverno:\n    paths: [kyverno/]\n"
SECURE = "      securityContext:\n        runAsNonRoot: true\n"


def _check(root: Path, *args: str) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(main, ["check", str(root), "--format", "json", *args])
    return result.exit_code, json.loads(result.output)["findings"]


def test_enforce_blocks_at_the_failing_field(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            ".github/gitops-gate.yml": CONFIG,
            "kyverno/non-root.yaml": _policy("Enforce"),
            "bad.yaml": _pod("bad", f"nginx:1.27@{DIGEST}"),
            "good.yaml": _pod("good", f"nginx:1.27@{DIGEST}", SECURE),
        },
    )
    code, findings = _check(tmp_path, "--only", "policy")
    assert code == 1
    [finding] = findings
    assert finding["rule_id"] == "kyverno/require-run-as-non-root/check-containers"
    assert finding["severity"] == "error"
    assert finding["path"] == "bad.yaml"
    assert finding["line"] == 8  # the container the pattern failed on
    assert "Containers must set runAsNonRoot: true." in finding["message"]


def test_audit_is_a_warning(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            ".github/gitops-gate.yml": CONFIG,
            "kyverno/non-root.yaml": _policy("Audit"),
            "bad.yaml": _pod("bad", f"nginx:1.27@{DIGEST}"),
        },
    )
    code, findings = _check(tmp_path, "--only", "policy")
    assert code == 0
    assert [(f["rule_id"], f["severity"]) for f in findings] == [
        ("kyverno/require-run-as-non-root/check-containers", "warning")
    ]


def test_policy_flag_takes_kyverno_yaml(tmp_path: Path) -> None:
    write_tree(tmp_path / "repo", {"bad.yaml": _pod("bad", f"nginx:1.27@{DIGEST}")})
    write_tree(tmp_path / "mine", {"non-root.yaml": _policy("Enforce")})
    code, findings = _check(tmp_path / "repo", "--policy", str(tmp_path / "mine"))
    assert code == 1
    assert [f["rule_id"] for f in findings] == ["kyverno/require-run-as-non-root/check-containers"]


def test_broken_policy_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    broken = _policy("Enforce").replace("kinds: [Pod]", "kinds: [Pod]\n      bogus: [")
    write_tree(
        tmp_path,
        {
            ".github/gitops-gate.yml": CONFIG,
            "kyverno/broken.yaml": broken,
            "bad.yaml": _pod("bad", f"nginx:1.27@{DIGEST}"),
        },
    )
    code, findings = _check(tmp_path, "--only", "policy")
    assert code == 2
    errors = [f for f in findings if f["rule_id"] == "config/policy-error"]
    assert errors and errors[0]["path"] == "kyverno/broken.yaml" and errors[0]["line"]


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root), *args],
        check=True,
        capture_output=True,
    )


def _deployment(replicas: int) -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27@{DIGEST}
"""


def test_modified_file_is_an_update_against_the_base_version(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_tree(
        repo,
        {
            ".github/gitops-gate.yml": CONFIG,
            "kyverno/replicas.yaml": NO_SCALE_DOWN,
            "web.yaml": _deployment(5),
        },
    )
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "feature")
    write_tree(repo, {"web.yaml": _deployment(2), "new.yaml": _deployment(1)})
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "scale down")
    code, findings = _check(repo, "--base", "main", "--only", "policy")
    assert code == 1
    # web.yaml is an UPDATE from 5 to 2; new.yaml is a CREATE, which the rule does not match.
    assert [f["path"] for f in findings] == ["web.yaml"]
    assert "replicas may not go down (5 -> 2)" in findings[0]["message"]


def test_kustomize_patches_are_not_evaluated(tmp_path: Path) -> None:
    """A patch is a fragment of a resource: a policy would fail it for every field it omits."""
    kustomization = "resources: [pod.yaml]\npatches:\n  - path: patch.yaml\n"
    patch = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  hostname: x\n"
    write_tree(
        tmp_path,
        {
            ".github/gitops-gate.yml": CONFIG,
            "kyverno/non-root.yaml": _policy("Enforce"),
            "app/kustomization.yaml": kustomization,
            "app/pod.yaml": _pod("bad", f"nginx:1.27@{DIGEST}", SECURE),
            "app/patch.yaml": patch,
        },
    )
    code, findings = _check(tmp_path, "--only", "policy")
    assert (code, findings) == (0, [])
